"""The numpy twin of the audio input's signal generator (firmware/lib/mm_audio/mm_audio_gen.c):
the same int16 samples for silence, a tone (a parabolic sine from a 32-bit phase
accumulator) and noise (an LCG), continuing across calls as the device's does across
periods."""
from __future__ import annotations

import numpy as np

from . import config

KINDS = ("silence", "tone", "noise")
_MASK32 = 0xFFFFFFFF


def sine_q15(p16: np.ndarray) -> np.ndarray:
    """sin(2 pi p / 2^16) in Q15 (mm_audio_gen.c: sine_q15), int64 arithmetic shifts."""
    x = np.asarray(p16, np.int64).astype(np.uint16).astype(np.int16).astype(np.int64)
    y = (4 * x * (32768 - np.abs(x))) >> 15
    y = y + ((config.SINE_REFINE_Q15 * (((y * np.abs(y)) >> 15) - y)) >> 15)
    return np.minimum(y, 32767)


class Generator:
    def __init__(self, kind: str, sample_rate: int, tone_hz: int = config.TONE_HZ,
                 amplitude: int = config.AMPLITUDE):
        if kind not in KINDS:
            raise ValueError(f"generator kind {kind!r}: one of {', '.join(KINDS)}")
        self.kind, self.amplitude = kind, int(amplitude)
        self.step = ((int(tone_hz) << 32) + sample_rate // 2) // sample_rate
        self.phase = 0
        self.lcg = config.LCG_SEED

    def take(self, n: int) -> np.ndarray:
        """The next n samples."""
        a = self.amplitude
        if self.kind == "silence":
            return np.zeros(n, np.int16)
        if self.kind == "tone":
            ph = (self.phase + self.step * np.arange(n, dtype=np.uint64)) & _MASK32
            self.phase = int((self.phase + self.step * n) & _MASK32)
            return ((a * sine_q15((ph >> 16).astype(np.int64))) >> 15).astype(np.int16)
        out = np.empty(n, np.int64)
        s = self.lcg
        for i in range(n):     # sequential by nature; a few seconds of audio take well under 1 s
            s = (s * config.LCG_MUL + config.LCG_ADD) & _MASK32
            out[i] = s
        self.lcg = s
        return ((((out >> 16) - 32768) * a) >> 15).astype(np.int16)
