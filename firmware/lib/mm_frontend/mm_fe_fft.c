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

/* The last stage: one group of MM_FE_FFT_N, sums exact in 32 bits. */
static void stage_last(const uint32_t *buf, mm_fe_cpx *spec) {
  for (int n = 0; n < Q; n++) {
    const uint32_t a = buf[n], b = buf[n + Q], c = buf[n + 2 * Q], d = buf[n + 3 * Q];
    int32_t br, bi, cr, ci, dr, di;
    if (n == 0) {
      br = mm_fe_lo(b), bi = mm_fe_hi(b), cr = mm_fe_lo(c), ci = mm_fe_hi(c);
      dr = mm_fe_lo(d), di = mm_fe_hi(d);
    } else {
      const uint32_t w1 = mm_fe_twiddle[n], w2 = mm_fe_twiddle[2 * n], w3 = mm_fe_twiddle[3 * n];
      br = mm_fe_smlsd(b, w1, 1 << 14) >> 15, bi = mm_fe_smladx(b, w1, 1 << 14) >> 15;
      cr = mm_fe_smlsd(c, w2, 1 << 14) >> 15, ci = mm_fe_smladx(c, w2, 1 << 14) >> 15;
      dr = mm_fe_smlsd(d, w3, 1 << 14) >> 15, di = mm_fe_smladx(d, w3, 1 << 14) >> 15;
    }
    const int32_t ar = mm_fe_lo(a), ai = mm_fe_hi(a);
    const int32_t t0r = ar + cr, t0i = ai + ci, t1r = ar - cr, t1i = ai - ci;
    const int32_t t2r = br + dr, t2i = bi + di, t3r = br - dr, t3i = bi - di;
    mm_fe_cpx *o = spec + n;
    o[0] = (mm_fe_cpx){t0r + t2r, t0i + t2i};
    o[Q] = (mm_fe_cpx){t1r + t3i, t1i - t3r};
    o[2 * Q] = (mm_fe_cpx){t0r - t2r, t0i - t2i};
    o[3 * Q] = (mm_fe_cpx){t1r - t3i, t1i + t3r};
  }
}

void mm_fe_fft(uint32_t *buf, mm_fe_cpx *spec) {
  for (int len = 16; len < MM_FE_FFT_N; len *= 4) stage16(buf, len);
  stage_last(buf, spec);
}
