"""`micromel tune`: the post-processing search on a synthetic labelled stream (scores made
by hand, so the right answer is known), and the command on a generated recording with an
Audacity label track."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from micromel.clip.reject import RejectConfig
from micromel.errors import MicromelError
from micromel.modeldir import ModelDir
from micromel.paths import MODELS_DIR
from micromel.segment import run, tune
from micromel.segment.config import SegmentConfig, prob_to_q
from micromel.segment.machine import segment_windows
from micromel.segment.timebase import Timebase

KICK = 2


def scores(p: float) -> np.ndarray:
    s = np.full(5, prob_to_q((1 - p) / 4), np.int8)
    s[KICK] = prob_to_q(p)
    return s


def centre_edge_s(p, j: int) -> float:
    """Where window j's centre slice starts, in seconds (unrefined boundaries, timebase.py)."""
    return Timebase.of(p).seconds(j * p.hop_frames + p.frame_offset)


@pytest.fixture(scope="module")
def model():
    """models/drums without its rejection rule (the search itself; the rule: below)."""
    return ModelDir.open(MODELS_DIR / "drums").replace(reject=RejectConfig())


@pytest.fixture(scope="module")
def stream(model):
    """600 windows: 6 strong kicks (p 0.95, 10 windows), 4 weak ones (p 0.6, 10 windows),
    10 one-window spikes (p 0.7), one 30 windows after each kick, silence elsewhere."""
    p_ = model.segment_params()
    res = [(None, True)] * 600
    truth = []
    rng = np.random.default_rng(0)
    starts = list(range(20, 580, 56))
    for k, a in enumerate(starts):
        p = 0.95 if k < 6 else 0.6
        for w in range(a, a + 10):
            res[w] = (scores(p), False)
        truth.append((centre_edge_s(p_, a), centre_edge_s(p_, a + 10), "kick"))
    for a in rng.choice([s + 30 for s in starts], len(starts), replace=False):
        res[a] = (scores(0.7), False)
    truth.append((1.0, 1.5, "not-a-class"))          # ignored: no event class of the model
    return tune.Stream("synthetic", 600 * p_.hop_samples / p_.sample_rate, truth, res)


def test_tuning_finds_the_setting_that_separates_weak_events_from_spikes(model, stream):
    classes = tune.event_classes(model, model.segment)
    seen = []
    points = tune.det_points(model, [stream], tune.grid(model.segment), classes,
                             progress=lambda k, n: seen.append((k, n)), jobs=2)
    n = len(tune.grid(model.segment))
    assert len(points) == n > 100
    # progress lines while the grid runs, the last one at the end
    assert seen == [(k, n) for k in range(tune.PROGRESS_EVERY, n, tune.PROGRESS_EVERY)] + [(n, n)]
    chosen = tune.choose(points, 0.0)
    # every kick found, no false alarm: enter low enough for the weak kicks, a minimum
    # duration (or median) that drops the one-window spikes
    assert chosen["recall"] == 1.0 and chosen["false_alarms"] == 0, chosen
    assert chosen["enter"] <= 0.6 and chosen["truth_events"] == 10
    # the counts are those of the state machine with that config
    cfg = chosen["config"]
    p = model.segment_params(cfg)
    ev = run.timed_events(model, segment_windows(stream.results, p), p)
    assert tune.count(stream.truth, [(e.start, e.end, e.label) for e in ev], classes) == (10, 10, 0)
    # a strict threshold without filtering misses the weak kicks; a loose one raises alarms
    strict = [pt for pt in points if pt["enter"] == 0.9 and pt["median"] == 1][0]
    assert strict["recall"] == 0.6
    loose = [pt for pt in points if pt["enter"] == 0.5 and pt["median"] == 1
             and pt["min_duration"] == 0.1][0]
    assert loose["false_alarms"] > 0
    curve = tune.det_curve(points)
    assert [pt["fa_per_hour"] for pt in curve] == sorted(pt["fa_per_hour"] for pt in curve)
    assert all(a["miss_rate"] > b["miss_rate"] for a, b in zip(curve, curve[1:]))
    assert curve[0]["miss_rate"] == 0.0      # reached at zero false alarms here
    rows = tune.table(points).splitlines()
    assert rows[0].split("\t") == list(tune.COLUMNS) and len(rows) == len(points) + 1


def test_the_grid_over_workers_gives_the_points_of_one_process(model, stream):
    classes = tune.event_classes(model, model.segment)
    configs = tune.grid(model.segment)[:400]
    one = tune.det_points(model, [stream], configs, classes, jobs=1)
    assert tune.det_points(model, [stream], configs, classes, jobs=3) == one
    # the points differ from each other, so a change of order would show
    assert len({(pt["detected"], pt["false_alarms"]) for pt in one}) > 3


def test_tuning_finds_the_suppression_time_when_only_it_drops_the_echoes(model):
    """Every kick (12 windows of 64 ms) is followed, 10 windows after its end, by an echo as
    strong as it and longer (16 windows): no threshold, smoothing, minimum duration or merged
    gap drops it, and only a suppression time longer than gap + echo (2 s = 31 windows; after
    1 s = 16, 10 windows of echo are left, longer than any minimum duration) keeps every kick
    without a false alarm."""
    base = model.segment.replace(hop_frames=4)
    p_ = model.segment_params(base)
    res = [(None, True)] * 600
    truth = []
    for a in range(10, 560, 80):
        for w in list(range(a, a + 12)) + list(range(a + 22, a + 38)):
            res[w] = (scores(0.95), False)
        truth.append((centre_edge_s(p_, a), centre_edge_s(p_, a + 12), "kick"))
    s = tune.Stream("echoes", 600 * p_.hop_samples / p_.sample_rate, truth, res)
    classes = tune.event_classes(model, base)
    configs = tune.grid(base)
    assert {c.smoothing for c in configs} == {"median", "mean"}
    points = tune.det_points(model, [s], configs, classes)
    chosen = tune.choose(points, 0.0)
    assert chosen["recall"] == 1.0 and chosen["false_alarms"] == 0, chosen
    assert chosen["suppress"] == 2.0 and chosen["truth_events"] == 7
    unsuppressed = [pt for pt in points if pt["suppress"] < 2.0]
    assert all(pt["false_alarms"] > 0 for pt in unsuppressed)
    assert min(pt["false_alarms"] for pt in unsuppressed if pt["recall"] == 1.0) == 7


def test_events_the_rejection_rule_refuses_are_not_detections(model, stream):
    """tune counts the events segment and the device report: with models/drums's saved rule
    (mean top probability >= 160/256) the weak kicks (p 0.6) are "unknown", so no setting
    finds them, and a rule refusing every kick leaves nothing to find."""
    classes = tune.event_classes(model, model.segment)
    configs = tune.grid(model.segment)
    ruled = model.replace(reject=ModelDir.open(MODELS_DIR / "drums").reject)
    assert ruled.reject.min_top == 160
    best = tune.choose(tune.det_points(ruled, [stream], configs, classes), 0.0)
    assert best["recall"] == 0.6 and best["false_alarms"] == 0, best
    best_without = tune.choose(tune.det_points(model, [stream], configs, classes), 0.0)
    assert best_without["recall"] == 1.0
    strict = model.replace(reject=RejectConfig(min_top=250))
    pts = tune.det_points(strict, [stream], configs, classes)
    assert max(pt["detected"] for pt in pts) == 0 and max(pt["false_alarms"] for pt in pts) == 0


def test_evaluate_segments_scores_the_events_the_rule_names(model, stream):
    """evaluate-segments, as tune: an event the rule calls unknown is no event of its class."""
    from micromel.segment import evaluate as E
    cached = [([(a, b) for a, b, lab in stream.truth if lab == "kick"], stream.results,
               stream.seconds)]
    free = E.score_config(model, model.segment, cached, "kick", 0.1, 0.2).summary()
    strict = model.replace(reject=RejectConfig(min_top=250))
    ruled = E.score_config(strict, model.segment, cached, "kick", 0.1, 0.2).summary()
    assert free["segment"]["f_measure"] > 0.5
    assert ruled["segment"]["f_measure"] == 0.0


def test_count_overlap_rules():
    truth = [(0.0, 1.0, "a"), (2.0, 3.0, "a"), (5.0, 6.0, "b")]
    dets = [(0.5, 0.7, "a"), (0.8, 1.2, "a"), (3.0, 4.0, "a"), (5.5, 5.6, "a")]
    # two detections of the first event; touching at 3.0 is no overlap; wrong label at 5.5
    assert tune.count(truth, dets, ["a", "b"]) == (3, 1, 2)
    assert tune.count(truth, dets, ["b"]) == (1, 0, 0)
    assert tune.choose([{"fa_per_hour": 5.0, "recall": 1.0}], 1.0) is None


def test_save_never_replaces_own_settings_silently(tmp_path, model):
    shutil.copytree(MODELS_DIR / "drums", tmp_path / "m")
    m = ModelDir.open(tmp_path / "m")
    cfg = SegmentConfig(median=3, enter=0.6, exit=0.4)
    m = tune.save_config(m, cfg, force=False)          # defaults before: fine
    assert ModelDir.open(tmp_path / "m").segment == cfg
    with pytest.raises(MicromelError, match="--force"):
        tune.save_config(m, cfg.replace(median=5), force=False)
    assert tune.save_config(m, cfg.replace(median=5), force=True).segment.median == 5


def test_segment_settings_are_part_of_what_a_device_must_run(tmp_path):
    """The firmware's segmenter is built with the folder's segment settings, so they are in
    the model hash INFO reports: a board flashed before `tune --save` is refused up front (it
    was accepted, then every window differed). Default settings leave the hash as it was."""
    from micromel.link.model_device import check_device_runs

    shutil.copytree(MODELS_DIR / "drums", tmp_path / "m")
    m = ModelDir.open(tmp_path / "m")          # models/drums: the default segment settings
    assert m.segment == SegmentConfig()
    other = m.replace(segment=m.segment.replace(median=m.segment.median + 2))
    assert other.hash != m.hash
    assert other.replace(segment=SegmentConfig()).hash == m.hash
    # a setting the firmware's segmenter never reads (--activity-only's) changes nothing
    quiet = m.replace(segment=m.segment.replace(activity_threshold_dbfs=-30.0))
    assert quiet.segment != m.segment and quiet.hash == m.hash

    class Board:        # INFO of a board flashed with the folder before the change
        name = "socket://127.0.0.1:5000"

        def info(self, refresh=False):
            return {"model": "drums", "model_hash": m.hash}

    check_device_runs(Board(), m)
    with pytest.raises(MicromelError, match=f"runs model drums \\(hash {m.hash}\\), not .* "
                                            f"\\(hash {other.hash}\\); flash the right firmware"):
        check_device_runs(Board(), other)


def _cli(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "python")}
    return subprocess.run([sys.executable, "-m", "micromel", *args], capture_output=True,
                          text=True, timeout=600, env=env, cwd=cwd)


@pytest.mark.emulator
def test_tune_command_on_an_audacity_labelled_recording(tmp_path):
    """tune --save on a labelled recording; the saved settings reach the device through the
    generated headers: the emulated board's windows and events equal the host twin's."""
    from micromel.engine import zoo
    from micromel.hil.stream_check import check_against_twin

    mdir = zoo.make("drums", tmp_path / "m", seed=5, input_shape=(32, 40, 1))
    rng = np.random.default_rng(1)
    pcm = np.zeros(16000 * 8, np.int16)
    for a in (1.0, 4.0, 6.0):
        i = int(a * 16000)
        pcm[i: i + 8000] = (rng.standard_normal(8000) * 6000).astype(np.int16)
    sf.write(tmp_path / "rec.wav", pcm, 16000, subtype="PCM_16")
    (tmp_path / "rec.txt").write_text("1.0\t1.5\tkick\n\\\t100\t2000\n4.0\t4.5\tsnare\n6\t6.5\tdog\n")
    out = tmp_path / "det.tsv"
    r = _cli("tune", str(mdir), str(tmp_path), "--target-fa-per-hour", "100000", "--out", str(out),
             "--plot", str(tmp_path / "det.png"), "--save", "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "DET curve" in r.stdout and "chosen for" in r.stdout and "saved into" in r.stdout
    # a label of no class lowers nothing silently: named (a typo would cost recall unseen)
    assert "labels that are no class of the model, not scored: 'dog' (1), 'kick' (1), 'snare' (1)" in r.stderr, r.stderr
    assert len(out.read_text().splitlines()) == len(tune.grid(SegmentConfig())) + 1
    assert (tmp_path / "det.png").read_bytes()[:4] == b"\x89PNG"
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("chosen for"))
    chosen = json.loads(line[line.index("{"):])
    saved = ModelDir.open(mdir).segment
    assert {k: getattr(saved, k) for k in chosen} == chosen
    t = check_against_twin(ModelDir.open(mdir), [tmp_path / "rec.wav"], "emulate", progress=False)
    assert t["windows"] > 50 and t["window_mismatches"] == 0 and t["event_mismatch_files"] == 0
    # outputs are not replaced silently, and a bad label track is a one-line error
    r = _cli("tune", str(mdir), str(tmp_path / "rec.wav"), "--target-fa-per-hour", "1",
             "--out", str(out), cwd=tmp_path)
    assert r.returncode == 2 and "exists; add --force" in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "rec.txt").write_text("1.0\tkick\n")
    r = _cli("tune", str(mdir), str(tmp_path / "rec.wav"), "--target-fa-per-hour", "1", cwd=tmp_path)
    assert r.returncode == 2 and "rec.txt:1" in r.stderr and "Traceback" not in r.stderr
    # a label past the recording's end (another recording's track, or minutes for seconds)
    (tmp_path / "rec.txt").write_text("1.0\t1.5\tkick\n70\t71\tkick\n")
    r = _cli("tune", str(mdir), str(tmp_path / "rec.wav"), "--target-fa-per-hour", "1", cwd=tmp_path)
    assert r.returncode == 2 and "rec.txt:2: label 'kick' (70-71 s) lies past the end of rec.wav" \
        in r.stderr, r.stderr


@pytest.mark.emulator
def test_tuned_drums_settings_give_the_same_events_on_the_device(tmp_path):
    """The issue's measure in small: tune models/drums on a labelled recording of real hits,
    save the chosen settings, and the emulated board's events with them equal the twin's."""
    from micromel.audio import load_audio
    from micromel.data import debpkg
    from micromel.hil.stream_check import check_against_twin

    mdir = tmp_path / "drums"
    shutil.copytree(MODELS_DIR / "drums", mdir)
    root = debpkg.fetch("hydrogen-data") / "usr/share/hydrogen/data/drumkits/GMRockKit"
    hits = {"kick": "Kick-Hard.wav", "snare": "Snare-Hard.wav", "hihat": "HatClosed-Hard.wav"}
    rng = np.random.default_rng(3)
    x = rng.standard_normal(16000 * 20) * 30
    labels = []
    for i, at in enumerate(np.arange(1.0, 19.0, 1.5)):
        name = list(hits)[i % 3]
        pcm = load_audio(root / hits[name], 16000)[:8000].astype(float)
        a = int(at * 16000)
        x[a:a + len(pcm)] += pcm
        labels.append(f"{at:.3f}\t{at + len(pcm) / 16000:.3f}\t{name}\n")
    sf.write(tmp_path / "rec.wav", np.clip(x, -32768, 32767).astype(np.int16), 16000, subtype="PCM_16")
    (tmp_path / "rec.txt").write_text("".join(labels))
    r = _cli("tune", str(mdir), str(tmp_path / "rec.wav"), "--target-fa-per-hour", "400",
             "--save", "--force", "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("chosen for"))
    chosen = json.loads(line[line.index("{"):])
    tuned = ModelDir.open(mdir)
    assert {k: getattr(tuned.segment, k) for k in chosen} == chosen
    t = check_against_twin(tuned, [tmp_path / "rec.wav"], "emulate", progress=False)
    assert t["window_mismatches"] == 0 and t["event_mismatch_files"] == 0
    assert t["events_twin"] >= 6, t


def test_evaluate_segments_tune_over_workers_reports_what_one_process_does(model, stream,
                                                                         monkeypatch):
    """evaluate-segments --tune's F1 grid over workers: the same improvements, in the same
    order, and the same best point as in one process (its `done` replays them)."""
    from micromel.segment import evaluate

    ref = [(a, b) for a, b, lab in stream.truth if lab == "kick"]
    monkeypatch.setattr(evaluate, "cached_results",
                        lambda *a, **k: [(ref, stream.results, stream.seconds)])
    runs = []
    for jobs in (1, 3):
        seen = []
        best = evaluate.tune(model, model.segment, Path("streams"), "kick",
                             progress=lambda f, kw: seen.append((f, kw)), jobs=jobs)
        runs.append((best, seen))
    assert runs[0] == runs[1]
    assert len(runs[0][1]) >= 2 and runs[0][0][0] > 0.5     # improvements to compare


def test_a_recording_with_two_label_tracks_is_refused(tmp_path):
    """An Audacity track beside a `dataset streams` ground truth: tune read the first and
    ignored the other without a word."""
    sf.write(tmp_path / "s.wav", np.zeros(16000, np.int16), 16000)
    (tmp_path / "s.txt").write_text("0.1\t0.5\tkick\n")
    assert tune.track_of(tmp_path / "s.wav") == tmp_path / "s.txt"
    (tmp_path / "s.events.tsv").write_text("onset\toffset\tlabel\n0.1\t0.5\tkick\n")
    with pytest.raises(MicromelError, match=r"s\.wav: 2 label tracks beside it \(s\.txt, "
                                            r"s\.events\.tsv\)"):
        tune.track_of(tmp_path / "s.wav")
    (tmp_path / "s.txt").unlink()
    assert tune.track_of(tmp_path / "s.wav") == tmp_path / "s.events.tsv"
