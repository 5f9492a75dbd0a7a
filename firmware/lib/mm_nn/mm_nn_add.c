/* ADD of two int8 tensors of the same shape. TFLite rescales each input
 * ((x - zp) << 20, times a multiplier below one); that depends on x only, so
 * the exporter tabulates it (256 entries per input) and the kernel adds two
 * table values and applies the output multiplier exactly. */
#include "mm_nn_internal.h"

void mm_nn_add(const mm_nn_add_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
  uint32_t i;
  for (i = 0; i < p->n; i++) {
    int32_t raw = p->lut1[in1[i] + 128] + p->lut2[in2[i] + 128];
    int32_t v = mm_rdbpot(mm_srdhm(raw, p->mult), (int)-p->shift) + p->zp_out;
    out[i] = mm_clamp(v, p->act_min, p->act_max);
  }
}
