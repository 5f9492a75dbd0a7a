/* CONV_2D, general kernel size, stride and padding: im2col of two output
 * pixels at a time (padding filled with the input zero point, which the
 * bias already accounts for), then the matrix engine. */
#include "mm_nn_internal.h"

/* Copy n bytes; the kernel rows of small convolutions are a few bytes. */
MM_NN_INLINE void copy_small(int8_t *dst, const int8_t *src, int n) {
  if (n > 16) {
    memcpy(dst, src, (size_t)n);
  } else {
    while (n--) *dst++ = *src++;
  }
}

MM_NN_INLINE void fill_small(int8_t *dst, int8_t v, int n) {
  if (n > 16) {
    memset(dst, v, (size_t)n);
  } else {
    while (n--) *dst++ = v;
  }
}

/* The k = kh*kw*in_c input values of output column ox, in (ky, kx, c) order. */
static void gather(const mm_nn_conv_params *p, const int8_t *const *rows, int ox, int8_t *dst) {
  const int c = p->in_c, kw = p->kw;
  const int ix0 = ox * p->sw - p->pad_l;
  const int inside = ix0 >= 0 && ix0 + kw <= p->in_w;
  int ky, kx;
  for (ky = 0; ky < p->kh; ky++, dst += kw * c) {
    const int8_t *row = rows[ky];
    if (!row) {
      fill_small(dst, p->zp_in, kw * c);
    } else if (inside) {
      copy_small(dst, row + ix0 * c, kw * c);
    } else {
      for (kx = 0; kx < kw; kx++) {
        int ix = ix0 + kx;
        if (ix >= 0 && ix < p->in_w) {
          copy_small(dst + kx * c, row + ix * c, c);
        } else {
          fill_small(dst + kx * c, p->zp_in, c);
        }
      }
    }
  }
}

/* scratch: 2*k bytes of im2col, the packed pair (DSP), out_c junk bytes. */
void mm_nn_conv_row(const mm_nn_conv_params *p, const int8_t *const *rows, int8_t *out,
                    void *scratch) {
  const int k = p->k, cout = p->out_c;
  int8_t *col_a = (int8_t *)scratch;
  int8_t *col_b = col_a + k;
#if MM_NN_DSP
  int32_t *packed = (int32_t *)(((uintptr_t)(col_b + k) + 3u) & ~(uintptr_t)3u);
  int8_t *junk = (int8_t *)packed + mm_nn_pack2_bytes(k);
#else
  int8_t *junk = col_b + k;
#endif
  int ox;
  for (ox = 0; ox < p->out_w; ox += 2, out += 2 * cout) {
    const int pair = ox + 1 < p->out_w;
    gather(p, rows, ox, col_a);
    if (pair) gather(p, rows, ox + 1, col_b);
#if MM_NN_DSP
    mm_nn_pack2(col_a, pair ? col_b : col_a, k, packed);
    mm_nn_matmul2(p, packed, 0, out, pair ? out + cout : junk);
#else
    mm_nn_matmul2(p, col_a, pair ? col_b : col_a, out, pair ? out + cout : junk);
#endif
  }
}
