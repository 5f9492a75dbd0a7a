/* FULLY_CONNECTED: `rows` input vectors of in_c values each (usually one).
 * The DSP path reads the weights in the matrix engine's layout (channel
 * pairs, int16 pairs (w0,w2) (w1,w3) per group of 4) and splits the int8
 * inputs with SXTB16 on the fly, so it needs no scratch. */
#include "mm_nn_internal.h"

#if MM_NN_DSP
/* The input pair the weights' tail pair (w0, w1) meets. */
MM_NN_INLINE int32_t tail_pair(const int8_t *x, int rem) {
  return (int32_t)(((uint32_t)(int32_t)x[0] & 0xFFFFu) |
                   (rem == 2 ? (uint32_t)(int32_t)x[1] << 16 : 0u));
}

MM_NN_INLINE void fc_row(const mm_nn_conv_params *p, const int8_t *in, int8_t *out,
                         const int mode) {
  const int k = p->k, cout = p->out_c;
  const int full = k >> 2, rem = k & 3;
  const int32_t *w = (const int32_t *)p->weights;
  const mm_nn_rq *rq = p->out.rq;
  int c, g;
  for (c = 0; c + 2 <= cout; c += 2) {
    int32_t a0 = rq[c].bias, a1 = rq[c + 1].bias;
    const int8_t *x = in;
    for (g = 0; g < full; g++, x += 4, w += 4) {
      int32_t v = mm_read32(x);
      int32_t xe = mm_sxtb16(v), xo = mm_sxtb16_ror8(v);
      a0 = mm_smlad(xe, w[0], a0);
      a0 = mm_smlad(xo, w[1], a0);
      a1 = mm_smlad(xe, w[2], a1);
      a1 = mm_smlad(xo, w[3], a1);
    }
    if (rem == 3) {
      int32_t v = (int32_t)((uint32_t)(uint8_t)x[0] | (uint32_t)(uint8_t)x[1] << 8 |
                            (uint32_t)(uint8_t)x[2] << 16);
      int32_t xe = mm_sxtb16(v), xo = mm_sxtb16_ror8(v);
      a0 = mm_smlad(xe, w[0], a0);
      a0 = mm_smlad(xo, w[1], a0);
      a1 = mm_smlad(xe, w[2], a1);
      a1 = mm_smlad(xo, w[3], a1);
      w += 4;
    } else if (rem) {
      int32_t t = tail_pair(x, rem);
      a0 = mm_smlad(t, w[0], a0);
      a1 = mm_smlad(t, w[1], a1);
      w += 2;
    }
    out[c] = mm_requant(a0, &rq[c], &p->out, mode);
    out[c + 1] = mm_requant(a1, &rq[c + 1], &p->out, mode);
  }
  if (c < cout) {
    int32_t a0 = rq[c].bias;
    const int8_t *x = in;
    for (g = 0; g < full; g++, x += 4, w += 2) {
      int32_t v = mm_read32(x);
      a0 = mm_smlad(mm_sxtb16(v), w[0], a0);
      a0 = mm_smlad(mm_sxtb16_ror8(v), w[1], a0);
    }
    if (rem == 3) {
      int32_t v = (int32_t)((uint32_t)(uint8_t)x[0] | (uint32_t)(uint8_t)x[1] << 8 |
                            (uint32_t)(uint8_t)x[2] << 16);
      a0 = mm_smlad(mm_sxtb16(v), w[0], a0);
      a0 = mm_smlad(mm_sxtb16_ror8(v), w[1], a0);
    } else if (rem) {
      a0 = mm_smlad(tail_pair(x, rem), w[0], a0);
    }
    out[c] = mm_requant(a0, &rq[c], &p->out, mode);
  }
}
#else
MM_NN_INLINE void fc_row(const mm_nn_conv_params *p, const int8_t *in, int8_t *out,
                         const int mode) {
  const int k = p->k;
  const int8_t *w = (const int8_t *)p->weights;
  int c, i;
  for (c = 0; c < p->out_c; c++, w += k) {
    int32_t s = 0;
    const mm_nn_rq *q = &p->out.rq[c];
    for (i = 0; i < k; i++) s += (int32_t)in[i] * w[i];
    out[c] = mm_requant((int32_t)((uint32_t)q->bias + 2u * (uint32_t)s), q, &p->out, mode);
  }
}
#endif

void mm_nn_fc(const mm_nn_conv_params *p, const int8_t *in, int8_t *out, int rows) {
  int r;
  const int mode = mm_rq_mode(&p->out);
  for (r = 0; r < rows; r++, in += p->k, out += p->out_c) {
    if (mode == MM_RQ_FAST_FULL) {
      fc_row(p, in, out, MM_RQ_FAST_FULL);
    } else if (mode == MM_RQ_FAST_CLAMP) {
      fc_row(p, in, out, MM_RQ_FAST_CLAMP);
    } else {
      fc_row(p, in, out, MM_RQ_EXACT);
    }
  }
}
