/* FULLY_CONNECTED: `rows` input vectors of in_c values each (usually one),
 * the matrix engine with two rows as the pixel pair. */
#include "mm_nn_pack.h"

/* scratch (DSP path): the packed pair of rows. */
void mm_nn_fc(const mm_nn_conv_params *p, const int8_t *in, int8_t *out, int rows,
              void *scratch) {
  const int k = p->k, cout = p->out_c;
  int r;
#if !MM_NN_DSP
  (void)scratch;
#endif
  for (r = 0; r < rows; r += 2, in += 2 * k, out += 2 * cout) {
    const int pair = r + 1 < rows;
    const int8_t *b = pair ? in + k : in;
#if MM_NN_DSP
    mm_nn_pack(p, &in, &b, 1, k, (int32_t *)scratch);
    mm_nn_matmul2(p, (const int32_t *)scratch, out, pair ? out + cout : 0);
#else
    mm_nn_matmul2(p, in, b, out, pair ? out + cout : 0);
#endif
  }
}
