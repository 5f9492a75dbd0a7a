"""Commands `micromel train` and `micromel evaluate`. TensorFlow loads only when a handler
trains or converts (the modules import it lazily), so `micromel --help` stays fast."""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import numpy as np

from .. import cliargs
from ..audio import find_audio
from ..clip.rules import WindowConfig
from ..errors import MicromelError
from ..modeldir import CONFIG, TFLITE, ModelDir, strict_json
from . import reject as reject_run
from . import run as train_run
from .config import MEMBER_SEED_STEP, AugmentConfig, TrainConfig
from .evaluate import evaluate_model, format_by_source, format_loso, format_metrics, pct
from .models import ARCHS, member_archs


def _seeds(text: str) -> list[int]:
    if not text:
        return []
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise MicromelError(f"--spread-seeds {text!r}: expected comma-separated integers, e.g. 1,2,3") from None


def _key_values(items, option: str) -> dict:
    """KEY=VALUE options (repeatable): VALUE is JSON (true, 32, [0, 20]) or a plain string."""
    out = {}
    for item in items or []:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise MicromelError(f"{option} {item!r}: expected KEY=VALUE, e.g. mel_htk=false")
        try:
            out[key.strip()] = strict_json(value)
        except json.JSONDecodeError:
            out[key.strip()] = value          # a plain string such as hamming
        except ValueError as e:               # NaN, Infinity: strict_json's refusal
            raise MicromelError(f"{option} {item!r}: {e}") from None
    return out


def cmd_train(args) -> int:
    d = TrainConfig()
    w = WindowConfig(frames=args.window_frames or d.window.frames,
                     hop_frames=args.hop_frames or d.window.hop_frames,
                     silence_rms_dbfs=d.window.silence_rms_dbfs if args.silence_dbfs is None
                     else args.silence_dbfs)
    member_archs(args.arch)         # one-line error for an unknown name
    if w.frames < 8 or w.hop_frames < 1:
        raise MicromelError("--window-frames must be at least 8 and --hop-frames at least 1")
    aug = d.augment if args.variants is None else AugmentConfig(variants=args.variants)
    aug = AugmentConfig.from_dict({**aug.to_dict(), **_key_values(args.augment, "--augment")},
                                  "--augment")   # ranges: checked by train_run.run
    for dest in ("distill", "distill_temperature"):
        cliargs.needs(args, dest, bool(args.teacher), "needs --teacher DIR (the model it distils)")
    cliargs.needs(args, "specialist_networks", bool(args.specialist),
                  "needs --specialist NAME (the source they train on)")
    frontend = {**d.frontend, **_key_values(args.frontend, "--frontend")}
    if "window_frames" in frontend:
        raise MicromelError("--frontend window_frames: use --window-frames")
    cfg = TrainConfig(arch=args.arch, frontend=frontend, epochs=args.epochs or d.epochs,
                      seed=args.seed, window=w, augment=aug, forest=not args.no_forest,
                      patience=args.patience or d.patience,
                      backgrounds=tuple(args.background or ()), balance=args.balance,
                      hold_out_source=args.hold_out_source or "",
                      specialist=args.specialist or "",
                      specialist_networks=args.specialist_networks or d.specialist_networks,
                      gate=args.gate or "",
                      teacher=args.teacher or "",
                      distill=d.distill if args.distill is None else args.distill,
                      distill_temperature=d.distill_temperature if args.distill_temperature is None
                      else args.distill_temperature)
    cfg.frontend_config()                          # one-line error for a bad key or value
    find_audio(cfg.backgrounds, "--background")    # ... and for a bed folder that is not there
    loso = [n.strip() for n in (args.loso or "").split(",") if n.strip()]
    out = Path(args.out)
    if not args.force and any((out / name).exists() for name in (CONFIG, TFLITE)):
        raise MicromelError(f"--out {out}: holds a model already; give a new folder, or add "
                            "--force to replace it")
    command = "micromel " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if args.command_line is None \
        else args.command_line
    m = train_run.run(args.data, args.out, cfg, spread_seeds=_seeds(args.spread_seeds),
                      command=command, quiet=args.quiet, loso=loso)
    if m.get("test_int8"):
        print(f"test split, int8 CNN ({args.out}/model.tflite):")
        print(format_metrics(m["test_int8"], m["labels"]))
        tf = m["test_float"]
        print(f"float CNN: accuracy {100 * tf['accuracy']:.1f}%  macro-F1 {pct(tf['macro_f1'])}")
        if m.get("forest_test"):
            ft = m["forest_test"]
            print(f"forest:    accuracy {100 * ft['accuracy']:.1f}%  macro-F1 {pct(ft['macro_f1'])}")
        if len(m["seeds"]) > 1:
            a = np.array([s["test_int8"]["accuracy"] for s in m["seeds"]])
            print(f"int8 accuracy over seeds {[s['seed'] for s in m['seeds']]}: "
                  f"mean {100 * a.mean():.1f}% sd {100 * a.std(ddof=1):.1f}")
    else:
        print("no test split: nothing evaluated (give a split column with 'test' rows)")
    if m.get("loso"):
        print("leave-one-source-out (int8 accuracy on the held-out source):")
        print(format_loso(m["loso"]))
    print(f"wrote {args.out}/ (model.tflite, config.json, card.md) in "
          f"{m['timing']['total_seconds']} s")
    return 0


def cmd_evaluate(args) -> int:
    model = ModelDir.open(args.model_dir)
    m, split = evaluate_model(model, args.data, split=args.split, impl=args.impl, quiet=args.quiet,
                              by_source=args.by == "source")
    if args.json:
        print(json.dumps(m, indent=2))
    else:
        print(f"{args.model_dir} ({args.impl}) on {args.data} [{split}]")
        print(format_metrics(m, list(model.labels)))
        if args.by == "source":
            print("by source:")
            print(format_by_source(m))
    return 0


def cmd_reject(args) -> int:
    if args.force and not args.save:
        raise MicromelError("--force goes with --save (it lets --save replace the model's rule)")
    cliargs.needs(args, "unknown_limit", bool(args.unknown),
                  "limits the --unknown recordings; add --unknown PATH (or drop it)")
    model = ModelDir.open(args.model_dir)
    if args.save:       # before the clips are scored
        reject_run.check_replaceable(model, args.force)
    hold = args.hold_out_source
    if hold is None:        # the source the model was trained without: never choose on it
        hold = (TrainConfig.of_model(model) or TrainConfig()).hold_out_source
    r = reject_run.calibrate(model, args.data, args.unknown or (), args.max_reject,
                             args.unknown_limit, quiet=args.quiet, other=args.other_class,
                             hold_out=hold)
    print(f"{args.model_dir} on {args.data}" + (f" ({hold} held out: its clips are the test split)"
                                                if hold else ""))
    print(reject_run.format_report(r))
    if args.save:
        saved = reject_run.save_rule(model, r, args.force)
        print(f"saved the rule in {saved.path}; export and build again to put it "
              "on a device")
    else:
        print("not saved (add --save to store the rule in the model folder)")
    return 0


def register(sub) -> None:
    t = sub.add_parser("train", help="train, quantize (int8) and evaluate a model")
    t.add_argument("data", help="dataset folder (one sub-folder per class, or with manifest.csv) "
                                "or a CSV/TSV manifest path,label[,split]")
    t.add_argument("--out", required=True, help="model folder to write, e.g. models/NAME")
    t.add_argument("--arch", default=TrainConfig.arch,
                   help="network: %s; several joined by '+' (e.g. dscnn-m4+dscnn-m0) are trained "
                        "with seeds seed, seed+%d, ... and shipped as one model whose class "
                        "logits are summed (default %s)"
                        % (", ".join(sorted(ARCHS)), MEMBER_SEED_STEP, TrainConfig.arch))
    t.add_argument("--epochs", type=cliargs.positive_int, default=None,
                   help="maximum epochs (early stopping on val); default %d" % TrainConfig.epochs)
    t.add_argument("--seed", type=int, default=0, help="random seed of everything training draws "
                                                       "(default 0)")
    t.add_argument("--spread-seeds", default="",
                   help="also train these seeds (e.g. 1,2,3) and report mean and spread in the card")
    t.add_argument("--frontend", action="append", metavar="KEY=VALUE",
                   help="front-end setting (repeatable), e.g. mel_htk=false or n_mels=32; "
                        "default: the front end's defaults with %s"
                        % ", ".join(f"{k}={v}" for k, v in TrainConfig().frontend.items()))
    t.add_argument("--window-frames", type=cliargs.positive_int, default=None,
                   help="front-end frames per model window (default %d)" % TrainConfig().window.frames)
    t.add_argument("--hop-frames", type=cliargs.positive_int, default=None,
                   help="frames between windows of a clip (default %d)" % TrainConfig().window.hop_frames)
    t.add_argument("--silence-dbfs", type=cliargs.finite_float, default=None,
                   help="windows quieter than this RMS are skipped (default %g dBFS)"
                        % TrainConfig().window.silence_rms_dbfs)
    t.add_argument("--variants", type=int, default=None,
                   help="waveform-augmented copies of each training clip (default %d)"
                        % AugmentConfig().variants)
    t.add_argument("--patience", type=cliargs.positive_int, default=None,
                   help="early-stopping patience in epochs (default %d)" % TrainConfig.patience)
    t.add_argument("--augment", action="append", metavar="KEY=VALUE",
                   help="augmentation setting (repeatable), e.g. bed_p=0.5, reverb_p=0.3, "
                        "phone_p=0.1, bed_snr_db=[0,15] (docs/training.md lists them)")
    t.add_argument("--background", action="append", metavar="DIR",
                   help="folder of background recordings (noise, music, ambience) mixed under "
                        "training clips with probability bed_p (repeatable)")
    t.add_argument("--balance", choices=("class", "source"), default=TrainConfig.balance,
                   help="windows per epoch drawn class -> clip, or class -> source -> clip "
                        "(the manifest's source column; default %s)" % TrainConfig.balance)
    t.add_argument("--hold-out-source", metavar="NAME",
                   help="leave this source out of training: its clips are the test split "
                        "(the manifest's source column, up to its first '/')")
    t.add_argument("--specialist", metavar="NAME",
                   help="the ensemble's last network (or last K, --specialist-networks) "
                        "trains only on this source's training clips (the recordings most like "
                        "where the model will listen), the others on every source's; their "
                        "logits are summed (a product of experts)")
    t.add_argument("--specialist-networks", type=cliargs.positive_int, metavar="K",
                   help="with --specialist: how many of the ensemble's networks (the last K) "
                        "are specialists (default 1)")
    t.add_argument("--gate", metavar="LABEL",
                   help="a class of sounds of none of the others (e.g. 'other', from dataset "
                        "add-other): only the ensemble's last network (the gate) learns it and "
                        "gives its logit; the others never see it, so it barely changes how "
                        "they tell the known classes apart (reject --other-class LABEL)")
    t.add_argument("--teacher", metavar="DIR",
                   help="a model folder trained on the same data (same splits and held-out "
                        "source), e.g. a large ensemble: its float probabilities make up "
                        "--distill of each training window's target (knowledge distillation)")
    t.add_argument("--distill", type=cliargs.finite_float, default=None, metavar="A",
                   help="with --teacher: the teacher's share of the targets (default %g)"
                        % TrainConfig.distill)
    t.add_argument("--distill-temperature", type=cliargs.finite_float, default=None, metavar="T",
                   help="with --teacher: its probabilities softened as p^(1/T) (default %g)"
                        % TrainConfig.distill_temperature)
    t.add_argument("--loso", metavar="NAMES",
                   help="also train once per source named (comma-separated, or all) with that "
                        "source held out, for every seed, and report each held-out source's "
                        "accuracy and their mean in the card (leave-one-source-out)")
    t.add_argument("--no-forest", action="store_true", help="skip the random forest")
    t.add_argument("--force", action="store_true",
                   help="replace the model already in --out (refused without it)")
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    t.add_argument("--command-line", default=None, help=argparse.SUPPRESS)
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="clip-level accuracy of a model folder on a dataset split")
    e.add_argument("model_dir", metavar="MODEL_DIR", help="model folder (models/NAME)")
    e.add_argument("data", metavar="DATA", help="dataset folder (a folder per class) or manifest")
    e.add_argument("--split", choices=["train", "val", "test", "all"],
                   help="which clips (default: test if the dataset names splits, else all)")
    e.add_argument("--impl", default="int8", choices=["int8", "float"],
                   help="the int8 model the device runs (default) or its float twin")
    e.add_argument("--by", choices=["source"],
                   help="also a table per source (the manifest's source column)")
    e.add_argument("--json", action="store_true", help="print JSON")
    e.add_argument("--quiet", action="store_true", help="no progress bars")
    e.set_defaults(func=cmd_evaluate)

    r = sub.add_parser("reject", help="choose the open-set rejection rule (\"unknown\") on the "
                                      "validation split; report coverage and false accepts")
    r.add_argument("model_dir", metavar="MODEL_DIR", help="model folder (models/NAME)")
    r.add_argument("data", metavar="DATA", help="the model's dataset (manifest with val and test "
                                                "splits)")
    r.add_argument("--unknown", action="append", metavar="PATH",
                   help="recordings of no known class (files or folders, repeatable): their "
                        "false-accept rate is reported")
    r.add_argument("--unknown-limit", type=cliargs.positive_int, default=None,
                   help="use at most this many of the --unknown recordings (evenly spread)")
    r.add_argument("--other-class", metavar="LABEL", default=None,
                   help="the model's class trained on sounds of none of the others (e.g. "
                        "'other', from background recordings): a clip voted LABEL is unknown")
    r.add_argument("--hold-out-source", metavar="NAME", default=None,
                   help="split DATA as `train --hold-out-source NAME` did: NAME's clips are the "
                        "test split, the rule is chosen on the other sources' val clips "
                        "(default: the source the model was trained without, if any; '' for "
                        "none)")
    r.add_argument("--max-reject", type=cliargs.finite_float, default=0.15,
                   help="reject at most this fraction of the validation clips (default 0.15)")
    r.add_argument("--save", action="store_true",
                   help="store the rule in the model's config.json (and its numbers in "
                        "metrics.json and card.md)")
    r.add_argument("--force", action="store_true", help="with --save: replace the rule the model holds (refused "
                   "without it, before any clip is scored)")
    r.add_argument("--quiet", action="store_true", help="no progress bars")
    r.set_defaults(func=cmd_reject)

