"""Drums dataset (label mapping and split rules on the real drumkit.xml files) and user
dataset loading/validation."""
from __future__ import annotations

import collections
import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from micromel.data import datasets, drums
from micromel.errors import MicromelError


# --- label mapping ----------------------------------------------------------------------

@pytest.mark.parametrize("name,label", [
    ("Kick", "kick"), ("BassDrum", "kick"), ("c3 - bass drum 1", "kick"),
    ('Kick (Tama Superstar 22")', "kick"), ("Kick Nz", "kick"),
    ("Snare", "snare"), ("Snare1", "snare"), ("Snare Rimshot", "snare"),
    ("Pearl Snare Rimshot", "snare"), ("Snare 2 Rimshot (Pearl Free Floating Maple 14x3.5)", "snare"),
    ("Closed HH", "hihat"), ("Hi-Hat Pedal (Paiste Alpha Metal edge 14\")", "hihat"),
    ("Hat Semi-Open", "hihat"), ("Side HH", "hihat"), ("Side OHH", "hihat"), ("Hi Hat Free", "hihat"),
    ("Sabian Hat Choke", "hihat"), ("VariBreaks Hat 1 Cl", "hihat"),
    ("Tom Low", "tom"), ("tomhi2", "tom"), ("Pearl Tom Floor", "tom"), ("b3 - low tom", "tom"),
    ("Crash", "cymbal"), ("Ride Bell", "cymbal"), ("ride-cup", "cymbal"), ("China (Paiste Alpha 18\")", "cymbal"),
    ("Crash/Ride Bow (Paiste Rude Crash/Ride 18\")", "cymbal"), ("Bell", "cymbal"), ("d#4 - cymbal 1", "cymbal"),
    ("crash20inch--2", "cymbal"), ("Zildjian Splash Choke", "cymbal"),
    # excluded: side sticks, rim clicks, rolls, claps, hand percussion, effects, unnamed
    ("Stick", None), ("Pearl Side Stick", None), ("Rim Click (Pearl Free Floating Maple 14x3.5)", None),
    ("Snare Roll", None), ("Hand Clap", None), ("Clap Hard", None), ("Finger Snaps", None),
    ("Cowbell", None), ("g#4 - cowbell", None), ("Conga 1", None), ("Bongo Hi", None),
    ("Cajon Thump", None), ("Tambourine Pedal (Pearl PTM-10GH)", None), ("Agogo Low (Pearl ECB-23)", None),
    ("Maraca", None), ("Shaker", None), ("Clave", None), ("Woodblock Hi", None), ("WaterglassHi", None),
    ("Djembe1 Bass", None), ("Dununba1 Bell", None), ("Sangban1 Bell Hit", None),
    ("Whistle", None), ("Zap 1", None), ("FX", None), ("Click", None), ("Drum 1", None),
    ("17", None), ("f#4 - ", None), ("Sample: beats_01-39.flac", None), ("redo super opaco", None),
    ("", None), (None, None),
])
def test_drum_label(name, label):
    assert drums.drum_label(name) == label


def test_kit_split_rules():
    assert {k: drums.kit_split(k) for k in drums.TEST_KITS} == {k: "test" for k in drums.TEST_KITS}
    assert set(drums.TEST_KITS) == {"ColomboAcousticDrumkit", "HardElectro1", "Millo_MultiLayered3",
                                "rumpf_kit_z01_h2"}
    assert not set(drums.VAL_KITS) & set(drums.TEST_KITS)
    assert all(drums.kit_split(k) == "val" for k in drums.VAL_KITS)
    assert drums.kit_split("GMRockKit") == "train"


# --- real drumkit.xml files ------------------------------------------------------------

@pytest.fixture(scope="session")
def hydrogen_data() -> Path:
    from micromel.data import debpkg

    return debpkg.fetch("hydrogen-data", quiet=True)


@pytest.fixture(scope="session")
def hydrogen_drumkits() -> Path:
    from micromel.data import debpkg

    return debpkg.fetch("hydrogen-drumkits", quiet=True)


@pytest.fixture(scope="session")
def drums_dir() -> Path:
    """The drums dataset's Hydrogen part, built once into data/drums_hydrogen (cached like
    `micromel dataset drums --sources hydrogen`; the other families: test_drum_sources.py)."""
    from micromel.data.debpkg import data_root

    return drums.build_drums(data_root() / "drums_hydrogen", sources=("hydrogen",), quiet=True).parent


def test_gmrockkit_mapping(hydrogen_data):
    inst = drums.parse_drumkit(hydrogen_data / drums.KITS_DIR / "GMRockKit" / "drumkit.xml")
    labels = {name: drums.drum_label(name) for name, _ in inst}
    assert labels["Stick"] is None and labels["Hand Clap"] is None and labels["Cowbell"] is None
    assert labels["Snare Rimshot"] == "snare" and labels["Bell"] == "cymbal"
    files, _ = drums.drum_files({"hydrogen-data": hydrogen_data})
    c = collections.Counter(f.label for f in files if f.kit == "GMRockKit")
    assert c == {"kick": 5, "snare": 10, "hihat": 20, "tom": 15, "cymbal": 25}
    c808 = collections.Counter(f.label for f in files if f.kit == "TR808EmulationKit")
    assert c808 == {"kick": 2, "snare": 2, "hihat": 3, "tom": 3, "cymbal": 1}
    assert all(f.split == "train" for f in files)


def test_all_kits_mapping_and_split(hydrogen_data, hydrogen_drumkits):
    files, notes = drums.drum_files({"hydrogen-drumkits": hydrogen_drumkits, "hydrogen-data": hydrogen_data})
    kits = {f.kit for f in files}
    assert set(drums.TEST_KITS) <= kits and set(drums.VAL_KITS) <= kits
    # hand-percussion kits contribute nothing
    assert "Gimme A Hand 1.0" not in kits and "circAfrique v4" not in kits
    # a kit is in exactly one split; every split has every class
    for split in datasets.SPLITS:
        labels = {f.label for f in files if f.split == split}
        assert labels == set(drums.DRUM_CLASSES), split
    by_kit = collections.defaultdict(set)
    for f in files:
        by_kit[f.kit].add(f.split)
    assert all(len(s) == 1 for s in by_kit.values())
    # instruments sharing one file (Colombo's tomhi2..4 all play tom-hi-1.flac) count once
    colombo = [f for f in files if f.kit == "ColomboAcousticDrumkit"]
    assert len({f.source_path for f in colombo}) == len(colombo)
    assert sum(f.source_path.name == "tom-hi-1.flac" for f in colombo) == 1
    c = collections.Counter(f.split for f in files)
    assert c == {"train": 426, "val": 38, "test": 86}


def test_build_drums_manifest(drums_dir):
    rows = list(csv.DictReader(open(drums_dir / "manifest.csv")))
    assert list(rows[0].keys()) == list(datasets.MANIFEST_COLUMNS)
    c = collections.Counter(r["split"] for r in rows)
    # The Black Pearl repeats 70 of GMRockKit's samples bit for bit: dropped once
    assert c == {"train": 356, "val": 38, "test": 86}
    assert {r["label"] for r in rows} == set(drums.DRUM_CLASSES)
    for r in rows[:: 25]:
        info = sf.info(str(drums_dir / r["path"]))
        assert info.samplerate == 16000 and info.channels == 1 and info.subtype == "PCM_16"
        assert info.frames <= drums.MAX_SECONDS * 16000
        assert r["path"].startswith(r["label"] + "/")
        kit = r["source"].split("/")[1]
        assert drums.kit_split(kit) == r["split"]
    # a user-dataset load of the folder gives the same list
    ds = datasets.load_dataset(drums_dir, check_files=False)
    assert ds.labels == sorted(drums.DRUM_CLASSES) and len(ds.items) == len(rows)


# --- user datasets -----------------------------------------------------------------------

def _wav(path: Path, n: int = 1600, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    x = (np.random.default_rng(seed).standard_normal(n) * 3000).astype(np.int16)
    sf.write(str(path), x, 16000, subtype="PCM_16")
    return path


def _one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_folder_dataset(tmp_path):
    for lab in ("dog", "cat"):
        for i in range(10):
            _wav(tmp_path / lab / f"{lab}{i}.wav", seed=i)
    ds = datasets.load_dataset(tmp_path)
    assert ds.labels == ["cat", "dog"]
    assert len(ds.items) == 20
    assert {s for _, _, s in ds.items} <= set(datasets.SPLITS)
    # the hash split is the same in another process (whatever Python's string hash seed)
    # and about 80/10/10
    paths = [f"{lab}/{lab}{i}.wav" for lab in ("dog", "cat") for i in range(1000)]
    code = ("import sys; from micromel.data.datasets import hash_split; "
            "print(' '.join(hash_split(p) for p in sys.argv[1:]))")
    for seed in ("1", "2"):
        r = subprocess.run([sys.executable, "-c", code, *paths], capture_output=True, text=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}, check=True)
        assert r.stdout.split() == [datasets.hash_split(p) for p in paths]
    share = {k: sum(datasets.hash_split(p) == k for p in paths) / len(paths) for k in datasets.SPLITS}
    assert abs(share["train"] - 0.8) < 0.03 and abs(share["val"] - 0.1) < 0.02 \
        and abs(share["test"] - 0.1) < 0.02, share
    root = tmp_path.resolve()
    assert [s for _, _, s in ds.items] == [datasets.hash_split(Path(p).resolve().relative_to(root).as_posix())
                                           for p, _, _ in ds.items]


def test_manifest_dataset_tsv(tmp_path):
    _wav(tmp_path / "a.wav")
    _wav(tmp_path / "sub" / "b.flac".replace(".flac", ".wav"))
    (tmp_path / "m.tsv").write_text("path\tlabel\tsplit\na.wav\tyes\ttrain\nsub/b.wav\tno\ttest\n")
    ds = datasets.load_dataset(tmp_path / "m.tsv")
    assert ds.labels == ["no", "yes"]
    assert [(p.name, lab, s) for p, lab, s in ds.items] == [("a.wav", "yes", "train"), ("b.wav", "no", "test")]


def test_unreadable_file(tmp_path):
    _wav(tmp_path / "dog" / "ok.wav")
    bad = tmp_path / "dog" / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00not really a wave file")
    _wav(tmp_path / "cat" / "c.wav")
    with pytest.raises(MicromelError) as e:
        datasets.load_dataset(tmp_path)
    msg = _one_line(e)
    assert str(bad) in msg and "unreadable" in msg


def test_unknown_label(tmp_path):
    _wav(tmp_path / "a.wav")
    _wav(tmp_path / "b.wav")
    (tmp_path / "m.csv").write_text("path,label\na.wav,kick\nb.wav,cowbell\n")
    datasets.load_dataset(tmp_path / "m.csv")            # fine without a model's labels
    with pytest.raises(MicromelError) as e:
        datasets.load_dataset(tmp_path / "m.csv", labels=["kick", "snare"])
    msg = _one_line(e)
    assert "m.csv:3" in msg and "b.wav" in msg and "'cowbell'" in msg


def test_empty_class(tmp_path):
    _wav(tmp_path / "dog" / "a.wav")
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "notes.txt").write_text("no audio here")
    with pytest.raises(MicromelError) as e:
        datasets.load_dataset(tmp_path)
    msg = _one_line(e)
    assert str(tmp_path / "cat") in msg and "no audio" in msg


def test_empty_class_in_train_split(tmp_path):
    _wav(tmp_path / "a.wav")
    _wav(tmp_path / "b.wav")
    (tmp_path / "m.csv").write_text("path,label,split\na.wav,x,train\nb.wav,y,test\n")
    ds = datasets.load_dataset(tmp_path / "m.csv")
    with pytest.raises(MicromelError) as e:
        datasets.require_classes(ds, "train")
    assert "'y'" in _one_line(e) and "train" in str(e.value)


@pytest.mark.parametrize("text,needle", [
    ("file,class\na.wav,x\n", "path and label"),
    ("path,label,split\na.wav,x,holdout\n", "holdout"),
    ("path,label\nmissing.wav,x\n", "missing.wav"),
    ("path,label\n,x\n", "empty path"),
])
def test_bad_manifests(tmp_path, text, needle):
    _wav(tmp_path / "a.wav")
    (tmp_path / "m.csv").write_text(text)
    with pytest.raises(MicromelError) as e:
        datasets.load_dataset(tmp_path / "m.csv")
    assert needle in _one_line(e)


def test_empty_audio_file(tmp_path):
    p = tmp_path / "x" / "empty.wav"
    p.parent.mkdir()
    sf.write(str(p), np.zeros(0, np.int16), 16000, subtype="PCM_16")
    _wav(tmp_path / "y" / "a.wav")
    with pytest.raises(MicromelError) as e:
        datasets.load_dataset(tmp_path)
    assert str(p) in _one_line(e) and "empty" in str(e.value)


def test_cli_dataset_check_error_is_one_line(tmp_path, capsys):
    from micromel.cli import main

    (tmp_path / "cat").mkdir()
    assert main(["dataset", "check", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("micromel: error:") and "cat" in err
