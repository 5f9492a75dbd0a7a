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

void mm_fe_segment_bits(const int16_t *x, int n_segs, uint8_t *bits) {
  for (int s = 0; s < n_segs; s++, x += MM_FE_SEG_LEN) {
    uint32_t acc = 0;
    /* x ^ (x >> 15) is x for x >= 0 and -x - 1 for x < 0: its bit length e gives
     * -2^e <= x < 2^e */
#if MM_FE_USE_DSP
    /* two samples per word: SSAT16 #1 saturates each half to [-1, 0], i.e. its sign
     * mask, so x ^ (x >> 15) is one EOR; 3 instructions per pair plus an LDRD per two
     * pairs (segments start 4-byte aligned) */
    const uint32_t *w = (const uint32_t *)(const void *)x;
#if MM_FE_SEG_LEN % 4 == 0
    const uint32_t *end = w + MM_FE_SEG_LEN / 2;
    uint32_t a, b, ma, mb;
    __asm__("1:\n\t"
            "ldrd %[a], %[b], [%[w]], #8\n\t"
            "ssat16 %[ma], #1, %[a]\n\t"
            "ssat16 %[mb], #1, %[b]\n\t"
            "eor %[a], %[a], %[ma]\n\t"
            "eor %[b], %[b], %[mb]\n\t"
            "orr %[acc], %[acc], %[a]\n\t"
            "orr %[acc], %[acc], %[b]\n\t"
            "cmp %[w], %[end]\n\t"
            "bne 1b"
            : [w] "+r"(w), [acc] "+r"(acc), [a] "=&r"(a), [b] "=&r"(b), [ma] "=&r"(ma),
              [mb] "=&r"(mb)
            : [end] "r"(end)
            : "cc", "memory");
#else
    for (int i = 0; i < MM_FE_SEG_LEN / 2; i++) {
      uint32_t v = w[i], m;
      __asm__("ssat16 %0, #1, %1" : "=r"(m) : "r"(v));
      acc |= v ^ m;
    }
#endif
    acc = (acc | (acc >> 16)) & 0xFFFFu;
#else
#pragma GCC unroll 16
    for (int i = 0; i < MM_FE_SEG_LEN; i++) {
      const int32_t v = x[i];
      acc |= (uint32_t)(v ^ (v >> 15));
    }
#endif
    bits[s] = mm_fe_bit_length(acc);
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

/* windowed pair, packed: (x * win + 2^(f-1)) >> f for both samples */
static inline uint32_t windowed_pair(const int16_t *pair, uint32_t w, int shift, int32_t round) {
#if MM_FE_USE_DSP
  const uint32_t x = *(const uint32_t *)(const void *)pair; /* 4-byte aligned */
  return mm_fe_pack_dsp(mm_fe_smlabb(x, w, round) >> shift, mm_fe_smlatt(x, w, round) >> shift);
#else
  return mm_fe_pack((pair[0] * mm_fe_lo(w) + round) >> shift,
                    (pair[1] * mm_fe_hi(w) + round) >> shift);
#endif
}

#if MM_FE_USE_DSP && MM_FE_FFT_N <= 1024
void mm_fe_window_m4(const int16_t *base, int shift, uint32_t *fft, int rot);
#endif

void mm_fe_window_rot(const int16_t *base, int rot, int shift, uint32_t *fft) {
#if MM_FE_USE_DSP && MM_FE_FFT_N <= 1024
  if (rot == 0 || rot == 2) {
    mm_fe_window_m4(base, shift, fft, rot); /* the same integers in assembly */
    return;
  }
#endif
  const int32_t round = 1 << (shift - 1);
  const uint32_t *t = mm_fe_window_groups;
  for (int g = 0; g < Q; g++, t += 5, fft += 4) {
    const int m = (int)(t[0] >> 2);
    uint32_t y[4];
    for (int j = 0; j < 4; j++) {
      const int i = (m + ((j + rot) & 3) * Q) * 2; /* the frame's pair m + jQ */
      y[j] = windowed_pair(base + i, t[1 + j], shift, round);
    }
    mm_fe_butterfly16(fft, 1, y[0], y[1], y[2], y[3]);
  }
}

void mm_fe_window(const int16_t *frame, int shift, uint32_t *fft) {
  mm_fe_window_rot(frame, 0, shift, fft);
}
