/* Stage 3: power spectrum of the N_FFT real samples from the N_FFT/2-point complex FFT
 * of their pairs (the standard real-FFT split). Bins k and M-k (M = MM_FE_FFT_N) share
 * one complex product with T_k = -j e^{-2 pi j k / N_FFT} (Q15, SMULWB/SMULWT on the
 * 32-bit spectrum):
 *   A = Z[k] + conj Z[M-k], B = Z[k] - conj Z[M-k], u = T_k B / 2, h = A >> 1
 *   X[k] = (h + u) >> 1,  X[M-k] = (conj h - conj u) >> 1 (per component)
 *   P = Re X^2 + Im X^2, below 2^32 (the table generator checks the bound). */
#include "mm_fe_dsp.h"
#include "mm_frontend.h"

#define M MM_FE_FFT_N

void mm_fe_power(const mm_fe_cpx *spec, uint32_t *power) {
  const mm_fe_cpx *zk = spec + 1, *zm = spec + M - 1;
  const uint32_t *tk = mm_fe_split + 1;
  uint32_t *pk = power + 1, *pm = power + M - 1;
  for (int k = 1; k <= M / 2; k++) {
    const mm_fe_cpx a = *zk++, b = *zm--;
    const int32_t hr = (a.re + b.re) >> 1, hi = (a.im - b.im) >> 1;
    const int32_t br = a.re - b.re, bi = a.im + b.im;
    const uint32_t t = *tk++;
    const int32_t ur = mm_fe_smulwb(br, t) - mm_fe_smulwt(bi, t);
    const int32_t ui = mm_fe_smlawb(bi, t, mm_fe_smulwt(br, t));
    int32_t xr = (hr + ur) >> 1, xi = (hi + ui) >> 1;
    *pk++ = (uint32_t)(xr * xr) + (uint32_t)(xi * xi);
    if (k == M / 2) break; /* its own mirror */
    xr = (hr - ur) >> 1, xi = (ui - hi) >> 1;
    *pm-- = (uint32_t)(xr * xr) + (uint32_t)(xi * xi);
  }
}
