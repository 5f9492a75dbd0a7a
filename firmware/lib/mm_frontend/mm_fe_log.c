/* Stage 5: log and int8 output.
 * log2(acc) = p + log2(1 + frac): p from the leading zero count, log2(1 + frac) from a
 * 2^MM_FE_LOG_BITS-entry table with linear interpolation (Q16) on the next 16 bits. The
 * frame's shift f and the fixed scale of the pipeline add 2 f + MM_FE_LOG_OFFSET; then
 *   q = clip(floor((L * MM_FE_OUT_MULT + MM_FE_OUT_BIAS) / 2^32), -128, 127)
 * maps log2 of the mel power to steps of MM_FE_OUT_STEP_DB dB (rounded). Zero energy
 * (digital silence) gives -128. */
#include "mm_fe_dsp.h"
#include "mm_frontend.h"

#if MM_FE_USE_DSP
void mm_fe_log_m4(const uint64_t *mel, int32_t e16, int8_t *out);
#endif

void mm_fe_log(const uint64_t *mel, int shift, int8_t *out) {
  const int32_t offset = 2 * shift + MM_FE_LOG_OFFSET;
#if MM_FE_USE_DSP
  /* the same integers in assembly (mm_fe_log_m4.S) */
  mm_fe_log_m4(mel, (63 + offset) * 65536, out);
  return;
#endif
  for (int m = 0; m < MM_FE_N_MELS; m++) {
    const uint32_t hi = (uint32_t)(mel[m] >> 32), lo = (uint32_t)mel[m];
    uint32_t top; /* acc's 32 leading bits, from its leading one */
    int p;        /* bit position of the leading one */
    if (hi) {     /* acc < 2^53: hi has at least 11 leading zeros */
      const int n = __builtin_clz(hi);
      top = (hi << n) | (lo >> (32 - n));
      p = 63 - n;
    } else if (lo) {
      const int n = __builtin_clz(lo);
      top = lo << n;
      p = 31 - n;
    } else {
      out[m] = -128;
      continue;
    }
    const uint32_t f = top << 1; /* the fraction after the leading one */
    const uint32_t i = f >> (32 - MM_FE_LOG_BITS);
    const uint32_t r = (f >> (16 - MM_FE_LOG_BITS)) & 0xFFFFu;
    const uint32_t t0 = mm_fe_log_table[i], t1 = mm_fe_log_table[i + 1];
    const int32_t l = (p + offset) * 65536 + (int32_t)(t0 + (((t1 - t0) * r) >> 16));
    /* the high word of the 64-bit SMLAL result; |L| < 2^23 keeps it within int32 */
    const int32_t q = (int32_t)(((int64_t)l * MM_FE_OUT_MULT + MM_FE_OUT_BIAS) >> 32);
    out[m] = (int8_t)mm_fe_ssat8(q);
  }
}
