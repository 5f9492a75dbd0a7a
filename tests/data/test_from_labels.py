"""`micromel dataset from-labels`: long recordings with Audacity label tracks become a dataset
split by recording, every clip labelled by the coverage rule; a small model trains on it."""
import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from micromel.cli import main
from micromel.data.labels import (Label, build_from_labels, clip_label, coverage, read_labels,
                                  recording_split)
from micromel.errors import MicromelError

SR = 16000


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
    assert main(["train", str(dataset), "--out", str(out), "--arch", "dscnn-m0", "--epochs", "2",
                 "--variants", "0", "--no-forest", "--window-frames", "32", "--hop-frames", "32",
                 "--quiet"]) == 0
    assert (out / "model.tflite").is_file() and "quiet" in (out / "config.json").read_text()
