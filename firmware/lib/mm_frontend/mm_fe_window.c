/* Stage 1: normalisation and window (and the FFT's first radix-4 stage).
 *
 * Each frame is scaled by 2^-f with one shift f chosen so that every windowed sample
 * y = (x * win + 2^(f-1)) >> f stays within [-2^14, 2^14]: the complex FFT then never
 * overflows, and quiet frames use the whole 16-bit range. f comes from per-segment bounds
 * (|x| <= 2^e_s in segment s, window < 2^g_s there): f = max_s (e_s + g_s) - 14, so a loud
 * click under the window's tails does not waste the resolution of the frame's centre.
 *
 * The windowed pairs (y[2i], y[2i+1]) are the complex FFT's input in digit-reversed order,
 * whose first stage (length 4, no twiddles) combines pairs m, m+Q, m+2Q, m+3Q: it is done
 * here, so each windowed pair is written once. */
#include "mm_fe_dsp.h"
#include "mm_frontend.h"

#define Q (MM_FE_FFT_N / 4)

static uint8_t bit_length(uint32_t v) { return v ? (uint8_t)(32 - __builtin_clz(v)) : 0; }

void mm_fe_segment_bits(const int16_t *x, int n_segs, uint8_t *bits) {
  for (int s = 0; s < n_segs; s++, x += MM_FE_SEG_LEN) {
    uint32_t acc = 0;
    /* x ^ (x >> 15) is x for x >= 0 and -x - 1 for x < 0: its bit length e gives
     * -2^e <= x < 2^e */
#if MM_FE_USE_DSP
    /* two samples per word: SSUB16 sets GE where a half is >= 0, SEL takes x there and
     * ~x (= -x - 1) elsewhere; segments start 4-byte aligned */
    const uint32_t *w = (const uint32_t *)(const void *)x;
#pragma GCC unroll 8
    for (int i = 0; i < MM_FE_SEG_LEN / 2; i++) {
      const uint32_t v = w[i];
      uint32_t t, a;
      __asm__("ssub16 %0, %2, %3\n\tsel %1, %2, %4"
              : "=&r"(t), "=r"(a)
              : "r"(v), "r"(0u), "r"(~v)
              : "cc");
      acc |= a;
    }
    acc = (acc | (acc >> 16)) & 0xFFFFu;
#else
#pragma GCC unroll 16
    for (int i = 0; i < MM_FE_SEG_LEN; i++) {
      const int32_t v = x[i];
      acc |= (uint32_t)(v ^ (v >> 15));
    }
#endif
    bits[s] = bit_length(acc);
  }
}

int mm_fe_window_shift(const uint8_t *seg_bits) {
  int m = 0;
  for (int s = 0; s < MM_FE_N_SEGS; s++) {
    const int v = seg_bits[s] + mm_fe_seg_win_bits[s];
    if (v > m) m = v;
  }
  return m - 14; /* >= 1: the centre segments have window bits 15 */
}

/* windowed pair i, packed: (x * win + 2^(f-1)) >> f for both samples */
static inline uint32_t windowed_pair(const int16_t *frame, int i, int shift, int32_t round) {
  const uint32_t w = mm_fe_window_pairs[i];
#if MM_FE_USE_DSP
  const uint32_t x = ((const uint32_t *)(const void *)frame)[i]; /* 4-byte aligned */
  return mm_fe_pack_dsp(mm_fe_smlabb(x, w, round) >> shift, mm_fe_smlatt(x, w, round) >> shift);
#else
  return mm_fe_pack((frame[2 * i] * mm_fe_lo(w) + round) >> shift,
                    (frame[2 * i + 1] * mm_fe_hi(w) + round) >> shift);
#endif
}

void mm_fe_window(const int16_t *frame, int shift, uint32_t *fft) {
  const int32_t round = 1 << (shift - 1);
  for (int g = 0; g < Q; g++) {
    const int m = mm_fe_fft_perm[4 * g];
    mm_fe_butterfly16(fft + 4 * g, 1, windowed_pair(frame, m, shift, round),
                      windowed_pair(frame, m + Q, shift, round),
                      windowed_pair(frame, m + 2 * Q, shift, round),
                      windowed_pair(frame, m + 3 * Q, shift, round));
  }
}
