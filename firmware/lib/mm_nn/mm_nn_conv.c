/* CONV_2D, general kernel size, stride and padding. Each kernel row of a
 * window is kw * in_c contiguous input bytes; the exporter pads it to
 * row_k, a multiple of 4, with zero weights, so the DSP path reads every
 * kernel row with word loads straight from the input row (the bytes past
 * the window meet zero weights) and packs two pixels for the matrix engine.
 * A window that leaves the input (padding) is staged first, the input zero
 * point outside (which the bias already accounts for). */
#include "mm_nn_pack.h"

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

/* scratch: two staged windows (2 * kh * row_k), then the packed pair (DSP)
 * or the two pixels' values (portable). */
void mm_nn_conv_row(const mm_nn_conv_params *p, const int8_t *const *rows, int8_t *out,
                    void *scratch) {
  const int kh = p->kh, rk = p->row_k, cout = p->out_c, c = p->in_c;
  const int step = p->sw * c;
  const int8_t *sa[16], *sb[16];
  int8_t *stage_a = (int8_t *)scratch;
  int8_t *stage_b = stage_a + kh * rk;
  int8_t *buf = stage_b + kh * rk; /* 4-aligned: rk is a multiple of 4 */
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
    mm_nn_pack(p, sa, sb, kh, rk, (int32_t *)(void *)buf);
    mm_nn_matmul2(p, (const int32_t *)(void *)buf, out, pair ? out + cout : 0);
#else
    for (ky = 0; ky < kh; ky++) {
      memcpy(buf + ky * rk, sa[ky], (size_t)rk);
      memcpy(buf + p->k + ky * rk, sb[ky], (size_t)rk);
    }
    mm_nn_matmul2(p, buf, buf + p->k, out, pair ? out + cout : 0);
#endif
  }
}
