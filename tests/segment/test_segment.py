"""The segmentation rules (python/micromel/segment/) on hand-made window sequences."""
import json

import numpy as np
import pytest

from micromel.segment.config import ACTIVITY_LABELS, SegParams, SegmentConfig, activity_params, prob_to_q
from micromel.segment.machine import EnergyGate, Event, Segmenter, activity_events, segment_windows
from micromel.segment.timebase import Timebase, timed
from micromel.errors import MicromelError


def params(**kw):
    base = dict(n_classes=2, event_mask=0b01, median=1, enter_q=0, exit_q=0, min_windows=1,
                max_gap=0, max_windows=0, gate_threshold=0, calib_windows=0)
    base.update(kw)
    return SegParams(**base)


def run(pattern, p, hi=100, lo=-100):
    """pattern: string of '1' (class 0 high), '0' (class 0 low), '.' (silent), '2' (class 1)."""
    seq = []
    for ch in pattern:
        if ch == ".":
            seq.append((None, True))
        elif ch == "1":
            seq.append(([hi, lo], False))
        elif ch == "2":
            seq.append(([lo, hi], False))
        else:
            seq.append(([lo, lo], False))
    return [(e.label, e.start, e.end) for e in segment_windows(seq, p)]


def test_plain_runs_become_events():
    assert run("0011100110", params()) == [(0, 2, 5), (0, 7, 9)]


def test_event_open_at_stream_end_is_closed():
    assert run("0001111", params()) == [(0, 3, 7)]
    assert run("1111", params()) == [(0, 0, 4)]


def test_min_duration_drops_short_events():
    p = params(min_windows=3)
    assert run("0110111000100", p) == [(0, 4, 7)]


def test_gaps_up_to_max_gap_are_merged():
    p = params(max_gap=2)
    assert run("1100110001", p) == [(0, 0, 6), (0, 9, 10)]
    # merge happens before the minimum duration: two blips make one event
    p = params(max_gap=1, min_windows=3)
    assert run("0010100", p) == [(0, 2, 5)]
    assert run("0010000", p) == []


def test_long_events_are_split():
    p = params(max_windows=4)
    assert run("1111111111", p) == [(0, 0, 4), (0, 4, 8), (0, 8, 10)]
    # a tail shorter than the minimum is dropped
    p = params(max_windows=4, min_windows=3)
    assert run("111111111", p) == [(0, 0, 4), (0, 4, 8)]


def test_another_label_closes_the_event_and_is_not_merged_across():
    p = params(event_mask=0b11, max_gap=5)
    assert run("11221100", p) == [(0, 0, 2), (1, 2, 4), (0, 4, 6)]


def test_background_class_makes_no_event():
    assert run("2222", params(event_mask=0b01)) == []


def test_silent_windows_are_not_events_even_with_high_scores():
    seq = [([100, -100], True)] * 5
    assert segment_windows(seq, params()) == []


def test_hysteresis_enter_and_exit():
    p = params(n_classes=1, event_mask=1, enter_q=50, exit_q=-50)
    seq = [([v], False) for v in (0, 60, 0, -40, -60, 40, 60)]
    ev = segment_windows(seq, p)
    assert [(e.start, e.end) for e in ev] == [(1, 4), (6, 7)]


def test_median_removes_one_window_blips_and_keeps_time():
    p = params(median=3)
    assert run("0001000", p) == []
    assert run("0011100", p) == [(0, 2, 5)]   # no delay in the reported windows
    assert run("1101111", p) == [(0, 0, 7)]


def test_median_at_stream_edges_pads_with_silence():
    p = params(median=5)
    # windows before the start and after the end count as -128
    assert run("111", p) == [(0, 0, 3)]     # 3 of 5 high at every window
    assert run("11", p) == []               # 2 of 5 high at most
    assert run("11111", p) == [(0, 0, 5)]


def test_mean_smoothing_rounds_the_average_of_the_codes():
    p = params(n_classes=1, event_mask=1, median=3, mean=1, enter_q=0, exit_q=0)
    seg = Segmenter(p)
    seg.decisions = []
    # window 1 averages -128, 1, 0 (codes + 128: 0, 129, 128 -> (257 + 1) // 3 = 86 -> -42):
    # below 0, although the median (0) would open; window 2 averages 1, 0, 127 -> 43
    for v in (-128, 1, 0, 127):
        seg.push([v], False)
    seg.finish()
    assert seg.decisions == [-1, -1, 0, 0]
    # rounded to the nearest code: codes 1, 1, 0 average 0.67 -> 1 (floor: 0); 1, 0, 0 -> 0
    for values, mean in (((-127, -127, -128), -127), ((-127, -128, -128), -128)):
        seg = Segmenter(p)
        for v in values:
            seg.push([v], False)
        assert seg._smoothed() == [mean]
    # the median keeps what the mean smears: one loud window in three
    assert run("0100", params(median=3)) == []
    assert run("0100", params(median=3, mean=1, enter_q=-100, exit_q=-100), hi=127, lo=-128) \
        == [(0, 0, 3)]


def test_suppression_keeps_events_from_opening_after_one():
    # no event opens within 4 windows of the last emitted event's end: windows 4-6 after
    # the first event (ends at 3), window 14 after the second (ends at 11)
    p = params(suppress=4)
    assert run("1110110001100011", p) == [(0, 0, 3), (0, 9, 11), (0, 15, 16)]
    assert run("1110110001100011", params()) == [(0, 0, 3), (0, 4, 6), (0, 9, 11), (0, 14, 16)]
    # a suppressed window is left out; the next one asks again
    assert run("11101111", p) == [(0, 0, 3), (0, 7, 8)]
    # a dropped event (shorter than min_windows) does not start a suppression
    p = params(suppress=4, min_windows=2)
    assert run("101101", p) == [(0, 2, 4)]
    # a split piece and a class taking over open at once
    assert run("1111111", params(suppress=4, max_windows=3)) == [(0, 0, 3), (0, 3, 6), (0, 6, 7)]
    assert run("1122", params(event_mask=0b11, suppress=4)) == [(0, 0, 2), (1, 2, 4)]
    # a suppression of at most max_gap + 1 windows changes nothing: an event is emitted
    # only max_gap + 1 windows after its end (docs/segmentation.md, step 4)
    for gap in (0, 2):
        pattern = "1101100011"
        assert run(pattern, params(max_gap=gap, suppress=gap + 1)) == run(pattern, params(max_gap=gap))
        assert run(pattern, params(max_gap=gap, suppress=gap + 3)) != run(pattern, params(max_gap=gap))


def test_confidence_is_rounded_mean_of_probabilities():
    p = params(n_classes=1, event_mask=1, enter_q=-128, exit_q=-128)
    seq = [([v], False) for v in (0, 1)]        # probs 128, 129 -> mean 128.5 -> 129
    (e,) = segment_windows(seq, p)
    assert e.confidence == 129
    seq = [([v], False) for v in (0, 0, 1)]     # 385 / 3 = 128.33 -> 128
    (e,) = segment_windows(seq, p)
    assert e.confidence == 128


def test_events_stream_out_as_they_close():
    p = params(max_gap=2)
    seg = Segmenter(p)
    out = []
    for k, ch in enumerate("110000111"):
        got = seg.push([100, -100] if ch == "1" else [-100, 100], False)
        out.append((k, got))
    closed_at = [k for k, g in out if g]
    assert closed_at == [4]                      # gap exceeds 2 windows at window 4
    # onset and offset in frames: the centre slices of windows 6 and 9 (64-frame windows
    # every 6 frames: frame 6 * 6 + 29 and 9 * 6 + 29)
    assert seg.finish() == [Event(0, 6, 9, 228, 65, 83)]


def test_gate_calibration():
    p = params(gate_threshold=100, calib_windows=4, margin_q8=512)   # x2
    g = EnergyGate(p)
    assert [g.silent(e) for e in (1000, 1000, 3000, 3000)] == [True] * 4
    assert g.threshold == 4000
    assert [g.silent(e) for e in (3999, 4000)] == [True, False]
    # never below the fixed floor
    g = EnergyGate(params(gate_threshold=10**6, calib_windows=1, margin_q8=512))
    g.silent(0)
    assert g.threshold == 10**6


def test_activity_only_detection_on_a_tone_burst():
    sr = 16000
    cfg = SegmentConfig(min_duration=0.1, max_gap=0.1, activity_block=0.05,
                          activity_threshold_dbfs=-40)
    p = activity_params(cfg, sr)
    x = np.zeros(sr * 3, dtype=np.int16)
    t = np.arange(sr) / sr
    x[sr: 2 * sr] = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    chunks = [x[i:i + 1000] for i in range(0, len(x), 1000)]
    ev = timed(activity_events(chunks, p), ACTIVITY_LABELS, Timebase.of(p))
    assert len(ev) == 1
    assert ev[0].start == pytest.approx(1.0) and ev[0].end == pytest.approx(2.0)
    assert ev[0].label == "activity"


def test_config_roundtrip_and_errors(tmp_path):
    cfg = SegmentConfig(median=3, background_labels=("noise",))
    assert SegmentConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(MicromelError, match="median"):
        SegmentConfig(median=4)
    with pytest.raises(MicromelError, match="exit"):
        SegmentConfig(enter=0.4, exit=0.6)
    with pytest.raises(MicromelError, match="unknown keys"):
        SegmentConfig.from_dict({"medain": 3})
    with pytest.raises(MicromelError, match="smoothing"):
        SegmentConfig(smoothing="average")
    with pytest.raises(MicromelError, match="suppress"):
        SegmentConfig(suppress=-1)
    assert prob_to_q(0.5) == 0 and prob_to_q(1.0) == 127 and prob_to_q(0.0) == -128


def test_header_from_model_config(tmp_path):
    from micromel.frontend.config import FrontendConfig
    from micromel.modeldir import ModelDir
    from micromel.segment.header import c_header

    fe = {k: v for k, v in FrontendConfig().to_dict().items() if k != "window_frames"}
    cfg = {"name": "t", "labels": ["speech", "nonspeech"], "frontend": fe,
           "window": {"frames": 32, "hop_frames": 16, "silence_rms_dbfs": -60.0},
           "segment": {"hop_frames": 4, "median": 3, "background_labels": ["nonspeech"],
                       "min_duration": 0.2, "max_gap": 0.128, "smoothing": "mean",
                       "suppress": 1.0}}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    h = c_header(ModelDir.open(tmp_path))
    assert "#define MM_SEG_N_CLASSES 2" in h
    assert "#define MM_SEG_EVENT_MASK 0x00000001u" in h
    assert "#define MM_SEG_HOP_FRAMES 4" in h
    assert "#define MM_SEG_MIN_WINDOWS 3u" in h      # 0.2 s / 64 ms = 3.1
    assert "#define MM_SEG_MAX_GAP 2u" in h
    assert "#define MM_SEG_MAX_MEDIAN 3" in h
    assert "#define MM_SEG_MEAN 1" in h
    assert "#define MM_SEG_SUPPRESS 16u" in h        # 1 s / 64 ms = 15.6
    cfg["segment"]["background_labels"] = ["music"]
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(MicromelError, match="background_labels"):
        c_header(ModelDir.open(tmp_path))
