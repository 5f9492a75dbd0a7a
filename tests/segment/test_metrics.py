"""The segmentation metrics on hand-made cases, and the event metric against sed_eval."""
import numpy as np
import pytest

from micromel.segment import metrics as M


def test_segment_is_active_when_half_covered():
    # 1 s in 100 ms segments; events cover 0.00-0.05 (half of segment 0: active),
    # 0.151-0.2 (less than half of segment 1: inactive), 0.33-0.47 (segments 3 and 4 get
    # 0.07 each: both active), 0.95-1.0 (half of the last one)
    act = M.segment_activity([(0.0, 0.05), (0.151, 0.2), (0.33, 0.47), (0.95, 1.0)], 1.0)
    assert act.tolist() == [True, False, False, True, True, False, False, False, False, True]


def test_coverage_is_of_the_union_and_a_short_last_segment_counts_its_own_length():
    # two events sharing a segment add up; overlaps count once
    assert M.segment_activity([(0.0, 0.03), (0.07, 0.09)], 0.1).tolist() == [True]
    assert M.segment_activity([(0.0, 0.04), (0.0, 0.04)], 0.1).tolist() == [False]
    # 0.25 s: the last segment is 50 ms long, 25 ms of it is enough
    assert M.segment_activity([(0.22, 0.25)], 0.25).tolist() == [False, False, True]


def test_the_half_rule_differs_from_sed_eval_any_overlap():
    sed_eval = pytest.importorskip("sed_eval")
    dcase_util = pytest.importorskip("dcase_util")
    ref, est = [(0.0, 1.0)], [(0.0, 1.04)]        # the system runs 40 ms over
    s = M.Scores()
    s.add(ref, est, 2.0)
    assert s.summary()["segment"]["f_measure"] == 1.0        # 40 ms of segment 10: not active
    cont = lambda ev: dcase_util.containers.MetaDataContainer(  # noqa: E731
        [{"event_label": "speech", "onset": a, "offset": b, "filename": "x"} for a, b in ev])
    m = sed_eval.sound_event.SegmentBasedMetrics(["speech"], time_resolution=0.1)
    m.evaluate(cont(ref), cont(est))
    assert m.results_overall_metrics()["f_measure"]["f_measure"] < 1.0   # any overlap counts


def test_scores_pool_segments_over_streams():
    s = M.Scores()
    s.add([(0.0, 0.5)], [(0.0, 0.3)], 1.0)           # tp 3, fn 2
    s.add([], [(0.5, 0.7)], 1.0)                     # fp 2
    assert s.seg == [3, 2, 2]
    assert s.summary()["segment"] == {"precision": 0.6, "recall": 0.6, "f_measure": 0.6}


def test_event_matching_collar_and_boundary_errors():
    ref = [(1.0, 2.0), (3.0, 3.5), (5.0, 6.0)]
    est = [(1.15, 2.3), (3.25, 3.5), (4.9, 5.9), (8.0, 9.0)]
    s = M.Scores(collar=0.2)
    s.add(ref, est, 10.0)
    assert s.ev == [2, 2, 1]               # 1.15 and 4.9 match; 3.25 is 250 ms late
    out = s.summary()
    assert out["onset_error"] == pytest.approx(0.125)         # median of 0.15, 0.1
    assert out["offset_error"] == pytest.approx(0.2)          # median of 0.3, 0.1
    assert out["onset_bias"] == pytest.approx(0.025)          # +0.15 and -0.1


def test_each_event_matches_once():
    assert M.match_onsets([(1.0, 2.0)], [(0.9, 1.0), (1.1, 2.0)], 0.2) == [(0, 0)]
    assert M.match_onsets([(1.0, 1.1), (1.1, 1.2)], [(1.05, 1.2)], 0.2) == [(0, 0)]
    # greedy in onset order finds the maximum: r0 with e0, r1 with e1
    assert M.match_onsets([(0.0, 1), (0.3, 1)], [(0.15, 1), (0.45, 1)], 0.2) == [(0, 0), (1, 1)]


def test_event_f1_equals_sed_eval_onset_only():
    sed_eval = pytest.importorskip("sed_eval")
    dcase_util = pytest.importorskip("dcase_util")
    rng = np.random.default_rng(3)
    for trial in range(30):
        def events(n):
            t, out = 0.0, []
            for _ in range(n):
                t += rng.uniform(0.05, 0.6)
                d = rng.uniform(0.05, 0.8)
                out.append((round(t, 3), round(t + d, 3)))
                t += d
            return out
        ref, est = events(int(rng.integers(1, 12))), events(int(rng.integers(1, 12)))
        s = M.Scores(collar=0.2)
        s.add(ref, est, 20.0)
        cont = lambda ev: dcase_util.containers.MetaDataContainer(  # noqa: E731
            [{"event_label": "speech", "onset": a, "offset": b, "filename": "x"} for a, b in ev])
        m = sed_eval.sound_event.EventBasedMetrics(["speech"], t_collar=0.2, evaluate_onset=True,
                                                   evaluate_offset=False)
        m.evaluate(cont(ref), cont(est))
        want = m.results_overall_metrics()["f_measure"]
        assert s.summary()["event"]["f_measure"] == pytest.approx(want["f_measure"], abs=1e-4), (ref, est)


def test_source_scores_recall_per_source_and_false_alarms_by_what_is_there():
    truth = [(0.0, 0.5, "speech", "a"), (0.6, 0.9, "nonspeech", "fx"), (1.0, 1.4, "speech", "b")]
    est = [(0.0, 0.3), (0.6, 0.8), (1.5, 1.7)]
    s = M.SourceScores(0.1)
    s.add(truth, "speech", est, 2.0, "hum")
    s.add([(0.0, 0.2, "speech", "a")], "speech", [(0.0, 0.2)], 0.5, "hum")   # a second stream pools
    out = s.summary()
    assert out["recall"] == {"a": {"segments": 7, "rate": round(5 / 7, 4)}, "b": {"segments": 4, "rate": 0.0}}
    # 0.6-0.9 is the effect's (2 of its 3 segments marked); 0.5-0.6, 0.9-1.0, 1.4-2.0 the bed's
    assert out["false_alarm"] == {"nonspeech: fx": {"segments": 3, "rate": round(2 / 3, 4)},
                                  "bed: hum": {"segments": 8 + 3, "rate": round(2 / 11, 4)}}
    # a's two misses come after its last found segment, b was not found at all
    assert out["misses"] == {"a": {"inside": 0, "late_onset": 0, "early_offset": 2, "not_found": 0},
                             "b": {"inside": 0, "late_onset": 0, "early_offset": 0, "not_found": 4}}
    s = M.SourceScores(0.1)
    s.add([(0.0, 0.6, "speech", "a")], "speech", [(0.1, 0.2), (0.4, 0.5)], 0.6)
    assert s.summary()["misses"]["a"] == {"inside": 2, "late_onset": 1, "early_offset": 1, "not_found": 0}
    # a segment half speech, half a louder effect's: it is the speech source's
    s = M.SourceScores(0.1)
    s.add([(0.0, 0.15, "speech", "a"), (0.15, 0.3, "nonspeech", "fx"), (0.1, 0.2, "nonspeech", "fx2")],
          "speech", [], 0.3)
    assert s.summary()["recall"] == {"a": {"segments": 2, "rate": 0.0}}
    # a segment an effect covers less than half of (and nothing else) is the bed's, even with
    # that effect first in the ground truth; an empty stream counts nothing
    s = M.SourceScores(0.1)
    s.add([(0.0, 0.04, "nonspeech", "fx"), (0.1, 0.2, "speech", "a")], "speech", [(0.0, 0.1)], 0.2, "hum")
    s.add([], "speech", [], 0.0, "hum")
    assert s.summary() == {"recall": {"a": {"segments": 1, "rate": 0.0}},
                           "false_alarm": {"bed: hum": {"segments": 1, "rate": 1.0}},
                           "misses": {"a": {"inside": 0, "late_onset": 0, "early_offset": 0, "not_found": 1}}}
