"""firmware/lib/mm_clip (host build) == python/micromel/windows.py: windows,
silence gate and soft vote, on random clips with small custom constants."""
import ctypes
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from micromel import codegen
from micromel.boards import firmware
from micromel.clip import header as clip_header
from micromel.clip import reject
from micromel.clip import rules as win

W = win.WindowConfig(frames=5, hop_frames=2, silence_rms_dbfs=-30.0)
FR = win.Framing(hop_samples=4, frame_samples=8)
N_MELS, N_CLASSES = 3, 4


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    gen = tmp_path_factory.mktemp("gen")
    codegen.write_build_headers(gen)
    fe = SimpleNamespace(hop_length=FR.hop_samples, n_fft=FR.frame_samples, n_mels=N_MELS)
    text = clip_header.c_header(fe, W, N_CLASSES)
    (gen / "mm_clip_config.h").write_text(text)
    return ctypes.CDLL(str(firmware.build("native", gen_dir=gen)))


def run_c(lib, pcm, frames, scores):
    n_max = 64
    idx = np.zeros(n_max, np.int32)
    silent = np.zeros(n_max, np.uint8)
    energy = np.zeros(n_max, np.int64)
    copy = np.zeros((n_max, W.frames, N_MELS), np.int8)
    acc = np.zeros(N_CLASSES, np.int32)
    vote = np.zeros(1, np.int32)
    p = lambda a: a.ctypes.data_as(ctypes.c_void_p)  # noqa: E731
    lib.mm_host_clip_run.restype = ctypes.c_size_t
    n = lib.mm_host_clip_run(p(pcm), ctypes.c_size_t(len(pcm)), p(frames), ctypes.c_size_t(len(frames)),
                             p(scores), p(idx), p(silent), p(energy), p(copy), p(acc), p(vote))
    return idx[:n], silent[:n].astype(bool), energy[:n], copy[:n], acc, int(vote[0])


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 120), st.integers(0, 2**32 - 1), st.sampled_from([0, 30, 3000, 32767]))
def test_c_windows_gate_vote_match_python(lib, n_samples, seed, amp):
    rng = np.random.default_rng(seed)
    pcm = rng.integers(-amp, amp + 1, n_samples).astype(np.int16) if amp else np.zeros(n_samples, np.int16)
    # quiet stretches make the gate decide both ways within one clip
    if n_samples > 20 and seed % 2:
        pcm[: n_samples // 2] //= 1000
    pcm = win.pad_clip(pcm, W, FR)
    n_frames = FR.n_frames(len(pcm))
    frames = rng.integers(-128, 128, (n_frames, N_MELS)).astype(np.int8)
    n_win = win.n_windows(n_frames, W)
    scores = rng.integers(-128, 128, (max(n_win, 1), N_CLASSES)).astype(np.int8)

    idx, silent, energy, copy, acc, vote = run_c(lib, pcm, frames, scores)

    assert list(idx) == list(range(n_win))
    assert list(energy) == win.window_energies(pcm, n_win, W, FR)
    assert list(~silent) == list(win.nonsilent_mask(pcm, n_win, W, FR))
    assert np.array_equal(copy, win.cut_windows(frames, W))
    py_vote, py_acc = win.soft_vote(scores[:n_win], ~silent) if n_win else (win.SILENCE, np.zeros(N_CLASSES))
    assert vote == py_vote
    assert np.array_equal(acc, py_acc)


def test_full_scale_square_energy_no_overflow(lib):
    pcm = np.tile(np.array([32767, -32768], np.int16), 40)
    idx, silent, energy, *_ = run_c(lib, pcm, np.zeros((FR.n_frames(len(pcm)), N_MELS), np.int8),
                                    np.zeros((64, N_CLASSES), np.int8))
    n = win.n_windows(FR.n_frames(len(pcm)), W)
    assert list(energy) == win.window_energies(pcm, n, W, FR)
    assert not silent.any()


def c_floors(rule):
    """The rule's floor per class as the uint16 array C takes (MM_CLIP_REJECT_MIN_TOP)."""
    return np.array(rule.floors(N_CLASSES), np.uint16)


@settings(max_examples=400, deadline=None)
@given(st.integers(0, 400), st.integers(0, 2**32 - 1), st.integers(0, 256), st.integers(0, 256),
       st.booleans(), st.integers(-1, N_CLASSES - 1), st.booleans())
def test_c_rejection_matches_twin(lib, n, seed, min_top, min_margin, exact, other, per_class):
    """mm_clip_decide == clip.reject.decide on random vote totals and rules (with and without
    an other class, with and without a floor per class); `exact` puts the totals on the
    thresholds' edges (top == the voted class's floor * n, margin == min_margin * n +- 1)."""
    rng = np.random.default_rng(seed)
    floors = tuple(int(t) for t in rng.integers(0, 257, N_CLASSES)) if per_class else ()
    rule = reject.RejectConfig(min_top=min_top, min_margin=min_margin, other_class=other,
                               class_min_top=floors)
    acc = rng.integers(0, 255 * n + 1, N_CLASSES).astype(np.int32)
    if exact and n:
        b = int(rng.integers(N_CLASSES))
        acc[b] = min(255 * n, int(c_floors(rule)[b]) * n + int(rng.integers(-1, 2)))
        others = [c for c in range(N_CLASSES) if c != b]
        acc[others] = np.clip(acc[b] - min_margin * n + rng.integers(-1, 2, len(others)), 0, acc[b])
    lib.mm_host_clip_decide.restype = ctypes.c_int32
    fl = c_floors(rule)
    got = lib.mm_host_clip_decide(acc.ctypes.data_as(ctypes.c_void_p), ctypes.c_uint16(n),
                                  fl.ctypes.data_as(ctypes.c_void_p), ctypes.c_uint32(min_margin),
                                  ctypes.c_int32(other))
    assert got == reject.decide(acc, n, rule)
    # the shortcut the calibration uses (floor of the means) agrees with the rule
    pred, top, margin = reject.clip_stats(acc[None, :], np.array([n]))
    accepted = reject.accepted_mask(pred, top, margin, rule)[0]
    assert got == (win.SILENCE if n == 0 else pred[0] if accepted else reject.UNKNOWN)
    if n and pred[0] == other:
        assert got == reject.UNKNOWN


@settings(max_examples=300, deadline=None)
@given(st.integers(0, N_CLASSES - 1), st.integers(0, 255), st.integers(0, 256),
       st.integers(-1, N_CLASSES - 1), st.one_of(st.just(()), st.lists(
           st.integers(0, 256), min_size=N_CLASSES, max_size=N_CLASSES).map(tuple)))
def test_c_event_rule_matches_twin(lib, label, confidence, min_top, other, floors):
    """mm_clip_event_decide == clip.reject.event_label (what listen's text lines and
    mm_api_event_answer use on the device, and segment/listen name on the host)."""
    rule = reject.RejectConfig(min_top=min_top, other_class=other, class_min_top=floors)
    lib.mm_host_clip_event_decide.restype = ctypes.c_int32
    fl = c_floors(rule)
    got = lib.mm_host_clip_event_decide(ctypes.c_uint32(label), ctypes.c_uint32(confidence),
                                        fl.ctypes.data_as(ctypes.c_void_p), ctypes.c_int32(other))
    assert got == reject.event_label(label, confidence, rule)
    floor = max([min_top] + ([floors[label]] if floors else []))
    assert got == (reject.UNKNOWN if label == other or confidence < floor else label)


def test_rejection_off_is_the_closed_set_vote():
    rng = np.random.default_rng(1)
    for _ in range(200):
        n = int(rng.integers(0, 20))
        scores = rng.integers(-128, 128, (max(n, 1), N_CLASSES)).astype(np.int8)
        mask = np.arange(len(scores)) < n
        vote, acc = win.soft_vote(scores, mask)
        assert reject.decide(acc, n, reject.RejectConfig()) == vote
    assert reject.decide([256, 0, 0, 0], 1, reject.RejectConfig(min_top=256)) == 0
    assert reject.decide([255, 0, 0, 0], 1, reject.RejectConfig(min_top=256)) == reject.UNKNOWN
