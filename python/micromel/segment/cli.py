"""Commands of segmentation by classification: `segment` and `evaluate-segments` (`tune`: tune_cli.py)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .. import cliargs
from ..audio import load_audio, open_audio
from ..data.streams import read_truth, truth_path
from ..errors import MicromelError
from ..fileio import write_text_atomic
from ..frontend.config import FrontendConfig
from ..link.stream import DeviceWindowResults
from ..modeldir import ModelDir
from . import evaluate, gridmap, output, run, tune_cli, uncertain
from .config import ACTIVITY_LABELS, SMOOTHING, SegmentConfig, activity_params, refuse_replacing_own

FORMATS = ("json", "audacity", "tsv")
PLOT_SECONDS = 600   # --plot draws at most this much of a file: memory stays bounded


def _activity_threshold(args) -> float | None:
    """--threshold-db sets the energy-only detector; a model's windows pass its energy gate
    (--calibrate), so with a model the option would be ignored."""
    if not hasattr(args, "threshold_db"):     # evaluate-segments has no such option
        return None
    return cliargs.needs(args, "threshold_db", args.activity_only, "the threshold of "
                         "--activity-only; a model's energy gate calibrates itself (--calibrate "
                         "SECONDS)")


def _seg_config(args, base):
    """The model's (or default) segment config with the command line's overrides."""
    return base.replace(hop_frames=args.hop_frames, median=args.median,
                        smoothing=args.smoothing, enter=args.enter,
                        exit=args.exit, min_duration=args.min_duration, max_gap=args.max_gap,
                        max_duration=args.max_duration, suppress=args.suppress,
                        calibrate_seconds=args.calibrate,
                        activity_threshold_dbfs=_activity_threshold(args),
                        refine=None if args.refine is None else args.refine == "on")


def _note_if_all_calibration(path, n_samples: int, p, calibrate: float, given) -> None:
    """The gate's calibration windows are silent: a file whose windows all calibrate gives no
    events, which would otherwise read as a file without sound. (A stream shorter than one
    window is padded to one: segment/run.py.)"""
    windows = 1 + max(0, n_samples - p.window_samples) // p.hop_samples
    if 0 < windows <= p.calib_windows:
        where = (f"--calibrate {calibrate:g} s" if given is not None
                 else f"the model's segment.calibrate_seconds ({calibrate:g} s)")
        print(f"note: {path} ({n_samples / p.sample_rate:.1f} s) makes {windows} windows, all "
              f"of them calibrating the energy gate ({where}: {p.calib_windows} windows), so "
              "it can give no events", file=sys.stderr)


def cmd_segment(args) -> int:
    paths = list(args.paths)
    formats = cliargs.formats_with_out(args, FORMATS)
    if args.activity_only:
        model = None
        cfg = _seg_config(args, SegmentConfig())
        p = activity_params(cfg, 16000)
    else:
        if len(paths) < 2:
            raise MicromelError("segment: give MODEL_DIR then at least one audio file "
                                "(or --activity-only and audio files)")
        model = ModelDir.open(paths.pop(0))
        model.tflite_bytes          # a folder without its model is refused before any work
        cfg = _seg_config(args, model.segment)
        p = model.segment_params(cfg)
    label = args.class_name
    labels = ACTIVITY_LABELS if model is None else list(model.labels)
    if label is None:
        label = next((lab for lab in labels if lab not in cfg.background_labels), labels[0])
    elif label not in labels:
        raise MicromelError(f"--class {label}: not a label of the model ({labels})")
    if args.device and model is None:
        raise MicromelError("--device: runs a model; drop --activity-only")
    if args.out or args.plot:
        out_dir = Path(args.out or ".")
        check_outputs(paths, out_dir)
        for f in output.output_paths(out_dir, [Path(p).stem for p in paths],
                                     formats if args.out else set(), label, args.plot):
            cliargs.new_file(f, "--plot" if f.suffix == ".png" else "--out", args.force)
    if args.save_uncertain and model is None:
        raise MicromelError("--save-uncertain: needs a model's scores; drop --activity-only")
    args.uncertain = uncertain.check_options(args, [Path(q).stem for q in paths])
    for path in paths:      # every input readable before the first file's outputs are written
        n_samples = open_audio(path, p.sample_rate).n_samples
        _note_if_all_calibration(path, n_samples, p, cfg.calibrate_seconds, args.calibrate)
    scorer = run.Scorer(model) if model is not None else None
    device_results = DeviceWindowResults(args.device, model, p) if args.device else None
    tap = uncertain.Tap(device_results) if args.save_uncertain and device_results else None
    try:
        _segment_files(args, paths, model, p, scorer, device_results, formats, label, tap)
    finally:
        if device_results is not None:
            device_results.close()
    return 0


def check_outputs(paths: list, out_dir: Path) -> None:
    """Before any work: --out is a folder (or new), and no two inputs write the same files
    (outputs are named by the input's stem: a/x.wav and b/x.wav, or x.wav and x.flac)."""
    cliargs.out_folder(out_dir, "--out", "for the outputs")
    seen: dict[str, str] = {}
    for path in paths:
        stem = Path(path).stem
        if stem in seen and seen[stem] != str(path):
            raise MicromelError(f"{seen[stem]} and {path}: both would write {out_dir / stem}.* "
                                "(outputs are named by the file's stem); rename one or segment "
                                "them in separate runs with different --out folders")
        seen[stem] = str(path)


def summary_line(res, label: str) -> str:
    """One file's events per class, each with the share of the file it covers (a
    multi-class model's line named only --class's ratio, 0.000 for a file of other events)."""
    counts: dict[str, int] = {}
    for e in res.events:
        counts[e.label] = counts.get(e.label, 0) + 1
    if label not in counts:     # the TSV's class, said even when it has no events
        counts[label] = 0
    per = ", ".join(f"{c} {k} (ratio {output.class_ratio(res.events, c, res.duration):.3f})"
                    for c, k in counts.items())
    return f"{res.path.name}: {len(res.events)} events: {per}"


def _segment_files(args, paths, model, p, scorer, device_results, formats, label, tap) -> None:
    results = []
    progress = cliargs.shows_progress(args.quiet)
    for path in paths:
        if model is None:
            res = run.activity_file(path, p, progress=progress)
        else:
            res = run.segment_file(path, model, p, scorer,
                                   keep_trace=bool(args.plot or (args.save_uncertain and not tap)),
                                   progress=progress, window_results=tap or device_results)
            if args.save_uncertain:
                picks = uncertain.pick(tap.scores if tap else res.trace.scores, args.uncertain,
                                       p.hop_samples, p.window_samples)
                saved = uncertain.save(res.path, picks, Path(args.save_uncertain), p.sample_rate)
                print(f"{res.path.name}: {len(saved)} least sure windows in {args.save_uncertain}",
                      file=sys.stderr)
        results.append(res)
        for note in res.notes:
            print(f"note: {note}", file=sys.stderr)
        if args.out:
            output.write_outputs(res, Path(args.out), formats)
        else:
            for e in res.events:
                print(f"{res.path}\t{e.start:.3f}\t{e.end:.3f}\t{e.label}\t{e.confidence:.3f}")
        if args.plot:
            fe = model.frontend if model else FrontendConfig()
            png = Path(args.out or ".") / output.file_names(res.path.stem)["plot"]
            truth = _truth_for(res.path)
            pcm = load_audio(res.path, p.sample_rate, max_seconds=PLOT_SECONDS)
            if len(pcm) < res.duration * p.sample_rate - 1:
                print(f"note: {res.path.name}: the plot shows the first {PLOT_SECONDS // 60} "
                      "minutes (the events cover the whole file)", file=sys.stderr)
            output.plot(res, pcm, fe, png, truth)
            print(f"plot: {png}", file=sys.stderr)
        print(summary_line(res, label), file=sys.stderr)
    if args.out and "tsv" in formats:
        tsv = output.write_tsv(results, label, Path(args.out) / output.tsv_name(label))
        print(f"wrote {args.out} ({tsv.name} and per-file outputs)", file=sys.stderr)


def _truth_for(wav: Path):
    """The ground truth beside a stream (for --plot), if there is one in the format of
    `micromel dataset streams`; another file of that name is noted and ignored."""
    t = truth_path(wav)
    if not t.exists():
        return None
    try:
        return read_truth(t)
    except (MicromelError, KeyError, ValueError):
        print(f"note: {t}: not a ground truth of 'micromel dataset streams' "
              "(onset, offset, label); not drawn", file=sys.stderr)
        return None


def cmd_evaluate_segments(args) -> int:
    model = ModelDir.open(args.model_dir)
    cfg = _seg_config(args, model.segment)
    if args.tune and args.by:
        raise MicromelError("--by source: not with --tune (tune first, then evaluate with --by source)")
    if args.class_name not in model.labels:
        raise MicromelError(f"--class {args.class_name}: not a label of the model "
                            f"({list(model.labels)})")
    if args.class_name in cfg.background_labels:
        raise MicromelError(f"--class {args.class_name}: a background label of the model, which "
                            "makes no events; give one of "
                            + ", ".join(lab for lab in model.labels if lab not in cfg.background_labels))
    if args.save and not args.tune:
        raise MicromelError("--save (or --write): saves what --tune chose; add --tune")
    if args.json:
        cliargs.new_file(args.json, "--json", bool(args.force))
    tuned_keys = (*evaluate.TUNE_GRID, "refine")
    if args.tune and args.save:
        refuse_replacing_own(model, tuned_keys, bool(args.force))
    if args.tune:
        def show(f, kw):
            if not args.quiet:
                print(f"  segment F1 {f:.4f}: {kw}", file=sys.stderr)

        f, best, n = evaluate.tune(model, cfg, Path(args.streams), args.class_name,
                                   args.resolution, args.collar, args.limit, progress=show,
                                   jobs=args.jobs)
        print(f"best segment F1 on {n} streams: {f:.4f} with "
              + json.dumps({k: getattr(best, k) for k in tuned_keys}))
        if args.save:
            model.replace(segment=best).save()
            print(f"wrote the segment config into {model.path / 'config.json'}")
        return 0
    which = [w.strip() for w in args.peers.split(",") if w.strip()]

    def show(k, n, name, n_events, seconds):
        if not args.quiet:
            print(f"[{k}/{n}] {name}: {n_events} events ({seconds:.0f} s)", file=sys.stderr)

    out = evaluate.evaluate(model, cfg, Path(args.streams), args.class_name, args.resolution,
                            args.collar, which, args.limit, progress=show,
                            by_source=args.by == "source")
    print(evaluate.format_report(out, model.path.name))
    if args.by == "source":
        print(evaluate.format_by_source(out))
    if args.json:
        write_text_atomic(Path(args.json), json.dumps(out, indent=1) + "\n")
    return 0


def _add_seg_options(p: argparse.ArgumentParser, activity: bool = False) -> None:
    g = p.add_argument_group("segmentation (default: the model's config.json 'segment')")
    g.add_argument("--hop-frames", type=int, help="front-end frames between windows")
    g.add_argument("--median", type=int, help="odd number of windows of the median filter")
    g.add_argument("--smoothing", choices=SMOOTHING,
                   help="smooth each class's scores over --median windows by their median or mean")
    number, length = cliargs.finite_float, cliargs.non_negative_float
    for flag, kind, text in (
            ("--enter", number, "hysteresis: open an event at this probability"),
            ("--exit", number, "hysteresis: keep it open down to this probability"),
            ("--min-duration", length, "drop events shorter than this (s)"),
            ("--max-gap", length, "merge gaps up to this long (s)"),
            ("--max-duration", length, "split events longer than this (s, 0: never)"),
            ("--suppress", length, "open no event this long after the end of the last one (s)"),
            ("--calibrate", length, "energy gate threshold from the first SECONDS of each stream")):
        g.add_argument(flag, type=kind, help=text)
    if activity:
        g.add_argument("--threshold-db", type=number,
                       help="--activity-only: energy threshold in dBFS (default -50)")
    g.add_argument("--refine", choices=("on", "off"),
                   help="move event boundaries to the frames' energies (docs/segmentation.md)")


def register(sub) -> None:
    s = sub.add_parser(
        "segment", help="labelled events (start, end, label, confidence) in audio streams",
        description="Slide the model over each file, gate by energy, smooth, and write events.")
    s.add_argument("paths", nargs="+", metavar="PATH",
                   help="model folder then audio files (only audio files with --activity-only)")
    s.add_argument("--device", help="run on a device in STREAM mode: " + cliargs.DEVICE_HELP)
    s.add_argument("--out", help="output folder (default: print events to stdout)")
    s.add_argument("--format", action="append", choices=FORMATS,
                   help="what to write into --out (repeatable; default all)")
    s.add_argument("--class", dest="class_name",
                   help="the class of the TSV (default: the first event class)")
    s.add_argument("--plot", action="store_true", help="PNG of waveform, spectrogram and events")
    s.add_argument("--force", action="store_true",
                   help="replace the outputs of an earlier run in --out (refused without it)")
    s.add_argument("--activity-only", action="store_true",
                   help="energy-only activity detection, no model")
    uncertain.add_options(s)
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_seg_options(s, activity=True)
    s.set_defaults(func=cmd_segment)

    e = sub.add_parser(
        "evaluate-segments",
        help="segment- and event-based F1 and boundary errors of a model and its peers",
        description="Segments every stream (WAV + <stem>.events.tsv ground truth) with the "
                    "model and with auditok, WebRTC VAD and silero-vad (docs/segmentation.md).")
    e.add_argument("model_dir", metavar="MODEL_DIR", help="model folder (e.g. models/speech)")
    e.add_argument("streams", help="folder of streams from 'micromel dataset streams'")
    e.add_argument("--class", dest="class_name", default="speech",
                   help="the class evaluated (default speech)")
    e.add_argument("--resolution", type=cliargs.positive_float, default=0.1,
                   help="segment length (s)")
    e.add_argument("--collar", type=cliargs.non_negative_float, default=0.2,
                   help="event onset/offset collar (s)")
    e.add_argument("--peers", default=",".join(evaluate.PEERS),
                   help="peers to run beside micromel, comma-separated (default %(default)s; "
                        "'' for none)")
    e.add_argument("--limit", type=cliargs.positive_int, help="only the first N streams")
    e.add_argument("--json", help="also write the results as JSON here")
    e.add_argument("--by", choices=("source",),
                   help="also recall per source of the class and false alarms per sound (the "
                        "ground truth's source column, the stream's bed)")
    e.add_argument("--tune", action="store_true",
                   help="instead: grid-search the segment config on these (validation) streams")
    # --save as `tune` and `reject` name it; --write, its first name, still works
    e.add_argument("--save", "--write", dest="save", action="store_true",
                   help="with --tune: save the best config into MODEL_DIR/config.json")
    e.add_argument("--force", action="store_true",
                   help="replace --json, or with --tune --save the model's own tuned settings")
    e.add_argument("--quiet", action="store_true", help="no progress lines")
    gridmap.add_jobs_option(e, " with --tune")
    _add_seg_options(e)
    e.set_defaults(func=cmd_evaluate_segments)
    tune_cli.register(sub)
