"""Commands of the front end: `micromel features` and `micromel bench frontend`."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from .. import cliargs
from ..audio import find_audio, load_audio
from ..errors import MicromelError
from ..fileio import save_npy_atomic
from ..modeldir import ModelDir, load_frontend_config
from . import bench, reference
from .native import CFrontend
from .plot import plot_comparison
from .config import FrontendConfig
from .twin import features

IMPLS = ("twin", "c", "librosa")


def frontend_config(config: str | None, model: str | None) -> FrontendConfig:
    """--config FILE, --model DIR or the defaults."""
    if config and model:
        raise MicromelError("--config and --model: give one of them, not both")
    if config:
        return load_frontend_config(config)
    if model:
        return ModelDir.open(model).frontend
    return FrontendConfig()


def cmd_features(args) -> int:
    out = Path(args.out)
    if out.suffix != ".npy":
        raise MicromelError(f"--out {out}: give a .npy file name")
    if args.plot and Path(args.plot).suffix.lower() not in (".png", ".pdf", ".svg"):
        raise MicromelError(f"--plot {args.plot}: give a .png, .pdf or .svg file name")
    cfg = frontend_config(args.config, args.model)
    c_frontend = None
    if args.impl == "c":
        c_frontend = CFrontend(cfg)
    results, clips = [], []
    ok = total = 0
    files = find_audio(args.audio)
    for name in files:
        notes: list[str] = []
        pcm = load_audio(name, cfg.sample_rate, notes)
        if not args.fidelity:
            for note in notes:
                print(f"micromel: note: {note}", file=sys.stderr)
        if len(pcm) < cfg.n_fft:
            print(f"micromel: note: {name}: {len(pcm)} samples, shorter than one frame "
                  f"({cfg.n_fft}): no features", file=sys.stderr)
        if args.impl == "twin":
            feats = features(pcm, cfg)
        elif args.impl == "c":
            feats = c_frontend.features(pcm)
        else:
            feats = reference.logmel_db(pcm, cfg).astype(np.float32)
        results.append(feats)
        clips.append(pcm)
        if args.fidelity:
            q = feats if args.impl != "librosa" else features(pcm, cfg)
            a, b = reference.fidelity(q, reference.logmel_db(pcm, cfg), cfg)
            ok, total = ok + a, total + b
            continue
        kind = "dB float32" if args.impl == "librosa" else "int8"
        print(f"{name}: {feats.shape[0]} frames x {cfg.n_mels} mel bands ({args.impl}, {kind})")
    if len(results) == 1:
        array = results[0]
    else:  # a batch: [clips, frames, mels], shorter clips padded with the silence value
        fill = np.nan if args.impl == "librosa" else -128
        n = max(r.shape[0] for r in results)
        array = np.full((len(results), n, cfg.n_mels), fill, dtype=results[0].dtype)
        for i, r in enumerate(results):
            array[i, :r.shape[0]] = r
    save_npy_atomic(out, array)
    print(f"wrote {out} {tuple(array.shape)} {array.dtype} (front-end config {cfg.hash()})")
    if args.fidelity:
        impl = "twin" if args.impl == "librosa" else args.impl
        print(f"fidelity ({impl} vs librosa, {len(files)} files): {ok} of {total} bins within "
              f"60 dB of their window's maximum ({cfg.window_frames} frames) are within one step "
              f"({cfg.out_step_db} dB): {100.0 * ok / max(total, 1):.3f}%")
    if args.plot:
        stats = plot_comparison(clips[0], cfg, Path(args.plot), title=str(args.audio[0]))
        print(f"wrote {args.plot}: twin vs librosa, {stats['within_step_pct']:.2f}% of bins within "
              f"60 dB of the window maximum are within one step ({cfg.out_step_db} dB)")
    return 0


def cmd_bench_frontend(args) -> int:
    result = bench.run(args.device, args.signal)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(bench.format_report(result))
    return 0


def register(sub) -> None:
    p = sub.add_parser("features", help="log-mel features of audio files (twin, C host build or librosa)")
    p.add_argument("audio", nargs="+", metavar="AUDIO",
                   help="audio files (any format soundfile reads) or folders (searched recursively)")
    p.add_argument("--impl", choices=IMPLS, default="twin",
                   help="twin: the numpy twin (default); c: the firmware's C front end built for "
                        "the host; librosa: the float reference in dB")
    p.add_argument("--config", help="front-end config JSON (or a model's config.json)")
    p.add_argument("--model", help="model folder: use the front-end config it was trained with")
    p.add_argument("--out", required=True, help="output .npy: [frames, mels], or [clips, frames, "
                                                "mels] for several files (padded with silence)")
    p.add_argument("--plot", help="also plot the twin's and librosa's log-mel and their difference "
                                  "for the first file (.png)")
    p.add_argument("--fidelity", action="store_true",
                   help="also measure the int8 features against librosa over all files: the share "
                        "of bins within 60 dB of their window's maximum that are within one step")
    p.set_defaults(func=cmd_features)

    b = cliargs.group_actions(sub, "bench").add_parser("frontend", help="front-end cost per second of audio, "
                                                           "per stage, RAM and flash")
    b.add_argument("--device", default="emulate", help=cliargs.DEVICE_HELP + " (default emulate)")
    b.add_argument("--signal", choices=("noise", "silence", "square"), default="noise",
                   help="test signal the device generates (default: white noise)")
    b.add_argument("--json", action="store_true", help="print JSON")
    b.set_defaults(func=cmd_bench_frontend)
