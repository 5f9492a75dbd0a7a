/* Packed 16-bit and saturating helpers of the front end: the Cortex-M DSP instruction
 * where the core has it (MM_FE_USE_DSP), else a portable C expression giving the
 * same integers. Values are int16 pairs packed in a uint32 (low half first).
 * Right shifts of negative values are arithmetic (floor), as in GCC and Clang. */
#ifndef MM_FE_DSP_H
#define MM_FE_DSP_H

#include <stdint.h>

#include "mm_frontend.h" /* MM_FE_USE_DSP */

#if MM_FE_USE_DSP
#include <arm_acle.h>
#endif

/* Bits needed for v (0 for 0): the normalisation's bound of a segment. */
static inline uint8_t mm_fe_bit_length(uint32_t v) { return v ? (uint8_t)(32 - __builtin_clz(v)) : 0; }

static inline int32_t mm_fe_lo(uint32_t w) { return (int16_t)(w & 0xFFFFu); }
static inline int32_t mm_fe_hi(uint32_t w) { return (int16_t)(w >> 16); }
static inline uint32_t mm_fe_pack(int32_t lo, int32_t hi) {
  return (uint32_t)(uint16_t)lo | ((uint32_t)(uint16_t)hi << 16);
}

#if MM_FE_USE_DSP
#define mm_fe_shadd16(a, b) ((uint32_t)__shadd16((int32_t)(a), (int32_t)(b)))
#define mm_fe_shsub16(a, b) ((uint32_t)__shsub16((int32_t)(a), (int32_t)(b)))
#define mm_fe_shasx(a, b) ((uint32_t)__shasx((int32_t)(a), (int32_t)(b)))
#define mm_fe_shsax(a, b) ((uint32_t)__shsax((int32_t)(a), (int32_t)(b)))
#define mm_fe_smlsd(a, b, c) __smlsd((int32_t)(a), (int32_t)(b), (c))
#define mm_fe_smladx(a, b, c) __smladx((int32_t)(a), (int32_t)(b), (c))
#define mm_fe_smlabb(a, b, c) __smlabb((int32_t)(a), (int32_t)(b), (c))
#define mm_fe_smlatt(a, b, c) __smlatt((int32_t)(a), (int32_t)(b), (c))
#define mm_fe_smlawb(a, b, c) __smlawb((a), (int32_t)(b), (c))
#define mm_fe_smlawt(a, b, c) __smlawt((a), (int32_t)(b), (c))
static inline int32_t mm_fe_smulwb(int32_t a, uint32_t b) {
  int32_t r;
  __asm__("smulwb %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
  return r;
}
static inline int32_t mm_fe_smulwt(int32_t a, uint32_t b) {
  int32_t r;
  __asm__("smulwt %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
  return r;
}
#else
/* SHADD16 / SHSUB16: per half (a +- b) >> 1 */
static inline uint32_t mm_fe_shadd16(uint32_t a, uint32_t b) {
  return mm_fe_pack((mm_fe_lo(a) + mm_fe_lo(b)) >> 1, (mm_fe_hi(a) + mm_fe_hi(b)) >> 1);
}
static inline uint32_t mm_fe_shsub16(uint32_t a, uint32_t b) {
  return mm_fe_pack((mm_fe_lo(a) - mm_fe_lo(b)) >> 1, (mm_fe_hi(a) - mm_fe_hi(b)) >> 1);
}
/* SHASX: lo = (a.lo - b.hi) >> 1, hi = (a.hi + b.lo) >> 1 */
static inline uint32_t mm_fe_shasx(uint32_t a, uint32_t b) {
  return mm_fe_pack((mm_fe_lo(a) - mm_fe_hi(b)) >> 1, (mm_fe_hi(a) + mm_fe_lo(b)) >> 1);
}
/* SHSAX: lo = (a.lo + b.hi) >> 1, hi = (a.hi - b.lo) >> 1 */
static inline uint32_t mm_fe_shsax(uint32_t a, uint32_t b) {
  return mm_fe_pack((mm_fe_lo(a) + mm_fe_hi(b)) >> 1, (mm_fe_hi(a) - mm_fe_lo(b)) >> 1);
}
/* SMLSD: a.lo * b.lo - a.hi * b.hi + c;  SMLADX: a.lo * b.hi + a.hi * b.lo + c */
static inline int32_t mm_fe_smlsd(uint32_t a, uint32_t b, int32_t c) {
  return mm_fe_lo(a) * mm_fe_lo(b) - mm_fe_hi(a) * mm_fe_hi(b) + c;
}
static inline int32_t mm_fe_smladx(uint32_t a, uint32_t b, int32_t c) {
  return mm_fe_lo(a) * mm_fe_hi(b) + mm_fe_hi(a) * mm_fe_lo(b) + c;
}
static inline int32_t mm_fe_smlabb(uint32_t a, uint32_t b, int32_t c) {
  return mm_fe_lo(a) * mm_fe_lo(b) + c;
}
static inline int32_t mm_fe_smlatt(uint32_t a, uint32_t b, int32_t c) {
  return mm_fe_hi(a) * mm_fe_hi(b) + c;
}
/* SMULWB / SMULWT: (32-bit a * 16-bit half of b) >> 16; SMLAWB / SMLAWT add c */
static inline int32_t mm_fe_smulwb(int32_t a, uint32_t b) {
  return (int32_t)(((int64_t)a * mm_fe_lo(b)) >> 16);
}
static inline int32_t mm_fe_smulwt(int32_t a, uint32_t b) {
  return (int32_t)(((int64_t)a * mm_fe_hi(b)) >> 16);
}
static inline int32_t mm_fe_smlawb(int32_t a, uint32_t b, int32_t c) { return c + mm_fe_smulwb(a, b); }
static inline int32_t mm_fe_smlawt(int32_t a, uint32_t b, int32_t c) { return c + mm_fe_smulwt(a, b); }
#endif

#if MM_FE_USE_DSP
/* PKHBT: lo | hi << 16 in one instruction */
static inline uint32_t mm_fe_pack_dsp(int32_t lo, int32_t hi) {
  uint32_t r;
  __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(lo), "r"(hi));
  return r;
}
/* (re >> 15) | (im >> 15) << 16 for Q30 products whose >> 15 fits 16 bits */
static inline uint32_t mm_fe_pack_q30(int32_t re, int32_t im) {
  uint32_t r;
  __asm__("pkhbt %0, %1, %2, lsl #1" : "=r"(r) : "r"(re >> 15), "r"(im));
  return r;
}
#define mm_fe_ssat8(v) __ssat((v), 8)
#else
#define mm_fe_pack_dsp mm_fe_pack
static inline uint32_t mm_fe_pack_q30(int32_t re, int32_t im) { return mm_fe_pack(re >> 15, im >> 15); }
static inline int32_t mm_fe_ssat8(int32_t v) { return v < -128 ? -128 : v > 127 ? 127 : v; }
#endif

/* Rounded Q15 complex multiply of packed y by packed twiddle w, result packed. */
static inline uint32_t mm_fe_cmul(uint32_t y, uint32_t w) {
  return mm_fe_pack_q30(mm_fe_smlsd(y, w, 1 << 14), mm_fe_smladx(y, w, 1 << 14));
}

/* The radix-4 butterfly of the 16-bit FFT stages on packed a, b, c, d (b, c, d already
 * multiplied by their twiddles), halving twice; results to p[0], p[q], p[2q], p[3q]. */
static inline void mm_fe_butterfly16(uint32_t *p, int q, uint32_t a, uint32_t b, uint32_t c,
                                     uint32_t d) {
  const uint32_t t0 = mm_fe_shadd16(a, c), t1 = mm_fe_shsub16(a, c);
  const uint32_t t2 = mm_fe_shadd16(b, d), t3 = mm_fe_shsub16(b, d);
  p[0] = mm_fe_shadd16(t0, t2);
  p[q] = mm_fe_shsax(t1, t3); /* (t1 - j t3) / 2 */
  p[2 * q] = mm_fe_shsub16(t0, t2);
  p[3 * q] = mm_fe_shasx(t1, t3); /* (t1 + j t3) / 2 */
}

#endif
