"""What each layer's C kernel receives: weights laid out for the portable
and the DSP paths, per-channel requantization records, lookup tables, and
the scratch each call needs. Mirrors firmware/lib/mm_nn (see the layout
comments there); the bit-exactness tests hold the two together."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import MicromelError
from . import quant
from .plan import Layer

LIMIT = 1 << 31
# The fast requantization needs |2 * acc| < 2^31 and a right shift of 1..MAX_FAST_SHIFT.
MAX_FAST_SHIFT = 22


@dataclass
class KernelData:
    """C-ready integers of one layer."""
    layer: Layer
    rq: np.ndarray | None = None          # (C, 4) int32: bias, mult, add, shift
    exact: bool = False
    w8: np.ndarray | None = None          # int8 weights, portable layout
    w_dsp: np.ndarray | None = None       # int32 words, DSP layout (None: int8 in both paths)
    k: int = 0
    extra: dict = field(default_factory=dict)
    scratch: int = 0                      # bytes, the larger of both paths

    @property
    def weight_bytes_portable(self) -> int:
        return 0 if self.w8 is None else int(self.w8.size)

    @property
    def weight_bytes_dsp(self) -> int:
        if "stream" in self.extra and self.layer.kind == "dwconv":
            # the stream, and the plain layout the border pixels use
            return int(self.extra["stream"].size * 4 + self.w_dsp.size * 4)
        if "stream" in self.extra:
            return int(self.extra["stream"].size * 4)
        if self.w_dsp is not None:
            return int(self.w_dsp.size * 4)
        return self.weight_bytes_portable


def _pair(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """int16 lanes (lo, hi) as int32 words."""
    u = (lo.astype(np.int64) & 0xFFFF) | ((hi.astype(np.int64) & 0xFFFF) << 16)
    return ((u + (1 << 31)) % (1 << 32) - (1 << 31)).astype(np.int32)


def pack_matmul_dsp(w: np.ndarray) -> np.ndarray:
    """(cout, k) int8 -> the int32 words mm_nn_matmul2 reads (doubled int16)."""
    cout, k = w.shape
    groups = k // 4 + (k % 4 == 3)
    tail = k % 4 in (1, 2)
    kp = 4 * groups + 2 * tail
    wd = np.zeros((cout, kp), np.int64)
    wd[:, :k] = 2 * w.astype(np.int64)
    words = []

    def channel_groups(c):
        g = wd[c, :4 * groups].reshape(groups, 4)
        return _pair(g[:, 0], g[:, 2]), _pair(g[:, 1], g[:, 3])

    def channel_tail(c):
        return _pair(wd[c, 4 * groups:4 * groups + 1], wd[c, 4 * groups + 1:4 * groups + 2])

    c = 0
    while c + 2 <= cout:
        e0, o0 = channel_groups(c)
        e1, o1 = channel_groups(c + 1)
        words.append(np.stack([e0, o0, e1, o1], axis=1).reshape(-1))
        if tail:
            words.append(np.concatenate([channel_tail(c), channel_tail(c + 1)]))
        c += 2
    if c < cout:
        e0, o0 = channel_groups(c)
        words.append(np.stack([e0, o0], axis=1).reshape(-1))
        if tail:
            words.append(channel_tail(c))
    return np.concatenate(words).astype(np.int32) if words else np.zeros(0, np.int32)


def pack_dwconv_dsp(w: np.ndarray) -> np.ndarray:
    """(kh, kw, c) int8, c % 4 == 0 -> per group of 4 channels, per tap, the
    words (w_c0, w_c2) (w_c1, w_c3), doubled."""
    kh, kw, c = w.shape
    taps = (2 * w.astype(np.int64)).reshape(kh * kw, c // 4, 4)   # tap, group, lane
    even = _pair(taps[:, :, 0], taps[:, :, 2])                      # tap, group
    odd = _pair(taps[:, :, 1], taps[:, :, 3])
    return np.stack([even.T, odd.T], axis=2).reshape(-1).astype(np.int32)


def matmul_stream(w_dsp: np.ndarray, rq: np.ndarray, k: int) -> np.ndarray:
    """The interleaved stream mm_nn_matmul_m4.S reads: per channel pair the
    two biases, the pair's weight words, then (mult, add, shift) twice."""
    groups = k // 4
    cout = len(rq)
    per = 4 * groups
    words = []
    for c in range(0, cout, 2):
        words.append(rq[c:c + 2, 0])
        words.append(w_dsp[(c // 2) * per:(c // 2 + 1) * per])
        words.append(rq[c, 1:4])
        words.append(rq[c + 1, 1:4])
    return np.concatenate(words).astype(np.int32)


def dwconv_stream(w_dsp: np.ndarray, rq: np.ndarray) -> np.ndarray:
    """The stream mm_nn_dwconv_m4.S reads: per group of 4 channels the four
    biases, the 9 taps' weight words, then (mult, add, shift) four times."""
    words = []
    for g in range(len(rq) // 4):
        words.append(rq[4 * g:4 * g + 4, 0])
        words.append(w_dsp[18 * g:18 * (g + 1)])
        words.append(rq[4 * g:4 * g + 4, 1:4].reshape(-1))
    return np.concatenate(words).astype(np.int32)


def requant_records(lay: Layer, w_rows: np.ndarray) -> tuple[np.ndarray, bool]:
    """Per output channel (bias, mult, add, shift) and whether the layer must
    use TFLite's exact int64 arithmetic. w_rows: (cout, k) int8."""
    p = lay.params
    w = w_rows.astype(np.int64)
    bias = lay.bias.astype(np.int64) - p["zp_in"] * w.sum(axis=1)
    bound = np.abs(bias) + 128 * np.abs(w).sum(axis=1)   # |acc| for any int8 input
    if np.any(2 * bound >= LIMIT):
        raise MicromelError(f"layer {lay.index} ({lay.op}, output '{lay.name}'): the int32 "
                            f"accumulator may reach {int(bound.max())}, beyond 2^30; the engine "
                            "refuses a model whose sums could overflow")
    mult, shift = p["mult"].astype(np.int64), p["shift"].astype(np.int64)
    zp = int(p["zp_out"])
    e = -shift
    add = np.where(e >= 1, (np.int64(1) << np.clip(e - 1, 0, 62)) + (zp << np.clip(e, 0, 62)), 0)
    t_bound = (bound * mult) // (1 << 31) + 2
    fast = bool(np.all((e >= 1) & (e <= MAX_FAST_SHIFT) & (t_bound + np.abs(add) + 1 < LIMIT)))
    if fast:
        rq = np.stack([2 * bias, mult, add, e], axis=1)
    else:
        rq = np.stack([2 * bias, mult, np.full_like(mult, zp), shift], axis=1)
    return rq.astype(np.int32), not fast


def fast_requant(acc: np.ndarray, rq: np.ndarray) -> np.ndarray:
    """numpy model of mm_rq_fast (for checking the identity it relies on)."""
    acc2 = 2 * acc.astype(np.int64)
    a = rq[..., 2].astype(np.int64) + np.where(acc2 < 0, -1, 0)
    t = a + ((acc2 * rq[..., 1].astype(np.int64) + (1 << 31)) >> 32)
    return t >> rq[..., 3].astype(np.int64)


def conv_scratch(k: int, cout: int, general: bool, staged: int = 0) -> int:
    """Bytes of scratch mm_nn_conv_row / conv_1x1_row use (the larger of the
    two paths), see those files: two staged windows, the packed pair (DSP) or
    the two pixels (portable), out_c junk bytes."""
    dsp = (2 * staged if general else 0) + 16 * ((k + 3) // 4) + cout
    portable = (2 * staged + 2 * k if general else 0) + cout
    return max(dsp, portable)


def prepare(lay: Layer) -> KernelData:
    p = lay.params
    kd = KernelData(lay)
    if lay.kind == "conv":
        cout, kh, kw, cin = lay.weights.shape
        general = not (kh == 1 and kw == 1)
        if general:
            # each kernel row padded to a multiple of 4 values (zero weights)
            row_k = (kw * cin + 3) // 4 * 4
            w_rows = np.zeros((cout, kh, row_k), np.int8)
            w_rows[:, :, :kw * cin] = lay.weights.reshape(cout, kh, kw * cin)
            w_rows = w_rows.reshape(cout, kh * row_k)
        else:
            w_rows = lay.weights.reshape(cout, cin)
            row_k = cin
        kd.k = w_rows.shape[1]
        kd.extra["row_k"] = row_k
        kd.rq, kd.exact = requant_records(lay, w_rows)
        kd.w8 = w_rows.astype(np.int8)
        kd.w_dsp = pack_matmul_dsp(w_rows)
        kd.extra["pointwise"] = not general
        if (not kd.exact and (lay.params["act_min"], lay.params["act_max"]) == (-128, 127)
                and kd.k % 4 == 0 and cout % 2 == 0):
            kd.extra["stream"] = matmul_stream(kd.w_dsp, kd.rq, kd.k)
        kd.scratch = conv_scratch(kd.k, cout, general, kh * row_k)
    elif lay.kind == "fc":
        w_rows = lay.weights
        kd.k = w_rows.shape[1]
        kd.rq, kd.exact = requant_records(lay, w_rows)
        kd.w8 = w_rows.astype(np.int8)
        kd.w_dsp = pack_matmul_dsp(w_rows)   # read in place: no scratch
        kd.extra["row_k"] = kd.k
    elif lay.kind == "dwconv":
        w = lay.weights[0]                                  # kh, kw, c
        kh, kw, c = w.shape
        w_rows = w.reshape(kh * kw, c).T                    # c, taps
        kd.k = kh * kw
        kd.rq, kd.exact = requant_records(lay, w_rows)
        kd.w8 = w.reshape(-1).astype(np.int8)               # (ky, kx, c)
        kd.w_dsp = pack_dwconv_dsp(w) if c % 4 == 0 else None
        if (kh == 3 and kw == 3 and c % 4 == 0 and not kd.exact
                and (lay.params["act_min"], lay.params["act_max"]) == (-128, 127)):
            kd.extra["stream"] = dwconv_stream(kd.w_dsp, kd.rq)
        if kh == 3 and kw == 3 and c % 4 == 0:
            # what the padding column would add (zero point x that column's weights)
            col = w.astype(np.int64).sum(axis=0)            # kw, c
            kd.extra["edge"] = (2 * int(lay.params["zp_in"]) * np.concatenate(
                [col[0], col[2]])).astype(np.int32)
    elif lay.kind == "avgpool":
        kd.scratch = 4 * lay.in_shape[-1]    # per-window sums (a global pool uses its own)
    elif lay.kind == "add":
        def lut(zp, m, s):
            x = (np.arange(-128, 128, dtype=np.int64) - zp) << p["left_shift"]
            return quant.mbqm_smaller_than_one(x, m, s).astype(np.int32)
        kd.extra["lut1"] = lut(p["zp1"], p["m1"], p["s1"])
        kd.extra["lut2"] = lut(p["zp2"], p["m2"], p["s2"])
    return kd
