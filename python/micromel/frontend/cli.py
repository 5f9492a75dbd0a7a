"""Commands of the front end: `micromel features` and `micromel bench frontend`."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from .. import cliargs
from ..audio import find_audio, load_audio, open_audio
from ..errors import MicromelError
from ..fileio import save_npy_atomic
from ..modeldir import ModelDir, load_frontend_config
from . import bench, reference
from .native import CFrontend
from .plot import plot_comparison
from .config import FrontendConfig
from .twin import StreamingFrontend

IMPLS = ("twin", "c", "librosa")
PLOT_SECONDS = 600   # --plot draws at most the first 10 minutes of the first file


def frontend_config(config: str | None, model: str | None) -> FrontendConfig:
    """--config FILE, --model DIR or the defaults."""
    if config and model:
        raise MicromelError("--config and --model: give one of them, not both")
    if config:
        return load_frontend_config(config)
    if model:
        return ModelDir.open(model).frontend
    return FrontendConfig()


class FrameStream:
    """Any per-frame feature function (`fn(pcm) -> (frames, ...)`, frame f covering samples
    [f * hop, f * hop + n_fft)) fed in chunks: keeps only the samples the next frame needs,
    so a long file streams in bounded memory and gives the frames of the whole file."""

    def __init__(self, fn, cfg: FrontendConfig):
        self.fn, self.cfg = fn, cfg
        self.buf = np.zeros(0, dtype=np.int16)

    def process(self, chunk: np.ndarray) -> np.ndarray | None:
        buf = np.concatenate([self.buf, np.asarray(chunk, np.int16)])
        n = self.cfg.n_frames(len(buf))
        self.buf = buf[n * self.cfg.hop_length:].copy()
        return self.fn(buf[:(n - 1) * self.cfg.hop_length + self.cfg.n_fft]) if n else None


class FidelityCount:
    """reference.fidelity over a stream: frames are counted in whole analysis windows
    (cut at multiples of window_frames from the start, as fidelity cuts them)."""

    def __init__(self, cfg: FrontendConfig):
        self.cfg, self.ok, self.total = cfg, 0, 0
        self.q: list = []
        self.ref: list = []

    def add(self, q: np.ndarray, ref: np.ndarray, last: bool = False) -> None:
        self.q.append(q)
        self.ref.append(ref)
        qa, ra = np.concatenate(self.q), np.concatenate(self.ref)
        n = len(qa) if last else len(qa) - len(qa) % self.cfg.window_frames
        a, b = reference.fidelity(qa[:n], ra[:n], self.cfg)
        self.ok, self.total = self.ok + a, self.total + b
        self.q, self.ref = [qa[n:]], [ra[n:]]


class Frames:
    """Frames appended into one preallocated array (sized from the file's length; grown if
    a resampled file gives a few more): the output is held once, never copied whole."""

    def __init__(self, expect: int, n_mels: int, dtype):
        self.a = np.empty((max(expect, 0) + 2, n_mels), dtype)
        self.n = 0

    def add(self, frames: np.ndarray) -> None:
        if self.n + len(frames) > len(self.a):
            self.a = np.concatenate([self.a, np.empty((len(frames) + len(self.a) // 8, self.a.shape[1]),
                                                      self.a.dtype)])
        self.a[self.n:self.n + len(frames)] = frames
        self.n += len(frames)

    def array(self) -> np.ndarray:
        return self.a[:self.n]


def file_features(name, cfg: FrontendConfig, impl: str, c_frontend, fid: FidelityCount | None,
                  notes: list) -> np.ndarray:
    """Features of one file, read in blocks (memory bounded by the output, not the audio)."""
    audio = open_audio(name, cfg.sample_rate)
    notes.extend(audio.notes)
    twin = StreamingFrontend(cfg)
    if c_frontend is not None:
        c_frontend.reset()
    float_ref = FrameStream(lambda x: reference.logmel_db(x, cfg), cfg)
    empty = np.zeros((0, cfg.n_mels), np.float64 if impl == "librosa" else np.int8)
    out = Frames(cfg.n_frames(audio.n_samples), cfg.n_mels,
                 np.float32 if impl == "librosa" else np.int8)
    n = 0
    for chunk in audio.chunks():
        n += len(chunk)
        if impl == "twin":
            feats = twin.process(chunk)
        elif impl == "c":
            feats = c_frontend.process(chunk)
        else:
            feats = float_ref.process(chunk)
            feats = empty if feats is None else feats
        out.add(feats)
        if fid is not None:
            q = feats if impl != "librosa" else twin.process(chunk)
            ref = feats if impl == "librosa" else float_ref.process(chunk)
            fid.add(q, empty if ref is None else ref)
    if fid is not None:
        fid.add(empty.astype(np.int8), empty.astype(np.float64), last=True)
    if n < cfg.n_fft:
        notes.append(f"{name}: {n} samples, shorter than one frame ({cfg.n_fft}): no features")
    return out.array()


def cmd_features(args) -> int:
    out = Path(args.out)
    if out.suffix != ".npy":
        raise MicromelError(f"--out {out}: give a .npy file name")
    cliargs.new_file(out, "--out", args.force)
    if args.plot and Path(args.plot).suffix.lower() not in (".png", ".pdf", ".svg"):
        raise MicromelError(f"--plot {args.plot}: give a .png, .pdf or .svg file name")
    if args.plot:
        cliargs.new_file(args.plot, "--plot", args.force)
    cfg = frontend_config(args.config, args.model)
    c_frontend = CFrontend(cfg) if args.impl == "c" else None
    fid = FidelityCount(cfg) if args.fidelity else None
    results = []
    files = find_audio(args.audio)
    for name in files:
        notes: list[str] = []
        feats = file_features(name, cfg, args.impl, c_frontend, fid, notes)
        for note in notes:
            print(f"micromel: note: {note}", file=sys.stderr)
        results.append(feats)
        if not args.fidelity:
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
    if fid is not None:
        impl = "twin" if args.impl == "librosa" else args.impl
        print(f"fidelity ({impl} vs librosa, {len(files)} files): {fid.ok} of {fid.total} bins "
              f"within 60 dB of their window's maximum ({cfg.window_frames} frames) are within one "
              f"step ({cfg.out_step_db} dB): {100.0 * fid.ok / max(fid.total, 1):.3f}%")
    if args.plot:
        pcm = load_audio(files[0], cfg.sample_rate, max_seconds=PLOT_SECONDS)
        stats = plot_comparison(pcm, cfg, Path(args.plot), title=str(args.audio[0]))
        print(f"wrote {args.plot}: twin vs librosa, {stats['within_step_pct']:.2f}% of bins within "
              f"60 dB of the window maximum are within one step ({cfg.out_step_db} dB)"
              + (f" (the first {PLOT_SECONDS} s)" if len(pcm) >= PLOT_SECONDS * cfg.sample_rate else ""))
    return 0


def cmd_bench_frontend(args) -> int:
    cliargs.bench_device(args.device)
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
    p.add_argument("--force", action="store_true", help="replace existing --out / --plot files")
    p.set_defaults(func=cmd_features)

    b = cliargs.group_actions(sub, "bench").add_parser("frontend", help="front-end cost per second of audio, "
                                                           "per stage, RAM and flash")
    b.add_argument("--device", default="emulate", help=cliargs.DEVICE_HELP + " (default emulate)")
    b.add_argument("--signal", choices=("noise", "silence", "square"), default="noise",
                   help="test signal the device generates (default: white noise)")
    b.add_argument("--json", action="store_true", help="print JSON")
    b.set_defaults(func=cmd_bench_frontend)
