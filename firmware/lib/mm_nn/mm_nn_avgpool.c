/* AVERAGE_POOL_2D: padding is excluded from the count, and the division
 * rounds half away from zero, as in TFLite's reference kernel. */
#include "mm_nn_internal.h"

/* scratch: c int32 sums. */
void mm_nn_avgpool_row(const mm_nn_pool_params *p, const int8_t *const *rows, int8_t *out,
                       void *scratch) {
  const int c = p->c;
  int32_t *sum = (int32_t *)scratch;
  int ox, ky, ix, ch;
  for (ox = 0; ox < p->out_w; ox++, out += c) {
    const int ix0 = ox * p->sw - p->pad_l;
    const int x_lo = ix0 < 0 ? 0 : ix0;
    const int x_hi = ix0 + p->kw > p->in_w ? p->in_w : ix0 + p->kw;
    int32_t count = 0;
    for (ch = 0; ch < c; ch++) sum[ch] = 0;
    for (ky = 0; ky < p->kh; ky++) {
      const int8_t *row = rows[ky];
      if (!row) continue;
      for (ix = x_lo; ix < x_hi; ix++) {
        const int8_t *px = row + ix * c;
        for (ch = 0; ch < c; ch++) sum[ch] += px[ch];
        count++;
      }
    }
    for (ch = 0; ch < c; ch++) {
      int32_t acc = sum[ch];
      acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
      out[ch] = mm_clamp(acc, p->act_min, p->act_max);
    }
  }
}

void mm_nn_avgpool_finish(const mm_nn_pool_params *p, const int32_t *sums, int32_t count,
                          int8_t *out) {
  int ch;
  for (ch = 0; ch < p->c; ch++) {
    int32_t acc = sums[ch];
    acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
    out[ch] = mm_clamp(acc, p->act_min, p->act_max);
  }
}
