"""`micromel dataset from-labels`: long recordings with Audacity label tracks become a dataset
split by recording, every clip labelled by the coverage rule; a small model trains on it."""
import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from micromel.cli import main
from micromel.clip.rules import Framing, WindowConfig, window_samples
from micromel.data.labels import (Label, build_from_labels, clip_label, coverage, read_labels,
                                  recording_split)
from micromel.errors import MicromelError
from micromel.frontend.config import FrontendConfig

SR = 16000
# the clip from-labels cuts: the default front end's window of 32 frames (clip/rules.py),
# every half clip
_FE = FrontendConfig()
CLIP = window_samples(WindowConfig(32, 1), Framing(_FE.hop_length, _FE.frame_length))
HOP = CLIP // 2


def _recordings(folder: Path, names) -> dict:
    """Long recordings: a quiet noise floor with 'tone' (harmonic bursts) and 'hiss' (noise
    bursts) events, each with its Audacity label track. Returns name -> labels."""
    rng = np.random.default_rng(0)
    out = {}
    for k, name in enumerate(names):
        x = rng.standard_normal(SR * 16) * 30
        labels, t = [], 0.5
        while t < 14.5:
            dur = float(rng.uniform(0.6, 1.5))
            kind = ("tone", "hiss")[int(rng.integers(2))]
            n = int(dur * SR)
            a = int(t * SR)
            if kind == "tone":
                tt = np.arange(n) / SR
                x[a:a + n] += 6000 * sum(np.sin(2 * np.pi * (200 + 40 * k) * h * tt) / h for h in (1, 2, 3))
            else:
                x[a:a + n] += rng.standard_normal(n) * 5000
            labels.append((t, t + dur, kind))
            t += dur + float(rng.uniform(0.4, 1.6))
        sf.write(folder / f"{name}.wav", np.clip(x, -32768, 32767).astype(np.int16), SR,
                 subtype="PCM_16")
        lines = [f"{a:.6f}\t{b:.6f}\t{lab}" for a, b, lab in labels]
        lines.insert(1, "\\\t300.0\t4000.0")        # an Audacity frequency line: skipped
        (folder / f"{name}.txt").write_text("\n".join(lines) + "\n")
        out[name] = labels
    return out


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    folder = tmp_path_factory.mktemp("recs")
    # names chosen so that the hash split gives every split at least one recording
    by_split = {}
    for i in range(200):
        by_split.setdefault(recording_split(f"field{i:03d}"), []).append(f"field{i:03d}")
    names = by_split["train"][:4] + by_split["val"][:1] + by_split["test"][:1]
    return folder, _recordings(folder, names)


@pytest.fixture(scope="module")
def dataset(recordings, tmp_path_factory):
    folder, _ = recordings
    out = tmp_path_factory.mktemp("ds") / "field"
    build_from_labels([folder], out, window_frames=32, min_coverage=0.6,
                      background="quiet", quiet=True)
    return out


def test_split_by_recording_and_the_coverage_rule(recordings, dataset):
    folder, truth = recordings
    rows = list(csv.DictReader(open(dataset / "manifest.csv")))
    assert {"path", "label", "split", "source", "start", "end"} <= set(rows[0])
    per_rec = {}
    for r in rows:
        rec = r["source"].split("/")[0]
        per_rec.setdefault(rec, set()).add(r["split"])
        assert (dataset / r["path"]).is_file()
        a, b = float(r["start"]), float(r["end"])
        # the rule by hand (the events of a recording never overlap): the share of the clip
        # each label covers; one label >= 0.6 names it, none makes it quiet
        share = {}
        for x, y, lab in truth[rec]:
            if y > a and x < b:
                share[lab] = share.get(lab, 0.0) + (min(b, y) - max(a, x)) / (b - a)
        if r["label"] == "quiet":
            assert not share
        else:
            assert list(share) == [r["label"]] and share[r["label"]] >= 0.6 - 1e-9
    assert all(len(s) == 1 for s in per_rec.values())        # one split per recording
    assert {next(iter(s)) for s in per_rec.values()} == {"train", "val", "test"}
    assert {r["label"] for r in rows} == {"tone", "hiss", "quiet"}
    # and no clip the rule names is missing: every window position (CLIP samples, the
    # model window, every half window) of every recording, labelled by hand
    n, hop, length = CLIP, HOP, SR * 16
    want = {}
    for rec, events in truth.items():
        for at in range(0, length - n + 1, hop):
            a, b = at / SR, (at + n) / SR
            share = {}
            for x, y, lab in events:
                if y > a and x < b:
                    share[lab] = share.get(lab, 0.0) + (min(b, y) - max(a, x)) / (b - a)
            if not share:
                want[(rec, f"{a:.3f}")] = "quiet"
            elif len(share) == 1 and max(share.values()) >= 0.6 - 1e-9:
                want[(rec, f"{a:.3f}")] = next(iter(share))
    assert {(r["source"].split("/")[0], r["start"]): r["label"] for r in rows} == want


def test_coverage_and_the_rule_by_hand():
    labs = [Label(0.0, 1.0, "dog"), Label(0.5, 1.5, "dog"), Label(2.0, 3.0, "cat")]
    assert coverage(labs, 0.0, 2.0) == {"dog": 0.75}      # the two dog spans overlap: 1.5 s
    assert coverage(labs, 1.0, 3.0) == {"dog": 0.25, "cat": 0.5}
    assert coverage(labs, 1.25, 2.25) == {"dog": 0.25, "cat": 0.25}
    assert coverage(labs, 3.0, 4.0) == {}
    assert clip_label({"dog": 0.75}, 0.6, "quiet") == "dog"
    assert clip_label({"dog": 0.5}, 0.6, "quiet") is None          # too little: left out
    assert clip_label({"dog": 0.75, "cat": 0.1}, 0.6, "quiet") is None   # two names: ambiguous
    assert clip_label({}, 0.6, "quiet") == "quiet" and clip_label({}, 0.6, None) is None


def test_bad_label_lines_are_one_line_errors(tmp_path):
    (tmp_path / "r.txt").write_text("0.0\t1.0\tdog\n2.5\tnot-a-number\tcat\n")
    with pytest.raises(MicromelError, match=r"r\.txt:2: expected start<TAB>end<TAB>label"):
        read_labels(tmp_path / "r.txt")
    (tmp_path / "r.txt").write_text("3.0\t1.0\tdog\n")
    with pytest.raises(MicromelError, match=r"r\.txt:1: start 3.0 and end 1.0"):
        read_labels(tmp_path / "r.txt")
    sf.write(tmp_path / "lonely.wav", np.zeros(SR, np.int16), SR)
    assert main(["dataset", "from-labels", str(tmp_path / "lonely.wav"), "--out",
                 str(tmp_path / "o")]) == 2


def test_a_small_model_trains_on_it(dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("MICROMEL_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "model"
    try:
        assert main(["train", str(dataset), "--out", str(out), "--arch", "dscnn-m0", "--epochs",
                     "2", "--variants", "0", "--no-forest", "--window-frames", "32",
                     "--hop-frames", "32", "--quiet"]) == 0
    finally:
        # the networks' workers live as long as the process (train.members): not past this
        # test, whose process runs the other tests too (test_gridmap.py counts children)
        from micromel.train import members
        for pool in members._POOL.values():
            pool.shutdown(wait=True)
        members._POOL.clear()
    from micromel.modeldir import ModelDir
    m = ModelDir.open(out)
    assert (out / "model.tflite").is_file() and set(m.labels) == {"tone", "hiss", "quiet"}
    # the dataset's background class makes no events (it did: tune and segment counted it)
    assert m.segment.background_labels == ("quiet",)
    metrics = json.loads((out / "metrics.json").read_text())
    # evaluated on the test split: the test recording's clips, none of which trained
    assert metrics["test_int8"]["clips"] > 0 and 0.0 <= metrics["test_int8"]["accuracy"] <= 1.0


def test_saved_uncertain_windows_go_back_as_parts_of_their_recording(tmp_path, capsys):
    """Windows that segment/listen --save-uncertain wrote (named <recording>_<start>-<end>)
    and the user labelled: every clip goes to the recording's split, with the recording as
    source and times in the recording (never windows of one recording on both sides)."""
    from micromel.segment.uncertain import Pick, file_name
    folder = tmp_path / "unsure"
    folder.mkdir()
    rng = np.random.default_rng(4)
    starts = [0.096, 3.072, 5.472, 9.6, 12.0]
    for a in starts:
        name = file_name("rec0", Pick(0, int(a * SR), int(a * SR) + 2 * CLIP, 0, 1), SR)
        sf.write(folder / name, (rng.standard_normal(2 * CLIP) * 3000).astype(np.int16), SR)
        (folder / name).with_suffix(".txt").write_text(f"0.0\t{2 * CLIP / SR}\tclick\n")
    # the same names' splits, were each window a recording of its own, differ
    assert len({recording_split(Path(f).stem) for f in folder.glob("*.wav")}) > 1
    build_from_labels([folder], tmp_path / "ds", min_coverage=0.5, quiet=True)
    rows = list(csv.DictReader(open(tmp_path / "ds" / "manifest.csv")))
    assert {r["split"] for r in rows} == {recording_split("rec0")}
    # three clips per window of two clips (every half clip), at their times in rec0
    want = sorted(f"{a + k * HOP / SR:.3f}" for a in starts for k in range(3))
    assert sorted(r["start"] for r in rows) == want
    for r in rows:
        assert r["source"] == f"rec0/{r['start']}-{float(r['start']) + CLIP / SR:.3f}"
    others = [sp for sp in ("train", "val", "test") if sp != recording_split("rec0")]
    assert f"no clip in the {others[0]} and {others[1]} splits" in capsys.readouterr().err


def test_window_names_read_back():
    from micromel.data.window_names import recording_of, window_stem
    assert recording_of(window_stem("rec_a", 123456.5, 123457.0)) == ("rec_a", 123456.5)
    # a window saved from a saved window belongs to the first recording, at the summed time
    assert recording_of(window_stem(window_stem("rec", 3.072, 3.6), 0.1, 0.628)) == ("rec", 3.172)
    assert recording_of("rec0_00001.000-00000.500") == ("rec0_00001.000-00000.500", 0.0)
    assert recording_of("plain") == ("plain", 0.0)


def test_label_track_oddities_are_named(tmp_path, capsys):
    sf.write(tmp_path / "r.wav", (np.random.default_rng(0).standard_normal(SR * 6) * 3000)
             .astype(np.int16), SR)
    # a fourth column is an error naming the line, not a class with a tab in its name
    (tmp_path / "r.txt").write_text("0.0\t1.0\tdog\n1.0\t2.0\tlow\tx1\n")
    with pytest.raises(MicromelError, match=r"r\.txt:2: more than three columns"):
        read_labels(tmp_path / "r.txt")
    # point labels (start == end) are skipped and counted; a label too short for the
    # coverage rule is named in a note, not lost silently
    (tmp_path / "r.txt").write_text("0.5\t0.5\tpoint\n1.0\t3.0\tdog\n4.0\t4.1\tclick\n")
    points = []
    assert [x.name for x in read_labels(tmp_path / "r.txt", points)] == ["dog", "click"]
    assert points == [1]
    build_from_labels([tmp_path / "r.wav"], tmp_path / "ds", quiet=True)
    err = capsys.readouterr().err
    assert "1 point label(s) skipped" in err
    assert "label 'click' named no clip: its longest label is 0.100 s" in err
    assert "label 'dog'" not in err
    rows = list(csv.DictReader(open(tmp_path / "ds" / "manifest.csv")))
    assert {r["label"] for r in rows} == {"dog"}
    # Audacity's click with no text ("0.5<TAB>0.5<TAB>") is a point label; a span with no
    # text is a one-line error naming the line
    (tmp_path / "r.txt").write_text("0.5\t0.5\t\n1.0\t3.0\tdog\n")
    assert [x.name for x in read_labels(tmp_path / "r.txt")] == ["dog"]
    (tmp_path / "r.txt").write_text("1.0\t3.0\tdog\n4.0\t5.0\t\n")
    with pytest.raises(MicromelError, match=r"r\.txt:2: label: a class needs a name"):
        read_labels(tmp_path / "r.txt")
    # nothing named: the notes that say why come before the error
    (tmp_path / "r.txt").write_text("4.0\t4.1\tclick\n")
    with pytest.raises(MicromelError, match="no clip met the coverage rule"):
        build_from_labels([tmp_path / "r.wav"], tmp_path / "ds2", quiet=True)
    assert "label 'click' named no clip" in capsys.readouterr().err


def test_labels_that_cannot_be_right_are_named(tmp_path, capsys):
    """Times that are no number of seconds, a label past its recording's end (made on another
    recording, or in another unit) and the class name the rejection rule answers are errors
    naming the line; recordings in a folder without a track are named in a note."""
    sf.write(tmp_path / "r.wav", (np.random.default_rng(0).standard_normal(SR * 6) * 3000)
             .astype(np.int16), SR)
    (tmp_path / "r.txt").write_text("0.0\t1.0\tdog\n1.0\tinf\tdog\n")
    with pytest.raises(MicromelError, match=r"r\.txt:2: start 1.0 and end inf must be finite"):
        read_labels(tmp_path / "r.txt")
    for line in ("1.0\t30.0\tdog", "6.5\t6.9\tdog"):     # too far past the end; after it
        (tmp_path / "r.txt").write_text(f"0.0\t1.0\tdog\n{line}\n")
        a, b = (float(v) for v in line.split("\t")[:2])
        with pytest.raises(MicromelError, match=rf"r\.txt:2: label 'dog' \({a:g}-{b:g} s\) lies "
                                                r"past the end of r\.wav \(6\.000 s\)"):
            build_from_labels([tmp_path / "r.wav"], tmp_path / "ds", quiet=True)
    assert not (tmp_path / "ds").exists()
    # 'unknown' names no class a dataset can have (tune reads such tracks: there it is no class)
    (tmp_path / "r.txt").write_text("0.0\t1.0\tdog\n1.0\t2.0\tunknown\n")
    assert [x.name for x in read_labels(tmp_path / "r.txt")] == ["dog", "unknown"]
    with pytest.raises(MicromelError, match=r"r\.txt:2: label 'unknown': 'unknown' is what"):
        build_from_labels([tmp_path / "r.wav"], tmp_path / "ds", quiet=True)
    # a label a little past the recording's end, as a selection dragged to it in Audacity, is fine
    (tmp_path / "r.txt").write_text("0.0\t2.0\tdog\n3.0\t6.8\tcat\n")
    sf.write(tmp_path / "other.wav", np.zeros(SR, np.int16), SR)     # no track beside it
    build_from_labels([tmp_path], tmp_path / "ds", background="quiet")
    err = capsys.readouterr().err
    assert f"1 recording(s) without a label track beside them skipped ({tmp_path / 'other.wav'})" in err
    rows = list(csv.DictReader(open(tmp_path / "ds" / "manifest.csv")))
    assert {r["label"] for r in rows} >= {"dog", "cat"}
    assert not any("other" in r["path"] for r in rows)


def test_add_other_refuses_the_name_of_the_rejection_answer(tmp_path, capsys):
    assert main(["dataset", "add-other", str(tmp_path), "--from", str(tmp_path), "--out",
                 str(tmp_path / "o"), "--label", "unknown"]) == 2
    assert "--label 'unknown': 'unknown' is what micromel answers" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_two_tracks_a_quote_and_a_failure_half_way(tmp_path, capsys, monkeypatch):
    """A recording with two label tracks beside it is refused (a `segment --format audacity`
    output, REC.labels.txt, was read instead of the hand-made REC.txt); a class name with a
    quote is refused here, not first by `export`; a recording that fails half-way leaves no
    dataset (the clips of the recordings before it stood in --out without a manifest); a
    track with no labels is named."""
    rng = np.random.default_rng(1)
    sf.write(tmp_path / "a.wav", (rng.standard_normal(SR * 6) * 3000).astype(np.int16), SR)
    (tmp_path / "a.txt").write_text("0.0\t3.0\tdog\n")
    (tmp_path / "a.labels.txt").write_text("0.0\t6.0\tspeech\n")
    with pytest.raises(MicromelError, match=r"a\.wav: 2 label tracks beside it \(a\.labels\.txt, "
                                            r"a\.txt\); keep the one to read"):
        build_from_labels([tmp_path], tmp_path / "ds", quiet=True)
    (tmp_path / "a.labels.txt").unlink()
    (tmp_path / "a.txt").write_text('0.0\t3.0\tdog "rex"\n')
    with pytest.raises(MicromelError, match=r"a\.txt:1: label 'dog \"rex\"': a class name cannot"):
        build_from_labels([tmp_path], tmp_path / "ds", quiet=True)
    (tmp_path / "a.txt").write_text("0.0\t3.0\tdog\n")
    # z.flac: its header promises 6 s, its frames end early (a copy cut short)
    sf.write(tmp_path / "z.flac", (rng.standard_normal(SR * 6) * 3000).astype(np.int16), SR)
    data = (tmp_path / "z.flac").read_bytes()
    (tmp_path / "z.flac").write_bytes(data[:len(data) // 2])
    (tmp_path / "z.txt").write_text("0.0\t5.0\tdog\n")
    (tmp_path / "out").mkdir()
    with pytest.raises(MicromelError, match="z.flac"):
        build_from_labels([tmp_path], tmp_path / "out" / "ds", quiet=True)
    assert list((tmp_path / "out").iterdir()) == []         # no clips, no temp folder
    (tmp_path / "z.flac").unlink()
    (tmp_path / "z.txt").unlink()
    (tmp_path / "e.txt").write_text("")
    sf.write(tmp_path / "e.wav", np.zeros(SR * 2, np.int16), SR)
    build_from_labels([tmp_path], tmp_path / "out" / "ds", quiet=True)
    assert f"1 recording(s) whose label track holds no labels ({tmp_path / 'e.wav'})" in \
        capsys.readouterr().err
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["ds"]
    # "--out ." from an empty folder: written beside it, moved into it (the folder kept: it
    # is the current one)
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    build_from_labels([tmp_path / "a.wav"], Path("."), quiet=True)
    assert Path(os.getcwd()) == (tmp_path / "here").resolve() and Path("manifest.csv").is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    # labels of two classes that overlap: their shared clips are dropped, and a note says so
    (tmp_path / "a.txt").write_text("0.0\t3.0\tdog\n2.0\t4.0\tcat\n")
    build_from_labels([tmp_path / "a.wav"], tmp_path / "out" / "ds3", quiet=True)
    assert "labels of different classes overlap (first: a.wav's 'dog' of line 1 and 'cat' of " \
        "line 2)" in capsys.readouterr().err
    # a recording shorter than one clip: no --min-coverage can help, and the notes say why
    sf.write(tmp_path / "s.wav", np.zeros(SR // 5, np.int16), SR)
    (tmp_path / "s.txt").write_text("0.0\t0.2\tdog\n")
    with pytest.raises(MicromelError, match="no clip met the coverage rule"):
        build_from_labels([tmp_path / "s.wav"], tmp_path / "out" / "ds2", quiet=True)
    assert f"1 recording(s) shorter than one clip (0.528 s) give no clip ({tmp_path / 's.wav'})" \
        in capsys.readouterr().err
