/* DEPTHWISE_CONV_2D, depth multiplier 1, any kernel size, stride and
 * padding. Rows of vertical padding arrive as rows of the input zero point;
 * columns of horizontal padding are handled here (output pixels whose
 * window leaves the row take the exact slow path).
 *
 * DSP path (channels a multiple of 4): one 32-bit load brings 4 channels of
 * one tap; SXTB16 splits them into (c0, c2) and (c1, c3); the weights are
 * stored per group of 4 channels and per tap as the int16 pairs
 * (w_c0, w_c2) (w_c1, w_c3), doubled; SMLABB/SMLATT accumulate each lane. */
#include "mm_nn_internal.h"

/* One output pixel, every channel, taps outside the row read as zp_in. */
MM_NN_INLINE void pixel_ref(const mm_nn_dwconv_params *p, const int8_t *const *rows, int ix0,
                            int8_t *out, const int mode) {
  const int c = p->c, kw = p->kw;
  const int8_t *w = (const int8_t *)p->weights;
  int ch, ky, kx;
#if MM_NN_DSP
  /* the DSP layout: group g, tap t, lane pair */
  const int16_t *w16 = (const int16_t *)p->weights;
#endif
  for (ch = 0; ch < c; ch++) {
    int32_t acc = 0;
    for (ky = 0; ky < p->kh; ky++) {
      for (kx = 0; kx < kw; kx++) {
        int ix = ix0 + kx;
        int32_t x = (ix >= 0 && ix < p->in_w) ? rows[ky][ix * c + ch] : p->zp_in;
#if MM_NN_DSP
        if (p->dsp_ok) {
          int g = ch >> 2, lane = ch & 3, t = ky * kw + kx;
          /* words: (c0,c2) (c1,c3) -> int16 index */
          int idx = ((g * p->kh * kw + t) * 2 + (lane & 1)) * 2 + (lane >> 1);
          acc += x * w16[idx];
          continue;
        }
#endif
        acc += 2 * x * w[(ky * kw + kx) * c + ch];
      }
    }
    const mm_nn_rq *q = &p->out.rq[ch];
    out[ch] = mm_requant((int32_t)((uint32_t)q->bias + (uint32_t)acc), q, &p->out, mode);
  }
}

#if MM_NN_DSP
/* Interior pixel, 4 channels per step. */
MM_NN_INLINE void pixel_dsp(const mm_nn_dwconv_params *p, const int8_t *const *rows, int ix0,
                            int8_t *out, const int mode) {
  const int c = p->c, kh = p->kh, kw = p->kw;
  const int32_t *w = (const int32_t *)p->weights;
  const mm_nn_rq *q = p->out.rq;
  int ch, ky, kx;
  for (ch = 0; ch < c; ch += 4, q += 4, out += 4) {
    int32_t a0 = q[0].bias, a1 = q[1].bias, a2 = q[2].bias, a3 = q[3].bias;
    for (ky = 0; ky < kh; ky++) {
      const int8_t *r = rows[ky] + ix0 * c + ch;
      for (kx = 0; kx < kw; kx++, r += c, w += 2) {
        int32_t x = mm_read32(r);
        int32_t xe = mm_sxtb16(x), xo = mm_sxtb16_ror8(x);
        int32_t w02 = w[0], w13 = w[1];
        a0 = mm_smlabb(xe, w02, a0);
        a2 = mm_smlatt(xe, w02, a2);
        a1 = mm_smlabb(xo, w13, a1);
        a3 = mm_smlatt(xo, w13, a3);
      }
    }
    out[0] = mm_requant(a0, &q[0], &p->out, mode);
    out[1] = mm_requant(a1, &q[1], &p->out, mode);
    out[2] = mm_requant(a2, &q[2], &p->out, mode);
    out[3] = mm_requant(a3, &q[3], &p->out, mode);
  }
}
#endif

MM_NN_INLINE void row_impl(const mm_nn_dwconv_params *p, const int8_t *const *rows, int8_t *out,
                           const int mode) {
  int ox;
  for (ox = 0; ox < p->out_w; ox++, out += p->c) {
    const int ix0 = ox * p->sw - p->pad_l;
#if MM_NN_DSP
    if (p->dsp_ok && ix0 >= 0 && ix0 + p->kw <= p->in_w) {
      pixel_dsp(p, rows, ix0, out, mode);
      continue;
    }
#endif
    pixel_ref(p, rows, ix0, out, mode);
  }
}

void mm_nn_dwconv_row(const mm_nn_dwconv_params *p, const int8_t *const *rows, int8_t *out) {
  switch (mm_rq_mode(&p->out)) {
    case MM_RQ_FAST_FULL:
      row_impl(p, rows, out, MM_RQ_FAST_FULL);
      break;
    case MM_RQ_FAST_CLAMP:
      row_impl(p, rows, out, MM_RQ_FAST_CLAMP);
      break;
    default:
      row_impl(p, rows, out, MM_RQ_EXACT);
      break;
  }
}
