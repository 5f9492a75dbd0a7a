"""The float reference: librosa with the same parameters, for fidelity checks.

The twin's int8 output q dequantises to dB as out_zero_db + q * out_step_db (of the mel
power of the float signal x / 32768); the reference computes that dB value in float64 and
clips it to the same representable range."""
from __future__ import annotations

import numpy as np

from .config import FrontendConfig
from .tables import mel_float


def logmel_db(pcm: np.ndarray, cfg: FrontendConfig, clip: bool = True) -> np.ndarray:
    """Float log-mel in dB [n_frames, n_mels] through librosa (center=False: frame f covers
    samples [f*hop, f*hop + n_fft), like the fixed-point front end)."""
    import librosa    # lazy: heavy (numba), only for fidelity checks

    y = np.asarray(pcm, dtype=np.float64) / 32768.0
    n = cfg.n_frames(len(y))
    if n == 0:
        return np.zeros((0, cfg.n_mels))
    spec = librosa.stft(y, n_fft=cfg.n_fft, hop_length=cfg.hop_length, win_length=cfg.n_fft,
                        window=cfg.window, center=False, dtype=np.complex128)
    power = np.abs(spec[:, :n]) ** 2
    mel = mel_float(cfg) @ power
    with np.errstate(divide="ignore"):
        db = 10.0 * np.log10(mel.T)
    if clip:
        lo = cfg.out_zero_db - 128 * cfg.out_step_db
        hi = cfg.out_zero_db + 127 * cfg.out_step_db
        db = np.clip(db, lo, hi)
    return db


def fidelity(q: np.ndarray, ref_db: np.ndarray, cfg: FrontendConfig, window_frames: int | None = None,
             range_db: float = 60.0) -> tuple[int, int]:
    """(bins within one output step, bins considered): bins whose reference value is within
    range_db of the maximum of their analysis window (window_frames frames, cut without
    overlap; a shorter tail is its own window)."""
    wf = window_frames or cfg.window_frames
    err = np.abs(cfg.dequantize(q) - ref_db)
    ok = total = 0
    for s in range(0, len(ref_db), wf):
        r = ref_db[s:s + wf]
        sel = r >= r.max() - range_db
        total += int(sel.sum())
        ok += int((err[s:s + wf][sel] <= cfg.out_step_db + 1e-9).sum())
    return ok, total
