"""The engine's integer arithmetic and layouts, without TensorFlow or a
build: TFLite's primitives, the fast requantization identity the kernels
rely on, the DSP weight layouts, the device's random inputs."""
import math

import numpy as np
import pytest

from micromel.engine import kernels, quant, runner


def test_quantize_multiplier_matches_tflite_rules():
    assert quant.quantize_multiplier(0.5) == (1 << 30, 0)
    assert quant.quantize_multiplier(1.0) == (1 << 30, 1)
    assert quant.quantize_multiplier(0.0) == (0, 0)
    assert quant.quantize_multiplier(1e-12) == (0, 0)          # shift below -31: zero
    q, s = quant.quantize_multiplier(0.3)
    assert (1 << 30) <= q < (1 << 31) and abs(q * 2.0 ** (s - 31) - 0.3) < 1e-9
    # rounding up to 2^31 renormalizes
    m = (2 ** 31 - 0.25) / 2 ** 31
    assert quant.quantize_multiplier(m) == (1 << 30, 1)


def test_srdhm_and_rounding_divide_by_pot():
    assert int(quant.srdhm(quant.INT32_MIN, quant.INT32_MIN)) == quant.INT32_MAX
    # round half away from zero
    assert [int(v) for v in quant.rounding_divide_by_pot(np.array([5, -5, 6, -6, 7, -7]), 1)] == \
        [3, -3, 3, -3, 4, -4]
    # SaturatingRoundingDoublingHighMul rounds half up (its nudge and the
    # truncating division make -x.5 go to -x)
    a = np.array([1 << 30, -(1 << 30), 12345, -12345])
    want = [int(math.floor(x * (1 << 30) / 2 ** 31 + 0.5)) for x in a.tolist()]
    assert quant.srdhm(a, 1 << 30).tolist() == want == [536870912, -536870912, 6173, -6172]


@pytest.mark.parametrize("seed", range(4))
def test_fast_requantization_equals_tflite(seed):
    """mm_rq_fast: (add + smmlar(2*acc, mult)) >> shift, with
    add = 2^(shift-1) + zp*2^shift and the sign of acc, equals TFLite's
    MultiplyByQuantizedMultiplier + zp for every accumulator within bounds
    (including exact ties)."""
    rng = np.random.default_rng(seed)
    for _ in range(300):
        m = float(np.exp(rng.uniform(np.log(1e-6), np.log(0.49))))
        q, s = quant.quantize_multiplier(m)
        e = -s
        if not 1 <= e <= kernels.MAX_FAST_SHIFT:
            continue
        zp = int(rng.integers(-128, 128))
        rq = np.array([[0, q, (1 << (e - 1)) + (zp << e), e]])
        acc = np.concatenate([rng.integers(-2 ** 29, 2 ** 29, 400), rng.integers(-3000, 3000, 400),
                              [0, 1, -1, 2 ** 29 - 1, -2 ** 29]])
        # accumulators that land exactly on rounding ties of the first step
        k = rng.integers(-1000, 1000, 50)
        ties = (k * (1 << 31) + (1 << 30)) // q
        acc = np.concatenate([acc, ties, ties + 1, ties - 1, -ties])
        acc = acc[np.abs(acc) < 2 ** 29]
        got = kernels.fast_requant(acc, np.broadcast_to(rq, (len(acc), 4)))
        assert np.array_equal(got, quant.mbqm(acc, q, s) + zp)


def _lanes(words):
    words = np.asarray(words, np.int64)
    return ((words & 0xFFFF) ^ 0x8000) - 0x8000, (words >> 16 & 0xFFFF ^ 0x8000) - 0x8000


def _sxtb16_ror8(words):
    u = np.asarray(words, np.int64) & 0xFFFFFFFF
    return ((u >> 8 & 0xFF) ^ 0x80) - 0x80, ((u >> 24 & 0xFF) ^ 0x80) - 0x80


def test_matmul_int8_layout_identity():
    """The int8 stream words, read as SMLAD reads them (raw int16 lanes, and
    SXTB16 ROR 8), against the pixel words mm_nn_pack makes (X = SXTB16(v),
    Y = REV16(v ^ 0x7FFF7FFF)), give sum(v w) + 128 (v0 + v2) + 129 (w1 + w3)
    for every int8 input and symmetric weight: the identity mm_nn_matmul.c
    relies on, at the extremes and at random."""
    rng = np.random.default_rng(1)
    w = rng.integers(-127, 128, size=(200, 4)).astype(np.int8)
    w[:4] = [[-127, -127, -127, -127], [127, 127, 127, 127], [-127, 127, -127, 127], [0, 0, 0, 0]]
    v = rng.integers(-128, 128, size=(200, 4))
    v[:4] = [[-128, 127, -128, 127], [127, -128, 127, -128], [-128, -128, -128, -128],
             [127, 127, 127, 127]]
    words = kernels.pack_words_int8(w, 1)[:, 0]
    raw_lo, raw_hi = _lanes(words)
    t_lo, t_hi = _sxtb16_ror8(words)
    for x in v:
        u = int(np.uint32(int(x[0]) & 0xFF | (int(x[1]) & 0xFF) << 8 | (int(x[2]) & 0xFF) << 16
                          | (int(x[3]) & 0xFF) << 24))
        X = (x[0], x[2])
        e = u ^ 0x7FFF7FFF
        y = ((e & 0x00FF00FF) << 8) | ((e >> 8) & 0x00FF00FF)        # REV16
        Y_lo, Y_hi = [((y >> s & 0xFFFF) ^ 0x8000) - 0x8000 for s in (0, 16)]
        assert -32768 <= Y_lo <= 32767 and Y_lo == -256 * x[0] - x[1] - 129
        got = X[0] * raw_lo + X[1] * raw_hi + Y_lo * t_lo + Y_hi * t_hi
        want = (w.astype(np.int64) @ x.astype(np.int64) + 128 * (x[0] + x[2])
                + kernels.int8_bias_term(w.astype(np.int64)))
        assert np.array_equal(got, want)


def _pair_word(lo, hi):
    u = (int(lo) & 0xFFFF) | (int(hi) & 0xFFFF) << 16
    return u - (1 << 32) if u >= 1 << 31 else u


def test_matmul_stream_layout():
    """Channel pairs: both biases, per group the pair's weight words, then the
    records; an odd last channel with a dummy (zero weights, its records again); int16
    words doubled (w0, w2) (w1, w3)."""
    w = (np.arange(3 * 6) - 9).reshape(3, 6).astype(np.int8)       # 3 channels, k = 6
    rq = np.array([[2 * (10 + c), 100 + c, 200 + c, 5] for c in range(3)], np.int32)
    s16 = kernels.matmul_stream(w, rq, 2, True)
    d = 2 * w.astype(int)
    lo, hi = _lanes(s16)
    pairs = list(zip(lo.tolist(), hi.tolist()))
    assert s16[0] == 20 and s16[1] == 22
    assert pairs[2:6] == [(d[0, 0], d[0, 2]), (d[0, 1], d[0, 3]), (d[1, 0], d[1, 2]), (d[1, 1], d[1, 3])]
    assert pairs[6:10] == [(d[0, 4], 0), (d[0, 5], 0), (d[1, 4], 0), (d[1, 5], 0)]
    assert list(s16[10:16]) == [100, 200, 5, 101, 201, 5]
    assert s16[16] == 24 and s16[17] == 24 and list(s16[-6:]) == [102, 202, 5] * 2
    assert list(s16[18:26:4]) == [_pair_word(d[2, 0], d[2, 2]), _pair_word(d[2, 4], 0)]
    assert not s16[20:22].any() and not s16[24:26].any()      # the dummy's weights
    assert len(s16) == 2 * (2 + 2 * 4 + 6)
    s8 = kernels.matmul_stream(w, rq, 2, False)
    assert s8[0] == 10 - kernels.int8_bias_term(w[:1])[0]
    assert list(s8[2:6]) == list(kernels.pack_words_int8(w[:2], 2).T.reshape(-1))
    assert len(s8) == 2 * (2 + 2 * 2 + 6)


def test_dwconv_dsp_layout():
    w = (np.arange(3 * 3 * 8) - 30).reshape(3, 3, 8).astype(np.int8)
    rq = np.array([[2 * c, 100 + c, 200 + c, 7] for c in range(8)], np.int32)
    s = kernels.dwconv_stream(w, rq).astype(np.int64)
    per = 4 + 18 + 12
    assert len(s) == 2 * per
    g1 = s[per:]                                     # channels 4..7
    assert list(g1[:4]) == [8, 10, 12, 14]
    lo, hi = _lanes(g1[4:22])
    # tap 4 (ky=1, kx=1): words 8, 9 = (w_c4, w_c6) (w_c5, w_c7), doubled
    assert (lo[8], hi[8], lo[9], hi[9]) == tuple(2 * int(w[1, 1, c]) for c in (4, 6, 5, 7))
    assert list(g1[22:25]) == [104, 204, 7] and list(g1[31:34]) == [107, 207, 7]


@pytest.mark.parametrize("kw,cin", [(3, 1), (1, 3), (1, 1), (2, 1)])
def test_window_conv_pairs_give_the_window_sum(kw, cin):
    """mm_nn_conv_window.c's pairs, made from each kernel row read as one word, times the
    stream's weight pairs: twice the window's sum plus the doubled bias, whatever the byte
    past the window holds."""
    rng = np.random.default_rng(kw * 10 + cin)
    cout = 5
    w = rng.integers(-128, 128, (cout, 3, kw, cin)).astype(np.int8)
    rq = np.stack([rng.integers(-1000, 1000, cout) * 2, rng.integers(1, 1 << 30, cout),
                   rng.integers(0, 100, cout), rng.integers(1, 20, cout)], axis=1).astype(np.int32)
    s = kernels.window_stream(w, rq).astype(np.int64).reshape(cout, 9)
    assert (s[:, 0] == rq[:, 0]).all() and (s[:, 6:] == rq[:, 1:]).all()
    for _ in range(20):
        rows = rng.integers(-128, 128, (3, 4))        # the words' bytes; past kw * cin: anything
        a, b, c = rows
        pairs = [(a[0], a[2]), (b[0], b[2]), (c[0], c[2]), (a[1], b[1]), (c[1], c[3])]
        lo, hi = _lanes(s[:, 1:6].reshape(-1))
        lo, hi = lo.reshape(cout, 5), hi.reshape(cout, 5)
        acc = s[:, 0] + sum(lo[:, j] * x0 + hi[:, j] * x1 for j, (x0, x1) in enumerate(pairs))
        n = kw * cin
        want = rq[:, 0] + 2 * (w.reshape(cout, 3, n).astype(np.int64) * rows[None, :, :n]).sum((1, 2))
        assert np.array_equal(acc, want)
    assert kernels.window_conv(_conv_layer(w)) and not kernels.window_conv(
        _conv_layer(np.zeros((2, 3, 2, 2), np.int8)))


def _conv_layer(w):
    from micromel.engine.plan import Layer

    return Layer(index=0, op="CONV_2D", kind="conv", inputs=[0], output=1, in_shape=(8, 8, 1),
                 out_shape=(8, 8, w.shape[0]), params={}, weights=w, bias=None, name="x")


def test_device_random_inputs_twin():
    xs, state = runner.random_inputs(1, 2, 6)
    x = 1
    raw = b""
    for _ in range(4):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        raw += x.to_bytes(4, "little")
    assert xs[0].tobytes() == raw[:6] and xs[1].tobytes() == raw[8:14]
    assert state == x
    more, _ = runner.random_inputs(state, 1, 6)
    both, _ = runner.random_inputs(1, 3, 6)
    assert np.array_equal(both[2], more[0])


def test_softmax_twin_close_to_float():
    from micromel.engine import ops

    x = np.array([[-128, -20, 0, 30, 127, 5]], np.int8)
    scale = 0.05
    m, ls, dmin = quant.softmax_params(1.0, scale)
    got = ops.softmax(x, {"mult": m, "left_shift": ls, "diff_min": dmin}).astype(int) + 128
    f = np.exp(scale * (x.astype(float) - x.max()))
    want = f / f.sum() * 256
    assert np.max(np.abs(got - want)) <= 1.5
