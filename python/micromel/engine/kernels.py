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
    k: int = 0
    extra: dict = field(default_factory=dict)
    scratch: int = 0                      # bytes, the larger of both paths
    w16: bool = False                     # matrix engine, DSP: int16 weights (else int8)

    @property
    def weight_bytes_portable(self) -> int:
        return 0 if self.w8 is None else int(self.w8.size)

    @property
    def weight_bytes_model(self) -> int:
        """The layer's weights as int8, as the .tflite holds them (no padding)."""
        return 0 if self.layer.weights is None else int(self.layer.weights.size)

    @property
    def weight_bytes_dsp(self) -> int:
        """Flash of the weights in a DSP build (records and biases excluded)."""
        if self.extra.get("window"):
            return 4 * WINDOW_PAIRS * len(self.rq)
        if self.layer.kind in ("conv", "fc"):
            g = self.extra["groups"]
            return int((len(self.rq) + len(self.rq) % 2) * g * (8 if self.w16 else 4))
        if self.layer.kind == "dwconv" and self.extra.get("dsp_stream"):
            return int((2 if self.w16 else 1) * self.w8.size)
        return self.weight_bytes_portable

    @property
    def pad_row_bytes(self) -> int:
        """The row of input zero points this layer reads for a row of vertical padding, in
        bytes (0: its kernel takes NULL): a depthwise layer reads input width x channels, a
        window convolution each kernel row as a word (3 bytes more)."""
        if self.layer.kind == "dwconv" or self.extra.get("window"):
            _, w, c = self.layer.in_shape
            return w * c + (3 if self.extra.get("window") else 0)
        return 0

    @property
    def stream(self) -> np.ndarray | None:
        """The DSP build's stream (matrix engine, depthwise) in the chosen weight layout."""
        if self.layer.kind == "dwconv":
            if not self.extra.get("dsp_stream"):
                return None
            return dwconv_stream(self.w8.reshape(self.layer.weights.shape[1:]), self.rq, self.w16)
        if self.extra.get("window"):
            return window_stream(self.layer.weights, self.rq)
        if self.layer.kind not in ("conv", "fc"):
            return None
        return matmul_stream(self.w8, self.rq, self.extra["groups"], self.w16)


def _pair(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """int16 lanes (lo, hi) as int32 words."""
    u = (lo.astype(np.int64) & 0xFFFF) | ((hi.astype(np.int64) & 0xFFFF) << 16)
    return ((u + (1 << 31)) % (1 << 32) - (1 << 31)).astype(np.int32)


def _groups_of(w: np.ndarray, groups: int) -> np.ndarray:
    """(cout, k) int8 -> (cout, groups, 4) int64, zero-padded."""
    cout, k = w.shape
    g = np.zeros((cout, 4 * groups), np.int64)
    g[:, :k] = w
    return g.reshape(cout, groups, 4)


def pack_words_int8(w: np.ndarray, groups: int) -> np.ndarray:
    """(cout, k) int8 -> (cout, groups) int32: the bytes (w0 + 128, -w1, w2 + 128, -w3)
    per group of 4 (mm_nn_matmul.c: SMLAD reads the word as (w0 + 128 - 256 w1,
    w2 + 128 - 256 w3), SXTB16 ROR 8 makes (-w1, -w3))."""
    g = _groups_of(w, groups)
    b = np.stack([g[..., 0] + 128, -g[..., 1], g[..., 2] + 128, -g[..., 3]], axis=-1) & 0xFF
    u = b[..., 0] | b[..., 1] << 8 | b[..., 2] << 16 | b[..., 3] << 24
    return ((u + (1 << 31)) % (1 << 32) - (1 << 31)).astype(np.int32)


def int8_bias_term(w: np.ndarray) -> np.ndarray:
    """What the int8 layout adds to each channel's sum besides the pixel's own
    correction: 129 (w1 + w3) over the groups; the bias subtracts it."""
    return 129 * w.astype(np.int64)[:, 1::4].sum(axis=1) + 129 * w.astype(np.int64)[:, 3::4].sum(axis=1)


def pack_words_int16(w: np.ndarray, groups: int) -> np.ndarray:
    """(cout, k) int8 -> (cout, groups, 2) int32: (w0, w2) (w1, w3) doubled."""
    g = 2 * _groups_of(w, groups)
    return np.stack([_pair(g[..., 0], g[..., 2]), _pair(g[..., 1], g[..., 3])], axis=-1)


def int8_layout_ok(w: np.ndarray) -> bool:
    """The int8 layout negates weights: -128 has no int8 negation."""
    return bool(w.size == 0 or w.min() >= -127)


def matmul_stream(w: np.ndarray, rq: np.ndarray, groups: int, w16: bool) -> np.ndarray:
    """The stream mm_nn_matmul.c reads: per channel pair the two biases, per
    group the pair's weight words, then (mult, add, shift) twice. An odd last
    channel is paired with a dummy one (zero weights, its records repeated) whose
    output the kernel drops. rq[:, 0] is twice the bias (zero points included)."""
    if len(rq) % 2:
        w = np.concatenate([w, np.zeros((1, w.shape[1]), w.dtype)])
        rq = np.concatenate([rq, rq[-1:]])
    cout = len(rq)
    if w16:
        words = pack_words_int16(w, groups)                       # (cout, groups, 2)
        bias = rq[:, 0].astype(np.int64)
    else:
        words = pack_words_int8(w, groups)[:, :, None]            # (cout, groups, 1)
        bias = rq[:, 0].astype(np.int64) // 2 - int8_bias_term(w)
    out = []
    for c in range(0, cout, 2):
        cs = list(range(c, min(c + 2, cout)))
        out.append(bias[cs])
        out.append(np.stack([words[j] for j in cs], axis=1).reshape(-1))   # g, channel, word
        for j in cs:
            out.append(rq[j, 1:4])
    return np.concatenate(out).astype(np.int32) if out else np.zeros(0, np.int32)


def pack_dwconv_dsp(w: np.ndarray) -> np.ndarray:
    """(kh, kw, c) int8, c % 4 == 0 -> (c/4, taps, 2) int32: per group of 4
    channels, per tap, the words (w_c0, w_c2) (w_c1, w_c3), doubled."""
    kh, kw, c = w.shape
    taps = (2 * w.astype(np.int64)).reshape(kh * kw, c // 4, 4)   # tap, group, lane
    even = _pair(taps[:, :, 0], taps[:, :, 2])                      # tap, group
    odd = _pair(taps[:, :, 1], taps[:, :, 3])
    return np.stack([even.T, odd.T], axis=2).astype(np.int32)


def pack_dwconv_int8(w: np.ndarray) -> np.ndarray:
    """(kh, kw, c) int8, c % 4 == 0 -> (c/4, taps) int32: per group of 4
    channels, per tap, the word (w_c0, w_c1, w_c2, w_c3) (SXTB16 splits it)."""
    kh, kw, c = w.shape
    b = (w.astype(np.int64) & 0xFF).reshape(kh * kw, c // 4, 4)
    u = b[..., 0] | b[..., 1] << 8 | b[..., 2] << 16 | b[..., 3] << 24
    return ((u + (1 << 31)) % (1 << 32) - (1 << 31)).T.astype(np.int32)


def dwconv_stream(w: np.ndarray, rq: np.ndarray, w16: bool = True) -> np.ndarray:
    """The stream mm_nn_dwconv.c reads: per group of 4 channels the four
    biases (doubled with int16 weights), the taps' weight words, then
    (mult, add, shift) four times."""
    words = pack_dwconv_dsp(w) if w16 else pack_dwconv_int8(w)
    bias = rq[:, 0].astype(np.int64) if w16 else rq[:, 0].astype(np.int64) // 2
    out = []
    for g in range(len(rq) // 4):
        out.append(bias[4 * g:4 * g + 4])
        out.append(words[g].reshape(-1))
        out.append(rq[4 * g:4 * g + 4, 1:4].reshape(-1))
    return np.concatenate(out).astype(np.int32)


WINDOW_PAIRS = 5


def window_conv(lay: Layer) -> bool:
    """A CONV_2D of three kernel rows of at most three values each (kw * in_c <= 3: a 3x3
    convolution on one channel, as a first layer is): on the DSP path mm_nn_conv_window.c
    gathers each window once into five int16 pairs, and every output channel costs five
    SMLAD."""
    if lay.kind != "conv":
        return False
    _, kh, kw, cin = lay.weights.shape
    return kh == 3 and kw * cin <= 3


def window_stream(w: np.ndarray, rq: np.ndarray) -> np.ndarray:
    """(cout, 3, kw, cin) int8 weights, kw * cin <= 3 -> the stream
    mm_nn_conv_window.c reads: per output channel twice its bias (rq[:, 0]), the
    doubled weights as int16 pairs in the order of the window's pairs (kernel rows a,
    b, c, each read as one word of bytes 0-3 and split by SXTB16): (a0, a2) (b0, b2)
    (c0, c2) (a1, b1) (c1, c3), then (mult, add, shift). Bytes past a kernel row's
    kw * cin values meet zero weights."""
    cout = w.shape[0]
    r = np.zeros((cout, 3, 4), np.int64)
    r[:, :, :w.shape[2] * w.shape[3]] = 2 * w.reshape(cout, 3, -1).astype(np.int64)
    pairs = np.stack([_pair(r[:, 0, 0], r[:, 0, 2]), _pair(r[:, 1, 0], r[:, 1, 2]),
                      _pair(r[:, 2, 0], r[:, 2, 2]), _pair(r[:, 0, 1], r[:, 1, 1]),
                      _pair(r[:, 2, 1], r[:, 2, 3])], axis=1)
    return np.concatenate([rq[:, :1], pairs, rq[:, 1:4]], axis=1).astype(np.int32).reshape(-1)


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


def conv_scratch(k: int, groups: int, general: bool, staged: int = 0) -> int:
    """Bytes of scratch mm_nn_conv_row / conv_1x1_row / fc use (the larger of
    the two paths), see those files: two staged windows, then the packed pair
    (DSP) or the two pixels (portable)."""
    dsp = (2 * staged if general else 0) + 8 + 16 * groups
    portable = (2 * staged + 2 * k) if general else 0
    return max(dsp, portable)


# Flash the DSP build may spend beyond the model's int8 weights (int16 layouts, padding).
FLASH_ALLOWANCE = 0.10


def choose_weight_layouts(kdata: dict, policy: str = "auto") -> None:
    """The DSP build's weight layout of each matrix-engine and depthwise layer
    (kd.w16). int8 (the .tflite's bytes) costs instructions over int16 (twice
    the flash): in the matrix engine one SXTB16 per 4 weights and channel
    pair plus 7 per 2x2 tile, i.e. about (pixels / 2) (out_c / 2) (groups + 7);
    in a depthwise 3x3, two SXTB16 per tap and one doubling per output, i.e.
    about pixels (c / 4) (2 taps + 4). "auto" gives int16 to the layers that
    gain most per extra byte first while the DSP build's weights stay within
    (1 + FLASH_ALLOWANCE) x the int8 weights; "int8" and "int16" force one
    layout (int16 also where the int8 layout cannot hold a weight)."""
    # (a window convolution has one layout, int16 pairs: it is no candidate)
    cand = [kd for kd in kdata.values() if not kd.extra.get("window")
            and (kd.layer.kind in ("conv", "fc") or kd.extra.get("dsp_stream"))]
    for kd in cand:
        forced = kd.layer.kind in ("conv", "fc") and not int8_layout_ok(kd.w8)
        kd.w16 = policy == "int16" or forced
    if policy != "auto":
        return
    budget = (1 + FLASH_ALLOWANCE) * sum(kd.weight_bytes_model for kd in kdata.values())

    def gain_per_byte(kd):
        shape = kd.layer.out_shape
        pixels = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
        if kd.layer.kind == "dwconv":
            c = kd.layer.out_shape[-1]
            taps = int(np.prod(kd.layer.weights.shape[1:3]))
            return pixels * (c / 4) * (2 * taps + 4) / kd.w8.size
        cout, g = len(kd.rq), kd.extra["groups"]
        return (pixels / 2) * (cout / 2) * (g + 7) / (4 * cout * g)

    for kd in sorted(cand, key=lambda kd: (-gain_per_byte(kd), kd.layer.index)):
        if kd.w16:
            continue
        kd.w16 = True
        if sum(k.weight_bytes_dsp for k in kdata.values()) > budget:
            kd.w16 = False


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
        kd.extra["groups"] = (kd.k + 3) // 4
        kd.rq, kd.exact = requant_records(lay, w_rows)
        kd.w8 = w_rows.astype(np.int8)
        kd.w16 = not int8_layout_ok(kd.w8)
        kd.extra["pointwise"] = not general
        kd.extra["window"] = window_conv(lay)
        kd.scratch = conv_scratch(kd.k, kd.extra["groups"], general, kh * row_k)
    elif lay.kind == "fc":
        w_rows = lay.weights
        kd.k = w_rows.shape[1]
        kd.extra["row_k"] = kd.k
        kd.extra["groups"] = (kd.k + 3) // 4
        kd.rq, kd.exact = requant_records(lay, w_rows)
        kd.w8 = w_rows.astype(np.int8)
        kd.w16 = not int8_layout_ok(kd.w8)
        kd.scratch = conv_scratch(kd.k, kd.extra["groups"], False)
    elif lay.kind == "dwconv":
        w = lay.weights[0]                                  # kh, kw, c
        kh, kw, c = w.shape
        w_rows = w.reshape(kh * kw, c).T                    # c, taps
        kd.k = kh * kw
        kd.rq, kd.exact = requant_records(lay, w_rows)
        kd.w8 = w.reshape(-1).astype(np.int8)               # (ky, kx, c)
        kd.extra["dsp_stream"] = c % 4 == 0
        kd.w16 = True
    elif lay.kind == "avgpool":
        kd.scratch = 4 * lay.in_shape[-1]    # per-window sums (a global pool uses its own)
    elif lay.kind == "add":
        def lut(zp, m, s):
            x = (np.arange(-128, 128, dtype=np.int64) - zp) << p["left_shift"]
            return quant.mbqm_smaller_than_one(x, m, s).astype(np.int32)
        kd.extra["lut1"] = lut(p["zp1"], p["m1"], p["s1"])
        kd.extra["lut2"] = lut(p["zp2"], p["m2"], p["s2"])
    return kd
