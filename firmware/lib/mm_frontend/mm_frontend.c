/* The streaming front end: keeps the samples of the next frame and emits one frame per
 * hop once a whole frame is in. Per-segment magnitude bits are computed once per sample.
 *
 * With the usual hop of half a frame, the sample buffer is a ring of two halves: a frame
 * is either the buffer as it is or its halves swapped, which the window stage reads
 * directly (mm_fe_window_rot), so no sample is moved; the input is copied in once, and
 * the bits of each whole segment are computed during that copy. Other hops shift the
 * buffer by a hop after each frame. */
#include "mm_fe_dsp.h"
#include "mm_frontend.h"

#include <string.h>

#define RING (2 * MM_FE_HOP == MM_FE_N_FFT && MM_FE_SEG_LEN % 8 == 0)

void mm_fe_reset(mm_fe_state *s) { memset(s, 0, sizeof *s); }

static void frame_at(const int16_t *base, int rot, const uint8_t *seg_bits, int seg0,
                     mm_fe_scratch *scratch, int8_t *out) {
  int m = 0; /* f = max over the frame's segments of (bits + window bits) - 14 */
  for (int k = 0; k < MM_FE_N_SEGS; k++) {
    const int v = seg_bits[(k + seg0) % MM_FE_N_SEGS] + mm_fe_seg_win_bits[k];
    if (v > m) m = v;
  }
  const int shift = m - 14;
  mm_fe_window_rot(base, rot, shift, scratch->fft);
  mm_fe_fft(scratch->fft, scratch->spec);
  mm_fe_power(scratch->spec, scratch->fft); /* the power spectrum reuses the FFT buffer */
  mm_fe_filterbank(scratch->fft, scratch->mel);
  mm_fe_log(scratch->mel, shift, out);
}

void mm_fe_frame(const int16_t *frame, const uint8_t *seg_bits, mm_fe_scratch *scratch,
                 int8_t *out) {
  frame_at(frame, 0, seg_bits, 0, scratch, out);
}

#if RING
/* Copy whole segments (src 4-byte aligned) and write each one's bits. */
static void copy_segments(int16_t *dst, const int16_t *src, int segs, uint8_t *bits) {
#if MM_FE_USE_DSP
  for (; segs > 0; segs--, bits++) {
    /* 8 samples per turn: LDM, STM, and SSAT16 #1 (the halves' sign masks), EOR, ORR
     * per word: 16 instructions */
    register uint32_t a __asm__("r4"), b __asm__("r5"), c __asm__("r6"), d __asm__("r7");
    uint32_t acc = 0, m, n = MM_FE_SEG_LEN / 8;
    __asm__ volatile(
        "1:\n\t"
        "ldm %[s]!, {%[a], %[b], %[c], %[d]}\n\t"
        "stm %[t]!, {%[a], %[b], %[c], %[d]}\n\t"
        "ssat16 %[m], #1, %[a]\n\t"
        "eor %[a], %[a], %[m]\n\t"
        "orr %[acc], %[acc], %[a]\n\t"
        "ssat16 %[m], #1, %[b]\n\t"
        "eor %[b], %[b], %[m]\n\t"
        "orr %[acc], %[acc], %[b]\n\t"
        "ssat16 %[m], #1, %[c]\n\t"
        "eor %[c], %[c], %[m]\n\t"
        "orr %[acc], %[acc], %[c]\n\t"
        "ssat16 %[m], #1, %[d]\n\t"
        "eor %[d], %[d], %[m]\n\t"
        "orr %[acc], %[acc], %[d]\n\t"
        "subs %[n], %[n], #1\n\t"
        "bne 1b"
        : [s] "+r"(src), [t] "+r"(dst), [acc] "+r"(acc), [n] "+r"(n), [m] "=&r"(m),
          [a] "=&r"(a), [b] "=&r"(b), [c] "=&r"(c), [d] "=&r"(d)
        :
        : "cc", "memory");
    *bits = mm_fe_bit_length((acc | (acc >> 16)) & 0xFFFFu);
  }
#else
  memcpy(dst, src, (size_t)segs * MM_FE_SEG_LEN * sizeof *src);
  mm_fe_segment_bits(dst, segs, bits);
#endif
}

/* n samples to ring position w (w + n <= N_FFT); the bits of every segment completed. */
static void put(mm_fe_state *s, const int16_t *src, int w, int n) {
  int head = (MM_FE_SEG_LEN - w % MM_FE_SEG_LEN) % MM_FE_SEG_LEN;
  if (head > n) head = n;
  if (head) {
    memcpy(s->buf + w, src, (size_t)head * sizeof *src);
    src += head, w += head, n -= head;
    if (w % MM_FE_SEG_LEN == 0) { /* this completes the segment before w */
      const int seg = w / MM_FE_SEG_LEN - 1;
      mm_fe_segment_bits(s->buf + seg * MM_FE_SEG_LEN, 1, s->seg_bits + seg);
    }
  }
  const int whole = n / MM_FE_SEG_LEN;
  if (whole) {
    if (((uintptr_t)src & 3) == 0) {
      copy_segments(s->buf + w, src, whole, s->seg_bits + w / MM_FE_SEG_LEN);
    } else {
      memcpy(s->buf + w, src, (size_t)whole * MM_FE_SEG_LEN * sizeof *src);
      mm_fe_segment_bits(s->buf + w, whole, s->seg_bits + w / MM_FE_SEG_LEN);
    }
    src += whole * MM_FE_SEG_LEN, w += whole * MM_FE_SEG_LEN, n -= whole * MM_FE_SEG_LEN;
  }
  if (n) memcpy(s->buf + w, src, (size_t)n * sizeof *src);
}
#endif

size_t mm_fe_process(mm_fe_state *s, mm_fe_scratch *scratch, const int16_t *pcm, size_t n,
                     int8_t *out, size_t max_frames, size_t *consumed) {
  size_t frames = 0, used = 0;
  for (;;) {
    if (s->fill == MM_FE_N_FFT) {
      if (frames == max_frames) break; /* no room: the full buffer waits for the next call */
#if RING
      frame_at(s->buf, s->start / (MM_FE_N_FFT / 4), s->seg_bits, s->start / MM_FE_SEG_LEN,
               scratch, out + frames * MM_FE_N_MELS);
      s->start = (uint16_t)(s->start ^ MM_FE_HOP); /* 0 <-> N_FFT / 2 */
#else
      mm_fe_segment_bits(s->buf + s->seg_done * MM_FE_SEG_LEN, MM_FE_N_SEGS - s->seg_done,
                         s->seg_bits + s->seg_done);
      mm_fe_frame(s->buf, s->seg_bits, scratch, out + frames * MM_FE_N_MELS);
      memmove(s->buf, s->buf + MM_FE_HOP, (MM_FE_N_FFT - MM_FE_HOP) * sizeof s->buf[0]);
      memmove(s->seg_bits, s->seg_bits + MM_FE_HOP_SEGS, MM_FE_N_SEGS - MM_FE_HOP_SEGS);
      s->seg_done = MM_FE_N_SEGS - MM_FE_HOP_SEGS;
#endif
      frames++;
      s->fill = MM_FE_N_FFT - MM_FE_HOP;
    }
    if (used == n) break;
    size_t take = n - used;
    if (take > (size_t)(MM_FE_N_FFT - s->fill)) take = MM_FE_N_FFT - s->fill;
#if RING
    const int w = (s->start + s->fill) % MM_FE_N_FFT;
    if (take > (size_t)(MM_FE_N_FFT - w)) take = MM_FE_N_FFT - w;
    put(s, pcm + used, w, (int)take);
#else
    memcpy(s->buf + s->fill, pcm + used, take * sizeof pcm[0]);
#endif
    s->fill = (uint16_t)(s->fill + take);
    used += take;
  }
  if (consumed) *consumed = used;
  return frames;
}
