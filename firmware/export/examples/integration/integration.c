#include <stdio.h>
#include "@NAME@.h"

static mm_api_ctx rec;                      /* all state: static, no heap */

static void on_event(const mm_api_event *e, void *user) {
  (void)user;                               /* samples / MM_API_SAMPLE_RATE = seconds */
  printf("%s %lu %lu\n", mm_api_label(mm_api_event_answer(e)),
         (unsigned long)e->start_sample, (unsigned long)e->end_sample);
}

int recognizer_start(void) {                /* once, at boot */
  static const mm_api_handlers h = {NULL, on_event, NULL}; /* on_window, on_event, user */
  return mm_api_init(&rec, MM_API_STREAM, &h);
}

int recognizer_audio(const int16_t *pcm, size_t n) { /* from your microphone driver */
  return mm_api_push(&rec, pcm, n);
}
