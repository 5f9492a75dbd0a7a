/* CONV_2D with a 1x1 kernel (pointwise), no padding: each output pixel is
 * the matrix engine applied to one input pixel, no gathering. */
#include "mm_nn_internal.h"

/* scratch: the packed pair (DSP) and out_c junk bytes. */
void mm_nn_conv_1x1_row(const mm_nn_conv_params *p, const int8_t *in, int8_t *out,
                        void *scratch) {
  const int k = p->in_c, cout = p->out_c;
  const int step = p->sw * k;
#if MM_NN_DSP
  int8_t *junk = p->stream ? (int8_t *)0 : (int8_t *)scratch + mm_nn_pack2_bytes(k);
#else
  int8_t *junk = (int8_t *)scratch;
#endif
  int ox;
  for (ox = 0; ox < p->out_w; ox += 2, out += 2 * cout, in += 2 * step) {
    const int pair = ox + 1 < p->out_w;
    const int8_t *b = pair ? in + step : in;
#if MM_NN_DSP
    mm_nn_pack2(in, b, k, scratch);
    mm_nn_matmul2(p, scratch, 0, out, pair ? out + cout : junk);
#else
    mm_nn_matmul2(p, in, b, out, pair ? out + cout : junk);
#endif
  }
}
