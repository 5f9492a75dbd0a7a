/* CONV_2D, general kernel size, stride and padding. Each kernel row of a
 * window is kw * in_c contiguous input bytes; the exporter pads it to
 * row_k, a multiple of 4, with zero weights, so the DSP path reads every
 * kernel row with word loads straight from the input row (the bytes past
 * the window meet zero weights) and packs two pixels for the matrix engine.
 * A window that leaves the input (padding) is staged first, the input zero
 * point outside (which the bias already accounts for). */
#include "mm_nn_internal.h"

/* Where each kernel row of output column ox starts. */
static void sources(const mm_nn_conv_params *p, const int8_t *const *rows, int ox,
                    const int8_t **src, int8_t *stage) {
  const int c = p->in_c, kw = p->kw, rk = p->row_k;
  const int ix0 = ox * p->sw - p->pad_l;
  const int inside = ix0 >= 0 && ix0 + kw <= p->in_w;
  int ky, kx;
  for (ky = 0; ky < p->kh; ky++, stage += rk) {
    const int8_t *row = rows[ky];
    if (row && inside) {
      src[ky] = row + ix0 * c;
      continue;
    }
    memset(stage, p->zp_in, (size_t)rk);
    if (row) {
      for (kx = 0; kx < kw; kx++) {
        int ix = ix0 + kx;
        if (ix >= 0 && ix < p->in_w) memcpy(stage + kx * c, row + ix * c, (size_t)c);
      }
    }
    src[ky] = stage;
  }
}

/* Pack the kernel rows of two pixels (a[ky], b[ky]) for the DSP matrix
 * engine (mm_nn_pack2 layout, row by row). */
MM_NN_INLINE void pack_rows(const int8_t *const *a, const int8_t *const *b, int kh, int rk,
                            int32_t *o) {
  int ky, j;
  for (ky = 0; ky < kh; ky++) {
    const int8_t *pa = a[ky], *pb = b[ky];
    for (j = 0; j < rk; j += 4, o += 4) {
      int32_t va = mm_read32(pa + j), vb = mm_read32(pb + j);
      o[0] = mm_sxtb16(va);
      o[1] = mm_sxtb16_ror8(va);
      o[2] = mm_sxtb16(vb);
      o[3] = mm_sxtb16_ror8(vb);
    }
  }
}

/* scratch: two staged windows (2 * kh * row_k), then the packed pair (DSP)
 * or the two pixels' values (portable), then out_c junk bytes. */
void mm_nn_conv_row(const mm_nn_conv_params *p, const int8_t *const *rows, int8_t *out,
                    void *scratch) {
  const int kh = p->kh, rk = p->row_k, k = p->k, cout = p->out_c, c = p->in_c;
  const int step = p->sw * c;
  const int8_t *sa[16], *sb[16];
  int8_t *stage_a = (int8_t *)scratch;
  int8_t *stage_b = stage_a + kh * rk;
  int8_t *buf = stage_b + kh * rk; /* 4-aligned: rk is a multiple of 4 */
#if MM_NN_DSP
  int8_t *junk = p->stream ? (int8_t *)0 : buf + mm_nn_pack2_bytes(k);
#else
  int8_t *junk = buf + 2 * k;
#endif
  int all_rows = 1, ox, ky;
  for (ky = 0; ky < kh; ky++) all_rows &= rows[ky] != 0;
  for (ox = 0; ox < p->out_w; ox += 2, out += 2 * cout) {
    const int pair = ox + 1 < p->out_w;
    const int ix0 = ox * p->sw - p->pad_l;
    if (all_rows && ix0 >= 0 && ix0 + (pair ? p->sw : 0) + p->kw <= p->in_w) {
      /* the usual case: both windows inside the input rows */
      for (ky = 0; ky < kh; ky++) {
        sa[ky] = rows[ky] + ix0 * c;
        sb[ky] = pair ? sa[ky] + step : sa[ky];
      }
    } else {
      sources(p, rows, ox, sa, stage_a);
      if (pair) {
        sources(p, rows, ox + 1, sb, stage_b);
      } else {
        for (ky = 0; ky < kh; ky++) sb[ky] = sa[ky];
      }
    }
#if MM_NN_DSP
    pack_rows(sa, sb, kh, rk, (int32_t *)buf);
    mm_nn_matmul2(p, buf, 0, out, pair ? out + cout : junk);
#else
    for (ky = 0; ky < kh; ky++) {
      memcpy(buf + ky * rk, sa[ky], (size_t)rk);
      memcpy(buf + k + ky * rk, sb[ky], (size_t)rk);
    }
    mm_nn_matmul2(p, buf, buf + k, out, pair ? out + cout : junk);
#endif
  }
}
