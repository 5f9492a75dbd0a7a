/* MAX_POOL_2D: the maximum over the window's valid taps, then the
 * activation clamp. */
#include "mm_nn_internal.h"

void mm_nn_maxpool_row(const mm_nn_pool_params *p, const int8_t *const *rows, int8_t *out) {
  const int c = p->c;
  int ox, ky, ix, ch;
  for (ox = 0; ox < p->out_w; ox++, out += c) {
    const int ix0 = ox * p->sw - p->pad_l;
    const int x_lo = ix0 < 0 ? 0 : ix0;
    const int x_hi = ix0 + p->kw > p->in_w ? p->in_w : ix0 + p->kw;
    for (ch = 0; ch < c; ch++) {
      int32_t m = -128;
      for (ky = 0; ky < p->kh; ky++) {
        const int8_t *row = rows[ky];
        if (!row) continue;
        for (ix = x_lo; ix < x_hi; ix++) {
          int32_t v = row[ix * c + ch];
          if (v > m) m = v;
        }
      }
      out[ch] = mm_clamp(m, p->act_min, p->act_max);
    }
  }
}
