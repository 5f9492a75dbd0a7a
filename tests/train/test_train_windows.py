"""Window rules (micromel.clip.rules): padding, cutting, the integer RMS gate and the soft vote,
plus their agreement with the training pipeline's cached windows."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from micromel.clip import rules as win
from micromel.frontend import FrontendConfig, features

FE = FrontendConfig(window_frames=32)
FR = win.Framing(hop_samples=FE.hop_length, frame_samples=FE.frame_length)
W = win.WindowConfig(frames=32, hop_frames=16, silence_rms_dbfs=-60.0)


def test_framing_matches_front_end():
    for n in (0, 511, 512, 767, 768, 16000, 16640):
        assert FR.n_frames(n) == FE.n_frames(n)
        assert len(features(np.zeros(n, np.int16), FE)) == FR.n_frames(n)


def test_window_samples_and_padding():
    ws = win.window_samples(W, FR)
    assert ws == (W.frames - 1) * FE.hop_length + FE.n_fft
    short = np.arange(1000, dtype=np.int16)
    p = win.pad_clip(short, W, FR)
    assert len(p) == ws and np.array_equal(p[:1000], short) and not p[1000:].any()
    long = np.ones(ws + 5, np.int16)
    assert win.pad_clip(long, W, FR) is not None and len(win.pad_clip(long, W, FR)) == ws + 5
    # a padded short clip gives exactly one window
    feats = features(p, FE)
    assert len(feats) == W.frames and win.n_windows(len(feats), W) == 1


@pytest.mark.parametrize("n_frames,expected", [(0, 0), (31, 0), (32, 1), (47, 1), (48, 2), (80, 4)])
def test_n_windows(n_frames, expected):
    assert win.n_windows(n_frames, W) == expected


def test_cut_windows_positions():
    f = np.arange(80 * 3, dtype=np.int64).reshape(80, 3).astype(np.int8)
    w = win.cut_windows(f, W)
    assert w.shape == (4, 32, 3)
    for k in range(4):
        assert np.array_equal(w[k], f[16 * k:16 * k + 32])


def test_gate_threshold_is_integer_formula():
    ws = win.window_samples(W, FR)
    thr = win.gate_threshold(W, FR)
    assert isinstance(thr, int)
    assert thr == round(ws * 32768.0 ** 2 * 10 ** (-6.0))
    # RMS of a window exactly at the threshold is silence_rms_dbfs
    assert math.isclose(10 * math.log10(thr / ws / 32768 ** 2), -60.0, abs_tol=1e-6)


def _four_squares(n: int) -> list[int]:
    """Four integers whose squares sum to n (Lagrange), found greedily with backtracking."""
    def rec(n, k):
        if n == 0:
            return []
        if k == 0:
            return None
        r = math.isqrt(n)
        for a in range(r, max(0, r - 40), -1):
            rest = rec(n - a * a, k - 1)
            if rest is not None:
                return [a] + rest
        return None
    return rec(n, 4)


@pytest.mark.parametrize("delta,silent", [(0, False), (-1, True), (1, False)])
def test_gate_boundary_is_exact(delta, silent):
    """Sum of squares == threshold is NOT silent; one less is silent."""
    thr = win.gate_threshold(W, FR)
    parts = _four_squares(thr + delta)
    assert sum(p * p for p in parts) == thr + delta and max(parts) < 32768
    pcm = np.zeros(win.window_samples(W, FR), np.int16)
    pcm[[10, 500, 2000, 7000][:len(parts)]] = parts
    assert win.window_energies(pcm, 1, W, FR) == [thr + delta]
    assert bool(win.nonsilent_mask(pcm, 1, W, FR)[0]) is (not silent)


def test_gate_counts_the_samples_each_window_covers():
    ws = win.window_samples(W, FR)
    hop = W.hop_frames * FR.hop_samples
    pcm = np.zeros(ws + 3 * hop, np.int16)
    pcm[ws + 2 * hop + 7] = 30000       # only in the last window
    pcm[0] = 30000                       # only in the first
    e = win.window_energies(pcm, 4, W, FR)
    assert e == [30000 ** 2, 0, 0, 30000 ** 2]
    rng = np.random.default_rng(1)
    x = rng.integers(-32768, 32768, ws + 5 * hop).astype(np.int16)
    e = win.window_energies(x, 6, W, FR)
    for k in range(6):
        seg = x[k * hop:k * hop + ws].astype(np.int64)
        assert e[k] == int((seg * seg).sum())


def test_soft_vote_rules():
    s = np.array([[100, -128, 50], [-100, 127, -128]], dtype=np.int8)
    cls, acc = win.soft_vote(s, np.array([True, True]))
    assert acc.tolist() == [228 + 28, 0 + 255, 178 + 0] and cls == 0
    # ties: lowest index wins
    t = np.array([[0, 0, -5]], dtype=np.int8)
    assert win.soft_vote(t, np.array([True]))[0] == 0
    # silent windows do not vote
    assert win.soft_vote(s, np.array([False, True]))[0] == 1
    # all silent -> silence
    assert win.soft_vote(s, np.array([False, False]))[0] == win.SILENCE
    with pytest.raises(TypeError):
        win.soft_vote(s.astype(np.int32), np.array([True, True]))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(-128, 127), min_size=4, max_size=4), min_size=1, max_size=9),
       st.lists(st.booleans(), min_size=9, max_size=9))
def test_soft_vote_is_mean_of_dequantized_probabilities(rows, mask):
    s = np.array(rows, dtype=np.int8)
    ns = np.array(mask[:len(rows)])
    cls, acc = win.soft_vote(s, ns)
    if not ns.any():
        assert cls == -1
        return
    mean = ((s[ns].astype(np.float64) + 128) / 256).mean(axis=0)
    best = np.flatnonzero(np.isclose(mean, mean.max(), rtol=0, atol=1e-12))
    assert cls == best[0]
    assert acc.dtype == np.int32 and acc.tolist() == (s[ns].astype(np.int64) + 128).sum(0).tolist()


def test_training_windows_follow_the_rules():
    """The cached energies and windows of micromel.train.features agree with micromel.clip.rules."""
    from micromel.train import features as tr

    rng = np.random.default_rng(7)
    clips = [
        (rng.standard_normal(300) * 8000).astype(np.int16),                     # shorter than a window
        np.concatenate([(rng.standard_normal(4000) * 20000), np.zeros(20000)]).astype(np.int16),
        (rng.standard_normal(30000) * 30).astype(np.int16),                      # quiet
    ]
    feats, energy = [], []
    for c in clips:
        p = win.pad_clip(c, W, FR)
        f = features(p, FE)
        feats.append(f)
        energy.append(tr._energies(p, len(f), W, FR))
    cf = tr.ClipFeatures(feats, energy, np.zeros(3, np.int32), np.arange(3, dtype=np.int32),
                         np.zeros(3, np.int32))
    x, ns, own = tr.eval_windows(cf, W, FR)
    for i, c in enumerate(clips):
        wins, mask = win.clip_windows(c, lambda p: features(p, FE), W, FR)
        assert np.array_equal(x[own == i], wins)
        assert np.array_equal(ns[own == i], mask)
    assert ns[own == 0].all() and not ns[own == 2].any()


def test_macro_f1_averages_over_the_classes_the_clips_hold():
    """A 5-class model evaluated on clips of two classes: its macro-F1 is over those two, as
    the per-source table's (classes with no clip have no F1; averaging in their zeros gave
    38 % where both classes' F1 were 95 %)."""
    from micromel.train.evaluate import clip_metrics

    labels = ["cymbal", "hihat", "kick", "snare", "tom"]
    y = np.array([2] * 10 + [3] * 10)
    pred = y.copy()
    pred[0] = 3                                    # one kick called snare
    m = clip_metrics(y, pred, labels)
    f_kick, f_snare = 2 * 9 / (2 * 9 + 1), 2 * 10 / (2 * 10 + 1)
    assert m["macro_f1"] == pytest.approx((f_kick + f_snare) / 2)
    assert m["per_class"]["tom"]["support"] == 0
    pred[1] = 4                                    # a kick called tom: tom's F1 is 0, not averaged
    assert clip_metrics(y, pred, labels)["macro_f1"] == pytest.approx((2 * 8 / (2 * 8 + 2) + f_snare) / 2)
    # clips of one class: no macro-F1 (its precision is 1 by construction), as per source
    assert clip_metrics(y[:10], pred[:10], labels)["macro_f1"] is None
