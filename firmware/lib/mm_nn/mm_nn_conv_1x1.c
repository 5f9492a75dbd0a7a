/* CONV_2D with a 1x1 kernel (pointwise), no padding: each output pixel is
 * the matrix engine applied to one input pixel, no gathering. */
#include "mm_nn_pack.h"

/* scratch (DSP path): the packed pixel pair. */
void mm_nn_conv_1x1_row(const mm_nn_conv_params *p, const int8_t *in, int8_t *out,
                        void *scratch) {
  const int k = p->in_c, cout = p->out_c;
  const int step = p->sw * k;
  int ox;
#if !MM_NN_DSP
  (void)scratch;
#endif
  for (ox = 0; ox < p->out_w; ox += 2, out += 2 * cout, in += 2 * step) {
    const int pair = ox + 1 < p->out_w;
    const int8_t *b = pair ? in + step : in;
#if MM_NN_DSP
    mm_nn_pack(p, &in, &b, 1, k, (int32_t *)scratch);
    mm_nn_matmul2(p, (const int32_t *)scratch, out, pair ? out + cout : 0);
#else
    mm_nn_matmul2(p, in, b, out, pair ? out + cout : 0);
#endif
  }
}
