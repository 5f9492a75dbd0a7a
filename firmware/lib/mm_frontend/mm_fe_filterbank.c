/* Stage 4: sparse mel filterbank. Triangular filters overlap in pairs, so the power bins
 * are walked once: a bin of segment s feeds band s - 1 (falling slope) and band s (rising
 * slope), each with its 16-bit weight (librosa.filters.mel scaled, held in a 32-bit word).
 * Sums are exact in 64 bits (UMLAL): no rounding at all. On a DSP core the walk is
 * mm_fe_filterbank_m4.S (4.5 instructions per bin). */
#include "mm_frontend.h"

#if MM_FE_USE_DSP
void mm_fe_filterbank_m4(const uint32_t *power, uint64_t *mel);
#endif

void mm_fe_filterbank(const uint32_t *power, uint64_t *mel) {
#if MM_FE_USE_DSP
  mm_fe_filterbank_m4(power + MM_FE_BIN_LO, mel);
#else
  const uint32_t *p = power + MM_FE_BIN_LO;
  const uint32_t *w = mm_fe_mel_weights; /* (down, up) per bin */
  uint64_t down = 0; /* band s - 1, completed in segment s */
  for (int s = 0; s <= MM_FE_N_MELS; s++) {
    uint64_t up = 0; /* band s, started in segment s */
    for (int n = mm_fe_mel_seg_bins[s]; n; n--, p++, w += 2) {
      down += (uint64_t)*p * w[0];
      up += (uint64_t)*p * w[1];
    }
    if (s > 0) mel[s - 1] = down;
    down = up;
  }
#endif
}
