/* CONV_2D of three kernel rows of at most three values each (kw * in_c <= 3:
 * a 3x3 or 3x1 first convolution on one channel), DSP path. The matrix
 * engine would pad each kernel row to 4 values and pack pixel pairs for
 * every output row; here a window's values are gathered once per output
 * pixel into five int16 pairs, and each output channel costs five SMLAD and
 * its requantization.
 *
 * Each kernel row is read as one word (its bytes past the window meet zero
 * weights, as in mm_nn_conv.c) and split by SXTB16 into (v0, v2) and
 * (v1, v3). With a, b, c the three kernel rows the pairs are
 *     (a0, a2) (b0, b2) (c0, c2) (a1, b1) (c1, c3)
 * and the stream (engine/kernels.py window_stream) holds, per output
 * channel, its doubled bias, the doubled weights paired the same way, then
 * (mult, add, shift): 9 words. The accumulator is then twice TFLite's, as
 * the requantization takes it. */
#include "mm_nn_internal.h"

#if MM_NN_DSP
#if MM_NN_NATIVE_DSP
/* n pixels `step` input bytes apart from the window at rows[0..2], every output
 * channel, fast requantization with the full int8 range */
void mm_nn_conv_window_m4(const int8_t *const *rows, int n, const int32_t *stream, int8_t *out,
                          int out_c, int step);
#endif

/* One pixel's output channels, any requantization mode: the assembly's twin. */
static void mm_nn_conv_window_channels(const mm_nn_conv_params *p, const int32_t *x, int8_t *out,
                                       int mode) {
  const int32_t *s = p->stream;
  int oc, j;
  for (oc = 0; oc < p->out_c; oc++, s += 9) {
    int32_t acc = s[0];
    mm_nn_rq q;
    for (j = 0; j < 5; j++) acc = mm_smlad(x[j], s[1 + j], acc);
    q.bias = 0, q.mult = s[6], q.add = s[7], q.shift = s[8];
    out[oc] = mm_requant(acc, &q, &p->out, mode);
  }
}

/* The word of kernel row `row` at input column ix0 (NULL: a row of padding):
 * its first kw * in_c bytes, the input zero point where they leave the row. */
static int32_t mm_nn_conv_window_edge(const mm_nn_conv_params *p, const int8_t *row, int ix0) {
  const int c = p->in_c;
  int8_t v[4];
  int kx, ci, j = 0;
  memset(v, p->zp_in, sizeof v);
  for (kx = 0; row && kx < p->kw; kx++) {
    const int ix = ix0 + kx;
    for (ci = 0; ci < c; ci++, j++) {
      if (ix >= 0 && ix < p->in_w) v[j] = row[ix * c + ci];
    }
  }
  return mm_read32(v);
}
#endif

void mm_nn_conv_window_row(const mm_nn_conv_params *p, const int8_t *const *rows, int8_t *out,
                           void *scratch) {
#if MM_NN_DSP
  const int c = p->in_c, mode = mm_rq_mode(&p->out);
  const int all_rows = rows[0] && rows[1] && rows[2];
  int ox, ky;
  (void)scratch;
#if MM_NN_NATIVE_DSP
  if (mode == MM_RQ_FAST_FULL) {
    /* the pixels whose window lies inside the rows in one run (a <= ox < b), the
     * others one at a time from a staged window */
    const int a = (p->pad_l + p->sw - 1) / p->sw;
    const int last = p->in_w - p->kw + p->pad_l; /* the last inside pixel's ix0 + pad_l */
    int b = all_rows && last >= 0 ? last / p->sw + 1 : a;
    if (b > p->out_w) b = p->out_w;
    for (ox = 0; ox < p->out_w; ox++, out += p->out_c) {
      if (ox == a && b > a) {
        const int8_t *win[3];
        const int col = (a * p->sw - p->pad_l) * c;
        for (ky = 0; ky < 3; ky++) win[ky] = rows[ky] + col;
        mm_nn_conv_window_m4(win, b - a, p->stream, out, p->out_c, p->sw * c);
        out += (b - a - 1) * p->out_c;
        ox = b - 1;
      } else {
        int32_t w[3];
        const int8_t *win[3];
        for (ky = 0; ky < 3; ky++) {
          w[ky] = mm_nn_conv_window_edge(p, rows[ky], ox * p->sw - p->pad_l);
          win[ky] = (const int8_t *)&w[ky];
        }
        mm_nn_conv_window_m4(win, 1, p->stream, out, p->out_c, 0);
      }
    }
    return;
  }
#endif
  if (!MM_NN_NEED_C(MM_MODEL_USES_MM_C)) return; /* every layer ran above */
  for (ox = 0; ox < p->out_w; ox++, out += p->out_c) {
    const int ix0 = ox * p->sw - p->pad_l;
    int32_t r[3], x[5];
    if (all_rows && ix0 >= 0 && ix0 + p->kw <= p->in_w) {
      for (ky = 0; ky < 3; ky++) r[ky] = mm_read32(rows[ky] + ix0 * c);
    } else {
      for (ky = 0; ky < 3; ky++) r[ky] = mm_nn_conv_window_edge(p, rows[ky], ix0);
    }
    x[0] = mm_sxtb16(r[0]);
    x[1] = mm_sxtb16(r[1]);
    x[2] = mm_sxtb16(r[2]);
    x[3] = (int32_t)(((uint32_t)mm_sxtb16_ror8(r[0]) & 0xFFFFu) |
                     ((uint32_t)mm_sxtb16_ror8(r[1]) << 16));
    x[4] = mm_sxtb16_ror8(r[2]);
    mm_nn_conv_window_channels(p, x, out, mode);
  }
#else
  mm_nn_conv_row(p, rows, out, scratch);
#endif
}
