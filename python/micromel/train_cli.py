"""CLI commands `micromel dataset`, `micromel train` and `micromel evaluate`.
Heavy imports (TensorFlow, librosa) happen inside the handlers only."""
from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from .errors import MicromelError


def _seeds(text: str) -> list[int]:
    if not text:
        return []
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise MicromelError(f"--spread-seeds {text!r}: expected comma-separated integers, e.g. 1,2,3") from None


def cmd_dataset_drums(args) -> int:
    from .datasets import build_drums

    build_drums(Path(args.out), quiet=args.quiet)
    return 0


def cmd_dataset_check(args) -> int:
    from .datasets import SPLITS, load_dataset, summary_table

    ds = load_dataset(args.data)
    rows = [{"label": lab, "split": s} for _, lab, s in ds.items]
    print(f"{ds.source}: {len(ds.items)} files, {len(ds.labels)} classes")
    print(summary_table(rows, ds.labels))
    empty = [f"{lab} ({s})" for s in SPLITS for lab, c in ds.counts()[s].items() if c == 0]
    if empty:
        print("no files for: " + ", ".join(empty))
    return 0


def cmd_train(args) -> int:
    from . import train as tr
    from .augment import AugmentConfig
    from .windows import WindowConfig

    d = tr.TrainConfig()
    w = WindowConfig(frames=args.window_frames or d.window.frames,
                     hop_frames=args.hop_frames or d.window.hop_frames,
                     silence_rms_dbfs=d.window.silence_rms_dbfs if args.silence_dbfs is None
                     else args.silence_dbfs)
    if args.epochs is not None and args.epochs < 1:
        raise MicromelError("--epochs must be at least 1")
    from .models_cnn import member_archs

    member_archs(args.arch)         # one-line error for an unknown name
    if w.frames < 8 or w.hop_frames < 1:
        raise MicromelError("--window-frames must be at least 8 and --hop-frames at least 1")
    aug = d.augment if args.variants is None else AugmentConfig(variants=args.variants)
    frontend = dict(d.frontend)
    for item in args.frontend or []:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise MicromelError(f"--frontend {item!r}: expected KEY=VALUE, e.g. mel_htk=false")
        if key.strip() == "window_frames":
            raise MicromelError("--frontend window_frames: use --window-frames")
        try:
            frontend[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            frontend[key.strip()] = value          # a plain string such as hamming
    tr.frontend_config(**frontend)                 # one-line error for a bad key or value
    cfg = tr.TrainConfig(arch=args.arch, frontend=frontend, epochs=args.epochs or d.epochs, seed=args.seed, window=w,
                         augment=aug, forest=not args.no_forest,
                         patience=args.patience or d.patience)
    command = "micromel " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if args.command_line is None \
        else args.command_line
    m = tr.run(args.data, args.out, cfg, spread_seeds=_seeds(args.spread_seeds), command=command,
               quiet=args.quiet)
    from .evaluate import format_metrics

    if m.get("test_int8"):
        print(f"test split, int8 CNN ({args.out}/model.tflite):")
        print(format_metrics(m["test_int8"], m["labels"]))
        tf = m["test_float"]
        print(f"float CNN: accuracy {100 * tf['accuracy']:.1f}%  macro-F1 {100 * tf['macro_f1']:.1f}%")
        if m.get("forest_test"):
            ft = m["forest_test"]
            print(f"forest:    accuracy {100 * ft['accuracy']:.1f}%  macro-F1 {100 * ft['macro_f1']:.1f}%")
        if len(m["seeds"]) > 1:
            import numpy as np

            a = np.array([s["test_int8"]["accuracy"] for s in m["seeds"]])
            print(f"int8 accuracy over seeds {[s['seed'] for s in m['seeds']]}: "
                  f"mean {100 * a.mean():.1f}% sd {100 * a.std(ddof=1):.1f}")
    else:
        print("no test split: nothing evaluated (give a split column with 'test' rows)")
    print(f"wrote {args.out}/ (model.tflite, config.json, card.md) in "
          f"{m['timing']['total_seconds']} s")
    return 0


def cmd_evaluate(args) -> int:
    from .evaluate import evaluate_model_dir, format_metrics, load_model_dir

    m = evaluate_model_dir(args.model_dir, args.data, split=args.split, impl=args.impl,
                           quiet=args.quiet)
    if args.json:
        print(json.dumps(m, indent=2))
    else:
        labels = load_model_dir(args.model_dir)["labels"]
        print(f"{args.model_dir} ({args.impl}) on {args.data} [{args.split}]")
        print(format_metrics(m, labels))
    return 0


def register(sub) -> None:
    # light imports only (no TensorFlow): dataclasses with the defaults
    from .augment import AugmentConfig
    from .models_cnn import ARCHS
    from .train import MEMBER_SEED_STEP, TrainConfig

    from .cli import group_actions

    dsub = group_actions(sub, "dataset")
    drums = dsub.add_parser("drums", help="the 5-class drums dataset from Debian's hydrogen packages")
    drums.add_argument("--out", default="data/drums", help="output folder (default data/drums)")
    drums.add_argument("--quiet", action="store_true")
    drums.set_defaults(func=cmd_dataset_drums)
    chk = dsub.add_parser("check", help="validate a dataset folder or manifest and count its files")
    chk.add_argument("data", help="folder with one sub-folder per class, or a CSV/TSV manifest")
    chk.set_defaults(func=cmd_dataset_check)

    t = sub.add_parser("train", help="train, quantize (int8) and evaluate a model")
    t.add_argument("data", help="dataset folder (one sub-folder per class, or with manifest.csv) "
                                "or a CSV/TSV manifest path,label[,split]")
    t.add_argument("--out", required=True, help="model folder to write, e.g. models/NAME")
    t.add_argument("--arch", default=TrainConfig.arch,
                   help="network: %s; several joined by '+' (e.g. dscnn-m4+dscnn-m0) are trained "
                        "with seeds seed, seed+%d, ... and shipped as one model whose class "
                        "logits are summed (default %s)"
                        % (", ".join(sorted(ARCHS)), MEMBER_SEED_STEP, TrainConfig.arch))
    t.add_argument("--epochs", type=int, default=None,
                   help="maximum epochs (early stopping on val); default %d" % TrainConfig.epochs)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--spread-seeds", default="",
                   help="also train these seeds (e.g. 1,2,3) and report mean and spread in the card")
    t.add_argument("--frontend", action="append", metavar="KEY=VALUE",
                   help="front-end setting (repeatable), e.g. mel_htk=false or n_mels=32; "
                        "default: the front end's defaults with %s"
                        % ", ".join(f"{k}={v}" for k, v in TrainConfig().frontend.items()))
    t.add_argument("--window-frames", type=int, default=None,
                   help="front-end frames per model window (default %d)" % TrainConfig().window.frames)
    t.add_argument("--hop-frames", type=int, default=None,
                   help="frames between windows of a clip (default %d)" % TrainConfig().window.hop_frames)
    t.add_argument("--silence-dbfs", type=float, default=None,
                   help="windows quieter than this RMS are skipped (default %g dBFS)"
                        % TrainConfig().window.silence_rms_dbfs)
    t.add_argument("--variants", type=int, default=None,
                   help="waveform-augmented copies of each training clip (default %d)"
                        % AugmentConfig().variants)
    t.add_argument("--patience", type=int, default=None,
                   help="early-stopping patience in epochs (default %d)" % TrainConfig.patience)
    t.add_argument("--no-forest", action="store_true", help="skip the random forest")
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    t.add_argument("--command-line", default=None, help=argparse_suppress())
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="clip-level accuracy of a model folder on a dataset split")
    e.add_argument("model_dir")
    e.add_argument("data")
    e.add_argument("--split", default="test", choices=["train", "val", "test", "all"])
    e.add_argument("--impl", default="int8", choices=["int8", "float"])
    e.add_argument("--json", action="store_true")
    e.add_argument("--quiet", action="store_true")
    e.set_defaults(func=cmd_evaluate)


def argparse_suppress():
    import argparse

    return argparse.SUPPRESS
