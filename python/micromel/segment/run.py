"""`micromel segment` on the host: audio file -> streaming front-end twin -> windows every
hop -> energy gate -> int8 model (TFLite Micro reference interpreter) -> the segmentation
state machine (micromel.segment). Constant memory in the stream length: audio is read in
blocks, and only the frames and samples the next window needs are kept.

The boundary a device plugs into is `machine.segment_windows(results, params)`:
`host_window_results()` yields the per-window (int8 scores or None, silent) the host
computes; a device in STREAM mode yields the same from the board.

Window w covers front-end frames [w*S, w*S + F) and PCM samples [w*S*H, w*S*H + span)
(micromel.clip.rules, with S the segmentation hop). A stream shorter than one window is padded
with digital zeros to one window, as windows.pad_clip does for clips."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from ..audio import AudioStream, open_audio
from ..clip.reference import Reference
from ..frontend.twin import StreamingFrontend
from .config import ACTIVITY_LABELS, SegParams
from .machine import EnergyGate, activity_events, segment_windows
from .timebase import Timebase, timed


# --------------------------------------------------------------------------------------
# windows over a stream
# --------------------------------------------------------------------------------------
class FrameEnergies:
    """PCM chunks -> the exact sum of squares of every front-end frame the chunks complete
    (frame k: samples [k*H, k*H + L)), as many as the front end makes of them."""

    def __init__(self, frontend_cfg):
        self.cfg = frontend_cfg
        self.pcm = np.zeros(0, dtype=np.int64)    # samples from the next frame's start on

    def push(self, chunk: np.ndarray) -> list[int]:
        self.pcm = np.concatenate([self.pcm, np.asarray(chunk, dtype=np.int64)])
        n = self.cfg.n_frames(len(self.pcm))
        h, L = self.cfg.hop_length, self.cfg.frame_length
        out = [int(np.dot(self.pcm[k * h: k * h + L], self.pcm[k * h: k * h + L])) for k in range(n)]
        self.pcm = self.pcm[n * h:]
        return out


class WindowCutter:
    """PCM chunks -> (features int8 (F, mels), exact energy, energies of the frames completed
    since the previous window) of every window, in order, through the streaming front-end
    twin. Keeps at most one window of frames and samples (plus one chunk)."""

    def __init__(self, frontend_cfg, window_frames: int, hop_frames: int):
        self.fe = StreamingFrontend(frontend_cfg)
        self.fe_energy = FrameEnergies(frontend_cfg)
        self.F = window_frames
        self.S = hop_frames
        self.H = frontend_cfg.hop_length
        self.span = (window_frames - 1) * self.H + frontend_cfg.frame_length
        self.frames = np.zeros((0, frontend_cfg.n_mels), dtype=np.int8)
        self.pcm = np.zeros(0, dtype=np.int64)    # samples from the next window's start on
        self.energies: list[int] = []             # frames not yet handed to a window
        self.handed = 0                           # frames handed to windows so far
        self.total = 0
        self.emitted = 0
        self.on_frames = None    # called with each push's new frames (verify compares them)

    def _windows(self) -> Iterator[tuple[np.ndarray, int, list]]:
        while len(self.frames) >= self.F and len(self.pcm) >= self.span:
            x = self.pcm[: self.span]
            upto = self.emitted * self.S + self.F - self.handed
            mine, self.energies = self.energies[:upto], self.energies[upto:]
            self.handed += len(mine)
            yield self.frames[: self.F].copy(), int(np.dot(x, x)), mine
            self.emitted += 1
            self.frames = self.frames[self.S:]
            self.pcm = self.pcm[self.S * self.H:]

    def push(self, chunk: np.ndarray) -> Iterator[tuple[np.ndarray, int, list]]:
        chunk = np.asarray(chunk, dtype=np.int16)
        self.total += len(chunk)
        new = self.fe.process(chunk)
        if self.on_frames is not None:
            self.on_frames(new)
        self.frames = np.concatenate([self.frames, new])
        self.energies += self.fe_energy.push(chunk)
        self.pcm = np.concatenate([self.pcm, chunk.astype(np.int64)])
        yield from self._windows()

    def finish(self) -> Iterator[tuple[np.ndarray, int, list]]:
        if self.emitted == 0 and self.total < self.span:
            yield from self.push(np.zeros(self.span - self.total, dtype=np.int16))


# --------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------
class Scorer:
    """int8 scores of one window by the TFLite Micro reference interpreter (what the device
    is checked against)."""

    def __init__(self, model):
        self.ref = Reference(model)

    def __call__(self, window: np.ndarray) -> np.ndarray:
        return self.ref.scores(window)


# --------------------------------------------------------------------------------------
# the pipeline
# --------------------------------------------------------------------------------------
@dataclass
class Trace:
    """Per-window record kept for --plot (small: classes + 1 bytes per window)."""
    scores: list
    silent: list


def host_window_results(chunks: Iterable[np.ndarray], model, p: SegParams,
                        scorer: Scorer | None = None, trace: Trace | None = None,
                        progress=None) -> Iterator[tuple]:
    """(int8 scores or None, silent, frame energies) per window of a PCM stream through a
    ModelDir, as the device computes them: gate first, the model only on windows the gate
    lets through."""
    scorer = scorer or Scorer(model)
    cut = WindowCutter(model.frontend, p.window_frames, p.hop_frames)
    gate = EnergyGate(p)

    def emit(items):
        for feats, energy, frame_energies in items:
            silent = gate.silent(energy)
            scores = None if silent else scorer(feats)
            if trace is not None:
                trace.scores.append(scores)
                trace.silent.append(silent)
            yield scores, silent, frame_energies

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
    params: SegParams
    trace: Trace | None
    notes: list


def timed_events(model, events, p: SegParams) -> list:
    """Events of the state machine in seconds, named as `segment` and the device name them:
    the model's labels, "unknown" where its rejection rule refuses one. Every scorer of a
    model's events (tune, evaluate-segments) goes through here."""
    return timed(events, list(model.labels), Timebase.of(p), model.reject)


def segment_file(path, model, p: SegParams, scorer: Scorer | None = None,
                 keep_trace: bool = False, progress: bool = False,
                 window_results=None) -> FileResult:
    """Segment one audio file with a ModelDir. `window_results(chunks) -> iterator` replaces
    the host computation (e.g. a device in STREAM mode)."""
    labels = list(model.labels)
    audio = open_audio(path, p.sample_rate)
    trace = Trace([], []) if keep_trace else None
    bar = _bar(audio, progress)
    try:
        if window_results is None:
            results = host_window_results(audio.chunks(), model, p, scorer, trace, bar)
        else:
            results = window_results(_counting(audio.chunks(), bar))
        events = segment_windows(results, p)
    finally:
        if bar is not None:
            bar.close()
    return FileResult(Path(path), audio.n_samples / p.sample_rate, labels,
                      timed_events(model, events, p), p, trace, audio.notes)


def activity_file(path, p: SegParams, progress: bool = False) -> FileResult:
    """Energy-only detection (no model) of one file."""
    audio = open_audio(path, p.sample_rate)
    bar = _bar(audio, progress)
    try:
        events = activity_events(_counting(audio.chunks(), bar), p)
    finally:
        if bar is not None:
            bar.close()
    return FileResult(Path(path), audio.n_samples / p.sample_rate, ACTIVITY_LABELS,
                      timed(events, ACTIVITY_LABELS, Timebase.of(p)), p, None, audio.notes)


def _bar(audio: AudioStream, progress: bool):
    if not progress:
        return None
    from tqdm import tqdm    # lazy: only on a terminal

    return tqdm(total=audio.n_samples, unit="sample", unit_scale=True, desc=audio.path.name,
                leave=False)


def _counting(chunks, bar):
    for c in chunks:
        if bar is not None:
            bar.update(len(c))
        yield c
