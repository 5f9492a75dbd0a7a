/* DEPTHWISE_CONV_2D, depth multiplier 1, any kernel size, stride and
 * padding. Rows of vertical padding arrive as rows of the input zero point
 * (the bias already accounts for zero-point inputs). Columns of horizontal
 * padding: the 3x3 DSP path adds the exporter's per-channel sums for a
 * missing first or last column (p->edge); other cases take the reference
 * loop, which reads the zero point there.
 *
 * DSP path (channels a multiple of 4): one 32-bit load brings 4 channels of
 * one tap; SXTB16 splits them into (c0, c2) and (c1, c3); the weights are
 * stored per group of 4 channels and per tap as the int16 pairs
 * (w_c0, w_c2) (w_c1, w_c3), doubled; SMLABB/SMLATT accumulate each lane.
 * 3x3 kernels (the usual) run in assembly, 8 instructions per tap of 4
 * channels and 7 per requantized output. */
#include "mm_nn_internal.h"

#if MM_NN_DSP
/* One tap of 4 channels into accumulators a[0..3]. */
#define TAP4(x, wp, a0, a1, a2, a3)        \
  do {                                     \
    int32_t xe_ = mm_sxtb16(x);            \
    int32_t xo_ = mm_sxtb16_ror8(x);       \
    a0 = mm_smlabb(xe_, (wp)[0], a0);      \
    a2 = mm_smlatt(xe_, (wp)[0], a2);      \
    a1 = mm_smlabb(xo_, (wp)[1], a1);      \
    a3 = mm_smlatt(xo_, (wp)[1], a3);      \
  } while (0)

/* One output pixel: rows[ky] + col0 is the window's first column, pixels
 * `c` bytes apart. */
MM_NN_INLINE void pixel1(const mm_nn_dwconv_params *p, const int8_t *const *rows, int col0,
                         int8_t *out, const int mode) {
  const int c = p->c, kh = p->kh, kw = p->kw;
  const int32_t *w = (const int32_t *)p->weights;
  const mm_nn_rq *q = p->out.rq;
  int ch, ky, kx;
  for (ch = 0; ch < c; ch += 4, q += 4, out += 4) {
    int32_t a0 = q[0].bias, a1 = q[1].bias, a2 = q[2].bias, a3 = q[3].bias;
    for (ky = 0; ky < kh; ky++) {
      const int8_t *r = rows[ky] + col0 + ch;
      for (kx = 0; kx < kw; kx++, r += c, w += 2) TAP4(mm_read32(r), w, a0, a1, a2, a3);
    }
    out[0] = mm_requant(a0, &q[0], &p->out, mode);
    out[1] = mm_requant(a1, &q[1], &p->out, mode);
    out[2] = mm_requant(a2, &q[2], &p->out, mode);
    out[3] = mm_requant(a3, &q[3], &p->out, mode);
  }
}

#if MM_NN_NATIVE_DSP
/* One 3x3 output pixel, every group of 4 channels, in assembly: each kernel
 * row pointer moves 4 bytes with a pre-indexed load (the first tap), the
 * other two taps are at [r, c] and [r, c, lsl #1]; weights come by
 * post-incremented LDRD. 8 instructions per tap of 4 channels. */
#define MM_DW_TAP(addr)                          \
  "ldr %[x], " addr "\n\t"                       \
  "ldrd %[w0], %[w1], [%[w]], #8\n\t"            \
  "sxtb16 %[xo], %[x], ror #8\n\t"               \
  "sxtb16 %[x], %[x]\n\t"                        \
  "smlabb %[a0], %[x], %[w0], %[a0]\n\t"         \
  "smlatt %[a2], %[x], %[w0], %[a2]\n\t"         \
  "smlabb %[a1], %[xo], %[w1], %[a1]\n\t"        \
  "smlatt %[a3], %[xo], %[w1], %[a3]\n\t"

/* edge: 0 all three columns; 1 the window's first column is left padding;
 * 2 its last column is right padding. A padding column would multiply the
 * zero point: the exporter's per-channel sums p->edge (left then right,
 * doubled) add that in, so border pixels need no copy. */
MM_NN_INLINE void pixel_k3(const mm_nn_dwconv_params *p, const int8_t *const *rows, int col0,
                           int8_t *out, const int mode, const int edge) {
  const int c = p->c;
  const int32_t cs = c;
  const int32_t *w = (const int32_t *)p->weights;
  const mm_nn_rq *q = p->out.rq;
  const int32_t *corr = edge == 1 ? p->edge : p->edge + c;
  /* 4 bytes before the first tap: the pre-indexed load moves them on */
  const int8_t *r0 = rows[0] + col0 - 4, *r1 = rows[1] + col0 - 4, *r2 = rows[2] + col0 - 4;
  int ch;
  for (ch = 0; ch < c; ch += 4, q += 4, out += 4) {
    int32_t a0 = q[0].bias, a1 = q[1].bias, a2 = q[2].bias, a3 = q[3].bias;
    int32_t x, xo, w0, w1;
    if (edge) {
      a0 += corr[ch];
      a1 += corr[ch + 1];
      a2 += corr[ch + 2];
      a3 += corr[ch + 3];
    }
#define MM_DW_ASM(code, ptr)                                                             \
  __asm__ volatile(code                                                                   \
                   : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3),          \
                     [r] "+r"(ptr), [w] "+r"(w), [x] "=&r"(x), [xo] "=&r"(xo),              \
                     [w0] "=&r"(w0), [w1] "=&r"(w1)                                       \
                   : [c] "r"(cs)                                                          \
                   : "memory")
#define MM_DW_FULL MM_DW_TAP("[%[r], #4]!") MM_DW_TAP("[%[r], %[c]]") \
  MM_DW_TAP("[%[r], %[c], lsl #1]")
#define MM_DW_LEFT "add %[r], %[r], #4\n\tadd %[w], %[w], #8\n\t" \
  MM_DW_TAP("[%[r], %[c]]") MM_DW_TAP("[%[r], %[c], lsl #1]")
#define MM_DW_RIGHT MM_DW_TAP("[%[r], #4]!") MM_DW_TAP("[%[r], %[c]]") \
  "add %[w], %[w], #8\n\t"
    /* one statement per kernel row: eleven registers each */
    if (edge == 0) {
      MM_DW_ASM(MM_DW_FULL, r0);
      MM_DW_ASM(MM_DW_FULL, r1);
      MM_DW_ASM(MM_DW_FULL, r2);
    } else if (edge == 1) {
      MM_DW_ASM(MM_DW_LEFT, r0);
      MM_DW_ASM(MM_DW_LEFT, r1);
      MM_DW_ASM(MM_DW_LEFT, r2);
    } else {
      MM_DW_ASM(MM_DW_RIGHT, r0);
      MM_DW_ASM(MM_DW_RIGHT, r1);
      MM_DW_ASM(MM_DW_RIGHT, r2);
    }
#undef MM_DW_ASM
#undef MM_DW_FULL
#undef MM_DW_LEFT
#undef MM_DW_RIGHT
    if (mode == MM_RQ_FAST_FULL) {
      int32_t m, ad, sh, t;
      __asm__ volatile(
#define MM_DW_STORE(i, a)                                   \
  "ldrd %[m], %[ad], [%[q], #" #i "*16+4]\n\t"              \
  "ldr %[sh], [%[q], #" #i "*16+12]\n\t"                    \
  "add %[t], %[ad], %[" a "], asr #31\n\t"                  \
  "smmlar %[" a "], %[" a "], %[m], %[t]\n\t"               \
  "asr %[" a "], %[" a "], %[sh]\n\t"                       \
  "ssat %[" a "], #8, %[" a "]\n\t"                         \
  "strb %[" a "], [%[o], #" #i "]\n\t"
          MM_DW_STORE(0, "a0") MM_DW_STORE(1, "a1") MM_DW_STORE(2, "a2") MM_DW_STORE(3, "a3")
#undef MM_DW_STORE
          : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [m] "=&r"(m),
            [ad] "=&r"(ad), [sh] "=&r"(sh), [t] "=&r"(t)
          : [q] "r"(q), [o] "r"(out)
          : "memory");
    } else {
      out[0] = mm_requant(a0, &q[0], &p->out, mode);
      out[1] = mm_requant(a1, &q[1], &p->out, mode);
      out[2] = mm_requant(a2, &q[2], &p->out, mode);
      out[3] = mm_requant(a3, &q[3], &p->out, mode);
    }
  }
}
#undef MM_DW_TAP

/* Out of line: the assembly wants nearly every register, so it must not be
 * inlined into a caller with more live values. */
static __attribute__((noinline)) void k3_pixel(const mm_nn_dwconv_params *p,
                                               const int8_t *const *rows, int col0, int8_t *out,
                                               int mode, int edge) {
#define MM_K3(m)                                            \
  do {                                                      \
    if (edge == 0) pixel_k3(p, rows, col0, out, m, 0);      \
    else if (edge == 1) pixel_k3(p, rows, col0, out, m, 1); \
    else pixel_k3(p, rows, col0, out, m, 2);                \
  } while (0)
  if (mode == MM_RQ_FAST_FULL) {
    MM_K3(MM_RQ_FAST_FULL);
  } else if (mode == MM_RQ_FAST_CLAMP) {
    MM_K3(MM_RQ_FAST_CLAMP);
  } else {
    MM_K3(MM_RQ_EXACT);
  }
#undef MM_K3
}
#endif
#endif

/* Portable (and channels not a multiple of 4): one pixel, one channel.
 * Taps left or right of the row read as zp_in. */
MM_NN_INLINE void pixel_ref(const mm_nn_dwconv_params *p, const int8_t *const *rows, int ix0,
                            int8_t *out, const int mode) {
  const int c = p->c, kw = p->kw;
  int ch, ky, kx;
#if MM_NN_DSP
  /* the DSP layout: group, tap, then the words (c0, c2) (c1, c3) */
  const int16_t *w16 = (const int16_t *)p->weights;
#endif
  const int8_t *w8 = (const int8_t *)p->weights;
  for (ch = 0; ch < c; ch++) {
    int32_t acc = 0;
    for (ky = 0; ky < p->kh; ky++) {
      for (kx = 0; kx < kw; kx++) {
        const int ix = ix0 + kx;
        const int32_t x = (ix >= 0 && ix < p->in_w) ? rows[ky][ix * c + ch] : p->zp_in;
        const int t = ky * kw + kx;
#if MM_NN_DSP
        if (p->dsp_ok) {
          const int g = ch >> 2, lane = ch & 3;
          acc += x * w16[((g * p->kh * kw + t) * 2 + (lane & 1)) * 2 + (lane >> 1)];
          continue;
        }
#endif
        acc += 2 * x * w8[t * c + ch];
      }
    }
    const mm_nn_rq *q = &p->out.rq[ch];
    out[ch] = mm_requant((int32_t)((uint32_t)q->bias + (uint32_t)acc), q, &p->out, mode);
  }
}

#if MM_NN_NATIVE_DSP
void mm_nn_dw3x3_m4(const int8_t *r0, const int8_t *r1, const int8_t *r2, int c,
                    const int32_t *stream, int8_t *out);
#elif MM_NN_DSP
/* The C twin of mm_nn_dwconv_m4.S (the DSP path emulated on a host). */
static void mm_nn_dw3x3_m4(const int8_t *r0, const int8_t *r1, const int8_t *r2, int c,
                           const int32_t *s, int8_t *out) {
  const int8_t *rows[3];
  int ch, ky, kx, i;
  rows[0] = r0, rows[1] = r1, rows[2] = r2;
  for (ch = 0; ch < c; ch += 4) {
    int32_t a[4];
    for (i = 0; i < 4; i++) a[i] = *s++;
    for (ky = 0; ky < 3; ky++) {
      for (kx = 0; kx < 3; kx++, s += 2) {
        int32_t x = mm_read32(rows[ky] + kx * c + ch);
        TAP4(x, s, a[0], a[1], a[2], a[3]);
      }
    }
    for (i = 0; i < 4; i++, s += 3) {
      mm_nn_rq q;
      q.mult = s[0], q.add = s[1], q.shift = s[2];
      *out++ = (int8_t)mm_ssat8(mm_rq_fast(a[i], &q));
    }
  }
}
#endif

MM_NN_INLINE void row_impl(const mm_nn_dwconv_params *p, const int8_t *const *rows, int8_t *out,
                           const int mode) {
  const int c = p->c;
  int ox;
  for (ox = 0; ox < p->out_w; ox++, out += c) {
    const int ix0 = ox * p->sw - p->pad_l;
    const int inside = ix0 >= 0 && ix0 + p->kw <= p->in_w;
    (void)inside; /* the portable path handles every pixel alike */
#if MM_NN_DSP
    if (p->stream && inside) {
      const int col = ix0 * c;
      mm_nn_dw3x3_m4(rows[0] + col, rows[1] + col, rows[2] + col, c, p->stream, out);
      continue;
    }
#endif
#if MM_NN_NATIVE_DSP
    if (p->dsp_ok && p->kh == 3 && p->kw == 3) {
      if (inside) {
        k3_pixel(p, rows, ix0 * c, out, mode, 0);
        continue;
      }
      if (p->edge && p->in_w >= 2 && ix0 == -1) {
        k3_pixel(p, rows, ix0 * c, out, mode, 1);
        continue;
      }
      if (p->edge && p->in_w >= 2 && ix0 + 2 == p->in_w) {
        k3_pixel(p, rows, ix0 * c, out, mode, 2);
        continue;
      }
    }
#endif
#if MM_NN_DSP
    if (p->dsp_ok && inside) {
      pixel1(p, rows, ix0 * c, out, mode);
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
