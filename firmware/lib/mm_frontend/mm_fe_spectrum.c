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

/* re^2 + im^2 in unsigned arithmetic (MUL, MLA): no signed overflow when |x| exceeds 46340,
 * as it may with a Hamming window; the sum is below 2^32 (checked by the table generator) */
static inline uint32_t power_of(int32_t re, int32_t im) {
#if MM_FE_USE_DSP
  uint32_t p; /* MUL + MLA: GCC otherwise shuffles registers around the LDRDs */
  __asm__("mul %0, %1, %1\n\tmla %0, %2, %2, %0" : "=&r"(p) : "r"(re), "r"(im));
  return p;
#else
  const uint32_t r = (uint32_t)re, i = (uint32_t)im;
  return r * r + i * i;
#endif
}

#if MM_FE_USE_DSP
void mm_fe_power_m4(const mm_fe_cpx *spec, uint32_t *power);
#endif

void mm_fe_power(const mm_fe_cpx *spec, uint32_t *power) {
#if MM_FE_USE_DSP
  mm_fe_power_m4(spec, power); /* the same integers in assembly (mm_fe_spectrum_m4.S) */
  return;
#endif
  const mm_fe_cpx *zk = spec + 1, *zm = spec + M - 1;
  const uint32_t *tk = mm_fe_split + 1;
  uint32_t *pk = power + 1, *pm = power + M - 1;
  for (int k = 1; k <= M / 2; k++) {
#if MM_FE_USE_DSP
    mm_fe_cpx a, b; /* one LDRD each (GCC loads the words one by one) */
    __asm__("ldrd %0, %1, [%2], #8" : "=r"(a.re), "=r"(a.im), "+r"(zk) : "m"(*zk));
    __asm__("ldrd %0, %1, [%2], #-8" : "=r"(b.re), "=r"(b.im), "+r"(zm) : "m"(*zm));
#else
    const mm_fe_cpx a = *zk++, b = *zm--;
#endif
    const int32_t hr = (a.re + b.re) >> 1, hi = (a.im - b.im) >> 1;
    const int32_t br = a.re - b.re, bi = a.im + b.im;
    const uint32_t t = *tk++;
    const int32_t ur = mm_fe_smulwb(br, t) - mm_fe_smulwt(bi, t);
    const int32_t ui = mm_fe_smlawb(bi, t, mm_fe_smulwt(br, t));
    int32_t xr = (hr + ur) >> 1, xi = (hi + ui) >> 1;
    *pk++ = power_of(xr, xi);
    if (k == M / 2) break; /* its own mirror */
    xr = (hr - ur) >> 1, xi = (ui - hi) >> 1;
    *pm-- = power_of(xr, xi);
  }
}
