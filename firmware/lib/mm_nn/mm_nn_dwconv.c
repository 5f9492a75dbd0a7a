/* DEPTHWISE_CONV_2D, depth multiplier 1, any kernel size, stride and
 * padding. Rows of vertical padding arrive as rows of the input zero point
 * (the bias already accounts for zero-point inputs); taps left or right of
 * the row read the zero point.
 *
 * DSP path (channels a multiple of 4): one 32-bit load brings 4 channels of
 * one tap; SXTB16 splits them into (c0, c2) and (c1, c3); the stream holds,
 * per group of 4 channels, the 4 biases, per tap the int16 pairs
 * (w_c0, w_c2) (w_c1, w_c3) (doubled; or, int8 weights, one word
 * (w_c0, w_c1, w_c2, w_c3) split by SXTB16 too), then the 4 channels'
 * (mult, add, shift); SMLABB/SMLATT accumulate each lane. 3x3 kernels with the full
 * int8 range run in assembly (mm_nn_dwconv_m4.S), border pixels included;
 * other cases run the C loop below on the same stream. */
#include "mm_nn_internal.h"

#if MM_NN_DSP
/* One output pixel from the stream, any kernel, any requantization mode:
 * the C twin of the assembly. */
static void pixel_stream(const mm_nn_dwconv_params *p, const int8_t *const *rows, int ix0,
                         int8_t *out, int mode) {
  const int c = p->c, kh = p->kh, kw = p->kw;
  const int32_t zp4 = (int32_t)((uint32_t)(uint8_t)p->zp_in * 0x01010101u);
  const int32_t *s = p->stream;
  int g, ky, kx, i;
  const int w16 = MM_NN_DW_W16(p);
  for (g = 0; g < c; g += 4, out += 4) {
    int32_t a[4];
    const int32_t *w = s + 4;
    for (i = 0; i < 4; i++) a[i] = s[i];
    for (ky = 0; ky < kh; ky++) {
      for (kx = 0; kx < kw; kx++) {
        const int ix = ix0 + kx;
        const int32_t x = ix >= 0 && ix < p->in_w ? mm_read32(rows[ky] + ix * c + g) : zp4;
        const int32_t xe = mm_sxtb16(x), xo = mm_sxtb16_ror8(x);
        int32_t we, wo;
        if (w16) {
          we = w[0], wo = w[1], w += 2;
        } else {
          we = mm_sxtb16(w[0]), wo = mm_sxtb16_ror8(w[0]), w += 1;
        }
        a[0] = mm_smlabb(xe, we, a[0]);
        a[2] = mm_smlatt(xe, we, a[2]);
        a[1] = mm_smlabb(xo, wo, a[1]);
        a[3] = mm_smlatt(xo, wo, a[3]);
      }
    }
    s = w;
    for (i = 0; i < 4; i++, s += 3) {
      mm_nn_rq q;
      q.bias = 0, q.mult = s[0], q.add = s[1], q.shift = s[2];
      /* int8 weights: the accumulator holds acc, requantization takes 2 acc */
      out[i] = mm_requant(w16 ? a[i] : (int32_t)((uint32_t)a[i] << 1), &q, &p->out, mode);
    }
  }
}
#endif

#if MM_NN_NATIVE_DSP
typedef void dw3_fn(const int8_t *r0, const int8_t *r1, const int8_t *r2, int c,
                    const int32_t *stream, int8_t *out, int32_t zp4);
dw3_fn mm_nn_dw3x3_m4, mm_nn_dw3x3_left_m4, mm_nn_dw3x3_right_m4;
dw3_fn mm_nn_dw3x3_w8_m4, mm_nn_dw3x3_w8_left_m4, mm_nn_dw3x3_w8_right_m4;
#endif

/* Portable (and channels not a multiple of 4): one pixel, one channel. */
static void pixel_ref(const mm_nn_dwconv_params *p, const int8_t *const *rows, int ix0,
                      int8_t *out, int mode) {
  const int c = p->c, kw = p->kw;
  int ch, ky, kx;
  for (ch = 0; ch < c; ch++) {
    int32_t acc = 0;
    for (ky = 0; ky < p->kh; ky++) {
      for (kx = 0; kx < kw; kx++) {
        const int ix = ix0 + kx;
        const int32_t x = (ix >= 0 && ix < p->in_w) ? rows[ky][ix * c + ch] : p->zp_in;
        acc += x * p->weights[(ky * kw + kx) * c + ch];
      }
    }
    const mm_nn_rq *q = &p->out.rq[ch];
    out[ch] = mm_requant((int32_t)((uint32_t)q->bias + 2u * (uint32_t)acc), q, &p->out, mode);
  }
}

void mm_nn_dwconv_row(const mm_nn_dwconv_params *p, const int8_t *const *rows, int8_t *out) {
  const int c = p->c, mode = mm_rq_mode(&p->out);
  int ox;
#if MM_NN_NATIVE_DSP
  const int asm3 = p->stream && mode == MM_RQ_FAST_FULL && p->kh == 3 && p->kw == 3 && p->in_w >= 2;
  const int32_t zp4 = (int32_t)((uint32_t)(uint8_t)p->zp_in * 0x01010101u);
  /* the layout chosen once per row, not per pixel */
  const int w16 = MM_NN_DW_W16(p);
  dw3_fn *const inner = w16 ? mm_nn_dw3x3_m4 : mm_nn_dw3x3_w8_m4;
  dw3_fn *const left = w16 ? mm_nn_dw3x3_left_m4 : mm_nn_dw3x3_w8_left_m4;
  dw3_fn *const right = w16 ? mm_nn_dw3x3_right_m4 : mm_nn_dw3x3_w8_right_m4;
#endif
  for (ox = 0; ox < p->out_w; ox++, out += c) {
    const int ix0 = ox * p->sw - p->pad_l;
#if MM_NN_NATIVE_DSP
    if (asm3) {
      /* the window's first column (possibly the padding left of the row) */
      const intptr_t col = (intptr_t)ix0 * c;
      const int8_t *r0 = (const int8_t *)((intptr_t)rows[0] + col);
      const int8_t *r1 = (const int8_t *)((intptr_t)rows[1] + col);
      const int8_t *r2 = (const int8_t *)((intptr_t)rows[2] + col);
      dw3_fn *f = 0;
      if (ix0 >= 0 && ix0 + 3 <= p->in_w) {
        f = inner;
      } else if (ix0 == -1) {
        f = left;
      } else if (ix0 + 2 == p->in_w) {
        f = right;
      }
      if (f) {
        f(r0, r1, r2, c, p->stream, out, zp4);
        continue;
      }
    }
#endif
    if (!MM_NN_NEED_C(MM_MODEL_USES_DW_C)) continue; /* every pixel ran above */
#if MM_NN_DSP
    if (p->stream) {
      pixel_stream(p, rows, ix0, out, mode);
      continue;
    }
#endif
    pixel_ref(p, rows, ix0, out, mode);
  }
}
