/* wav_events: the @NAME@ library on a WAV file, on any computer.
 *
 *   wav_events FILE.wav             events, one line each: start end (seconds) label confidence
 *   wav_events --clip FILE.wav      the file as one clip: its class by soft vote
 *   wav_events --windows FILE.wav   also every window: its time, top class and probability
 *   wav_events --raw ...            integers only (samples, window indices, int8 scores)
 *
 * The file must be mono 16-bit PCM at MM_API_SAMPLE_RATE Hz (convert with e.g.
 * `sox in.wav -r 16000 -c 1 -b 16 out.wav`). It is read and pushed in blocks of any size,
 * exactly as a microphone driver would push them: the results do not depend on the sizes.
 *
 * Build: cmake -S . -B build -DMICROMEL_EXAMPLES=ON && cmake --build build
 *    or: cc -O2 -Isrc src/[a-z]*.c examples/wav_events/wav_events.c -o wav_events */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "@NAME@.h"

static int raw, show_windows;

static double seconds(uint64_t sample) { return (double)sample / MM_API_SAMPLE_RATE; }

static void on_window(const mm_api_window *w, void *user) {
  (void)user;
  if (raw) {
    printf("window %lu %llu %u", (unsigned long)w->index, (unsigned long long)w->start_sample,
           (unsigned)w->silent);
    for (int c = 0; c < MM_API_N_CLASSES; c++) printf(" %d", w->scores[c]);
    printf("\n");
  } else if (w->silent) {
    printf("window %lu at %.3f s: silent\n", (unsigned long)w->index, seconds(w->start_sample));
  } else {
    printf("window %lu at %.3f s: %s %.2f\n", (unsigned long)w->index, seconds(w->start_sample),
           mm_api_label(w->top), (w->scores[w->top] + 128) / 256.0);
  }
}

static void on_event(const mm_api_event *e, void *user) {
  (void)user;
  if (raw) {
    printf("event %lu %lu %llu %llu %u %u\n", (unsigned long)e->first_window,
           (unsigned long)e->end_window, (unsigned long long)e->start_sample,
           (unsigned long long)e->end_sample, (unsigned)e->label, (unsigned)e->confidence);
  } else {
    printf("%.3f\t%.3f\t%s\t%.2f\n", seconds(e->start_sample), seconds(e->end_sample),
           mm_api_label(mm_api_event_answer(e)), e->confidence / 256.0);
  }
}

static unsigned le16(const unsigned char *b) { return b[0] | (unsigned)b[1] << 8; }
static unsigned long le32(const unsigned char *b) {
  return b[0] | (unsigned long)b[1] << 8 | (unsigned long)b[2] << 16 | (unsigned long)b[3] << 24;
}

/* Positions f at the samples of a mono 16-bit WAV at the model's rate; returns their
 * count, or 0 after printing what is wrong. */
static unsigned long open_wav(FILE *f, const char *path) {
  unsigned char h[16];
  int fmt_ok = 0;
  if (fread(h, 1, 12, f) != 12 || memcmp(h, "RIFF", 4) || memcmp(h + 8, "WAVE", 4)) {
    fprintf(stderr, "wav_events: %s: not a RIFF/WAVE file\n", path);
    return 0;
  }
  while (fread(h, 1, 8, f) == 8) {
    unsigned long size = le32(h + 4);
    if (!memcmp(h, "data", 4)) {
      if (fmt_ok) return size / 2;
      break;
    }
    if (!memcmp(h, "fmt ", 4) && size >= 16) {
      if (fread(h, 1, 16, f) != 16) break;
      unsigned format = le16(h), channels = le16(h + 2), bits = le16(h + 14);
      unsigned long rate = le32(h + 4);
      if (!((format == 1 || format == 0xFFFE) && channels == 1 && bits == 16 &&
            rate == MM_API_SAMPLE_RATE)) {
        fprintf(stderr, "wav_events: %s: %u channel(s), %u-bit, %lu Hz; the model takes mono "
                "16-bit PCM at %d Hz (convert it, e.g. with sox)\n", path, channels, bits, rate,
                MM_API_SAMPLE_RATE);
        return 0;
      }
      fmt_ok = 1;
      size -= 16;
    }
    if (fseek(f, (long)(size + (size & 1)), SEEK_CUR) != 0) break;
  }
  fprintf(stderr, "wav_events: %s: no PCM data (a fmt chunk, then a data chunk)\n", path);
  return 0;
}

int main(int argc, char **argv) {
  static mm_api_ctx rec; /* the recognizer's whole state: static, no heap */
  mm_api_mode mode = MM_API_STREAM;
  const char *path = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--clip")) mode = MM_API_CLIP;
    else if (!strcmp(argv[i], "--windows")) show_windows = 1;
    else if (!strcmp(argv[i], "--raw")) raw = 1;
    else path = argv[i];
  }
  if (!path) {
    fprintf(stderr, "usage: wav_events [--clip] [--windows] [--raw] FILE.wav\n"
            "model %s (%s), classes %s, mono 16-bit PCM at %d Hz\n",
            MM_API_MODEL_NAME, MM_API_MODEL_HASH, MM_API_LABELS, MM_API_SAMPLE_RATE);
    return 2;
  }
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "wav_events: %s: cannot open it\n", path);
    return 2;
  }
  unsigned long left = open_wav(f, path);
  if (!left) return 2;

  mm_api_handlers h = {show_windows ? on_window : NULL, on_event, NULL};
  int rc = mm_api_init(&rec, mode, &h);
  unsigned char bytes[2 * 1000];
  int16_t pcm[1000];
  while (rc >= 0 && left > 0) {
    size_t want = left < 1000 ? left : 1000;
    size_t got = fread(bytes, 2, want, f);
    for (size_t i = 0; i < got; i++) pcm[i] = (int16_t)le16(bytes + 2 * i);
    rc = mm_api_push(&rec, pcm, got);
    left = got == want ? left - got : 0; /* a short file ends where its bytes do */
  }
  fclose(f);
  if (rc >= 0) rc = mm_api_finish(&rec);
  if (rc < 0) {
    fprintf(stderr, "wav_events: %s\n", mm_api_strerror(rc));
    return 1;
  }
  if (mode == MM_API_CLIP) {
    mm_api_vote_result v;
    mm_api_vote(&rec, &v);
    if (raw) {
      printf("vote %ld %lu", (long)v.label, (unsigned long)v.windows);
      for (int c = 0; c < MM_API_N_CLASSES; c++) printf(" %ld", (long)v.acc[c]);
      printf("\n");
    } else {
      printf("clip: %s (%lu windows voted)\n", v.label == MM_API_SILENT ? "silence" : mm_api_label(v.label),
             (unsigned long)v.windows);
    }
  }
  return 0;
}
