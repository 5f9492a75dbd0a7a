"""The command `micromel tune`: the segmenter's post-processing searched on labelled streams
for the best recall at a false-alarm rate (segment/tune.py does the work)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .. import cliargs
from ..data.labels import skipped_names
from ..errors import MicromelError
from ..fileio import write_text_atomic
from ..modeldir import ModelDir
from . import gridmap, tune
from .config import refuse_replacing_own


def cmd_tune(args) -> int:
    model = ModelDir.open(args.model_dir)
    if args.target_fa_per_hour < 0:
        raise MicromelError(f"--target-fa-per-hour {args.target_fa_per_hour}: must be >= 0")
    if args.out and args.plot and Path(args.out).resolve() == Path(args.plot).resolve():
        raise MicromelError(f"--out and --plot name one file ({args.out}); give two names")
    for opt, o in (("--out", args.out), ("--plot", args.plot)):
        if o:       # checked before the model runs, as every command's outputs
            cliargs.new_file(o, opt, args.force)
    if args.plot and Path(args.plot).suffix.lower() != ".png":
        raise MicromelError(f"--plot {args.plot}: the DET curve is a PNG; give a name ending .png")
    if args.save:
        refuse_replacing_own(model, tune.TUNED_KEYS, args.force)
    base = model.segment
    classes = tune.event_classes(model, base, args.class_name)
    skipped: list = []
    pairs = tune.labelled_streams(args.streams, skipped)
    if skipped and not args.quiet:
        print(f"note: {len(skipped)} recording(s) without labels beside them skipped "
              f"({skipped_names(skipped)})", file=sys.stderr)
    other = tune.unscored_labels(pairs, model, classes)
    if other:       # a typo in a track would otherwise only lower the recall silently
        print("note: labels that are no class of the model, not scored: "
              + ", ".join(f"{k!r} ({v})" for k, v in sorted(other.items())), file=sys.stderr)

    def show(k, n, name):
        if not args.quiet:
            print(f"[{k}/{n}] {name}", file=sys.stderr)

    def settings(k, n):
        if not args.quiet:
            print(f"[settings {k}/{n}]", file=sys.stderr)

    streams = tune.score_streams(model, pairs, base, progress=show)
    points = tune.det_points(model, streams, tune.grid(base), classes, progress=settings,
                             jobs=args.jobs)
    curve = tune.det_curve(points)
    chosen = tune.choose(points, args.target_fa_per_hour)
    minutes = sum(s.seconds for s in streams) / 60
    print(f"{len(streams)} streams, {minutes:.1f} min, classes {', '.join(classes)}, "
          f"{len(points)} settings tried")
    own = points[0]
    print(f"the model's own settings: recall {100 * own['recall']:.1f}% "
          f"({own['detected']}/{own['truth_events']}), {own['fa_per_hour']:.2f} false alarms/h")
    print("DET curve (the best miss rate at each false-alarm rate):")
    print(tune.table(curve, sep="  "), end="")
    if args.out:
        write_text_atomic(Path(args.out), tune.table(points))
        print(f"every point: {args.out}")
    if args.plot:
        tune.det_png(Path(args.plot), curve, chosen, args.target_fa_per_hour,
                     f"{model.name}: {len(streams)} streams")
        print(f"DET plot: {args.plot}")
    if chosen is None:
        print(f"no setting reaches {args.target_fa_per_hour:g} false alarms per hour "
              f"(the fewest: {curve[0]['fa_per_hour']:.2f}/h); nothing saved")
        return 1
    print(f"chosen for <= {args.target_fa_per_hour:g} false alarms/h: recall "
          f"{100 * chosen['recall']:.1f}% ({chosen['detected']}/{chosen['truth_events']}), "
          f"{chosen['fa_per_hour']:.2f} false alarms/h ({chosen['false_alarms']}) with "
          + json.dumps({k: chosen[k] for k in tune.TUNED_KEYS}))
    if args.save:
        tune.save_config(model, chosen["config"], args.force)
        print(f"saved into {model.path}; export and build again to put it on a device")
    else:
        print("not saved (add --save to write it into the model folder)")
    return 0


def register(sub) -> None:
    t = sub.add_parser(
        "tune", help="search the segmenter's post-processing for the best recall at a "
                     "false-alarm rate",
        description="Runs the model once over labelled streams (audio + Audacity label "
                    "track), then the segmenter over a grid of smoothing (median or mean), "
                    "enter/exit, minimum duration, gap merging and suppression time; prints "
                    "the DET curve.")
    t.add_argument("model_dir", metavar="MODEL_DIR", help="model folder (e.g. models/speech)")
    t.add_argument("streams", nargs="+", metavar="STREAMS",
                   help="labelled recordings or folders of them (rec.wav + rec.txt from "
                        "Audacity, or rec.events.tsv)")
    t.add_argument("--target-fa-per-hour", type=cliargs.non_negative_float, required=True,
                   help="false alarms per hour the application accepts")
    t.add_argument("--class", dest="class_name",
                   help="tune for this class only (default: every event class)")
    t.add_argument("--out", help="write every grid point (TSV) here")
    t.add_argument("--plot", help="write the DET curve (PNG) here")
    t.add_argument("--save", action="store_true",
                   help="write the chosen settings into MODEL_DIR's config.json")
    t.add_argument("--force", action="store_true",
                   help="replace existing --out/--plot files and the model's own segment settings")
    t.add_argument("--quiet", action="store_true", help="no progress lines")
    gridmap.add_jobs_option(t)
    t.set_defaults(func=cmd_tune)
