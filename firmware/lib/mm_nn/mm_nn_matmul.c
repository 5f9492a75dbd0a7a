/* The matrix engine under CONV_2D, the 1x1 fast path and FULLY_CONNECTED:
 * two pixels times all output channels, accumulate, requantize.
 *
 * DSP layout (the exporter writes the weights this way, docs/engine.md):
 * k values are taken in groups of 4 (x0 x1 x2 x3), which SXTB16 splits into
 * the int16 pairs (x0, x2) and (x1, x3); a last group of 3 is padded with a
 * zero, a last 1 or 2 values form a "tail" pair (x0, x1). The packed pixels
 * are interleaved per group: A(x0,x2) A(x1,x3) B(x0,x2) B(x1,x3) ... then
 * the tail A(x0,x1) B(x0,x1). Weights (int16, doubled so the accumulator is
 * 2*acc as the fast requantization wants) follow the same split, channels
 * interleaved in pairs: c(w0,w2) c(w1,w3) c+1(w0,w2) c+1(w1,w3) ..., a last
 * odd channel alone. One SMLAD then does two multiply-accumulates. */
#include "mm_nn_internal.h"

#if MM_NN_DSP

void mm_nn_pack2(const int8_t *a, const int8_t *b, int k, void *x) {
  int32_t *o = (int32_t *)x;
  int g;
  for (g = k >> 2; g; g--) {
    int32_t va = mm_read32(a), vb = mm_read32(b);
    a += 4;
    b += 4;
    o[0] = mm_sxtb16(va);
    o[1] = mm_sxtb16_ror8(va);
    o[2] = mm_sxtb16(vb);
    o[3] = mm_sxtb16_ror8(vb);
    o += 4;
  }
  switch (k & 3) {
    case 3: {
      int32_t va = (int32_t)((uint32_t)(uint8_t)a[0] | (uint32_t)(uint8_t)a[1] << 8 |
                             (uint32_t)(uint8_t)a[2] << 16);
      int32_t vb = (int32_t)((uint32_t)(uint8_t)b[0] | (uint32_t)(uint8_t)b[1] << 8 |
                             (uint32_t)(uint8_t)b[2] << 16);
      o[0] = mm_sxtb16(va);
      o[1] = mm_sxtb16_ror8(va);
      o[2] = mm_sxtb16(vb);
      o[3] = mm_sxtb16_ror8(vb);
      break;
    }
    case 2:
      o[0] = (int32_t)(((uint32_t)(int32_t)a[0] & 0xFFFFu) | (uint32_t)(int32_t)a[1] << 16);
      o[1] = (int32_t)(((uint32_t)(int32_t)b[0] & 0xFFFFu) | (uint32_t)(int32_t)b[1] << 16);
      break;
    case 1:
      o[0] = (int32_t)((uint32_t)(int32_t)a[0] & 0xFFFFu);
      o[1] = (int32_t)((uint32_t)(int32_t)b[0] & 0xFFFFu);
      break;
    default:
      break;
  }
}

/* Accumulate `groups` groups of 4 k values for pixels A, B and channels
 * c, c+1; advances *xp and *wp. The assembly form keeps everything in
 * registers, loads with LDRD and runs two groups per loop turn: 25
 * instructions per 32 multiply-accumulates. */
MM_NN_INLINE void mac2x2(const int32_t **xp, const int32_t **wp, int groups, int32_t *pa0,
                         int32_t *pa1, int32_t *pb0, int32_t *pb1) {
  const int32_t *x = *xp, *w = *wp;
  int32_t a0 = *pa0, a1 = *pa1, b0 = *pb0, b1 = *pb1;
#if MM_NN_NATIVE_DSP
#define MM_MAC2X2_GROUP                                   \
  "ldrd %[xa0], %[xa1], [%[x]], #8\n\t"                   \
  "ldrd %[xb0], %[xb1], [%[x]], #8\n\t"                   \
  "ldrd %[w0], %[w1], [%[w]], #8\n\t"                     \
  "smlad %[a0], %[xa0], %[w0], %[a0]\n\t"                 \
  "smlad %[b0], %[xb0], %[w0], %[b0]\n\t"                 \
  "smlad %[a0], %[xa1], %[w1], %[a0]\n\t"                 \
  "smlad %[b0], %[xb1], %[w1], %[b0]\n\t"                 \
  "ldrd %[w0], %[w1], [%[w]], #8\n\t"                     \
  "smlad %[a1], %[xa0], %[w0], %[a1]\n\t"                 \
  "smlad %[b1], %[xb0], %[w0], %[b1]\n\t"                 \
  "smlad %[a1], %[xa1], %[w1], %[a1]\n\t"                 \
  "smlad %[b1], %[xb1], %[w1], %[b1]\n\t"
  int32_t xa0, xa1, xb0, xb1, w0, w1;
  int n = groups >> 1;
  if (groups & 1) {
    __asm__ volatile(MM_MAC2X2_GROUP
                     : [a0] "+r"(a0), [a1] "+r"(a1), [b0] "+r"(b0), [b1] "+r"(b1), [x] "+r"(x),
                       [w] "+r"(w), [xa0] "=&r"(xa0), [xa1] "=&r"(xa1), [xb0] "=&r"(xb0),
                       [xb1] "=&r"(xb1), [w0] "=&r"(w0), [w1] "=&r"(w1)
                     :
                     : "memory");
  }
  if (n > 0) {
    __asm__ volatile("1:\n\t" MM_MAC2X2_GROUP MM_MAC2X2_GROUP
                     "subs %[n], %[n], #1\n\t"
                     "bne 1b\n\t"
                     : [a0] "+r"(a0), [a1] "+r"(a1), [b0] "+r"(b0), [b1] "+r"(b1), [x] "+r"(x),
                       [w] "+r"(w), [n] "+r"(n), [xa0] "=&r"(xa0), [xa1] "=&r"(xa1),
                       [xb0] "=&r"(xb0), [xb1] "=&r"(xb1), [w0] "=&r"(w0), [w1] "=&r"(w1)
                     :
                     : "cc", "memory");
  }
#undef MM_MAC2X2_GROUP
#else
  int g;
  for (g = groups; g; g--) {
    int32_t xa0 = x[0], xa1 = x[1], xb0 = x[2], xb1 = x[3];
    int32_t w0 = w[0], w1 = w[1];
    a0 = mm_smlad(xa0, w0, a0);
    a0 = mm_smlad(xa1, w1, a0);
    b0 = mm_smlad(xb0, w0, b0);
    b0 = mm_smlad(xb1, w1, b0);
    w0 = w[2];
    w1 = w[3];
    a1 = mm_smlad(xa0, w0, a1);
    a1 = mm_smlad(xa1, w1, a1);
    b1 = mm_smlad(xb0, w0, b1);
    b1 = mm_smlad(xb1, w1, b1);
    x += 4;
    w += 4;
  }
#endif
  *xp = x;
  *wp = w;
  *pa0 = a0;
  *pa1 = a1;
  *pb0 = b0;
  *pb1 = b1;
}

#if MM_NN_NATIVE_DSP
/* Fast requantization of channels c (a0, b0) and c+1 (a1, b1), full int8
 * range, stored at *oa and *ob, which advance by 2; *q advances by 2. */
MM_NN_INLINE void store2x2_full(int32_t a0, int32_t a1, int32_t b0, int32_t b1,
                                const mm_nn_rq **q, int8_t **oa, int8_t **ob) {
  const mm_nn_rq *qq = *q;
  int8_t *pa = *oa, *pb = *ob;
  int32_t m, ad, sh, t;
  __asm__ volatile(
      "ldrd %[m], %[ad], [%[q], #4]\n\t"
      "ldr %[sh], [%[q], #12]\n\t"
      "add %[t], %[ad], %[a0], asr #31\n\t"
      "smmlar %[a0], %[a0], %[m], %[t]\n\t"
      "add %[t], %[ad], %[b0], asr #31\n\t"
      "smmlar %[b0], %[b0], %[m], %[t]\n\t"
      "asr %[a0], %[a0], %[sh]\n\t"
      "asr %[b0], %[b0], %[sh]\n\t"
      "ssat %[a0], #8, %[a0]\n\t"
      "ssat %[b0], #8, %[b0]\n\t"
      "strb %[a0], [%[pa]], #1\n\t"
      "strb %[b0], [%[pb]], #1\n\t"
      "ldrd %[m], %[ad], [%[q], #20]\n\t"
      "ldr %[sh], [%[q], #28]\n\t"
      "add %[t], %[ad], %[a1], asr #31\n\t"
      "smmlar %[a1], %[a1], %[m], %[t]\n\t"
      "add %[t], %[ad], %[b1], asr #31\n\t"
      "smmlar %[b1], %[b1], %[m], %[t]\n\t"
      "asr %[a1], %[a1], %[sh]\n\t"
      "asr %[b1], %[b1], %[sh]\n\t"
      "ssat %[a1], #8, %[a1]\n\t"
      "ssat %[b1], #8, %[b1]\n\t"
      "strb %[a1], [%[pa]], #1\n\t"
      "strb %[b1], [%[pb]], #1\n\t"
      : [a0] "+r"(a0), [a1] "+r"(a1), [b0] "+r"(b0), [b1] "+r"(b1), [pa] "+r"(pa),
        [pb] "+r"(pb), [m] "=&r"(m), [ad] "=&r"(ad), [sh] "=&r"(sh), [t] "=&r"(t)
      : [q] "r"(qq)
      : "memory");
  *q = qq + 2;
  *oa = pa;
  *ob = pb;
}
#endif

MM_NN_INLINE void matmul2_dsp(const mm_nn_conv_params *p, const int32_t *x, int8_t *oa,
                              int8_t *ob, const int mode) {
  const int k = p->k;
  const int groups = (k >> 2) + ((k & 3) == 3);
  const int tail = (k & 3) == 1 || (k & 3) == 2;
  const int cout = p->out_c;
  const int32_t *w = (const int32_t *)p->weights;
  const mm_nn_rq *rq = p->out.rq;
  int c;
  for (c = 0; c + 2 <= cout; c += 2) {
    int32_t a0 = rq[0].bias, a1 = rq[1].bias;
    int32_t b0 = a0, b1 = a1;
    const int32_t *xp = x;
    mac2x2(&xp, &w, groups, &a0, &a1, &b0, &b1);
    if (tail) {
      int32_t xa = xp[0], xb = xp[1];
      int32_t w0 = w[0], w1 = w[1];
      w += 2;
      a0 = mm_smlad(xa, w0, a0);
      b0 = mm_smlad(xb, w0, b0);
      a1 = mm_smlad(xa, w1, a1);
      b1 = mm_smlad(xb, w1, b1);
    }
#if MM_NN_NATIVE_DSP
    if (mode == MM_RQ_FAST_FULL) {
      store2x2_full(a0, a1, b0, b1, &rq, &oa, &ob);
      continue;
    }
#endif
    oa[0] = mm_requant(a0, &rq[0], &p->out, mode);
    ob[0] = mm_requant(b0, &rq[0], &p->out, mode);
    oa[1] = mm_requant(a1, &rq[1], &p->out, mode);
    ob[1] = mm_requant(b1, &rq[1], &p->out, mode);
    oa += 2;
    ob += 2;
    rq += 2;
  }
  if (c < cout) {
    int32_t a0 = rq[0].bias, b0 = a0;
    const int32_t *xp = x;
    int g;
    for (g = groups; g; g--) {
      a0 = mm_smlad(xp[0], w[0], a0);
      a0 = mm_smlad(xp[1], w[1], a0);
      b0 = mm_smlad(xp[2], w[0], b0);
      b0 = mm_smlad(xp[3], w[1], b0);
      xp += 4;
      w += 2;
    }
    if (tail) {
      a0 = mm_smlad(xp[0], w[0], a0);
      b0 = mm_smlad(xp[1], w[0], b0);
    }
    oa[0] = mm_requant(a0, &rq[0], &p->out, mode);
    ob[0] = mm_requant(b0, &rq[0], &p->out, mode);
  }
}

#if !MM_NN_NATIVE_DSP
/* The C twin of mm_nn_matmul_m4.S (the DSP path emulated on a host). */
static void stream_c(const int32_t *x, const int32_t *s, int8_t *oa, int8_t *ob, int pairs,
                     int groups) {
  int c, g;
  for (c = 0; c < pairs; c++) {
    int32_t a0 = s[0], a1 = s[1], b0 = a0, b1 = a1;
    const int32_t *xp = x;
    mm_nn_rq q0, q1;
    s += 2;
    for (g = 0; g < groups; g++, xp += 4, s += 4) {
      a0 = mm_smlad(xp[1], s[1], mm_smlad(xp[0], s[0], a0));
      b0 = mm_smlad(xp[3], s[1], mm_smlad(xp[2], s[0], b0));
      a1 = mm_smlad(xp[1], s[3], mm_smlad(xp[0], s[2], a1));
      b1 = mm_smlad(xp[3], s[3], mm_smlad(xp[2], s[2], b1));
    }
    q0.mult = s[0], q0.add = s[1], q0.shift = s[2];
    q1.mult = s[3], q1.add = s[4], q1.shift = s[5];
    s += 6;
    *oa++ = (int8_t)mm_ssat8(mm_rq_fast(a0, &q0));
    *oa++ = (int8_t)mm_ssat8(mm_rq_fast(a1, &q1));
    if (ob) {
      *ob++ = (int8_t)mm_ssat8(mm_rq_fast(b0, &q0));
      *ob++ = (int8_t)mm_ssat8(mm_rq_fast(b1, &q1));
    }
  }
}
#endif

#if MM_NN_NATIVE_DSP
int32_t *mm_nn_mm2x2_m4(const int32_t *x, const int32_t *stream, int8_t *out_a, int8_t *out_b,
                        int pairs, int groups);
int32_t *mm_nn_mm1x2_m4(const int32_t *x, const int32_t *stream, int8_t *out_a, int pairs,
                        int groups);
#endif

void mm_nn_matmul2(const mm_nn_conv_params *p, const void *xa, const int8_t *xb, int8_t *out_a,
                   int8_t *out_b) {
  (void)xb;
#if MM_NN_NATIVE_DSP
  if (p->stream) {
    if (out_b) {
      mm_nn_mm2x2_m4((const int32_t *)xa, p->stream, out_a, out_b, p->out_c >> 1, p->k >> 2);
    } else {
      mm_nn_mm1x2_m4((const int32_t *)xa, p->stream, out_a, p->out_c >> 1, p->k >> 2);
    }
    return;
  }
#else
  if (p->stream) {
    stream_c((const int32_t *)xa, p->stream, out_a, out_b, p->out_c >> 1, p->k >> 2);
    return;
  }
#endif
  switch (mm_rq_mode(&p->out)) {
    case MM_RQ_FAST_FULL:
      matmul2_dsp(p, (const int32_t *)xa, out_a, out_b, MM_RQ_FAST_FULL);
      break;
    case MM_RQ_FAST_CLAMP:
      matmul2_dsp(p, (const int32_t *)xa, out_a, out_b, MM_RQ_FAST_CLAMP);
      break;
    default:
      matmul2_dsp(p, (const int32_t *)xa, out_a, out_b, MM_RQ_EXACT);
      break;
  }
}

#else /* portable */

MM_NN_INLINE void matmul2_ref(const mm_nn_conv_params *p, const int8_t *xa, const int8_t *xb,
                              int8_t *oa, int8_t *ob, const int mode) {
  const int k = p->k;
  const int8_t *w = (const int8_t *)p->weights;
  int c, i;
  for (c = 0; c < p->out_c; c++, w += k) {
    int32_t sa = 0, sb = 0;
    for (i = 0; i < k; i++) {
      sa += (int32_t)xa[i] * w[i];
      sb += (int32_t)xb[i] * w[i];
    }
    const mm_nn_rq *q = &p->out.rq[c];
    oa[c] = mm_requant((int32_t)((uint32_t)q->bias + 2u * (uint32_t)sa), q, &p->out, mode);
    ob[c] = mm_requant((int32_t)((uint32_t)q->bias + 2u * (uint32_t)sb), q, &p->out, mode);
  }
}

void mm_nn_matmul2(const mm_nn_conv_params *p, const void *xa, const int8_t *xb, int8_t *out_a,
                   int8_t *out_b) {
  const int8_t *a = (const int8_t *)xa;
  switch (mm_rq_mode(&p->out)) {
    case MM_RQ_FAST_FULL:
      matmul2_ref(p, a, xb, out_a, out_b, MM_RQ_FAST_FULL);
      break;
    case MM_RQ_FAST_CLAMP:
      matmul2_ref(p, a, xb, out_a, out_b, MM_RQ_FAST_CLAMP);
      break;
    default:
      matmul2_ref(p, a, xb, out_a, out_b, MM_RQ_EXACT);
      break;
  }
}

#endif
