/* SOFTMAX int8 -> int8, TFLite's reference integer kernel: exp of the
 * scaled difference to the row maximum in gemmlowp fixed point (Q5.26 in,
 * Q0.31 out), sum in Q12.19, reciprocal by Newton-Raphson. */
/* Once per inference on a handful of values: compiled for size. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("Os")
#endif
#include "mm_nn_internal.h"

#define SCALED_DIFF_INTEGER_BITS 5
#define ACCUMULATION_INTEGER_BITS 12

/* gemmlowp SaturatingRoundingMultiplyByPOT<exponent> */
static int32_t mul_pot(int32_t x, int exponent) {
  if (exponent == 0) return x;
  if (exponent < 0) return mm_rdbpot(x, -exponent);
  {
    const int32_t threshold = (int32_t)((1LL << (31 - exponent)) - 1);
    if (x > threshold) return INT32_MAX;
    if (x < -threshold) return INT32_MIN;
    return (int32_t)((uint32_t)x << exponent);
  }
}

static int32_t add32(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
static int32_t sub32(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }

/* exp(a) for a in [-1/4, 0), Q0.31 */
static int32_t exp_quarter(int32_t a) {
  const int32_t constant_term = 1895147668;
  const int32_t constant_1_over_3 = 715827883;
  int32_t x = add32(a, 1 << 28);
  int32_t x2 = mm_srdhm(x, x);
  int32_t x3 = mm_srdhm(x2, x);
  int32_t x4 = mm_srdhm(x2, x2);
  int32_t x4_over_4 = mul_pot(x4, -2);
  int32_t t = add32(mm_srdhm(add32(x4_over_4, x3), constant_1_over_3), x2);
  int32_t poly = mul_pot(t, -1);
  return add32(constant_term, mm_srdhm(constant_term, add32(x, poly)));
}

/* exp(a) for a <= 0 in Q5.26, result Q0.31 */
static int32_t exp_on_negative_values(int32_t a) {
  static const int32_t barrel[7] = {1672461947, 1302514674, 790015084, 290630308,
                                    39332535,   720401,     242};
  const int frac_bits = 31 - SCALED_DIFF_INTEGER_BITS;
  const int32_t one_quarter = 1 << (frac_bits - 2);
  const int32_t mask = one_quarter - 1;
  int32_t a_mod = sub32(a & mask, one_quarter);
  int32_t result = exp_quarter(mul_pot(a_mod, SCALED_DIFF_INTEGER_BITS));
  int32_t remainder = sub32(a_mod, a);
  int e;
  for (e = -2; e <= 4; e++) {
    if (SCALED_DIFF_INTEGER_BITS > e && (remainder & (1 << (frac_bits + e)))) {
      result = mm_srdhm(result, barrel[e + 2]);
    }
  }
  return a == 0 ? INT32_MAX : result;
}

static int count_leading_zeros(uint32_t x) {
  int n = 0;
  if (x == 0) return 32;
  while (!(x & 0x80000000u)) {
    x <<= 1;
    n++;
  }
  return n;
}

/* 1 / (1 + a) for a in [0, 1), Q0.31 */
static int32_t one_over_one_plus_x(int32_t a) {
  int64_t sum = (int64_t)a + INT32_MAX;
  int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
  const int32_t constant_48_over_17 = 1515870810;
  const int32_t constant_neg_32_over_17 = -1010580540;
  int32_t x = add32(constant_48_over_17, mm_srdhm(half_denominator, constant_neg_32_over_17));
  int i;
  for (i = 0; i < 3; i++) {
    int32_t half_denominator_times_x = mm_srdhm(half_denominator, x);
    int32_t one_minus = sub32(1 << 29, half_denominator_times_x);
    x = add32(x, mul_pot(mm_srdhm(x, one_minus), 2));
  }
  return mul_pot(x, 1);
}

void mm_nn_softmax(const mm_nn_softmax_params *p, const int8_t *in, int8_t *out) {
  const int depth = p->depth;
  int r, c;
  for (r = 0; r < p->rows; r++, in += depth, out += depth) {
    int32_t max_in_row = -128, sum_of_exps = 0;
    int headroom_plus_one, num_bits_over_unit;
    int32_t shifted_scale;
    for (c = 0; c < depth; c++) {
      if (in[c] > max_in_row) max_in_row = in[c];
    }
    for (c = 0; c < depth; c++) {
      int32_t diff = in[c] - max_in_row;
      if (diff >= p->diff_min) {
        int32_t scaled = mm_srdhm((int32_t)((uint32_t)diff << p->left_shift), p->mult);
        sum_of_exps = add32(sum_of_exps, mul_pot(exp_on_negative_values(scaled),
                                                 -ACCUMULATION_INTEGER_BITS));
      }
    }
    headroom_plus_one = count_leading_zeros((uint32_t)sum_of_exps);
    num_bits_over_unit = ACCUMULATION_INTEGER_BITS - headroom_plus_one;
    shifted_scale = one_over_one_plus_x(
        (int32_t)(((uint32_t)sum_of_exps << headroom_plus_one) - (1u << 31)));
    for (c = 0; c < depth; c++) {
      int32_t diff = in[c] - max_in_row;
      if (diff >= p->diff_min) {
        int32_t scaled = mm_srdhm((int32_t)((uint32_t)diff << p->left_shift), p->mult);
        int32_t e = exp_on_negative_values(scaled);
        int32_t unsat = mm_rdbpot(mm_srdhm(shifted_scale, e), num_bits_over_unit + 31 - 8);
        out[c] = mm_clamp(unsat - 128, -128, 127);
      } else {
        out[c] = -128;
      }
    }
  }
}
