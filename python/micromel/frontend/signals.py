"""Test signals for the front end's bit-exactness checks (tests, docs): the cases where a
fixed-point front end usually breaks."""
from __future__ import annotations

import numpy as np


def _clip16(x) -> np.ndarray:
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def test_signals(sample_rate: int = 16000, seconds: float = 0.25, seed: int = 0) -> dict[str, np.ndarray]:
    """name -> int16 PCM: white noise at several levels, sines across the band, silence,
    DC, full-scale square waves, clipping and tiny signals."""
    rng = np.random.default_rng(seed)
    n = int(sample_rate * seconds)
    t = np.arange(n) / sample_rate
    sig: dict[str, np.ndarray] = {}
    for dbfs in (0, -20, -40, -60, -80):
        sig[f"noise_{-dbfs}dBFS"] = _clip16(rng.standard_normal(n) * 32768 * 10 ** (dbfs / 20) / 3)
    for f in (50, 440, 1000, 3000, 6000, 7900):
        sig[f"sine_{f}Hz"] = _clip16(0.9 * 32767 * np.sin(2 * np.pi * f * t))
    sig["sine_1kHz_quiet"] = _clip16(3 * np.sin(2 * np.pi * 1000 * t))
    sig["silence"] = np.zeros(n, dtype=np.int16)
    sig["dc_positive"] = np.full(n, 32767, dtype=np.int16)
    sig["dc_negative"] = np.full(n, -32768, dtype=np.int16)
    sig["dc_minus_one"] = np.full(n, -1, dtype=np.int16)
    for f in (100, 1000, 4000):
        period = sample_rate / f
        sig[f"square_{f}Hz_fullscale"] = np.where((np.arange(n) % period) < period / 2,
                                                  32767, -32768).astype(np.int16)
    sig["nyquist_fullscale"] = np.where(np.arange(n) % 2, -32768, 32767).astype(np.int16)
    sig["clipped_sine"] = _clip16(4 * 32767 * np.sin(2 * np.pi * 300 * t))
    sig["impulses"] = np.zeros(n, dtype=np.int16)
    sig["impulses"][::700] = -32768
    edge = np.zeros(n, dtype=np.int16)
    edge[::512] = 32767            # loud click under a window's tail, quiet centre
    edge += _clip16(rng.standard_normal(n) * 2)
    sig["edge_clicks"] = edge
    return sig
