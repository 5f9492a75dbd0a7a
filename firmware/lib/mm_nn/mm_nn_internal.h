/* Shared by the mm_nn kernels: DSP intrinsics (or their C emulation on a
 * host), the requantization step, and TFLite's integer primitives. */
#ifndef MM_NN_INTERNAL_H
#define MM_NN_INTERNAL_H

#include <string.h>

#include "mm_nn.h"

#if MM_NN_DSP && defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
#define MM_NN_NATIVE_DSP 1
#else
#define MM_NN_NATIVE_DSP 0
#endif

#if defined(__GNUC__)
#define MM_NN_INLINE static inline __attribute__((always_inline))
#define MM_NN_NOINLINE __attribute__((noinline))
#else
#define MM_NN_INLINE static inline
#define MM_NN_NOINLINE
#endif

/* Which weight layouts the model's layers use (generated mm_model_config.h):
 * the kernels of the others are not referenced, so not linked. */
#ifndef MM_MODEL_USES_MM_W16
#define MM_MODEL_USES_MM_W16 1
#define MM_MODEL_USES_MM_W8 1
#define MM_MODEL_USES_DW_W16 1
#define MM_MODEL_USES_DW_W8 1
#endif
#ifndef MM_MODEL_USES_MM_C
#define MM_MODEL_USES_MM_C 1 /* the C paths of the matrix engine and depthwise kernels */
#define MM_MODEL_USES_DW_C 1
#endif
/* On a DSP core, the C paths are linked only when a layer needs them. */
#define MM_NN_NEED_C(used) (!MM_NN_NATIVE_DSP || (used))
#define MM_NN_MM_W16(p) (MM_MODEL_USES_MM_W16 && (!MM_MODEL_USES_MM_W8 || (p)->w16))
#define MM_NN_DW_W16(p) (MM_MODEL_USES_DW_W16 && (!MM_MODEL_USES_DW_W8 || (p)->w16))

/* --- SIMD primitives ------------------------------------------------------ */
MM_NN_INLINE int32_t mm_lo16(int32_t x) { return (int32_t)(int16_t)(uint16_t)((uint32_t)x & 0xFFFFu); }
MM_NN_INLINE int32_t mm_hi16(int32_t x) { return (int32_t)(int16_t)(uint16_t)((uint32_t)x >> 16); }
#if MM_NN_NATIVE_DSP
MM_NN_INLINE int32_t mm_smlad(int32_t x, int32_t y, int32_t acc) {
  return __smlad((int16x2_t)x, (int16x2_t)y, acc);
}
MM_NN_INLINE int32_t mm_sxtb16(int32_t x) { return (int32_t)__sxtb16((int8x4_t)x); }
MM_NN_INLINE int32_t mm_sxtb16_ror8(int32_t x) {
  int32_t r; /* one instruction (GCC 12 does not fold a C rotation into it) */
  __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
  return r;
}
MM_NN_INLINE int32_t mm_smlabb(int32_t x, int32_t y, int32_t acc) { return __smlabb(x, y, acc); }
MM_NN_INLINE int32_t mm_smlatt(int32_t x, int32_t y, int32_t acc) { return __smlatt(x, y, acc); }
MM_NN_INLINE int32_t mm_ssat8(int32_t x) { return __ssat(x, 8); }
MM_NN_INLINE int32_t mm_sxtab16(int32_t acc, int32_t x) {
  return (int32_t)__sxtab16((int16x2_t)acc, (int8x4_t)x);
}
MM_NN_INLINE int32_t mm_sxtab16_ror8(int32_t acc, int32_t x) {
  int32_t r;
  __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(acc), "r"(x));
  return r;
}
/* a + ((x * m + 2^31) >> 32), one instruction */
MM_NN_INLINE int32_t mm_smmlar(int32_t x, int32_t m, int32_t a) {
  int32_t r;
  __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(x), "r"(m), "r"(a));
  return r;
}
/* the bytes of each halfword swapped */
MM_NN_INLINE int32_t mm_rev16(int32_t x) {
  int32_t r; /* GCC 12's arm_acle.h lacks __rev16 */
  __asm__("rev16 %0, %1" : "=r"(r) : "r"(x));
  return r;
}
#else
MM_NN_INLINE int32_t mm_smlad(int32_t x, int32_t y, int32_t acc) {
  return (int32_t)((uint32_t)acc + (uint32_t)(mm_lo16(x) * mm_lo16(y) + mm_hi16(x) * mm_hi16(y)));
}
MM_NN_INLINE int32_t mm_sxtb16(int32_t x) {
  uint32_t u = (uint32_t)x;
  uint32_t lo = (uint32_t)(int32_t)(int8_t)(uint8_t)(u & 0xFFu) & 0xFFFFu;
  uint32_t hi = (uint32_t)(int32_t)(int8_t)(uint8_t)((u >> 16) & 0xFFu) & 0xFFFFu;
  return (int32_t)(lo | (hi << 16));
}
MM_NN_INLINE int32_t mm_sxtb16_ror8(int32_t x) {
  uint32_t u = (uint32_t)x;
  return mm_sxtb16((int32_t)((u >> 8) | (u << 24)));
}
MM_NN_INLINE int32_t mm_smlabb(int32_t x, int32_t y, int32_t acc) {
  return (int32_t)((uint32_t)acc + (uint32_t)(mm_lo16(x) * mm_lo16(y)));
}
MM_NN_INLINE int32_t mm_smlatt(int32_t x, int32_t y, int32_t acc) {
  return (int32_t)((uint32_t)acc + (uint32_t)(mm_hi16(x) * mm_hi16(y)));
}
MM_NN_INLINE int32_t mm_ssat8(int32_t x) { return x < -128 ? -128 : (x > 127 ? 127 : x); }
MM_NN_INLINE int32_t mm_sxtab16(int32_t acc, int32_t x) {
  uint32_t lo = ((uint32_t)acc + (uint32_t)mm_lo16(mm_sxtb16(x))) & 0xFFFFu;
  uint32_t hi = (((uint32_t)acc >> 16) + (uint32_t)mm_hi16(mm_sxtb16(x))) & 0xFFFFu;
  return (int32_t)(lo | hi << 16);
}
MM_NN_INLINE int32_t mm_sxtab16_ror8(int32_t acc, int32_t x) {
  return mm_sxtab16(acc, (int32_t)(((uint32_t)x >> 8) | ((uint32_t)x << 24)));
}
MM_NN_INLINE int32_t mm_rev16(int32_t x) {
  uint32_t u = (uint32_t)x;
  return (int32_t)(((u & 0x00FF00FFu) << 8) | ((u >> 8) & 0x00FF00FFu));
}
MM_NN_INLINE int32_t mm_smmlar(int32_t x, int32_t m, int32_t a) {
  /* arithmetic right shift of a negative int64: what GCC and Clang do */
  int64_t p = (int64_t)x * (int64_t)m + 0x80000000LL;
  return (int32_t)((uint32_t)a + (uint32_t)(int32_t)(p >> 32));
}
#endif

/* Unaligned-safe 32-bit load/store (one LDR/STR on Cortex-M3 and up). */
MM_NN_INLINE int32_t mm_read32(const void *p) {
  int32_t v;
  memcpy(&v, p, 4);
  return v;
}
MM_NN_INLINE void mm_write32(void *p, int32_t v) { memcpy(p, &v, 4); }

/* --- TFLite integer primitives (exact, int64) ----------------------------- */
MM_NN_INLINE int32_t mm_srdhm(int32_t a, int32_t b) {
  if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
  int64_t ab = (int64_t)a * (int64_t)b;
  int64_t nudge = ab >= 0 ? (1LL << 30) : (1LL - (1LL << 30));
  return (int32_t)((ab + nudge) / (1LL << 31));
}

MM_NN_INLINE int32_t mm_rdbpot(int32_t x, int exponent) {
  int32_t mask = (int32_t)((1LL << exponent) - 1);
  int32_t remainder = x & mask;
  int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* MultiplyByQuantizedMultiplier (double rounding, TFLite's default). */
MM_NN_INLINE int32_t mm_mbqm(int32_t x, int32_t mult, int shift) {
  int left = shift > 0 ? shift : 0;
  int right = shift > 0 ? 0 : -shift;
  return mm_rdbpot(mm_srdhm((int32_t)((uint32_t)x << left), mult), right);
}

/* --- requantization of one accumulator ------------------------------------ */
/* acc2 is twice the int32 accumulator, bias included. */
MM_NN_INLINE int32_t mm_rq_fast(int32_t acc2, const mm_nn_rq *q) {
  int32_t a = q->add + (acc2 >> 31);
  return mm_smmlar(acc2, q->mult, a) >> q->shift;
}

MM_NN_INLINE int32_t mm_rq_exact(int32_t acc2, const mm_nn_rq *q) {
  return mm_mbqm(acc2 >> 1, q->mult, q->shift) + q->add;
}

MM_NN_INLINE int8_t mm_clamp(int32_t v, int32_t lo, int32_t hi) {
  return (int8_t)(v < lo ? lo : (v > hi ? hi : v));
}

/* Output modes a kernel specializes its store loop on. */
enum { MM_RQ_FAST_FULL = 0, MM_RQ_FAST_CLAMP = 1, MM_RQ_EXACT = 2 };

MM_NN_INLINE int mm_rq_mode(const mm_nn_out *o) {
  if (o->exact) return MM_RQ_EXACT;
  return (o->act_min == -128 && o->act_max == 127) ? MM_RQ_FAST_FULL : MM_RQ_FAST_CLAMP;
}

/* Requantize with a mode that is a constant after inlining. */
MM_NN_INLINE int8_t mm_requant(int32_t acc2, const mm_nn_rq *q, const mm_nn_out *o,
                               const int mode) {
  if (mode == MM_RQ_FAST_FULL) return (int8_t)mm_ssat8(mm_rq_fast(acc2, q));
  if (mode == MM_RQ_FAST_CLAMP) return mm_clamp(mm_rq_fast(acc2, q), o->act_min, o->act_max);
  return mm_clamp(mm_rq_exact(acc2, q), o->act_min, o->act_max);
}

/* --- the matrix engine shared by conv, 1x1 conv and fully connected ------- */
/* Groups of 4 values per output (the last one zero-padded). */
MM_NN_INLINE int mm_nn_groups(const mm_nn_conv_params *p) {
  return p->kh > 1 || p->kw > 1 ? p->kh * (p->row_k >> 2) : (p->k + 3) >> 2;
}
#if MM_NN_DSP
/* Bytes of a packed pixel pair: two correction words, then 4 words per group. */
MM_NN_INLINE size_t mm_nn_pack_bytes(int groups) { return (size_t)(8 + 16 * groups); }
/* Pack `rows` runs of rk input bytes of pixels a and b (a[r], b[r]; b may equal a)
 * into x: one function per weight layout, each a tight loop (mm_nn_pack.h chooses). */
void mm_nn_pack16(const int8_t *const *a, const int8_t *const *b, int rows, int rk, int32_t *x);
void mm_nn_pack8(const int8_t *const *a, const int8_t *const *b, int rows, int rk, int32_t *x);
/* Two packed pixels times every output channel of p, to out_a[] and out_b[]
 * (out_b NULL: a lone pixel, only A is computed). */
void mm_nn_matmul2(const mm_nn_conv_params *p, const int32_t *x, int8_t *out_a, int8_t *out_b);
#else
/* Portable: two pixels' k int8 values times every output channel. */
void mm_nn_matmul2(const mm_nn_conv_params *p, const int8_t *xa, const int8_t *xb,
                   int8_t *out_a, int8_t *out_b);
#endif

#endif
