"""Clip -> model windows, the RMS silence gate and the soft vote: integer rules the firmware
mirrors in C exactly (firmware/lib/mm_clip: same integers in, same decision out).

Notation (all integers): H = front-end hop in samples, L = front-end frame length in samples,
F = window.frames, S = window.hop_frames, N = number of PCM samples of the clip.

Frames. The front end (micromel.frontend, streaming from a reset state) emits frame f once
it has samples [f*H, f*H + L); a clip of N >= L samples gives 1 + (N - L) // H frames, a
shorter one none.

Padding. A clip shorter than WINDOW_SAMPLES = (F - 1) * H + L samples (the samples one window
covers) is padded at its end with digital zeros to exactly WINDOW_SAMPLES samples BEFORE the
front end runs, so the padding frames are the front end's own output for silence following
the clip, exactly what a device computes when the sound is followed by silence. Such a clip
has exactly one window.

Windows. Window w (w = 0, 1, ...) is frames [w*S, w*S + F) and exists while w*S + F <= the
number of frames: n_windows = 1 + (n_frames - F) // S. Frames past the last whole window are
not classified (a clip is never padded to make a second window).

Silence gate. Window w covers PCM samples [w*S*H, w*S*H + WINDOW_SAMPLES) (padding zeros
included). It is SILENT iff

    sum of x[n]^2 over those samples  <  GATE_THRESHOLD

computed exactly in int64 (at most 2^30 * WINDOW_SAMPLES, far from overflow), where
GATE_THRESHOLD = round(WINDOW_SAMPLES * 32768^2 * 10^(silence_rms_dbfs / 10)) is computed
once in Python (`gate_threshold`) and reaches C as a generated constant; C never computes a
logarithm. I.e. a window is silent when its RMS is below silence_rms_dbfs relative to a
full-scale square wave (32768).

Soft vote. For every non-silent window the model gives int8 scores q[c] (softmax output,
zero point -128, so q + 128 is the probability in units of 1/256). The clip's total for class
c is acc[c] = sum over non-silent windows of (q[c] + 128) in int32 (at most 255 per window);
the clip's class is the argmax of acc, the LOWEST class index winning ties. This is the mean
of the windows' dequantized probabilities, up to the common factor 1 / (256 * windows). If
every window is silent, the clip is silence: class -1.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import MicromelError
from ..jsonconfig import Settings

SILENCE = -1


@dataclass(frozen=True)
class WindowConfig(Settings):
    WHAT = "window config"

    frames: int = 64
    hop_frames: int = 32
    silence_rms_dbfs: float = -50.0

    def __post_init__(self):
        if not 1 <= self.frames <= 1024:
            raise MicromelError(f"window: frames={self.frames} must be between 1 and 1024")
        if not 1 <= self.hop_frames <= 1024:
            raise MicromelError(f"window: hop_frames={self.hop_frames} must be between 1 and 1024")




@dataclass(frozen=True)
class Framing:
    """How front-end frames map to PCM samples."""
    hop_samples: int
    frame_samples: int

    def n_frames(self, n_samples: int) -> int:
        if n_samples < self.frame_samples:
            return 0
        return 1 + (n_samples - self.frame_samples) // self.hop_samples


def window_samples(w: WindowConfig, fr: Framing) -> int:
    """PCM samples one window covers: (F - 1) * H + L."""
    return (w.frames - 1) * fr.hop_samples + fr.frame_samples


def gate_threshold(w: WindowConfig, fr: Framing) -> int:
    """The int64 sum-of-squares threshold of the silence gate (see module doc)."""
    return int(round(window_samples(w, fr) * 32768.0 ** 2 * 10.0 ** (w.silence_rms_dbfs / 10.0)))


def pad_clip(pcm: np.ndarray, w: WindowConfig, fr: Framing) -> np.ndarray:
    """Append digital zeros to a clip shorter than one window (no-op otherwise)."""
    need = window_samples(w, fr)
    pcm = np.asarray(pcm, dtype=np.int16)
    if len(pcm) >= need:
        return pcm
    return np.concatenate([pcm, np.zeros(need - len(pcm), dtype=np.int16)])


def n_windows(n_frames: int, w: WindowConfig) -> int:
    if n_frames < w.frames:
        return 0
    return 1 + (n_frames - w.frames) // w.hop_frames


def window_energies(pcm: np.ndarray, n_win: int, w: WindowConfig, fr: Framing) -> list[int]:
    """Exact sum of squares of the samples each window covers (Python ints)."""
    x = np.asarray(pcm, dtype=np.int64)
    csum = np.concatenate([[0], np.cumsum(x * x)])   # int64: <= 2^30 * N, N < 2^33
    ws = window_samples(w, fr)
    out = []
    for k in range(n_win):
        a = k * w.hop_frames * fr.hop_samples
        b = min(a + ws, len(x))
        out.append(int(csum[b] - csum[a]))
    return out


def nonsilent_mask(pcm: np.ndarray, n_win: int, w: WindowConfig, fr: Framing) -> np.ndarray:
    thr = gate_threshold(w, fr)
    return np.array([e >= thr for e in window_energies(pcm, n_win, w, fr)], dtype=bool)


def cut_windows(feats: np.ndarray, w: WindowConfig) -> np.ndarray:
    """(n_frames, n_mels) int8 -> (n_windows, F, n_mels) int8 (a copy)."""
    n = n_windows(len(feats), w)
    if n == 0:
        return np.zeros((0, w.frames, feats.shape[1]), dtype=feats.dtype)
    idx = np.arange(n)[:, None] * w.hop_frames + np.arange(w.frames)[None, :]
    return feats[idx]


def clip_windows(pcm: np.ndarray, features_fn, w: WindowConfig, fr: Framing):
    """Pad, run the front end (`features_fn(pcm) -> int8 (frames, mels)`), cut windows and
    gate them. Returns (windows int8 (n, F, mels), nonsilent bool (n,))."""
    pcm = pad_clip(pcm, w, fr)
    feats = features_fn(pcm)
    wins = cut_windows(feats, w)
    return wins, nonsilent_mask(pcm, len(wins), w, fr)


def soft_vote(scores: np.ndarray, nonsilent: np.ndarray) -> tuple[int, np.ndarray]:
    """Clip class from int8 window scores (n, classes) and the gate mask: (class or -1, acc)."""
    scores = np.asarray(scores)
    if scores.dtype != np.int8:
        raise TypeError("soft_vote takes the model's int8 scores")
    acc = (scores[np.asarray(nonsilent, dtype=bool)].astype(np.int32) + 128).sum(axis=0,
                                                                              dtype=np.int32)
    if not np.any(nonsilent):
        return SILENCE, np.zeros(scores.shape[1], dtype=np.int32)
    return int(np.argmax(acc)), acc     # np.argmax returns the first maximum: lowest index wins
