"""`micromel segment` on the host: audio file -> streaming front-end twin -> windows every
hop -> energy gate -> int8 model (TFLite Micro reference interpreter) -> the segmentation
state machine (micromel.segment). Constant memory in the stream length: audio is read in
blocks, and only the frames and samples the next window needs are kept.

The boundary a device plugs into is `micromel.segment.segment_windows(results, params)`:
`host_window_results()` yields the per-window (int8 scores or None, silent) the host
computes; a device in STREAM mode yields the same from the board.

Window w covers front-end frames [w*S, w*S + F) and PCM samples [w*S*H, w*S*H + span)
(micromel.windows, with S the segmentation hop). A stream shorter than one window is padded
with digital zeros to one window, as windows.pad_clip does for clips."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from . import segment as S

BLOCK_SAMPLES = 1 << 15


# --------------------------------------------------------------------------------------
# audio in blocks
# --------------------------------------------------------------------------------------
@dataclass
class AudioStream:
    path: Path
    sample_rate: int
    n_samples: int          # at sample_rate (estimate when resampled)
    native: bool            # 16-bit mono at the right rate: read bit for bit
    notes: list

    def chunks(self, block: int = BLOCK_SAMPLES) -> Iterator[np.ndarray]:
        """int16 mono chunks at sample_rate. 16-bit mono files at the right rate give the
        same samples as frontend.load_audio; other files are downmixed, resampled with a
        streaming soxr resampler (HQ) and rounded like load_audio (differences from the
        one-shot resampler are at the rounding level)."""
        import soundfile as sf

        from .frontend.audio import to_int16

        with sf.SoundFile(str(self.path)) as f:
            if self.native:
                for b in f.blocks(blocksize=block, dtype="int16", always_2d=True):
                    yield np.ascontiguousarray(b[:, 0])
                return
            rs = None
            if f.samplerate != self.sample_rate:
                import soxr

                rs = soxr.ResampleStream(f.samplerate, self.sample_rate, 1, dtype="float64",
                                         quality="HQ")
            for b in f.blocks(blocksize=block, dtype="float64", always_2d=True):
                y = b.mean(axis=1) if b.shape[1] > 1 else b[:, 0]
                if rs is not None:
                    y = rs.resample_chunk(y)
                if len(y):
                    yield to_int16(y)
            if rs is not None:
                y = rs.resample_chunk(np.zeros(0), last=True)
                if len(y):
                    yield to_int16(y)


def open_audio(path, sample_rate: int) -> AudioStream:
    from .frontend.audio import audio_info, conversion_notes

    path = Path(path)
    info = audio_info(path)
    native = info.subtype == "PCM_16" and info.channels == 1 and info.samplerate == sample_rate
    n = int(round(info.frames * sample_rate / info.samplerate))
    return AudioStream(path, sample_rate, n, native, conversion_notes(path, info, sample_rate))


# --------------------------------------------------------------------------------------
# windows over a stream
# --------------------------------------------------------------------------------------
class WindowCutter:
    """PCM chunks -> (features int8 (F, mels), exact energy) of every window, in order,
    through the streaming front-end twin. Keeps at most one window of frames and samples
    (plus one chunk)."""

    def __init__(self, frontend_cfg, window_frames: int, hop_frames: int):
        from .frontend import StreamingFrontend

        self.fe = StreamingFrontend(frontend_cfg)
        self.F = window_frames
        self.S = hop_frames
        self.H = frontend_cfg.hop_length
        self.span = (window_frames - 1) * self.H + frontend_cfg.frame_length
        self.frames = np.zeros((0, frontend_cfg.n_mels), dtype=np.int8)
        self.pcm = np.zeros(0, dtype=np.int64)    # samples from the next window's start on
        self.total = 0
        self.emitted = 0

    def _windows(self) -> Iterator[tuple[np.ndarray, int]]:
        while len(self.frames) >= self.F and len(self.pcm) >= self.span:
            x = self.pcm[: self.span]
            yield self.frames[: self.F].copy(), int(np.dot(x, x))
            self.emitted += 1
            self.frames = self.frames[self.S:]
            self.pcm = self.pcm[self.S * self.H:]

    def push(self, chunk: np.ndarray) -> Iterator[tuple[np.ndarray, int]]:
        chunk = np.asarray(chunk, dtype=np.int16)
        self.total += len(chunk)
        self.frames = np.concatenate([self.frames, self.fe.process(chunk)])
        self.pcm = np.concatenate([self.pcm, chunk.astype(np.int64)])
        yield from self._windows()

    def finish(self) -> Iterator[tuple[np.ndarray, int]]:
        if self.emitted == 0 and self.total < self.span:
            yield from self.push(np.zeros(self.span - self.total, dtype=np.int16))


# --------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------
class Scorer:
    """int8 scores of one window by the TFLite Micro reference interpreter (what the device
    is checked against); LiteRT's reference kernels if tflite_micro is missing."""

    def __init__(self, model_dir: Path):
        from .reference import Reference

        self.ref = Reference(model_dir)
        try:
            self.ref.interpreter()
            self._fn = self.ref.scores
        except ImportError:
            self._fn = self._litert(model_dir)

    @staticmethod
    def _litert(model_dir: Path):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        it = Interpreter(model_path=str(Path(model_dir) / "model.tflite"),
                         experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
        it.allocate_tensors()
        inp, out = it.get_input_details()[0], it.get_output_details()[0]

        def run(window):
            it.set_tensor(inp["index"], np.asarray(window, np.int8).reshape(inp["shape"]))
            it.invoke()
            return it.get_tensor(out["index"]).reshape(-1).astype(np.int8)

        return run

    def __call__(self, window: np.ndarray) -> np.ndarray:
        return self._fn(window)


# --------------------------------------------------------------------------------------
# the pipeline
# --------------------------------------------------------------------------------------
@dataclass
class Trace:
    """Per-window record kept for --plot (small: classes + 1 bytes per window)."""
    scores: list
    silent: list


def host_window_results(chunks: Iterable[np.ndarray], model_dir, p: S.SegParams,
                        scorer: Scorer | None = None, trace: Trace | None = None,
                        progress=None) -> Iterator[tuple]:
    """(int8 scores or None, silent) per window of a PCM stream, as the device computes them:
    gate first, the model only on windows the gate lets through."""
    from .frontend import config_from_model

    fe = config_from_model(model_dir)
    scorer = scorer or Scorer(model_dir)
    cut = WindowCutter(fe, p.window_frames, p.hop_frames)
    gate = S.EnergyGate(p)

    def emit(items):
        for feats, energy in items:
            silent = gate.silent(energy)
            scores = None if silent else scorer(feats)
            if trace is not None:
                trace.scores.append(scores)
                trace.silent.append(silent)
            yield scores, silent

    for chunk in chunks:
        yield from emit(cut.push(chunk))
        if progress is not None:
            progress.update(len(chunk))
    yield from emit(cut.finish())


@dataclass
class FileResult:
    path: Path
    duration: float
    labels: list
    events: list          # TimedEvent
    params: S.SegParams
    trace: Trace | None
    notes: list


def segment_file(path, model_dir, p: S.SegParams, scorer: Scorer | None = None,
                 keep_trace: bool = False, progress: bool = False,
                 window_results=None) -> FileResult:
    """Segment one audio file with a model. `window_results(chunks) -> iterator` replaces
    the host computation (e.g. a device in STREAM mode)."""
    from .reference import load_model_config

    labels = list(load_model_config(Path(model_dir))["labels"])
    audio = open_audio(path, p.sample_rate)
    trace = Trace([], []) if keep_trace else None
    bar = _bar(audio, progress)
    try:
        if window_results is None:
            results = host_window_results(audio.chunks(), model_dir, p, scorer, trace, bar)
        else:
            results = window_results(_counting(audio.chunks(), bar))
        events = S.segment_windows(results, p)
    finally:
        if bar is not None:
            bar.close()
    return FileResult(Path(path), audio.n_samples / p.sample_rate, labels,
                      S.timed(events, labels, S.Timebase.of(p)), p, trace, audio.notes)


def activity_file(path, p: S.SegParams, progress: bool = False) -> FileResult:
    """Energy-only detection (no model) of one file."""
    audio = open_audio(path, p.sample_rate)
    bar = _bar(audio, progress)
    try:
        events = S.activity_events(_counting(audio.chunks(), bar), p)
    finally:
        if bar is not None:
            bar.close()
    return FileResult(Path(path), audio.n_samples / p.sample_rate, S.ACTIVITY_LABELS,
                      S.timed(events, S.ACTIVITY_LABELS, S.Timebase.of(p)), p, None, audio.notes)


def _bar(audio: AudioStream, progress: bool):
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(total=audio.n_samples, unit="sample", unit_scale=True, desc=audio.path.name,
                leave=False)


def _counting(chunks, bar):
    for c in chunks:
        if bar is not None:
            bar.update(len(c))
        yield c
