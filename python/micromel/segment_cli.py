"""Commands of segmentation by classification: `segment`, `evaluate-segments`, and the
`dataset speech` / `dataset streams` builders."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import MicromelError

FORMATS = ("json", "audacity", "tsv")


def _seg_config(args, base):
    """The model's (or default) segment config with the command line's overrides."""
    return base.replace(hop_frames=args.hop_frames, median=args.median, enter=args.enter,
                        exit=args.exit, min_duration=args.min_duration, max_gap=args.max_gap,
                        max_duration=args.max_duration, calibrate_seconds=args.calibrate,
                        activity_threshold_dbfs=args.threshold_db)


def _model_dir(path: str) -> Path:
    p = Path(path)
    if not (p / "config.json").exists() or not (p / "model.tflite").exists():
        raise MicromelError(f"MODEL_DIR {path}: expected a model folder with model.tflite and "
                            "config.json (e.g. models/speech); with --activity-only give only "
                            "audio files")
    return p


def _device_results(device: str, model_dir: Path, p):
    """window_results(chunks) from a device in STREAM mode (wired by the firmware's STREAM
    message; see micromel.stream)."""
    try:
        from . import stream
    except ImportError:
        raise MicromelError("--device: the firmware STREAM path is not available in this "
                            "micromel yet; run without --device for the host twin") from None
    return stream.window_results_factory(device, model_dir, p)


def cmd_segment(args) -> int:
    from . import segment as S
    from . import segment_out as out
    from . import segment_run as run

    paths = list(args.paths)
    formats = set(args.format or FORMATS)
    if args.activity_only:
        model_dir = None
        cfg = _seg_config(args, S.SegmentConfig())
        p = S.activity_params(cfg, 16000)
    else:
        if len(paths) < 2:
            raise MicromelError("segment: give MODEL_DIR then at least one audio file "
                                "(or --activity-only and audio files)")
        model_dir = _model_dir(paths.pop(0))
        cfg = _seg_config(args, S.config_from_model(model_dir))
        p = S.params_from_model(model_dir, cfg)
    label = args.class_name
    labels = S.ACTIVITY_LABELS if model_dir is None else \
        json.loads((model_dir / "config.json").read_text())["labels"]
    if label is None:
        label = next((lab for lab in labels if lab not in cfg.background_labels), labels[0])
    elif label not in labels:
        raise MicromelError(f"--class {label}: not a label of the model ({labels})")
    scorer = run.Scorer(model_dir) if model_dir is not None else None
    device_results = _device_results(args.device, model_dir, p) if args.device else None
    results = []
    progress = not args.quiet and sys.stderr.isatty()
    for path in paths:
        if model_dir is None:
            res = run.activity_file(path, p, progress=progress)
        else:
            res = run.segment_file(path, model_dir, p, scorer, keep_trace=args.plot,
                                   progress=progress, window_results=device_results)
        results.append(res)
        for note in res.notes:
            print(f"note: {note}", file=sys.stderr)
        if args.out:
            out.write_outputs(res, Path(args.out), formats)
        else:
            for e in res.events:
                print(f"{res.path}\t{e.start:.3f}\t{e.end:.3f}\t{e.label}\t{e.confidence:.3f}")
        if args.plot:
            from .frontend import FrontendConfig, config_from_model, load_audio

            fe = config_from_model(model_dir) if model_dir else FrontendConfig()
            png = Path(args.out or ".") / f"{res.path.stem}.segments.png"
            truth = _truth_for(res.path)
            out.plot(res, load_audio(res.path, p.sample_rate), fe, png, truth)
            print(f"plot: {png}", file=sys.stderr)
        ratio = out.class_ratio(res.events, label, res.duration)
        print(f"{res.path.name}: {len(res.events)} events, {label} ratio {ratio:.3f}",
              file=sys.stderr)
    if args.out and "tsv" in formats:
        tsv = out.write_tsv(results, label, Path(args.out) / f"segments_{label}.tsv")
        print(f"wrote {args.out} ({tsv.name} and per-file outputs)", file=sys.stderr)
    return 0


def _truth_for(wav: Path):
    from .speech_data import read_truth, truth_path

    t = truth_path(wav)
    return read_truth(t) if t.exists() else None


def cmd_evaluate_segments(args) -> int:
    from .segment_eval import run_evaluation

    return run_evaluation(args)


def cmd_dataset_speech(args) -> int:
    from .speech_data import build_speech

    counts = {"train": args.train, "val": args.val, "test": args.test}
    build_speech(Path(args.out), window_frames=args.window_frames, counts=counts,
                 seed=args.seed, quiet=args.quiet)
    return 0


def cmd_dataset_streams(args) -> int:
    from .speech_data import build_streams

    build_streams(Path(args.out), n_streams=args.count, seconds=args.seconds, seed=args.seed,
                  split=args.split, quiet=args.quiet)
    return 0


def _add_seg_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("segmentation (default: the model's config.json 'segment')")
    g.add_argument("--hop-frames", type=int, help="front-end frames between windows")
    g.add_argument("--median", type=int, help="odd number of windows of the median filter")
    g.add_argument("--enter", type=float, help="hysteresis: open an event at this probability")
    g.add_argument("--exit", type=float, help="hysteresis: keep it open down to this probability")
    g.add_argument("--min-duration", type=float, help="drop events shorter than this (s)")
    g.add_argument("--max-gap", type=float, help="merge gaps up to this long (s)")
    g.add_argument("--max-duration", type=float, help="split events longer than this (s, 0: never)")
    g.add_argument("--calibrate", type=float,
                   help="energy gate threshold from the first SECONDS of each stream")
    g.add_argument("--threshold-db", type=float,
                   help="--activity-only: energy threshold in dBFS (default -50)")


def register(sub) -> None:
    s = sub.add_parser(
        "segment", help="labelled events (start, end, label, confidence) in audio streams",
        description="Slide the model over each file, gate by energy, smooth, and write events.")
    s.add_argument("paths", nargs="+", metavar="PATH",
                   help="model folder then audio files (only audio files with --activity-only)")
    s.add_argument("--device", help="run on a device: 'emulate', a tty or a URL (STREAM mode)")
    s.add_argument("--out", help="output folder (default: print events to stdout)")
    s.add_argument("--format", action="append", choices=FORMATS,
                   help="what to write into --out (repeatable; default all)")
    s.add_argument("--class", dest="class_name",
                   help="the class of the TSV (default: the first event class)")
    s.add_argument("--plot", action="store_true", help="PNG of waveform, spectrogram and events")
    s.add_argument("--activity-only", action="store_true",
                   help="energy-only activity detection, no model")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_seg_options(s)
    s.set_defaults(func=cmd_segment)

    e = sub.add_parser(
        "evaluate-segments",
        help="segment- and event-based P/R/F1 (sed_eval) of a model and of auditok",
        description="Segments every stream (WAV + <stem>.events.tsv ground truth) with the "
                    "model and with auditok's energy detector over a threshold grid.")
    e.add_argument("model_dir")
    e.add_argument("streams", help="folder of streams from 'micromel dataset streams'")
    e.add_argument("--class", dest="class_name", default="speech")
    e.add_argument("--resolution", type=float, default=0.1, help="segment length (s)")
    e.add_argument("--collar", type=float, default=0.2, help="event onset/offset collar (s)")
    e.add_argument("--auditok-thresholds", default="35,40,45,50,55,60",
                   help="auditok energy thresholds to try (its dB scale)")
    e.add_argument("--limit", type=int, help="only the first N streams")
    e.add_argument("--json", help="also write the results as JSON here")
    e.add_argument("--tune", action="store_true",
                   help="instead: grid-search the segment config on these (validation) streams")
    e.add_argument("--write", action="store_true",
                   help="with --tune: save the best config into MODEL_DIR/config.json")
    e.add_argument("--quiet", action="store_true")
    _add_seg_options(e)
    e.set_defaults(func=cmd_evaluate_segments)

    from .cli import group_actions

    dsub = group_actions(sub, "dataset")
    sp = dsub.add_parser("speech", help="speech/non-speech clips from Debian's "
                                        "tuxpaint-stamps-default and hydrogen-drumkits")
    sp.add_argument("--out", default="data/speech")
    sp.add_argument("--window-frames", type=int, default=32,
                    help="frames of the model window the clips are cut for (train with the same)")
    sp.add_argument("--train", type=int, default=6000)
    sp.add_argument("--val", type=int, default=800)
    sp.add_argument("--test", type=int, default=1200)
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--quiet", action="store_true")
    sp.set_defaults(func=cmd_dataset_speech)
    st = dsub.add_parser("streams", help="evaluation streams: held-out sounds on noise beds "
                                         "at known times (with .events.tsv ground truth)")
    st.add_argument("--out", default="data/speech_streams")
    st.add_argument("--count", type=int, default=10)
    st.add_argument("--seconds", type=float, default=60.0)
    st.add_argument("--split", default="test", choices=["train", "val", "test"])
    st.add_argument("--seed", type=int, default=0)
    st.add_argument("--quiet", action="store_true")
    st.set_defaults(func=cmd_dataset_streams)
