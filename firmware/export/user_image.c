/* A user's bare-metal program that uses the whole API of the @NAME@ library with one
 * context, as the app uses the same parts (a stream with events, a clip with its vote, one
 * window of features): the user's image `micromel bench library` measures against the app.
 * No I/O: the results go to a volatile sink a debugger could read. */
#include <stddef.h>
#include <stdint.h>

#include "@NAME@.h"

static mm_api_ctx rec; /* the one context: all the recognizer's state */
static volatile int32_t sink;

static void on_window(const mm_api_window *w, void *user) {
  (void)user;
  sink += w->top + (int32_t)w->cycles;
}

static void on_event(const mm_api_event *e, void *user) {
  (void)user;
  sink += e->label + (int32_t)e->end_sample + (mm_api_label(e->label) != NULL);
}

/* Pseudo-random noise (an LCG, about -36 dBFS) in blocks of 100 samples, as a driver pushes. */
static int feed(uint32_t blocks) {
  static int16_t pcm[100];
  static uint32_t x = 1;
  int rc = 0;
  for (uint32_t b = 0; rc >= 0 && b < blocks; b++) {
    for (int i = 0; i < 100; i++) {
      x = x * 1664525u + 1013904223u;
      pcm[i] = (int16_t)(((int32_t)(x >> 16) - 32768) / 64);
    }
    rc = mm_api_push(&rec, pcm, 100);
  }
  return rc;
}

int main(void) {
  static const mm_api_handlers handlers = {on_window, on_event, NULL};
  static int8_t features[MM_API_FEATURE_BYTES], scores[MM_API_N_CLASSES];
  mm_api_vote_result vote;
  int rc = mm_api_init(&rec, MM_API_STREAM, &handlers);
  if (rc >= 0) rc = feed(320);                 /* 2 s of a stream */
  if (rc >= 0) rc = mm_api_finish(&rec);
  if (rc >= 0) rc = mm_api_init(&rec, MM_API_CLIP, &handlers);
  if (rc >= 0) rc = feed(80);                  /* a 0.5 s clip */
  if (rc >= 0) rc = mm_api_finish(&rec);
  if (rc >= 0) sink += mm_api_vote(&rec, &vote) + (int32_t)vote.windows;
  if (rc >= 0) rc = mm_api_classify_features(features, scores);
  sink += (int32_t)(mm_api_strerror(rc)[0]);
  return rc < 0;
}
