/* The matrix engine under CONV_2D, the 1x1 fast path and FULLY_CONNECTED:
 * two pixels times all output channels, accumulate, requantize.
 *
 * DSP path. The input values of a pixel are taken in groups of 4 (v0 v1 v2
 * v3, one word; a last partial group is zero-padded). mm_nn_pack writes,
 * per pixel pair, two correction words cA, cB and then per group the words
 * XA YA XB YB. The weights come in a "stream" the exporter writes
 * (engine/kernels.py), per pair of output channels c, c+1:
 *     bias c, bias c+1
 *     per group: the weight words of c and c+1 (int8: 1 word each;
 *                int16: 2 words each)
 *     mult, add, shift of c, then of c+1        (mm_nn_rq fields)
 * (an odd last channel is paired with a dummy channel whose output is dropped).
 *
 * int8 weights (as many bytes as the .tflite's): the word of weights
 * w0 w1 w2 w3 holds the bytes (w0 + 128, -w1, w2 + 128, -w3), so that SMLAD
 * reads it as the int16 pair (w0 + 128 - 256 w1, w2 + 128 - 256 w3) as it
 * is, and one SXTB16 ROR 8 gives (-w1, -w3). With the pixel's words
 *     X = SXTB16(v)                 = (v0, v2)
 *     Y = REV16(v ^ 0x7FFF7FFF)     = (-256 v0 - v1 - 129, -256 v2 - v3 - 129)
 * two SMLADs give
 *     X . raw + Y . (-w1, -w3) = v0 w0 + v1 w1 + v2 w2 + v3 w3
 *                                + 128 (v0 + v2) + 129 (w1 + w3)
 * (every operand within int16: the weights are symmetric, |w| <= 127). The
 * weights' term is in the bias, the pixel's term is cA = -128 * sum(v0 + v2)
 * (added once per output). One SXTB16 per 4 weights instead of two, and no
 * extra flash; the accumulator holds acc, doubled before requantization.
 *
 * int16 weights (twice the flash): (w0, w2) (w1, w3) doubled, with the
 * pixel's X = (v0, v2), Y = (v1, v3) and no correction: two SMLADs and no
 * SXTB16 per 4 weights; the accumulator holds 2 acc.
 *
 * The requantization (mm_nn_internal.h) then takes 2 acc. */
#include "mm_nn_internal.h"

#if MM_NN_DSP

/* One group of 4 values (v), packed as X, Y; *sum collects v0 + v2. */
MM_NN_INLINE void pack_group(int32_t v, int w16, int32_t *o, int32_t *sum) {
  const int32_t x = mm_sxtb16(v);
  o[0] = x;
  if (w16) {
    o[1] = mm_sxtb16_ror8(v);
  } else {
    o[1] = mm_rev16((int32_t)((uint32_t)v ^ 0x7FFF7FFFu));
    *sum = mm_smlad(x, 0x00010001, *sum);
  }
}

/* The last 1..3 values of a run, zero-padded to a word. */
MM_NN_INLINE int32_t tail_word(const int8_t *x, int n) {
  uint32_t v = 0;
  int i;
  for (i = 0; i < n; i++) v |= (uint32_t)(uint8_t)x[i] << (8 * i);
  return (int32_t)v;
}

/* n >= 1 whole groups of pixels a and b to o (advanced), int8 layout. */
MM_NN_INLINE void pack_run8(const int8_t *pa, const int8_t *pb, int n, int32_t **po, int32_t *sa,
                            int32_t *sb) {
#if MM_NN_NATIVE_DSP
  /* 14 instructions per group of the pair (GCC's loop: 21) */
  int32_t *o = *po, a = *sa, b = *sb, va, vb, xa, xb;
  __asm__ volatile(
      "1:\n\t"
      "ldr %[va], [%[pa]], #4\n\t"
      "ldr %[vb], [%[pb]], #4\n\t"
      "sxtb16 %[xa], %[va]\n\t"
      "eor %[va], %[va], %[m]\n\t"
      "sxtb16 %[xb], %[vb]\n\t"
      "eor %[vb], %[vb], %[m]\n\t"
      "rev16 %[va], %[va]\n\t"
      "rev16 %[vb], %[vb]\n\t"
      "smlad %[a], %[xa], %[one], %[a]\n\t"
      "smlad %[b], %[xb], %[one], %[b]\n\t"
      "strd %[xa], %[va], [%[o]], #16\n\t"
      "strd %[xb], %[vb], [%[o], #-8]\n\t"
      "subs %[n], %[n], #1\n\t"
      "bne 1b"
      : [pa] "+r"(pa), [pb] "+r"(pb), [o] "+r"(o), [n] "+r"(n), [a] "+r"(a), [b] "+r"(b),
        [va] "=&r"(va), [vb] "=&r"(vb), [xa] "=&r"(xa), [xb] "=&r"(xb)
      : [m] "r"(0x7FFF7FFF), [one] "r"(0x00010001)
      : "cc", "memory");
  *po = o, *sa = a, *sb = b;
#else
  int32_t *o = *po;
  for (; n; n--, pa += 4, pb += 4, o += 4) {
    pack_group(mm_read32(pa), 0, o, sa);
    pack_group(mm_read32(pb), 0, o + 2, sb);
  }
  *po = o;
#endif
}

/* The pack of one layout; w16 is a constant in each caller, so a model with
 * both layouts gets a tight loop for each (one function testing w16 at run
 * time spilled registers in every kernel row: about 25 k more instructions
 * per inference on models/speech, bench model --functions). */
MM_NN_INLINE void pack_layout(const int8_t *const *a, const int8_t *const *b, int rows, int rk,
                              int32_t *x, const int w16) {
  const int whole = rk >> 2;
  int32_t *o = x + 2;
  int32_t sa = 0, sb = 0;
  int r, j;
  for (r = 0; r < rows; r++) {
    const int8_t *pa = a[r], *pb = b[r];
    j = 4 * whole;
    if (!w16) {
      if (whole) pack_run8(pa, pb, whole, &o, &sa, &sb);
    } else {
      for (j = 0; j + 4 <= rk; j += 4, o += 4) {
        pack_group(mm_read32(pa + j), 1, o, &sa);
        pack_group(mm_read32(pb + j), 1, o + 2, &sb);
      }
    }
    if (j < rk) {
      pack_group(tail_word(pa + j, rk - j), w16, o, &sa);
      pack_group(tail_word(pb + j, rk - j), w16, o + 2, &sb);
      o += 4;
    }
  }
  x[0] = (int32_t)((uint32_t)sa * (uint32_t)-128);
  x[1] = (int32_t)((uint32_t)sb * (uint32_t)-128);
}

void mm_nn_pack16(const int8_t *const *a, const int8_t *const *b, int rows, int rk, int32_t *x) {
  pack_layout(a, b, rows, rk, x, 1);
}

void mm_nn_pack8(const int8_t *const *a, const int8_t *const *b, int rows, int rk, int32_t *x) {
  pack_layout(a, b, rows, rk, x, 0);
}

/* Channels c0.. of the stream s (positioned at channel c0) for the packed
 * pair x, any requantization mode: the portable twin of the assembly, and
 * the device's path for a clamped range, exact requantization or an odd
 * last channel. out_b NULL: pixel A only. */
static MM_NN_NOINLINE void stream_c(const mm_nn_conv_params *p, const int32_t *x,
                                    const int32_t *s, int c0, int8_t *oa, int8_t *ob, int mode) {
  const int groups = mm_nn_groups(p), w16 = MM_NN_MM_W16(p), cout = p->out_c;
  const int32_t *xg = x + 2;
  int c, g, j;
  for (c = c0; c < cout; c += 2) {
    const int n = c + 1 < cout ? 2 : 1; /* outputs kept: the stream has a dummy channel */
    uint32_t acc[2][2]; /* [channel][pixel] */
    for (j = 0; j < 2; j++) {
      acc[j][0] = (uint32_t)s[j] + (uint32_t)x[0];
      acc[j][1] = (uint32_t)s[j] + (uint32_t)x[1];
    }
    s += 2;
    for (g = 0; g < groups; g++) {
      const int32_t *v = xg + 4 * g;
      for (j = 0; j < 2; j++) {
        int32_t w0, w1;
        if (w16) {
          w0 = s[0], w1 = s[1], s += 2;
        } else {
          w0 = s[0], w1 = mm_sxtb16_ror8(s[0]), s += 1;
        }
        acc[j][0] = (uint32_t)mm_smlad(v[1], w1, mm_smlad(v[0], w0, (int32_t)acc[j][0]));
        acc[j][1] = (uint32_t)mm_smlad(v[3], w1, mm_smlad(v[2], w0, (int32_t)acc[j][1]));
      }
    }
    for (j = 0; j < 2; j++, s += 3) {
      mm_nn_rq q;
      if (j >= n) continue;
      q.bias = 0, q.mult = s[0], q.add = s[1], q.shift = s[2];
      if (!w16) acc[j][0] <<= 1, acc[j][1] <<= 1; /* int8 weights: acc -> 2 acc */
      oa[c + j] = mm_requant((int32_t)acc[j][0], &q, &p->out, mode);
      if (ob) ob[c + j] = mm_requant((int32_t)acc[j][1], &q, &p->out, mode);
    }
  }
}

#if MM_NN_NATIVE_DSP
/* mm_nn_matmul_m4.S: every channel pair, full-range fast requantization;
 * return the stream past the last pair. */
const int32_t *mm_nn_mm8_2x2_m4(const int32_t *x, const int32_t *s, int8_t *oa, int8_t *ob,
                                int pairs, int groups);
const int32_t *mm_nn_mm8_1x2_m4(const int32_t *x, const int32_t *s, int8_t *oa, int pairs,
                                int groups);
const int32_t *mm_nn_mm16_2x2_m4(const int32_t *x, const int32_t *s, int8_t *oa, int8_t *ob,
                                 int pairs, int groups);
const int32_t *mm_nn_mm16_1x2_m4(const int32_t *x, const int32_t *s, int8_t *oa, int pairs,
                                 int groups);
#endif

#if MM_NN_NATIVE_DSP
MM_NN_INLINE const int32_t *mm_run(const mm_nn_conv_params *p, const int32_t *x, const int32_t *s,
                                   int8_t *oa, int8_t *ob, int n, int groups) {
  if (MM_NN_MM_W16(p))
    return ob ? mm_nn_mm16_2x2_m4(x, s, oa, ob, n, groups) : mm_nn_mm16_1x2_m4(x, s, oa, n, groups);
  return ob ? mm_nn_mm8_2x2_m4(x, s, oa, ob, n, groups) : mm_nn_mm8_1x2_m4(x, s, oa, n, groups);
}
#endif

void mm_nn_matmul2(const mm_nn_conv_params *p, const int32_t *x, int8_t *out_a, int8_t *out_b) {
  const int mode = mm_rq_mode(&p->out);
  if (mode == MM_RQ_FAST_FULL) {
#if MM_NN_NATIVE_DSP
    const int pairs = p->out_c >> 1, groups = mm_nn_groups(p);
    const int32_t *s = p->stream;
    if (pairs) s = mm_run(p, x, s, out_a, out_b, pairs, groups);
    if (p->out_c & 1) { /* the last channel and the dummy beside it */
      int8_t last_a[2], last_b[2];
      mm_run(p, x, s, last_a, out_b ? last_b : 0, 1, groups);
      out_a[p->out_c - 1] = last_a[0];
      if (out_b) out_b[p->out_c - 1] = last_b[0];
    }
    return;
#endif
  }
  /* the C path: any mode (the host's twin of the assembly, or a clamped
   * range or exact requantization on the device) */
  if (MM_NN_NEED_C(MM_MODEL_USES_MM_C)) stream_c(p, x, p->stream, 0, out_a, out_b, mode);
}

#else /* portable */

MM_NN_INLINE void matmul2_ref(const mm_nn_conv_params *p, const int8_t *xa, const int8_t *xb,
                              int8_t *oa, int8_t *ob, const int mode) {
  const int k = p->k;
  const int8_t *w = p->weights;
  int c, i;
  for (c = 0; c < p->out_c; c++, w += k) {
    int32_t sa = 0, sb = 0;
    for (i = 0; i < k; i++) {
      sa += (int32_t)xa[i] * w[i];
      sb += (int32_t)xb[i] * w[i];
    }
    const mm_nn_rq *q = &p->out.rq[c];
    oa[c] = mm_requant((int32_t)((uint32_t)q->bias + 2u * (uint32_t)sa), q, &p->out, mode);
    if (ob) ob[c] = mm_requant((int32_t)((uint32_t)q->bias + 2u * (uint32_t)sb), q, &p->out, mode);
  }
}

void mm_nn_matmul2(const mm_nn_conv_params *p, const int8_t *xa, const int8_t *xb,
                   int8_t *out_a, int8_t *out_b) {
  switch (mm_rq_mode(&p->out)) {
    case MM_RQ_FAST_FULL:
      matmul2_ref(p, xa, xb, out_a, out_b, MM_RQ_FAST_FULL);
      break;
    case MM_RQ_FAST_CLAMP:
      matmul2_ref(p, xa, xb, out_a, out_b, MM_RQ_FAST_CLAMP);
      break;
    default:
      matmul2_ref(p, xa, xb, out_a, out_b, MM_RQ_EXACT);
      break;
  }
}

#endif
