"""One-shots from sample libraries: cut to the hit, and near-duplicates found.

A rendered note or a library's sample file starts with whatever silence its maker left and
ends in a long reverberant tail or a cut loop. `cut_oneshot` makes them alike: from 2 ms
before the first sample within ONSET_DB of the peak, at most MAX_SECONDS, the tail cut where
it last rises above TAIL_DB re peak (plus 20 ms), a 10 ms fade-out, peak at PEAK_DBFS.

Near-duplicates: sample libraries reuse one recording in many places (velocity layers that
only scale it, kits that share a snare, a library that copies another's samples). Two
one-shots are near-duplicates when the magnitude spectra of their first 0.5 s (8192-point
FFT) have a cosine similarity of at least SIMILAR and so have their 10 ms RMS envelopes
(mean removed): both measures ignore the level. A re-pitched sample (one tom recording over
six keys) stays distinct. Thresholds from the survey of the packages (0.985 kept velocity
layers together and re-pitched toms apart).
"""
from __future__ import annotations

import numpy as np
import soxr

SAMPLE_RATE = 16000
MAX_SECONDS = 2.0
ONSET_DB = -50.0          # the hit starts at the first sample this close to the peak
TAIL_DB = -60.0           # the tail ends where the signal last reaches this re peak
PEAK_DBFS = -1.0
SILENT_DBFS = -70.0       # a render whose peak is below this is no one-shot
SIMILAR = 0.985
FP_SECONDS = 0.5
FP_FFT = 8192
FP_HOP = 160              # 10 ms at 16 kHz
FP_FRAMES = 50


def to_mono_16k(x: np.ndarray, rate: int) -> np.ndarray:
    """Float mono at SAMPLE_RATE (channels averaged, soxr HQ)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim > 1:
        x = x.mean(axis=1)
    if rate != SAMPLE_RATE and len(x):
        x = soxr.resample(x, rate, SAMPLE_RATE, quality="HQ")
    return x


def cut_oneshot(x: np.ndarray) -> np.ndarray | None:
    """The hit of float mono 16 kHz audio as int16 (see the module's docstring), or None for
    a silent one."""
    x = np.asarray(x, dtype=np.float64)
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak < 10.0 ** (SILENT_DBFS / 20.0):
        return None
    start = int(np.argmax(np.abs(x) >= peak * 10.0 ** (ONSET_DB / 20.0)))
    x = x[max(0, start - int(0.002 * SAMPLE_RATE)):][: int(MAX_SECONDS * SAMPLE_RATE)]
    loud = np.flatnonzero(np.abs(x) >= peak * 10.0 ** (TAIL_DB / 20.0))
    x = x[: min(len(x), int(loud[-1]) + int(0.02 * SAMPLE_RATE))].copy()
    fade = min(len(x), int(0.01 * SAMPLE_RATE))
    x[len(x) - fade:] *= np.linspace(1.0, 0.0, fade)
    y = x * (10.0 ** (PEAK_DBFS / 20.0) / np.max(np.abs(x)))
    return np.clip(np.round(y * 32767.0), -32768, 32767).astype(np.int16)


def fingerprint(pcm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(unit spectrum, unit envelope) of a one-shot, from its onset (ONSET_DB) on."""
    x = np.asarray(pcm, dtype=np.float64)
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak > 0:
        x = x[int(np.argmax(np.abs(x) >= peak * 10.0 ** (ONSET_DB / 20.0))):]
    seg = x[: int(FP_SECONDS * SAMPLE_RATE)]
    spec = np.abs(np.fft.rfft(seg, FP_FFT))
    spec /= np.linalg.norm(spec) + 1e-12
    n = len(seg) // FP_HOP * FP_HOP
    env = np.sqrt(np.mean(seg[:n].reshape(-1, FP_HOP) ** 2, axis=1) + 1e-12)
    env = np.pad(env, (0, max(0, FP_FRAMES - len(env))))[:FP_FRAMES]
    env = env - env.mean()
    env /= np.linalg.norm(env) + 1e-12
    return spec.astype(np.float32), env.astype(np.float32)


class NearDuplicates:
    """Kept one-shots' fingerprints, grouped by a key (the label, or one group for all)."""

    def __init__(self):
        self._groups: dict = {}      # key -> [spectra (cap, n), envelopes (cap, m), names]

    def find(self, fp, key=None) -> str | None:
        """The name of a kept one-shot of group `key` that `fp` nearly duplicates, or None."""
        group = self._groups.get(key)
        if group is None:
            return None
        specs, envs, names = group
        n = len(names)
        hit = np.flatnonzero((specs[:n] @ fp[0] >= SIMILAR) & (envs[:n] @ fp[1] >= SIMILAR))
        return names[int(hit[0])] if len(hit) else None

    def add(self, fp, name: str, key=None) -> None:
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = [np.zeros((64, len(fp[0])), np.float32),
                                         np.zeros((64, len(fp[1])), np.float32), []]
        specs, envs, names = group
        n = len(names)
        if n == len(specs):         # grow by doubling: adding stays cheap
            group[0] = specs = np.concatenate([specs, np.zeros_like(specs)])
            group[1] = envs = np.concatenate([envs, np.zeros_like(envs)])
        specs[n], envs[n] = fp
        names.append(name)
