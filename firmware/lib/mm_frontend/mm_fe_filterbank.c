/* Stage 4: sparse mel filterbank. Triangular filters overlap in pairs, so the power bins
 * are walked once: a bin of segment s feeds band s - 1 (falling slope) and band s (rising
 * slope), each with its uint16 weight (librosa.filters.mel scaled to 15 bits). Sums are
 * exact in 64 bits (UMLAL): no rounding at all. */
#include "mm_frontend.h"

void mm_fe_filterbank(const uint32_t *power, uint64_t *mel) {
  const uint32_t *p = power + MM_FE_BIN_LO;
  const uint16_t *w = mm_fe_mel_weights; /* (down, up) per bin */
#if MM_FE_USE_DSP
  /* the bin loop in assembly: 7 instructions per bin (GCC's version spills registers and
   * splits the 64-bit sums) */
  uint32_t dlo = 0, dhi = 0; /* band s - 1, completed in segment s */
  for (int s = 0; s <= MM_FE_N_MELS; s++) {
    const uint32_t *end = power + mm_fe_mel_seg_end[s];
    uint32_t ulo = 0, uhi = 0; /* band s, started in segment s */
    uint32_t pk, wd, wu;
    __asm__ volatile(
        "cmp %[p], %[end]\n\t"
        "bhs 2f\n"
        "1:\n\t"
        "ldr %[pk], [%[p]], #4\n\t"
        "ldrh %[wd], [%[w]], #2\n\t"
        "ldrh %[wu], [%[w]], #2\n\t"
        "umlal %[dlo], %[dhi], %[pk], %[wd]\n\t"
        "umlal %[ulo], %[uhi], %[pk], %[wu]\n\t"
        "cmp %[p], %[end]\n\t"
        "blo 1b\n"
        "2:"
        : [p] "+r"(p), [w] "+r"(w), [dlo] "+r"(dlo), [dhi] "+r"(dhi), [ulo] "+r"(ulo),
          [uhi] "+r"(uhi), [pk] "=&r"(pk), [wd] "=&r"(wd), [wu] "=&r"(wu)
        : [end] "r"(end)
        : "cc", "memory");
    if (s > 0) mel[s - 1] = (uint64_t)dhi << 32 | dlo;
    dlo = ulo, dhi = uhi;
  }
#else
  uint64_t down = 0; /* band s - 1, completed in segment s */
  for (int s = 0; s <= MM_FE_N_MELS; s++) {
    const uint32_t *end = power + mm_fe_mel_seg_end[s];
    uint64_t up = 0; /* band s, started in segment s */
    for (; p < end; p++, w += 2) {
      down += (uint64_t)*p * w[0];
      up += (uint64_t)*p * w[1];
    }
    if (s > 0) mel[s - 1] = down;
    down = up;
  }
#endif
}
