/* The pixel pack a layer's weight layout reads (mm_nn_matmul.c), chosen per
 * call: inline, so a model with one layout calls its pack directly (and,
 * linked with --gc-sections as the firmware is, carries only that one). */
#ifndef MM_NN_PACK_H
#define MM_NN_PACK_H

#include "mm_nn_internal.h"

#if MM_NN_DSP
/* Pack `rows` runs of rk input bytes of pixels a and b (a[r], b[r]; b may equal a)
 * into x, in the layout the stream of p (int8 or int16 weights) reads. */
MM_NN_INLINE void mm_nn_pack(const mm_nn_conv_params *p, const int8_t *const *a,
                             const int8_t *const *b, int rows, int rk, int32_t *x) {
  if (MM_NN_MM_W16(p)) {
    mm_nn_pack16(a, b, rows, rk, x);
  } else {
    mm_nn_pack8(a, b, rows, rk, x);
  }
}
#endif

#endif
