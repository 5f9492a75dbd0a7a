/* MEAN over H and W (GlobalAveragePooling2D): TFLite Micro's integer
 * QuantizedMeanOrSum, which folds 1/(h*w) into the output multiplier.
 * The sums may be built row by row (the input then streams through a ring
 * of one row). */
#include "mm_nn_internal.h"

void mm_nn_sum_pixels(const int8_t *in, int pixels, int c, int32_t *sums) {
  int i, ch = 0;
#if MM_NN_DSP
  /* 4 channels at a time in int16 lanes (SXTAB16): |sum| <= 128 * 255 for
   * up to 255 pixels, so flush to int32 every 255 pixels. */
  for (; ch + 4 <= c; ch += 4) {
    const int8_t *p = in + ch;
    int left = pixels;
    while (left > 0) {
      int n = left < 255 ? left : 255;
      int32_t even = 0, odd = 0;
      left -= n;
      for (i = 0; i < n; i++, p += c) {
        int32_t x = mm_read32(p);
        even = mm_sxtab16(even, x);
        odd = mm_sxtab16_ror8(odd, x);
      }
      sums[ch] += mm_lo16(even);
      sums[ch + 2] += mm_hi16(even);
      sums[ch + 1] += mm_lo16(odd);
      sums[ch + 3] += mm_hi16(odd);
    }
  }
#endif
  for (; ch < c; ch++) {
    const int8_t *p = in + ch;
    int32_t s = 0;
    for (i = 0; i < pixels; i++, p += c) s += *p;
    sums[ch] += s;
  }
}

void mm_nn_mean_finish(const mm_nn_mean_params *p, const int32_t *sums, int8_t *out) {
  int ch;
  for (ch = 0; ch < p->c; ch++) {
    int32_t v = mm_mbqm(sums[ch] - p->zp_in_times_n, p->mult, (int)p->shift) + p->zp_out;
    out[ch] = mm_clamp(v, -128, 127);
  }
}
