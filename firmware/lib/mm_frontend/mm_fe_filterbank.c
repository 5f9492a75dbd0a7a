/* Stage 4: sparse mel filterbank. Triangular filters overlap in pairs, so the power bins
 * are walked once: a bin of segment s feeds band s - 1 (falling slope) and band s (rising
 * slope), each with its uint16 weight (librosa.filters.mel scaled to 15 bits). Sums are
 * exact in 64 bits (UMLAL): no rounding at all. */
#include "mm_frontend.h"

#if defined(__ARM_FEATURE_DSP)
/* one UMLAL per weight (GCC may otherwise split 64-bit sums into UMULL + ADDS/ADC) */
#define MAC(lo, hi, p, w) __asm__("umlal %0, %1, %2, %3" : "+r"(lo), "+r"(hi) : "r"(p), "r"(w))
#else
#define MAC(lo, hi, p, w)                                              \
  do {                                                                 \
    const uint64_t acc_ = ((uint64_t)(hi) << 32 | (lo)) + (uint64_t)(p) * (w); \
    (lo) = (uint32_t)acc_, (hi) = (uint32_t)(acc_ >> 32);              \
  } while (0)
#endif

void mm_fe_filterbank(const uint32_t *power, uint64_t *mel) {
  const uint32_t *p = power + MM_FE_BIN_LO;
  const uint16_t *wd = mm_fe_mel_w_down, *wu = mm_fe_mel_w_up;
  uint32_t dlo = 0, dhi = 0; /* band s - 1, completed in segment s */
  int k = MM_FE_BIN_LO;
  for (int s = 0; s <= MM_FE_N_MELS; s++) {
    uint32_t ulo = 0, uhi = 0; /* band s, started in segment s */
    for (const int end = mm_fe_mel_seg_end[s]; k < end; k++) {
      const uint32_t pk = *p++, w_down = *wd++, w_up = *wu++;
      MAC(dlo, dhi, pk, w_down);
      MAC(ulo, uhi, pk, w_up);
    }
    if (s > 0) mel[s - 1] = (uint64_t)dhi << 32 | dlo;
    dlo = ulo, dhi = uhi;
  }
}
