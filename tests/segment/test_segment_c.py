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


@pytest.fixture(scope="module")
def lib():
    lib = native.load()
    lib.mm_host_seg_run.restype = ctypes.c_int64
    lib.mm_host_seg_state_size.restype = ctypes.c_uint32
    lib.mm_host_seg_max_classes.restype = ctypes.c_uint32
    lib.mm_host_seg_max_median.restype = ctypes.c_uint32
    return lib


def flat(p: SegParams):
    vals = [p.n_classes, p.event_mask, p.median, p.enter_q, p.exit_q, p.min_windows, p.max_gap,
            p.max_windows, p.gate_threshold, p.calib_windows, p.margin_q8]
    return (ctypes.c_int64 * len(vals))(*vals)


def c_events(lib, p, scores, silent):
    n = len(silent)
    sc = np.ascontiguousarray(scores, dtype=np.int8).reshape(n, p.n_classes)
    sil = np.ascontiguousarray(silent, dtype=np.uint8)
    cap = n + 8
    out = np.zeros(4 * cap, dtype=np.uint32)
    k = lib.mm_host_seg_run(flat(p), sc.ctypes.data_as(ctypes.c_void_p),
                            sil.ctypes.data_as(ctypes.c_void_p), ctypes.c_uint32(n),
                            out.ctypes.data_as(ctypes.c_void_p), ctypes.c_uint32(cap))
    assert k >= 0, "C rejected params the Python twin accepted"
    return [Event(int(a), int(b), int(c), int(d)) for a, b, c, d in out[: 4 * k].reshape(-1, 4)]


def py_events(p, scores, silent):
    return segment_windows(((scores[w], bool(silent[w])) for w in range(len(silent))), p)


@st.composite
def params_st(draw):
    n = draw(st.integers(1, 8))
    mask = draw(st.integers(1, (1 << n) - 1))
    enter = draw(st.integers(-128, 127))
    exit_ = draw(st.integers(-128, enter))
    min_w = draw(st.integers(1, 6))
    max_w = draw(st.sampled_from([0, 0, min_w, min_w + 1, min_w + 5, 20]))
    return SegParams(n_classes=n, event_mask=mask, median=draw(st.sampled_from([1, 1, 3, 5, 7, 15])),
                       enter_q=enter, exit_q=exit_, min_windows=min_w,
                       max_gap=draw(st.integers(0, 6)), max_windows=max_w,
                       gate_threshold=0, calib_windows=0)


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
    return p, np.array(scores, dtype=np.int8).reshape(n, p.n_classes), np.array(silent, dtype=bool)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case_st())
def test_c_equals_python_adversarial(lib, case):
    p, scores, silent = case
    assert c_events(lib, p, scores, silent) == py_events(p, scores, silent)


@settings(max_examples=60, deadline=None)
@given(params_st(), st.integers(0, 2**31 - 1))
def test_c_equals_python_random_long(lib, p, seed):
    rng = np.random.default_rng(seed)
    n = 2000
    # smoothly varying scores so events of all lengths occur
    walk = np.cumsum(rng.integers(-40, 41, size=(n, p.n_classes)), axis=0)
    scores = np.clip(walk % 512 - 256, -128, 127).astype(np.int8)
    silent = rng.random(n) < 0.05
    assert c_events(lib, p, scores, silent) == py_events(p, scores, silent)


def test_c_rejects_params_beyond_its_compiled_sizes(lib):
    p = SegParams(n_classes=2, event_mask=1, median=lib.mm_host_seg_max_median() + 2,
                    enter_q=0, exit_q=0, min_windows=1, max_gap=0, max_windows=0,
                    gate_threshold=0, calib_windows=0)
    sc = np.zeros(2, dtype=np.int8)
    sil = np.zeros(1, dtype=np.uint8)
    out = np.zeros(4, dtype=np.uint32)
    assert lib.mm_host_seg_run(flat(p), sc.ctypes.data_as(ctypes.c_void_p),
                               sil.ctypes.data_as(ctypes.c_void_p), 1,
                               out.ctypes.data_as(ctypes.c_void_p), 1) == -1


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
    assert size <= 96 + lib.mm_host_seg_max_median() * lib.mm_host_seg_max_classes()
