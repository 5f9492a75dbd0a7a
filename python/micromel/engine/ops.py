"""The numpy twin of every mm_nn kernel: int8 tensors (NHWC without N) in,
int8 out, computing the same integers as TFLite Micro's reference kernels."""
from __future__ import annotations

import numpy as np

from . import quant


def same_padding(in_size: int, k: int, stride: int) -> tuple[int, int]:
    """TFLite ComputePaddingHeightWidth for SAME: (out_size, pad_before);
    the odd pixel of padding goes after."""
    out = (in_size + stride - 1) // stride
    total = max(0, (out - 1) * stride + k - in_size)
    return out, total // 2


def out_size(in_size: int, k: int, stride: int, padding: str) -> tuple[int, int]:
    if padding == "SAME":
        return same_padding(in_size, k, stride)
    return (in_size - k + stride) // stride, 0


def _windows(x: np.ndarray, kh: int, kw: int, sh: int, sw: int, ph: int, pw: int,
             oh: int, ow: int, pad_value: int):
    """(oh, ow, kh, kw, C) view of the padded input and a validity mask."""
    h, w, c = x.shape
    ph_after = max(0, (oh - 1) * sh + kh - h - ph)
    pw_after = max(0, (ow - 1) * sw + kw - w - pw)
    xp = np.pad(x, ((ph, ph_after), (pw, pw_after), (0, 0)), constant_values=pad_value)
    valid = np.pad(np.ones((h, w), bool), ((ph, ph_after), (pw, pw_after)))
    iy = (np.arange(oh) * sh)[:, None] + np.arange(kh)[None, :]      # oh, kh
    ix = (np.arange(ow) * sw)[:, None] + np.arange(kw)[None, :]      # ow, kw
    win = xp[iy[:, None, :, None], ix[None, :, None, :]]            # oh, ow, kh, kw, c
    vm = valid[iy[:, None, :, None], ix[None, :, None, :]]          # oh, ow, kh, kw
    return win, vm


def requantize(acc, mult, shift, zp_out, act_min, act_max):
    out = quant.mbqm(acc, mult, shift) + zp_out
    return np.clip(out, act_min, act_max).astype(np.int8)


def conv2d(x, w, bias, p):
    """x (H, W, Cin) int8; w (Cout, KH, KW, Cin) int8; bias (Cout,) int32."""
    kh, kw = w.shape[1:3]
    win, _ = _windows(x.astype(np.int64) - p["zp_in"], kh, kw, p["stride"][0], p["stride"][1],
                      p["pad"][0], p["pad"][1], p["out_shape"][0], p["out_shape"][1], 0)
    acc = np.einsum("yxijc,oijc->yxo", win, w.astype(np.int64)) + bias.astype(np.int64)
    return requantize(acc, p["mult"], p["shift"], p["zp_out"], p["act_min"], p["act_max"])


def depthwise_conv2d(x, w, bias, p):
    """w (1, KH, KW, C) int8 (depth multiplier 1)."""
    kh, kw = w.shape[1:3]
    win, _ = _windows(x.astype(np.int64) - p["zp_in"], kh, kw, p["stride"][0], p["stride"][1],
                      p["pad"][0], p["pad"][1], p["out_shape"][0], p["out_shape"][1], 0)
    acc = np.einsum("yxijc,ijc->yxc", win, w[0].astype(np.int64)) + bias.astype(np.int64)
    return requantize(acc, p["mult"], p["shift"], p["zp_out"], p["act_min"], p["act_max"])


def fully_connected(x, w, bias, p):
    """x any shape with last-dim-major rows of w.shape[1]; w (Cout, Cin)."""
    rows = x.reshape(-1, w.shape[1]).astype(np.int64) - p["zp_in"]
    acc = rows @ w.astype(np.int64).T + bias.astype(np.int64)
    return requantize(acc, p["mult"], p["shift"], p["zp_out"], p["act_min"], p["act_max"])


def average_pool(x, p):
    kh, kw = p["filter"]
    win, vm = _windows(x.astype(np.int64), kh, kw, p["stride"][0], p["stride"][1],
                       p["pad"][0], p["pad"][1], p["out_shape"][0], p["out_shape"][1], 0)
    acc = win.sum(axis=(2, 3))
    count = vm.sum(axis=(2, 3))[..., None].astype(np.int64)
    # round half away from zero, C++ truncating division
    num = np.where(acc > 0, acc + count // 2, acc - count // 2)
    q = np.where(num >= 0, num // count, -((-num) // count))
    return np.clip(q, p["act_min"], p["act_max"]).astype(np.int8)


def max_pool(x, p):
    kh, kw = p["filter"]
    win, vm = _windows(x.astype(np.int64), kh, kw, p["stride"][0], p["stride"][1],
                       p["pad"][0], p["pad"][1], p["out_shape"][0], p["out_shape"][1], -1000)
    m = np.where(vm[..., None], win, -1000).max(axis=(2, 3))
    return np.clip(m, p["act_min"], p["act_max"]).astype(np.int8)


def mean_hw(x, p):
    """MEAN over H and W of an (H, W, C) tensor: TFLite Micro's integer
    QuantizedMeanOrSum (whatever keep_dims and the scales), 1/n folded into
    the multiplier."""
    h, w, c = x.shape
    n = h * w
    s = x.astype(np.int64).reshape(n, c).sum(axis=0)
    acc = quant.mbqm(s - n * p["zp_in"], p["mult"], p["shift"])
    return np.clip(acc + p["zp_out"], -128, 127).astype(np.int8)


def mean_multiplier(in_scale: float, out_scale: float, n: int) -> tuple[int, int]:
    """QuantizedMeanOrSum: QuantizeMultiplier(in/out), then 1/n folded in."""
    mult, shift = quant.quantize_multiplier(float(np.float32(in_scale)) / float(np.float32(out_scale)))
    sh = min(n.bit_length() - 1, 32, 31 + shift)
    return int((mult << sh) // n), shift - sh


def softmax(x, p):
    """int8 -> int8 softmax (output scale 1/256, zero point -128)."""
    shape = x.shape
    rows = x.reshape(-1, shape[-1]).astype(np.int64)
    mult, left_shift, diff_min = p["mult"], p["left_shift"], p["diff_min"]
    out = np.empty(rows.shape, dtype=np.int8)
    for i, row in enumerate(rows):
        diff = row - row.max()
        ok = diff >= diff_min
        scaled = quant.mbqm_greater_than_one(diff, mult, left_shift)
        e = quant.exp_on_negative_values(scaled, quant.SOFTMAX_SCALED_DIFF_INTEGER_BITS)
        e_acc = quant.saturating_rounding_mul_pot(
            e, -quant.SOFTMAX_ACCUMULATION_INTEGER_BITS)
        sum_of_exps = int(quant.wrap32(np.where(ok, e_acc, 0).sum()))
        shifted_scale, nbits = quant.get_reciprocal(np.array([sum_of_exps]),
                                                    quant.SOFTMAX_ACCUMULATION_INTEGER_BITS)
        shifted_scale, nbits = int(shifted_scale[0]), int(nbits[0])
        unsat = quant.rounding_divide_by_pot(quant.srdhm(shifted_scale, e), nbits + 31 - 8)
        o = np.clip(unsat - 128, -128, 127)
        out[i] = np.where(ok, o, -128)
    return out.reshape(shape)


def add(x1, x2, p):
    ls = p["left_shift"]
    a = (x1.astype(np.int64) - p["zp1"]) << ls
    b = (x2.astype(np.int64) - p["zp2"]) << ls
    sa = quant.mbqm_smaller_than_one(a, p["m1"], p["s1"])
    sb = quant.mbqm_smaller_than_one(b, p["m2"], p["s2"])
    raw = quant.mbqm_smaller_than_one(quant.wrap32(sa + sb), p["mo"], p["so"]) + p["zp_out"]
    return np.clip(raw, p["act_min"], p["act_max"]).astype(np.int8)
