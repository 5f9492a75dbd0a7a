"""The C segmenter (firmware/lib/mm_segment, host build) equals the Python twin
(micromel.segment.machine) event for event, on random and adversarial window sequences."""
import ctypes

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from micromel.link import host as native
from micromel.segment.config import SegParams, margin_q8
from micromel.segment.machine import EnergyGate, Event, segment_windows
from micromel.segment.refine import ring_size


@pytest.fixture(scope="module")
def lib():
    lib = native.load()
    lib.mm_host_seg_run.restype = ctypes.c_int64
    lib.mm_host_seg_state_size.restype = ctypes.c_uint32
    lib.mm_host_seg_max_classes.restype = ctypes.c_uint32
    lib.mm_host_seg_max_median.restype = ctypes.c_uint32
    lib.mm_host_seg_frame_ring.restype = ctypes.c_uint32
    return lib


def flat(p: SegParams):
    vals = [p.n_classes, p.event_mask, p.median, p.enter_q, p.exit_q, p.min_windows, p.max_gap,
            p.max_windows, p.gate_threshold, p.calib_windows, p.margin_q8, p.hop_frames,
            p.frame_offset, p.refine, p.refine_min_q, p.frame_ring, p.mean, p.suppress]
    return (ctypes.c_int64 * len(vals))(*vals)


def frames_per_window(p: SegParams, n: int) -> list[int]:
    """Frames each window completes: the first one F, each later one S."""
    return [p.window_frames if w == 0 else p.hop_frames for w in range(n)]


def c_events(lib, p, scores, silent, energies=None):
    n = len(silent)
    counts = frames_per_window(p, n)
    energies = np.zeros(sum(counts), dtype=np.uint64) if energies is None else energies
    sc = np.ascontiguousarray(scores, dtype=np.int8).reshape(n, p.n_classes)
    sil = np.ascontiguousarray(silent, dtype=np.uint8)
    en = np.ascontiguousarray(energies, dtype=np.uint64)
    cnt = np.ascontiguousarray(counts, dtype=np.uint32)
    cap = n + 8
    out = np.zeros(6 * cap, dtype=np.uint32)
    k = lib.mm_host_seg_run(flat(p), sc.ctypes.data_as(ctypes.c_void_p),
                            sil.ctypes.data_as(ctypes.c_void_p), en.ctypes.data_as(ctypes.c_void_p),
                            cnt.ctypes.data_as(ctypes.c_void_p), ctypes.c_uint32(n),
                            out.ctypes.data_as(ctypes.c_void_p), ctypes.c_uint32(cap))
    assert k >= 0, "C rejected params the Python twin accepted"
    return [Event(int(a), int(b), int(c), int(d), int(e), int(f))
            for a, b, c, d, e, f in out[: 6 * k].reshape(-1, 6)]


def py_events(p, scores, silent, energies=None):
    counts = frames_per_window(p, len(silent))
    energies = [0] * sum(counts) if energies is None else [int(e) for e in energies]
    edges = np.concatenate([[0], np.cumsum(counts)]).astype(int)
    return segment_windows(((scores[w], bool(silent[w]), energies[edges[w]:edges[w + 1]])
                            for w in range(len(silent))), p)


COMPILED_RING = 128     # MM_SEG_FRAME_RING of the host build (no model: defaults)


@st.composite
def params_st(draw):
    n = draw(st.integers(1, 8))
    mask = draw(st.integers(1, (1 << n) - 1))
    enter = draw(st.integers(-128, 127))
    exit_ = draw(st.integers(-128, enter))
    min_w = draw(st.integers(1, 6))
    max_w = draw(st.sampled_from([0, 0, min_w, min_w + 1, min_w + 5, 20]))
    hop = draw(st.integers(1, 8))
    frames = draw(st.integers(3 * hop, 3 * hop + 24))
    median = draw(st.sampled_from([1, 1, 3, 5, 7, 15]))
    refine = draw(st.integers(0, 1))
    if refine and ring_size(hop, frames, median) > COMPILED_RING:
        median = 1
    return SegParams(n_classes=n, event_mask=mask, median=median,
                     enter_q=enter, exit_q=exit_, min_windows=min_w,
                     max_gap=draw(st.integers(0, 6)), max_windows=max_w,
                     gate_threshold=0, calib_windows=0, hop_frames=hop, window_frames=frames,
                     hop_samples=hop * 256, window_samples=(frames - 1) * 256 + 512,
                     refine=refine, refine_min_q=draw(st.sampled_from([0, 1, 16, 40])),
                     mean=draw(st.integers(0, 1)), suppress=draw(st.sampled_from([0, 0, 3, 8, 12, 30])))


def energies_st(draw, n_frames: int) -> np.ndarray:
    """Frame energies with runs (words), silence, ties and extremes."""
    out = []
    while len(out) < n_frames:
        level = draw(st.sampled_from([0, 1, 7, 8, 255, 10**6, 2**40, 2**44 - 1]) | st.integers(0, 2**44))
        out += [level] * draw(st.integers(1, 10))
    return np.array(out[:n_frames], dtype=np.uint64)


@st.composite
def case_st(draw):
    p = draw(params_st())
    n = draw(st.integers(0, 120))
    # adversarial values: exactly at / one below the thresholds, extremes, ties
    near = [p.enter_q, p.enter_q - 1 if p.enter_q > -128 else p.enter_q, p.exit_q,
            max(-128, p.exit_q - 1), -128, 127, 0]
    value = st.one_of(st.sampled_from(near), st.integers(-128, 127))
    run_len = st.integers(1, 12)
    scores, silent = [], []
    while len(silent) < n:
        row = [draw(value) for _ in range(p.n_classes)]
        k = draw(run_len)                 # runs make events; single rows make blips
        sil = draw(st.booleans()) and draw(st.booleans())
        scores += [row] * k
        silent += [sil] * k
    scores, silent = scores[:n], silent[:n]
    energies = energies_st(draw, sum(frames_per_window(p, n)))
    return (p, np.array(scores, dtype=np.int8).reshape(n, p.n_classes), np.array(silent, dtype=bool),
            energies)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case_st())
def test_c_equals_python_adversarial(lib, case):
    p, scores, silent, energies = case
    assert c_events(lib, p, scores, silent, energies) == py_events(p, scores, silent, energies)


@settings(max_examples=60, deadline=None)
@given(params_st(), st.integers(0, 2**31 - 1))
def test_c_equals_python_random_long(lib, p, seed):
    rng = np.random.default_rng(seed)
    n = 2000
    # smoothly varying scores so events of all lengths occur
    walk = np.cumsum(rng.integers(-40, 41, size=(n, p.n_classes)), axis=0)
    scores = np.clip(walk % 512 - 256, -128, 127).astype(np.int8)
    silent = rng.random(n) < 0.05
    # frame energies: a log random walk (beds and words of every level)
    n_frames = sum(frames_per_window(p, n))
    energies = (2.0 ** np.clip(np.cumsum(rng.normal(0, 1.5, n_frames)) % 60, 0, 44)).astype(np.uint64)
    assert c_events(lib, p, scores, silent, energies) == py_events(p, scores, silent, energies)


def test_c_rejects_params_beyond_its_compiled_sizes(lib):
    p = SegParams(n_classes=2, event_mask=1, median=lib.mm_host_seg_max_median() + 2,
                    enter_q=0, exit_q=0, min_windows=1, max_gap=0, max_windows=0,
                    gate_threshold=0, calib_windows=0)
    sc = np.zeros(2, dtype=np.int8)
    sil = np.zeros(1, dtype=np.uint8)
    out = np.zeros(6, dtype=np.uint32)
    en = np.zeros(p.window_frames, dtype=np.uint64)
    cnt = np.array([p.window_frames], dtype=np.uint32)

    def run(q):
        return lib.mm_host_seg_run(flat(q), sc.ctypes.data_as(ctypes.c_void_p),
                                   sil.ctypes.data_as(ctypes.c_void_p), en.ctypes.data_as(ctypes.c_void_p),
                                   cnt.ctypes.data_as(ctypes.c_void_p), 1,
                                   out.ctypes.data_as(ctypes.c_void_p), 1)
    assert run(p) == -1
    # a refinement that would look further back than the compiled ring holds
    q = SegParams(n_classes=2, event_mask=1, median=15, enter_q=0, exit_q=0, min_windows=1,
                  max_gap=0, max_windows=0, gate_threshold=0, calib_windows=0, hop_frames=12,
                  window_frames=64, hop_samples=3072, window_samples=16640, refine=1)
    assert q.frame_ring > lib.mm_host_seg_frame_ring() and run(q) == -1


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 10), st.integers(0, 30), st.integers(0, 2**44),
       st.lists(st.integers(0, 2**44), max_size=60))
def test_gate_c_equals_python(lib, calib, margin_db, fixed, energies):
    p = SegParams(n_classes=1, event_mask=1, median=1, enter_q=0, exit_q=0, min_windows=1,
                    max_gap=0, max_windows=0, gate_threshold=fixed, calib_windows=calib,
                    margin_q8=margin_q8(margin_db))
    e = np.array(energies, dtype=np.uint64)
    out = np.zeros(len(e), dtype=np.uint8)
    lib.mm_host_seg_gate_run(flat(p), e.ctypes.data_as(ctypes.c_void_p), ctypes.c_uint32(len(e)),
                             out.ctypes.data_as(ctypes.c_void_p))
    g = EnergyGate(p)
    assert [bool(x) for x in out] == [g.silent(int(v)) for v in energies]


def test_state_is_constant_memory(lib):
    # one fixed-size struct: nothing else is allocated, whatever the stream length
    size = lib.mm_host_seg_state_size()
    assert size <= 120 + lib.mm_host_seg_max_median() * lib.mm_host_seg_max_classes() \
        + 2 * lib.mm_host_seg_frame_ring()
