/* The streaming front end: keeps the samples of the next frame and emits one frame per
 * hop once a whole frame is in. Per-segment magnitude bits are computed once per sample
 * and slide with the buffer. */
#include "mm_frontend.h"

#include <string.h>

void mm_fe_reset(mm_fe_state *s) { memset(s, 0, sizeof *s); }

void mm_fe_frame(const int16_t *frame, const uint8_t *seg_bits, mm_fe_scratch *scratch,
                 int8_t *out) {
  const int shift = mm_fe_window_shift(seg_bits);
  mm_fe_window(frame, shift, scratch->fft);
  mm_fe_fft(scratch->fft, scratch->spec);
  mm_fe_power(scratch->spec, scratch->fft); /* the power spectrum reuses the FFT buffer */
  mm_fe_filterbank(scratch->fft, scratch->mel);
  mm_fe_log(scratch->mel, shift, out);
}

size_t mm_fe_process(mm_fe_state *s, mm_fe_scratch *scratch, const int16_t *pcm, size_t n,
                     int8_t *out, size_t max_frames, size_t *consumed) {
  size_t frames = 0, used = 0;
  for (;;) {
    if (s->fill == MM_FE_N_FFT) {
      if (frames == max_frames) break; /* no room: the full buffer waits for the next call */
      mm_fe_segment_bits(s->buf + s->seg_done * MM_FE_SEG_LEN, MM_FE_N_SEGS - s->seg_done,
                         s->seg_bits + s->seg_done);
      mm_fe_frame(s->buf, s->seg_bits, scratch, out + frames * MM_FE_N_MELS);
      frames++;
      memmove(s->buf, s->buf + MM_FE_HOP, (MM_FE_N_FFT - MM_FE_HOP) * sizeof s->buf[0]);
      memmove(s->seg_bits, s->seg_bits + MM_FE_HOP_SEGS, MM_FE_N_SEGS - MM_FE_HOP_SEGS);
      s->fill = MM_FE_N_FFT - MM_FE_HOP;
      s->seg_done = MM_FE_N_SEGS - MM_FE_HOP_SEGS;
    }
    if (used == n) break;
    size_t take = n - used;
    if (take > (size_t)(MM_FE_N_FFT - s->fill)) take = MM_FE_N_FFT - s->fill;
    memcpy(s->buf + s->fill, pcm + used, take * sizeof pcm[0]);
    s->fill = (uint16_t)(s->fill + take);
    used += take;
  }
  if (consumed) *consumed = used;
  return frames;
}
