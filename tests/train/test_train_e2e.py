"""A tiny end-to-end run on real drums (a few clips, a few epochs): train, int8 quantize,
evaluate, model folder contract. Not a quality test: full training is not run in tests."""
from __future__ import annotations

import csv
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from micromel.clip import rules as win
from micromel.errors import MicromelError

CLASSES = ("kick", "hihat", "cymbal")
PER_SPLIT = {"train": 6, "val": 2, "test": 3}


@pytest.fixture(scope="module")
def tiny_manifest(tmp_path_factory) -> Path:
    from micromel.data.drums import build_drums
    from micromel.data.debpkg import data_root

    drums = build_drums(data_root() / "drums_hydrogen", sources=("hydrogen",), quiet=True).parent
    rows = list(csv.DictReader(open(drums / "manifest.csv")))
    out = tmp_path_factory.mktemp("tiny")
    lines = ["path,label,split"]
    for split, n in PER_SPLIT.items():
        for lab in CLASSES:
            pick = [r for r in rows if r["split"] == split and r["label"] == lab][:: 3][:n]
            assert len(pick) == n
            lines += [f"{drums / r['path']},{lab},{split}" for r in pick]
    (out / "manifest.csv").write_text("\n".join(lines) + "\n")
    return out / "manifest.csv"


def _cfg(seed=3):
    from micromel.train.config import AugmentConfig
    from micromel.train.config import TrainConfig

    # two members: the shipped drums model is an ensemble, so the whole folder contract is
    # tested on one
    return TrainConfig(arch="dscnn-m0+dscnn-m0", epochs=3, seed=seed, epoch_windows=256, patience=10,
                       window=win.WindowConfig(frames=32, hop_frames=16, silence_rms_dbfs=-65.0),
                       # no simulated rooms: building the room bank takes ~40 s (test_recipe.py
                       # tests the rooms on a small bank)
                       augment=AugmentConfig(variants=1, reverb_p=0.0))


@pytest.fixture(scope="module")
def trained(tiny_manifest, tmp_path_factory):
    from micromel.train import run as train

    mp = pytest.MonkeyPatch()
    mp.setenv("MICROMEL_CACHE", str(tmp_path_factory.mktemp("cache")))
    out = tmp_path_factory.mktemp("models") / "tiny"
    metrics = train.run(tiny_manifest, out, _cfg(), spread_seeds=[4], command="pytest", quiet=True)
    yield out, metrics
    mp.undo()


def test_model_folder_contract(trained):
    out, metrics = trained
    for name in ("model.tflite", "model_float.tflite", "config.json", "card.md", "metrics.json",
                 "confusion.png", "forest.h"):
        assert (out / name).is_file(), name
    from micromel.modeldir import ModelDir
    from micromel.train.config import TrainConfig

    cfg = json.loads((out / "config.json").read_text())
    model = ModelDir.open(out)
    assert list(model.labels) == sorted(CLASSES) == cfg["labels"]
    assert cfg["window"] == {"frames": 32, "hop_frames": 16, "silence_rms_dbfs": -65.0}
    assert "window_frames" not in cfg["frontend"] and "input_shape" not in cfg  # stored once
    assert model.input_shape == (32, model.frontend.n_mels, 1)
    assert model.frontend.window_frames == 32
    assert cfg["train"]["arch"] == "dscnn-m0+dscnn-m0" and cfg["train"]["seed"] == 3
    assert model.name == "tiny"
    fr = win.Framing(cfg["frontend"]["hop_length"], cfg["frontend"]["n_fft"])
    assert model.gate_threshold == win.gate_threshold(win.WindowConfig.from_dict(cfg["window"]), fr)
    card = (out / "card.md").read_text()
    for needle in ("## Data and split", "macro-F1", "CNN int8", "random forest", "MACs",
                   "Weight bytes", "Over training seeds", "## Reproduce", "pytest"):
        assert needle in card, needle
    assert len(metrics["seeds"]) == 2 and [s["seed"] for s in metrics["seeds"]] == [3, 4]
    assert TrainConfig.of_model(model).member_seeds() == [3, 1003]
    assert [s["member_seeds"] for s in metrics["seeds"]] == [[3, 1003], [4, 1004]]
    assert len(metrics["epochs_run"]) == 2 and all(1 <= e <= 3 for e in metrics["epochs_run"])
    assert "an ensemble of 2 networks" in card and "| 3, 1003 |" in card
    # a model that answers one class says so at the top of its card
    from micromel.train.card import render

    said = "voted val clips**, of 3 classes: it has learned one class"
    assert ("it has learned one class" in card) == ("one_class" in metrics)
    stuck = render(model, {**metrics, "one_class": {"split": "val", "class": CLASSES[0],
                                                    "clips": 7, "classes": 3}})
    assert f"**This model answers `{CLASSES[0]}` for all 7 {said}" in stuck


def test_ensemble_is_a_product_of_experts(capfd):
    """models.ensemble: softmax of the summed logits == the members' probabilities
    multiplied and renormalised; the int8 conversion keeps to engine ops (ADD joins them)."""
    from micromel.train import models as models_cnn
    from micromel.train import quantize

    archs = ["dscnn-m0", "dscnn-m4", "dscnn-m0"]
    nets = [models_cnn.build(a, (32, 40, 1), 4) for a in archs]
    ens = models_cnn.ensemble("+".join(archs), nets)
    x = np.random.default_rng(0).integers(-128, 128, (8, 32, 40, 1)).astype(np.float32)
    logp = sum(np.log(n.predict(x, verbose=0).astype(np.float64)) for n in nets)
    want = np.exp(logp - logp.max(axis=1, keepdims=True))
    want /= want.sum(axis=1, keepdims=True)
    assert np.allclose(ens.predict(x, verbose=0), want, atol=1e-5)
    assert models_cnn.ensemble("dscnn-m0", nets[:1]) is nets[0]
    with pytest.raises(MicromelError, match="--arch dscnn-m9"):
        models_cnn.member_archs("dscnn-m4+dscnn-m9")
    capfd.readouterr()
    ops = quantize.op_names(quantize.to_int8(ens, x))
    # the converter's C++ log lines reached `train --quiet` past Python's redirect
    assert "fully_quantize" not in capfd.readouterr().err
    assert ops.count("ADD") == 2 and ops.count("SOFTMAX") == 1 and set(ops) <= quantize.SUPPORTED_OPS


def test_int8_contract(trained):
    from micromel.train import quantize

    out, _ = trained
    flat = (out / "model.tflite").read_bytes()
    quantize.check_int8_contract(flat)
    it = quantize.interpreter(flat)
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    assert i["dtype"] == np.int8 and o["dtype"] == np.int8
    assert i["quantization"] == (1.0, 0)
    assert list(i["shape"]) == [1, 32, 40, 1]
    assert set(quantize.op_names(flat)) <= quantize.SUPPORTED_OPS
    # the float model is refused by the same check (the check can fail)
    with pytest.raises(MicromelError):
        quantize.check_int8_contract((out / "model_float.tflite").read_bytes())


def test_evaluate_reproduces_training_metrics(trained, tiny_manifest, capsys):
    from micromel.cli import main
    from micromel.modeldir import ModelDir
    from micromel.train.evaluate import evaluate_model

    out, metrics = trained
    m8, split = evaluate_model(ModelDir.open(out), tiny_manifest, impl="int8", quiet=True)
    assert split == "test"          # the manifest names splits: test by default
    assert m8["confusion"] == metrics["test_int8"]["confusion"]
    assert m8["clips"] == PER_SPLIT["test"] * len(CLASSES)
    mf, _ = evaluate_model(ModelDir.open(out), tiny_manifest, split="test", impl="float", quiet=True)
    assert mf["clips"] == m8["clips"]
    # float from the float .tflite agrees with the Keras model at training time
    assert abs(mf["accuracy"] - metrics["test_float"]["accuracy"]) < 1e-9
    assert main(["evaluate", str(out), str(tiny_manifest), "--split", "val", "--quiet"]) == 0
    assert "accuracy" in capsys.readouterr().out


def test_evaluate_scores_the_models_rejection_rule(trained, tiny_manifest, tmp_path, capsys):
    """A model with a rejection rule: evaluate reports what the device answers with it
    (accuracy on accepted clips, fraction unknown), overall and per source, equal to the
    scalar rule (clip.reject.decide, the C's twin) applied clip by clip; the vote's own
    accuracy is unchanged."""
    from micromel.cli import main
    from micromel.clip import reject
    from micromel.data.datasets import load_dataset
    from micromel.modeldir import ModelDir
    from micromel.train import features as train_features
    from micromel.train.evaluate import evaluate_model, int8_clip_votes

    out, _ = trained
    model = ModelDir.open(out)
    labels = list(model.labels)
    items = load_dataset(tiny_manifest, labels=labels).select("all")
    cf = train_features.extract(items, labels, model.frontend, model.window, None, 0, "t", quiet=True)
    accs, ns = int8_clip_votes(model.tflite_bytes, cf, model.window, train_features.framing(model.frontend))
    tops = sorted(int(a.max()) // int(n) for a, n in zip(accs, ns) if n > 0)
    rule = reject.RejectConfig(min_top=tops[len(tops) // 2])     # about half the clips rejected
    shutil.copytree(out, tmp_path / "ruled")
    ModelDir.open(tmp_path / "ruled").replace(reject=rule).save()

    answers = np.array([reject.decide(a, int(n), rule) for a, n in zip(accs, ns)])
    y = np.asarray(cf.label)
    accepted = answers >= 0
    assert 0 < accepted.sum() < len(y)          # the rule rejects some clips, not all
    assert (answers == reject.UNKNOWN).any()
    plain, _ = evaluate_model(model, tiny_manifest, split="all", quiet=True)
    m, _ = evaluate_model(ModelDir.open(tmp_path / "ruled"), tiny_manifest, split="all",
                          quiet=True, by_source=True)
    assert "with_rule" not in plain and m["accuracy"] == plain["accuracy"]
    want = {"clips": len(y), "rejected": float(np.mean(answers == reject.UNKNOWN)),
            "accuracy_accepted": float(np.mean(answers[accepted] == y[accepted]))}
    assert m["with_rule"] == pytest.approx(want)
    # the manifest has no source column: one row holds every clip
    assert m["by_source"]["(no source)"]["with_rule"] == pytest.approx(want)
    assert main(["evaluate", str(tmp_path / "ruled"), str(tiny_manifest), "--split", "all",
                 "--by", "source", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert f"rejected (unknown) {100 * want['rejected']:.1f}%" in text
    row = next(ln for ln in text[text.index("by source:"):].splitlines() if ln.startswith("(no source)"))
    assert row.split()[-2:] == [f"{100 * want['accuracy_accepted']:.1f}%", f"{100 * want['rejected']:.1f}%"]


def test_evaluate_errors_are_one_line(trained, tiny_manifest, tmp_path, capsys):
    from micromel.cli import main

    out, _ = trained
    assert main(["evaluate", str(tmp_path / "nope"), str(tiny_manifest), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("micromel: error:") and "\n" not in err and "nope" in err
    bad = tmp_path / "m.csv"
    bad.write_text(f"path,label,split\n{tiny_manifest.parent}/x.wav,snare,test\n")
    assert main(["evaluate", str(out), str(bad), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "'snare'" in err and "\n" not in err


def test_soft_vote_in_evaluation_matches_windows_module(trained, tiny_manifest):
    """int8 clip predictions = micromel.clip.rules applied to LiteRT scores by hand."""
    from micromel.audio import load_audio
    from micromel.data.datasets import load_dataset
    from micromel.frontend import features
    from micromel.modeldir import ModelDir
    from micromel.train import features as train_features
    from micromel.train import quantize
    from micromel.train.evaluate import int8_clip_predictions

    out, _ = trained
    model = ModelDir.open(out)
    fe, w, labels = model.frontend, model.window, list(model.labels)
    fr = train_features.framing(fe)
    flat = model.tflite_bytes
    ds = load_dataset(tiny_manifest, labels=labels)
    items = ds.split("test")
    cf = train_features.extract(items, labels, fe, w, None, 0, "t", quiet=True)
    pred = int8_clip_predictions(flat, cf, w, fr)
    for k, (path, _, _) in enumerate(items):
        wins, ns = win.clip_windows(load_audio(path, 16000), lambda p: features(p, fe), w, fr)
        scores = quantize.run_int8(flat, wins)
        assert win.soft_vote(scores, ns)[0] == pred[k]


def test_forest_header_compiles(trained, tmp_path):
    import emlearn

    out, _ = trained
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.skip("no host C compiler")
    src = tmp_path / "f.c"
    src.write_text(f'#include "{out / "forest.h"}"\n'
                   "int predict(const int16_t *x, int n) { return eml_trees_predict(&mm_forest, x, n); }\n")
    r = subprocess.run([gcc, "-std=c99", "-fsyntax-only", "-Wall", f"-I{emlearn.includedir}", str(src)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_training_is_deterministic(trained, tiny_manifest, tmp_path, monkeypatch):
    from micromel.train import run as train

    out, _ = trained
    cfg = _cfg()
    cfg.forest = False
    again = tmp_path / "tiny"
    shutil.copytree(out, again)      # the folder as `train --force` finds it: a model with a forest
    train.run(tiny_manifest, again, cfg, command="pytest", quiet=True)
    assert (again / "model.tflite").read_bytes() == (out / "model.tflite").read_bytes()
    # trained without a forest: the earlier model's forest.h must not stay beside this model
    assert (out / "forest.h").exists() and not (again / "forest.h").exists()


def test_a_student_trains_on_its_teachers_targets(trained, tiny_manifest, tmp_path):
    from dataclasses import replace

    from micromel.train import run as train

    out, _ = trained
    cfg = replace(_cfg(), forest=False, teacher=str(out), distill=0.75, distill_temperature=3.0)
    student = tmp_path / "student"
    metrics = train.run(tiny_manifest, student, cfg, command="pytest", quiet=True)
    rec = json.loads((student / "config.json").read_text())["train"]
    assert Path(rec["teacher"]).resolve() == out.resolve() and rec["distill"] == 0.75
    assert metrics["teacher"]["float_model_sha256"] == \
        hashlib.sha256((out / "model_float.tflite").read_bytes()).hexdigest()
    card = (student / "card.md").read_text()
    assert "**Student of `" in card and "0.25 x its label + 0.75 x" in card and "T = 3" in card
    # test_training_is_deterministic: without a teacher this config trains `out`'s weights
    assert (student / "model.tflite").read_bytes() != (out / "model.tflite").read_bytes()


def test_a_teacher_that_saw_other_clips_is_refused(trained, tiny_manifest, tmp_path, capsys):
    from dataclasses import replace

    from micromel.cli import main
    from micromel.data.datasets import load_dataset
    from micromel.train import teacher

    out, _ = trained
    cfg = _cfg()
    ds = load_dataset(tiny_manifest)
    teacher.check(out, ds, cfg.frontend_config(), cfg.window)    # fits
    lines = tiny_manifest.read_text().splitlines()
    k = next(i for i, line in enumerate(lines) if line.endswith(",test"))
    lines[k] = lines[k][: -len("test")] + "train"       # a test clip the teacher never had
    other = tmp_path / "manifest.csv"
    other.write_text("\n".join(lines) + "\n")
    with pytest.raises(MicromelError, match="another view of the data"):
        teacher.check(out, load_dataset(other), cfg.frontend_config(), cfg.window)
    relabelled = tmp_path / "relabelled.csv"
    relabelled.write_text(tiny_manifest.read_text().replace(",kick,", ",tom,"))
    with pytest.raises(MicromelError, match="labels"):
        teacher.check(out, load_dataset(relabelled), cfg.frontend_config(), cfg.window)
    with pytest.raises(MicromelError, match="front end or window differs"):
        teacher.check(out, ds, cfg.frontend_config(), replace(cfg.window, frames=24))
    bare = tmp_path / "bare"
    shutil.copytree(out, bare)
    (bare / "model_float.tflite").write_bytes(b"not a model")
    with pytest.raises(MicromelError, match="model_float.tflite: not a TFLite model"):
        teacher.check(bare, ds, cfg.frontend_config(), cfg.window)
    shutil.copy(out / "model.tflite", bare / "model_float.tflite")      # the int8 model
    with pytest.raises(MicromelError, match="model_float.tflite: input int8, output int8; expected float32"):
        teacher.check(bare, ds, cfg.frontend_config(), cfg.window)
    (bare / "model_float.tflite").unlink()
    with pytest.raises(MicromelError, match="no model_float.tflite"):
        teacher.check(bare, ds, cfg.frontend_config(), cfg.window)
    for data, args, says in (
            (tiny_manifest, ["--distill", "0.3"], "--distill 0.3: needs --teacher DIR"),
            (tiny_manifest, ["--distill-temperature", "2"], "--distill-temperature 2: needs --teacher DIR"),
            (tiny_manifest, ["--teacher", str(out), "--distill", "0"], "--distill 0: give the teacher's share"),
            (tiny_manifest, ["--teacher", str(out), "--loso", "all"], "--loso with --teacher"),
            (other, ["--teacher", str(out)], "another view of the data")):
        assert main(["train", str(data), "--out", str(tmp_path / "m"), "--quiet",
                     *args]) == 2
        err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
        assert len(err) == 1 and err[0].startswith("micromel: error:") and says in err[0], err
    assert not (tmp_path / "m").exists()                  # nothing written
