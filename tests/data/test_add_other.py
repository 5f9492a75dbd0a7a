"""`micromel dataset add-other` (data/other.py): a dataset plus an `other` class drawn by
source from another dataset, its test sources held out in unknown/."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from micromel.cli import main
from micromel.data.datasets import background_labels, load_dataset


def _dataset(root: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    rng = np.random.default_rng(len(rows))
    for path, _, _, _ in rows:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        sf.write(root / path, (rng.standard_normal(1600) * 3000).astype(np.int16), 16000,
                 subtype="PCM_16")
    with open(root / "manifest.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "label", "split", "source"])
        w.writerows(rows)
    return root


@pytest.fixture
def pair(tmp_path):
    base = _dataset(tmp_path / "base", [(f"{c}/{c}{i}.wav", c, s, f"kitA/{c}{i}")
                                        for c in ("kick", "snare")
                                        for i, s in enumerate(("train", "train", "val", "test"))])
    rows = []
    for src, split, n in (("musicA", "train", 5), ("voicesB", "train", 2), ("fxC", "val", 4),
                          ("musicD", "test", 6), ("noise", "train", 3), ("noise", "test", 3)):
        rows += [(f"x/{src}_{split}_{i}.wav", "speech" if "voices" in src else "nonspeech", split,
                  f"{src}/{i}") for i in range(n)]
    return base, _dataset(tmp_path / "other", rows)


def test_other_class_by_source_with_held_out_sources_apart(pair, tmp_path, capsys):
    base, other = pair
    out = tmp_path / "out"
    assert main(["dataset", "add-other", str(base), "--from", str(other), "--out", str(out),
                 "--per-source", "3", "--unknown-per-source", "4"]) == 0
    ds = load_dataset(out)
    assert ds.labels == ["kick", "other", "snare"]
    got = {}
    for (p, lab, split), src in zip(ds.items, ds.sources):
        if lab == "other":
            got.setdefault(split, []).append(src.split("/")[0])
    # at most 3 per source and split; the test-split sources never in the manifest
    assert sorted(got["train"]) == ["musicA"] * 3 + ["noise"] * 3 + ["voicesB"] * 2
    assert sorted(got["val"]) == ["fxC"] * 3 and "test" not in got
    # unknown/: 4 clips of the held-out source; noise has train clips, so it is not held out
    unknown = sorted(p.name for p in (out / "unknown").iterdir())
    assert len(unknown) == 4 and all(n.startswith("musicD__") for n in unknown)
    # the base dataset's clips and splits are kept
    base_ds = load_dataset(base)
    kept = {(Path(p).name, lab, s) for p, lab, s in ds.items if lab != "other"}
    assert kept == {(Path(p).name, lab, s) for p, lab, s in base_ds.items}
    assert f"{out / 'unknown'}" in capsys.readouterr().out
    # `other` is nothing to report: a model trained on it segments no `other` events
    assert background_labels(out) == ("other",)
    # nothing is overwritten, a second run into the same folder is refused in one line
    assert main(["dataset", "add-other", str(base), "--from", str(other), "--out", str(out)]) == 2
    assert "exists" in capsys.readouterr().err


def test_refusals_are_one_line(pair, tmp_path, capsys):
    base, other = pair
    # the other dataset needs a source column
    flat = tmp_path / "flat"
    (flat / "a").mkdir(parents=True)
    sf.write(flat / "a" / "x.wav", np.zeros(1600, np.int16), 16000, subtype="PCM_16")
    assert main(["dataset", "add-other", str(base), "--from", str(flat), "--out",
                 str(tmp_path / "o1")]) == 2
    assert "no source column" in capsys.readouterr().err
    assert main(["dataset", "add-other", str(base), "--from", str(other), "--out",
                 str(tmp_path / "o2"), "--label", "kick"]) == 2
    assert "has a class 'kick'" in capsys.readouterr().err
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()


def test_a_bad_class_name_or_no_val_source_writes_nothing(pair, tmp_path, capsys):
    base, other = pair
    for label in ("../evil", "", "a,b", ".."):
        assert main(["dataset", "add-other", str(base), "--from", str(other), "--out",
                     str(tmp_path / "o3"), "--label", label]) == 2
        assert "--label" in capsys.readouterr().err
    assert not (tmp_path / "o3").exists() and not (tmp_path / "evil").exists()
    # an other dataset without validation sources: refused before any clip is copied
    no_val = _dataset(tmp_path / "noval", [(f"x/m{i}.wav", "nonspeech", "train", f"musicA/{i}")
                                           for i in range(3)])
    out = tmp_path / "o4"
    assert main(["dataset", "add-other", str(base), "--from", str(no_val), "--out", str(out)]) == 2
    assert "needs sources in its train and val splits" in capsys.readouterr().err
    assert not out.exists() and not out.with_name("o4.partial").exists()
    # a leftover temporary folder is named, not deleted
    leftover = tmp_path / "o5.partial"
    leftover.mkdir()
    (leftover / "mine.txt").write_text("keep")
    assert main(["dataset", "add-other", str(base), "--from", str(other), "--out",
                 str(tmp_path / "o5")]) == 2
    assert "o5.partial: exists" in capsys.readouterr().err
    assert (leftover / "mine.txt").read_text() == "keep"
