"""Integer arithmetic of TFLite's int8 kernels, in numpy (the twin of mm_nn).

Every function here reproduces one routine of TFLite's reference kernels
(tensorflow/lite/kernels/internal/common.h, quantization_util.cc, gemmlowp's
fixedpoint.h) on int64 numpy arrays, so the result is exact and vectorized.
Parameters (multipliers, shifts) are computed the way TFLite Micro computes
them at Prepare time, in double precision from the float32 scales stored in
the .tflite."""
from __future__ import annotations

import math

import numpy as np

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


# --- parameters -------------------------------------------------------------
def quantize_multiplier(m: float) -> tuple[int, int]:
    """QuantizeMultiplier: m = q * 2^(shift - 31), q in [2^30, 2^31).
    Returns (q, shift); shift > 0 means a left shift."""
    if m == 0.0:
        return 0, 0
    frac, shift = math.frexp(m)
    # TfLiteRound is round-half-away-from-zero; frac > 0 here
    q = int(math.floor(frac * (1 << 31) + 0.5))
    if q == 1 << 31:
        q //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return q, shift


def conv_multipliers(input_scale: float, filter_scales, output_scale: float):
    """Per-channel (multiplier, shift) of CONV_2D / DEPTHWISE_CONV_2D /
    FULLY_CONNECTED: input_scale * filter_scale / output_scale in double."""
    mult, shift = [], []
    for fs in np.asarray(filter_scales, dtype=np.float32):
        q, s = quantize_multiplier(float(np.float32(input_scale)) * float(fs)
                                   / float(np.float32(output_scale)))
        mult.append(q)
        shift.append(s)
    return np.array(mult, dtype=np.int64), np.array(shift, dtype=np.int64)


def activation_range(act: str, scale: float, zero_point: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for int8 outputs."""
    qmin, qmax = -128, 127

    def q(f):  # zero_point + round(f / scale), division in float32
        v = np.float32(f) / np.float32(scale)
        return zero_point + int(math.copysign(math.floor(abs(float(v)) + 0.5), float(v)))

    if act == "NONE":
        return qmin, qmax
    if act == "RELU":
        return max(qmin, q(0.0)), qmax
    if act == "RELU6":
        return max(qmin, q(0.0)), min(qmax, q(6.0))
    if act == "RELU_N1_TO_1":
        return max(qmin, q(-1.0)), min(qmax, q(1.0))
    raise ValueError(act)


# --- gemmlowp / TFLite integer primitives (vectorized, exact) ---------------
def _i64(x):
    return np.asarray(x, dtype=np.int64)


def wrap32(x):
    """Two's complement wrap to int32 (what the C int32 arithmetic does)."""
    x = _i64(x)
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def srdhm(a, b):
    """SaturatingRoundingDoublingHighMul(a, b) on int32 values."""
    a, b = _i64(a), _i64(b)
    overflow = (a == INT32_MIN) & (b == INT32_MIN)
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    num = ab + nudge
    # C++ integer division truncates toward zero
    q = np.where(num >= 0, num >> 31, -((-num) >> 31))
    return np.where(overflow, INT32_MAX, q)


def rounding_divide_by_pot(x, exponent):
    """RoundingDivideByPOT: x / 2^exponent rounded half away from zero."""
    x, exponent = _i64(x), _i64(exponent)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def mbqm(x, mult, shift):
    """MultiplyByQuantizedMultiplier (TFLite's default double rounding)."""
    x, mult, shift = _i64(x), _i64(mult), _i64(shift)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    return rounding_divide_by_pot(srdhm(wrap32(x * (np.int64(1) << left)), mult), right)


def mbqm_smaller_than_one(x, mult, shift):
    """MultiplyByQuantizedMultiplierSmallerThanOneExp (shift <= 0)."""
    return rounding_divide_by_pot(srdhm(x, mult), -_i64(shift))


def mbqm_greater_than_one(x, mult, left_shift):
    """MultiplyByQuantizedMultiplierGreaterThanOne (left_shift >= 0)."""
    return srdhm(wrap32(_i64(x) * (np.int64(1) << _i64(left_shift))), mult)


def saturating_rounding_mul_pot(x, exponent: int):
    """gemmlowp SaturatingRoundingMultiplyByPOT<exponent> on int32 raw values."""
    x = _i64(x)
    if exponent == 0:
        return x
    if exponent < 0:
        return rounding_divide_by_pot(x, -exponent)
    threshold = (1 << (31 - exponent)) - 1
    r = wrap32(x << exponent)
    r = np.where(x > threshold, INT32_MAX, r)
    return np.where(x < -threshold, INT32_MIN, r)


def rounding_half_sum(a, b):
    s = _i64(a) + _i64(b)
    s = s + np.where(s >= 0, 1, -1)
    return np.where(s >= 0, s // 2, -((-s) // 2))


def exp_on_interval_between_negative_one_quarter_and_0_excl(a):
    """gemmlowp, FixedPoint<int32, 0> in and out (raw values)."""
    constant_term = 1895147668
    constant_1_over_3 = 715827883
    x = wrap32(_i64(a) + (1 << 28))
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    x4_over_4 = saturating_rounding_mul_pot(x4, -2)
    t = wrap32(srdhm(wrap32(x4_over_4 + x3), constant_1_over_3) + x2)
    x4_over_24_plus_x3_over_6_plus_x2_over_2 = saturating_rounding_mul_pot(t, -1)
    return wrap32(constant_term + srdhm(constant_term,
                                        wrap32(x + x4_over_24_plus_x3_over_6_plus_x2_over_2)))


_EXP_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308),
               (2, 39332535), (3, 720401), (4, 242))


def exp_on_negative_values(a, integer_bits: int = 5):
    """gemmlowp exp_on_negative_values: FixedPoint<int32, integer_bits> raw in
    (a <= 0), FixedPoint<int32, 0> raw out."""
    a = _i64(a)
    frac_bits = 31 - integer_bits
    one_quarter = 1 << (frac_bits - 2)
    mask = one_quarter - 1
    a_mod_quarter_minus_one_quarter = wrap32((a & mask) - one_quarter)
    result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        saturating_rounding_mul_pot(a_mod_quarter_minus_one_quarter, integer_bits))
    remainder = wrap32(a_mod_quarter_minus_one_quarter - a)
    for exponent, multiplier in _EXP_BARREL:
        if integer_bits > exponent:
            bit = 1 << (frac_bits + exponent)
            result = np.where((remainder & bit) != 0, srdhm(result, multiplier), result)
    if integer_bits > 5:
        clamp = -(1 << (36 - integer_bits))
        result = np.where(a < clamp, 0, result)
    return np.where(a == 0, INT32_MAX, result)


def one_over_one_plus_x_for_x_in_0_1(a):
    """gemmlowp, FixedPoint<int32, 0> raw in/out."""
    half_denominator = rounding_half_sum(a, INT32_MAX)
    constant_48_over_17 = 1515870810
    constant_neg_32_over_17 = -1010580540
    x = wrap32(constant_48_over_17 + srdhm(half_denominator, constant_neg_32_over_17))
    one_f2 = 1 << 29
    for _ in range(3):
        half_denominator_times_x = srdhm(half_denominator, x)
        one_minus = wrap32(one_f2 - half_denominator_times_x)
        x = wrap32(x + saturating_rounding_mul_pot(srdhm(x, one_minus), 2))
    return saturating_rounding_mul_pot(x, 1)


def count_leading_zeros32(x):
    x = _i64(x) & 0xFFFFFFFF
    out = np.full(x.shape, 32, dtype=np.int64)
    nz = x != 0
    # bit_length via float is exact for < 2^53
    bl = np.zeros_like(x)
    bl[nz] = np.floor(np.log2(x[nz].astype(np.float64))).astype(np.int64) + 1
    # guard against log2 rounding at powers of two minus one
    too_big = nz & ((np.int64(1) << np.clip(bl - 1, 0, 62)) > x)
    bl[too_big] -= 1
    too_small = nz & ((np.int64(1) << np.clip(bl, 0, 62)) <= x)
    bl[too_small] += 1
    out[nz] = 32 - bl[nz]
    return out


def get_reciprocal(x, x_integer_digits: int):
    """TFLite GetReciprocal: returns (shifted_scale raw, num_bits_over_unit)."""
    x = _i64(x)
    headroom_plus_one = count_leading_zeros32(x)
    num_bits_over_unit = x_integer_digits - headroom_plus_one
    shifted = ((x << headroom_plus_one) & 0xFFFFFFFF) - (1 << 31)
    shifted_sum_minus_one = wrap32(shifted)
    return one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one), num_bits_over_unit


# --- softmax parameters -------------------------------------------------------
SOFTMAX_SCALED_DIFF_INTEGER_BITS = 5
SOFTMAX_ACCUMULATION_INTEGER_BITS = 12


def softmax_params(beta: float, input_scale: float) -> tuple[int, int, int]:
    """PreprocessSoftmaxScaling + CalculateInputRadius: (multiplier, left_shift, diff_min)."""
    ib = SOFTMAX_SCALED_DIFF_INTEGER_BITS
    max_real = float((1 << 31) - 1)
    real = min(float(np.float32(beta)) * float(np.float32(input_scale)) * float(1 << (31 - ib)),
               max_real)
    mult, shift = quantize_multiplier(real)
    if shift < 0:
        raise ValueError("softmax multiplier below one")
    max_input_rescaled = (1.0 * ((1 << ib) - 1) * float(1 << (31 - ib))) / float(1 << shift)
    radius = int(math.floor(max_input_rescaled))
    return mult, shift, -radius


def add_params(s1: float, s2: float, s_out: float):
    """TFLite ADD int8: left_shift 20, three multipliers smaller than one."""
    left_shift = 20
    twice_max = 2.0 * float(max(np.float32(s1), np.float32(s2)))
    m1 = quantize_multiplier(float(np.float32(s1)) / twice_max)
    m2 = quantize_multiplier(float(np.float32(s2)) / twice_max)
    mo = quantize_multiplier(twice_max / (float(1 << left_shift) * float(np.float32(s_out))))
    for _, sh in (m1, m2, mo):
        if sh > 0:
            raise ValueError("ADD multiplier above one")
    return left_shift, m1, m2, mo
