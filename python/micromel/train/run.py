"""`micromel train`: a folder of labelled audio -> models/NAME/ (int8 .tflite, config, card).

Pipeline:
1. Features (features.py): every clip through the front-end twin after padding, training
   clips also as `augment.variants` waveform-augmented copies; cached.
2. CNN (fit.py, models.py): class-balanced windows on the evaluation grid per epoch,
   SpecAugment and mixup, early stopping on the validation split, the average of the last
   epochs' weights. When `arch` names several networks ("dscnn-m4+dscnn-m4", the default)
   each is trained so, with its own seed, and models.ensemble joins them into one model
   (summed logits, one softmax).
   With a teacher (teacher.py), the targets mix in its softened probabilities.
3. int8 conversion (quantize.py) with the int8-input contract verified.
4. Forest (forest.py) on the same windows, exported as forest.h with emlearn.
5. Evaluation of float and int8 CNN and forest on the test split (evaluate.py: clip level,
   soft vote over non-silent windows), model card and confusion matrix (card.py), all
   written through micromel.modeldir.ModelDir.

Reproducible: python, numpy and TensorFlow seeds plus TF op determinism; every random draw
comes from generators seeded by (seed, purpose).
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf

from .. import cliargs
from ..data.datasets import Dataset, background_labels, load_dataset, require_classes
from ..errors import MicromelError
from ..modeldir import ModelDir
from ..paths import recorded_path
from ..clip.rules import window_samples
from ..segment.config import SegmentConfig
from . import card, evaluate, forest as forest_mod, gate, members, models, quantize, teacher
from .config import TrainConfig
from .features import ClipFeatures, eval_windows, extract, framing, training_features
from .fit import quiet_tf


SAMPLED_CLIPS = 200     # clip lengths read from this many files' headers, evenly spread


def short_clips_note(items, rate: int, window_s: float, frames: int) -> str | None:
    """Most training clips shorter than one window are zero-padded to it: a dataset cut for
    another window (from-labels --window-frames) trains on padding without a word else."""
    if not items:
        return None
    picked = items[:: max(1, len(items) // SAMPLED_CLIPS)]
    seconds = sorted(sf.info(str(p)).duration for p, _, _ in picked)
    median = seconds[len(seconds) // 2]
    if median >= window_s - 0.5 / rate:
        return None
    return (f"most training clips are shorter than one window (median {median:.3f} s, the "
            f"window {window_s:.3f} s at --window-frames {frames}): each is padded with zeros "
            "to a window; a dataset cut for other windows (from-labels --window-frames N) "
            "trains with that --window-frames N")


def prepare_data(data: str | Path, fcfg, cfg: TrainConfig, quiet: bool = False):
    ds = load_dataset(data)
    if cfg.hold_out_source:
        ds = ds.hold_out(cfg.hold_out_source)
    if cfg.teacher:         # before the features: a wrong teacher is a one-line error
        teacher.check(Path(cfg.teacher), ds, fcfg, cfg.window)
    require_classes(ds, "train")
    if len(ds.labels) < 2:
        raise MicromelError(f"{ds.source}: needs at least two classes, found {ds.labels}")
    for d in member_datasets(ds, cfg)[1:]:    # a specialist must see every class too
        require_classes(d, "train")
    gate.member_roles(ds.labels, cfg)         # --gate: a class of the data
    fr = framing(fcfg)
    note = short_clips_note(ds.split("train"), fcfg.sample_rate,
                            window_samples(cfg.window, fr) / fcfg.sample_rate, cfg.window.frames)
    if note:
        print(f"note: {note}", file=sys.stderr)
    if cfg.augment.variants and cfg.augment.bed_p > 0 and not cfg.backgrounds:
        print(f"note: no --background recordings given: the background-bed step (bed_p="
              f"{cfg.augment.bed_p}) is off for this model", file=sys.stderr)
    train_cf = training_features(ds, fcfg, cfg, quiet)
    val_items = ds.split("val")
    if not val_items:
        print(f"note: {ds.source}: no clip in the val split: no early stopping (every one of "
              f"the {cfg.epochs} epochs runs) and the card has no validation numbers",
              file=sys.stderr)
    val_cf = extract(val_items, ds.labels, fcfg, cfg.window, None, 0, "val", quiet=quiet) \
        if val_items else None
    test_items = ds.split("test")
    test_cf = extract(test_items, ds.labels, fcfg, cfg.window, None, 0, "test", quiet=quiet) \
        if test_items else None
    return ds, fr, train_cf, val_cf, test_cf


def train_one(ds: Dataset, fr, fcfg, train_cf, val_cf, test_cf, cfg: TrainConfig,
              quiet: bool = False):
    """Train one seed (each network `cfg.arch` names, combined into one model): returns a
    dict with the keras model, int8 flatbuffer and metrics."""
    t0 = time.time()
    watch_cf = test_cf if os.environ.get("MICROMEL_WATCH_TEST") else None   # development only
    archs = models.member_archs(cfg.arch)
    # one network each (the specialist's clips are in its dataset, member_ds)
    cfgs = [replace(cfg, seed=seed, arch=archs[k], specialist="", gate="")
            for k, seed in enumerate(cfg.member_seeds())]
    member_ds = member_datasets(ds, cfg)
    roles = gate.member_roles(ds.labels, cfg)
    fitted = members.fit_members(ds, fr, fcfg, train_cf, val_cf, cfgs, quiet=quiet,
                                 watch_cf=watch_cf, member_ds=member_ds, roles=roles)
    nets = [f[0] for f in fitted]
    histories = [f[1] for f in fitted]
    best_epochs = [f[2] for f in fitted]
    gate_cal = None
    if cfg.gate:            # the gate's logit moved to where it tells its class apart (gate.py)
        g = ds.labels.index(cfg.gate)
        gate_cal = gate.calibrate(models.ensemble(cfg.arch, nets), val_cf, cfg.window, fr, g)
        gate.move_bias(nets[-1], g, gate_cal["bias"])
    model = models.ensemble(cfg.arch, nets)
    t_fit = time.time() - t0
    # representative set: training windows at the configured hop (clean and augmented)
    rx, rns, _ = eval_windows(train_cf, cfg.window, fr)
    flat = quantize.to_int8(model, rx[rns].astype(np.float32)[..., None], seed=cfg.seed)
    res = {"model": model, "flat": flat, "histories": histories, "best_epochs": best_epochs,
           "epochs_run": [len(h) for h in histories], "fit_seconds": t_fit,
           "members": [{"arch": c.arch, "seed": c.seed, "train_clips": len(d.split("train")),
                        "train_sources": sorted(set(d.source_names(d.split("train")))),
                        **({"role": r.name} if r.name else {})}
                       for c, d, r in zip(cfgs, member_ds, roles)],
           **({"gate": gate_cal} if gate_cal is not None else {})}
    if test_cf is not None:
        res["test_float"] = evaluate.evaluate_float(model, test_cf, cfg.window, fr, ds.labels)
        pred = evaluate.int8_clip_predictions(flat, test_cf, cfg.window, fr)
        res["test_int8"] = evaluate.clip_metrics(test_cf.label, pred, ds.labels)
        res["test_int8"]["by_source"] = evaluate.metrics_by_source(
            test_cf.label, pred, ds.source_names(ds.split("test")), ds.labels)
    if val_cf is not None:
        res["val_int8"] = evaluate.evaluate_int8(flat, val_cf, cfg.window, fr, ds.labels)
    return res


def member_datasets(ds: Dataset, cfg: TrainConfig) -> list[Dataset]:
    """The dataset each network of the ensemble trains on: `ds`, and for the last
    `cfg.specialist_networks`, with `cfg.specialist`, only that source's training clips (a
    one-line error when `ds` has none, e.g. because the source is held out)."""
    n = len(models.member_archs(cfg.arch))
    if not cfg.specialist:
        return [ds] * n
    k = cfg.specialist_networks
    return [ds] * (n - k) + [ds.train_only(cfg.specialist)] * k


def leave_one_out(data, fcfg, cfg: TrainConfig, sources, seeds, quiet: bool = False) -> list[dict]:
    """Leave-one-source-out runs: for every source and seed, train with that source held
    out (Dataset.hold_out: its clips are the test split) and score the int8 model on it."""
    out = []
    for source in sources:
        c = replace(cfg, hold_out_source=source)
        ds, fr, train_cf, val_cf, test_cf = prepare_data(data, fcfg, c, quiet=quiet)
        for seed in seeds:
            cs = replace(c, seed=int(seed))
            tr = train_cf if cs.seed == c.seed else training_features(ds, fcfg, cs, quiet)
            r = train_one(ds, fr, fcfg, tr, val_cf, test_cf, cs, quiet=quiet)
            out.append({"source": source, "seed": cs.seed, "clips": len(test_cf),
                        "train_sources": sorted(set(ds.source_names(ds.split("train")))),
                        "test_int8": _short(r["test_int8"]), "test_float": _short(r["test_float"]),
                        "recall": {lab: r["test_int8"]["per_class"][lab]["recall"] for lab in ds.labels},
                        "epochs_run": r["epochs_run"]})
            if not quiet:
                print(f"[loso] {source} held out, seed {cs.seed}: int8 accuracy "
                      f"{100 * r['test_int8']['accuracy']:.1f}% on {len(test_cf)} clips", flush=True)
    return out


def loso_sources(data, names) -> list[str]:
    """The sources `--loso` names ("all": every source of the dataset), checked."""
    known = sorted(set(load_dataset(data, check_files=False).source_names()) - {""})
    if not known:
        raise MicromelError(f"--loso: {data} has no source column; leave-one-source-out needs one")
    picked = known if list(names) == ["all"] else list(names)
    bad = [n for n in picked if n not in known]
    if bad:
        raise MicromelError(f"--loso {bad[0]}: not a source of {data} (its sources: {', '.join(known)})")
    return picked


def run(data: str | Path, out: str | Path, cfg: TrainConfig, spread_seeds=(), command: str = "",
        quiet: bool = False, name: str | None = None, loso=()) -> dict:
    """`micromel train`: train, quantize, evaluate, write models/NAME/. Returns metrics.
    `loso`: sources to leave out one at a time (leave_one_out), for every seed."""
    quiet_tf()
    t_start = time.time()
    cfg.augment.check()
    out = cliargs.out_folder(out, "--out", "for the model")
    fcfg = cfg.frontend_config()
    if cfg.teacher and loso:
        raise MicromelError("--loso with --teacher: a teacher fits one held-out source; train "
                            "one student per source (--hold-out-source NAME) with a teacher "
                            "trained without that source")
    loso = loso_sources(data, loso) if loso else []
    record = cfg
    if cfg.teacher:         # resolved once: the workers load this folder, the record names it
        tdir = teacher.resolve(cfg.teacher, out)
        cfg = replace(cfg, teacher=str(tdir))
        record = replace(cfg, teacher=recorded_path(tdir))
    if cfg.specialist and cfg.specialist in loso:
        raise MicromelError(f"--loso {cfg.specialist}: that is the --specialist's source, which "
                            "cannot be held out; name the other sources")
    ds, fr, train_cf, val_cf, test_cf = prepare_data(data, fcfg, cfg, quiet=quiet)
    t_feat = time.time() - t_start
    main = train_one(ds, fr, fcfg, train_cf, val_cf, test_cf, cfg, quiet=quiet)

    one_class = one_class_note(main)

    seeds = []
    for s in spread_seeds:
        c2 = replace(cfg, seed=int(s))
        tr2 = training_features(ds, fcfg, c2, quiet)
        r = train_one(ds, fr, fcfg, tr2, val_cf, test_cf, c2, quiet=quiet)
        seeds.append({"seed": int(s), "test_float": _short(r.get("test_float")),
                      "test_int8": _short(r.get("test_int8")), "best_epoch": r["best_epochs"],
                      "epochs_run": r["epochs_run"], "member_seeds": c2.member_seeds()})

    loso_runs = leave_one_out(data, fcfg, cfg, loso, [cfg.seed, *spread_seeds], quiet) if loso else []

    forest_res = None
    if cfg.forest:
        tx, tns, town = eval_windows(train_cf, cfg.window, fr)
        f = forest_mod.fit(tx[tns], train_cf.label[town[tns]], len(ds.labels), cfg.seed)
        forest_res = {"forest": f}
        if test_cf is not None:
            forest_res["test"] = evaluate.evaluate_forest(f, test_cf, cfg.window, fr, ds.labels)

    stats = quantize.model_stats(main["flat"])
    # the dataset's background classes (from-labels --background-label) make no events
    background = tuple(lab for lab in background_labels(ds.root) if lab in ds.labels)
    model = ModelDir(out, name or out.name, tuple(ds.labels), fcfg, cfg.window,
                     segment=SegmentConfig(background_labels=background),
                     train=record.to_record(),
                     dataset={"source": recorded_path(ds.source), "digest": ds.digest()},
                     forest="forest.h" if forest_res else None)
    metrics = {
        "labels": list(ds.labels),
        "counts": ds.counts(),
        "windows": {s: _window_counts(c, cfg.window, fr) for s, c in
                    (("train", train_cf), ("val", val_cf), ("test", test_cf)) if c is not None},
        "best_epoch": main["best_epochs"],
        "epochs_run": main["epochs_run"],
        "history": main["histories"],
        "test_float": main.get("test_float"),
        "test_int8": main.get("test_int8"),
        "train_sources": sorted(set(ds.source_names(ds.split("train")))),
        "members": main["members"],
        **({"gate": main["gate"]} if "gate" in main else {}),
        "loso": loso_runs,
        "val_int8": _short(main.get("val_int8")),
        "forest_test": forest_res.get("test") if forest_res else None,
        "seeds": [{"seed": cfg.seed, "test_float": _short(main.get("test_float")),
                   "test_int8": _short(main.get("test_int8")), "best_epoch": main["best_epochs"],
                   "epochs_run": main["epochs_run"], "member_seeds": cfg.member_seeds()}]
        + seeds,
        "model": {k: v for k, v in stats.items() if k != "ops"},
        "ops": stats["ops"],
        "float_params": int(main["model"].count_params()),
        "timing": {"features_seconds": round(t_feat, 1), "fit_seconds": round(main["fit_seconds"], 1),
                   "total_seconds": round(time.time() - t_start, 1), "cpus": os.cpu_count()},
        "command": command,
    }
    if one_class:
        metrics["one_class"] = one_class
    if cfg.teacher:
        metrics["teacher"] = {"float_model_sha256": teacher.fingerprint(tdir)}  # its path: config.json
    model.save()
    model.write_output("model.tflite", main["flat"])
    model.write_output("model_float.tflite", _float_tflite(main["model"]))
    if forest_res:
        model.write_output("forest.h", forest_res["forest"].c_header("mm_forest", ds.labels))
    else:
        model.remove_output("forest.h")
    if main.get("test_int8"):
        model.write_output("confusion.png", card.confusion_png(
            main["test_int8"]["confusion"], main["test_int8"]["confusion_labels"],
            f"{model.name}: int8 CNN on the test split"))
    else:
        model.remove_output("confusion.png")
    metrics["timing"]["total_seconds"] = round(time.time() - t_start, 1)
    metrics["timing"]["loso_runs"] = len(loso_runs)
    model.write_output("metrics.json", json.dumps(metrics, indent=2) + "\n")
    model.write_output("card.md", card.render(model, metrics, card.notes_for(ds.root)))
    return metrics


def one_class_note(main: dict) -> dict | None:
    """{"split", "class", "clips", "classes"} when the int8 model answers one class for
    every voted clip of val (or, where val's voted clips hold one class or none, test)
    although they hold several: said on stderr now and at the top of the card, since its
    accuracy alone can look like a model (a short run on small data did this)."""
    for split in ("val", "test"):
        if not main.get(f"{split}_int8"):
            continue
        clips, answered, classes = evaluate.voted_answers(main[f"{split}_int8"])
        if classes < 2:
            continue        # its voted clips hold one class: the next split can tell
        if len(answered) != 1:
            return None
        cls = answered[0]
        print(f"note: the model answers {cls!r} for all {clips} voted {split} clips, of "
              f"{classes} classes: it has learned one class; train longer (--epochs) or on "
              "more data before using it", file=sys.stderr)
        return {"split": split, "class": cls, "clips": clips, "classes": classes}
    return None


def _short(m: dict | None) -> dict | None:
    if not m:
        return None
    return {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"]}


def _window_counts(cf: ClipFeatures, w, fr) -> dict:
    _, ns, _ = eval_windows(cf, w, fr)
    return {"windows": int(len(ns)), "nonsilent": int(ns.sum()), "entries": len(cf)}


def _float_tflite(model) -> bytes:
    import keras                # lazy: TensorFlow
    import tensorflow as tf

    fixed = keras.models.clone_model(model, input_tensors=keras.Input(
        shape=model.input_shape[1:], batch_size=1, name="features"))
    fixed.set_weights(model.get_weights())
    conv = tf.lite.TFLiteConverter.from_keras_model(fixed)
    with contextlib.redirect_stdout(io.StringIO()), quantize.native_stderr_held():
        return conv.convert()


def train_model(data: str | Path, out: str | Path, quiet: bool = False, **overrides) -> dict:
    """Train with the defaults of `micromel train` (what the demo calls); keyword arguments
    override TrainConfig fields."""
    cfg = TrainConfig(**overrides)
    cmd = f"micromel train {data} --out {out} --arch {cfg.arch} --epochs {cfg.epochs} --seed {cfg.seed}"
    return run(data, out, cfg, command=cmd, quiet=quiet)
