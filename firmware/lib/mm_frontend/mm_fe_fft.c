/* Stage 2: complex FFT of MM_FE_FFT_N points (the N_FFT real samples as N_FFT/2 pairs),
 * radix-4 decimation in time, output in natural order. The window stage writes the input
 * in digit-reversed order and already does the first stage (length 4); this file does
 * the others.
 *
 * All stages but the last work on packed int16 pairs and halve twice per butterfly
 * (SHADD16 / SHSUB16 / SHASX / SHSAX), so values never outgrow the |z| <= 2^14 sqrt(2)
 * the window stage guarantees. Twiddles multiply with rounding (SMLSD / SMLADX with a
 * 2^14 accumulator). The last stage sums exactly in 32 bits: no rounding where the
 * spectrum is finest, which is what keeps low-level bins within a step of float.
 * Output: spec = FFT(z) / (MM_FE_FFT_N / 4). */
#include "mm_fe_dsp.h"
#include "mm_frontend.h"

#define Q (MM_FE_FFT_N / 4)

#if !(MM_FE_USE_DSP && MM_FE_FFT_N <= 256 && MM_FE_FFT_N >= 16)
static void stage16(uint32_t *buf, int len) {
  const int q = len / 4, stride = MM_FE_FFT_N / len;
  for (int g = 0; g < MM_FE_FFT_N; g += len) { /* n = 0: twiddles are 1 */
    uint32_t *p = buf + g;
    mm_fe_butterfly16(p, q, p[0], p[q], p[2 * q], p[3 * q]);
  }
  for (int n = 1; n < q; n++) {
    const uint32_t w1 = mm_fe_twiddle[n * stride], w2 = mm_fe_twiddle[2 * n * stride],
                   w3 = mm_fe_twiddle[3 * n * stride];
    for (int g = n; g < MM_FE_FFT_N; g += len) {
      uint32_t *p = buf + g;
      mm_fe_butterfly16(p, q, p[0], mm_fe_cmul(p[q], w1), mm_fe_cmul(p[2 * q], w2),
                  mm_fe_cmul(p[3 * q], w3));
    }
  }
}

/* The last stage: one group of MM_FE_FFT_N, sums exact in 32 bits. b, c, d arrive rotated
 * (re, im as int32); results to o[0], o[Q], o[2Q], o[3Q]. */
static inline void butterfly32(mm_fe_cpx *o, uint32_t a, int32_t br, int32_t bi, int32_t cr,
                               int32_t ci, int32_t dr, int32_t di) {
  const int32_t ar = mm_fe_lo(a), ai = mm_fe_hi(a);
  const int32_t t0r = ar + cr, t0i = ai + ci, t1r = ar - cr, t1i = ai - ci;
  const int32_t t2r = br + dr, t2i = bi + di, t3r = br - dr, t3i = bi - di;
  o[0] = (mm_fe_cpx){t0r + t2r, t0i + t2i};
  o[Q] = (mm_fe_cpx){t1r + t3i, t1i - t3r};
  o[2 * Q] = (mm_fe_cpx){t0r - t2r, t0i - t2i};
  o[3 * Q] = (mm_fe_cpx){t1r - t3i, t1i + t3r};
}

static void stage_last(const uint32_t *buf, mm_fe_cpx *spec) {
  { /* n = 0: twiddles are 1 */
    const uint32_t b = buf[Q], c = buf[2 * Q], d = buf[3 * Q];
    butterfly32(spec, buf[0], mm_fe_lo(b), mm_fe_hi(b), mm_fe_lo(c), mm_fe_hi(c), mm_fe_lo(d),
                mm_fe_hi(d));
  }
  const uint32_t *w1 = mm_fe_twiddle + 1, *w2 = mm_fe_twiddle + 2, *w3 = mm_fe_twiddle + 3;
  for (int n = 1; n < Q; n++, w1 += 1, w2 += 2, w3 += 3) {
    const uint32_t b = buf[n + Q], c = buf[n + 2 * Q], d = buf[n + 3 * Q];
    butterfly32(spec + n, buf[n], mm_fe_smlsd(b, *w1, 1 << 14) >> 15,
                mm_fe_smladx(b, *w1, 1 << 14) >> 15, mm_fe_smlsd(c, *w2, 1 << 14) >> 15,
                mm_fe_smladx(c, *w2, 1 << 14) >> 15, mm_fe_smlsd(d, *w3, 1 << 14) >> 15,
                mm_fe_smladx(d, *w3, 1 << 14) >> 15);
  }
}
#endif

#if MM_FE_USE_DSP && MM_FE_FFT_N <= 256 && MM_FE_FFT_N >= 16
#define MM_FE_FFT_ASM 1
void mm_fe_fft_m4(uint32_t *buf, mm_fe_cpx *spec);
#else
#define MM_FE_FFT_ASM 0
#endif

void mm_fe_fft(uint32_t *buf, mm_fe_cpx *spec) {
#if MM_FE_FFT_ASM
  mm_fe_fft_m4(buf, spec); /* the same integers in assembly (mm_fe_fft_m4.S) */
#else
  for (int len = 16; len < MM_FE_FFT_N; len *= 4) stage16(buf, len);
  stage_last(buf, spec);
#endif
}
