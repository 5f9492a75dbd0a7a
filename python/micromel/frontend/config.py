"""The one front-end configuration: saved with every model (config.json["frontend"]) and
emitted as a generated C header (tables.py, header.py). Nothing the config determines is
typed by hand in C.

Defaults, for 16 kHz sensor audio:
  - 512-point FFT (32 ms, 31.25 Hz bins): fine enough that 40 mel bands above 20 Hz never
    get an empty filter (the lowest filters are ~74 Hz apart), and a power of 4 times 2,
    which the fixed-point radix-4 real FFT needs.
  - hop 256 (16 ms, 50 % overlap with the periodic Hann window, which sums to a constant):
    62.5 frames per second.
  - 40 Slaney mel bands (librosa's default filter shape) from 20 Hz to 8 kHz: fmin above
    0 Hz keeps a microphone's DC offset out of the features.
  - 64 frames per analysis window: (64 - 1) * 256 + 512 = 16640 samples = 1.04 s.
  - int8 output: 0.5 dB per step, q = 0 at -32 dB (power of the float signal in [-1, 1]
    through librosa's STFT and filterbank), so -128..127 covers -96 dB (below the int16
    quantisation floor of a mel band, about -93 dB) to +31.5 dB (above a full-scale square
    wave). The model's int8 input tensor has scale 1.0 and zero point 0: its input IS q.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np

from ..errors import MicromelError
from ..jsonconfig import Settings

# Version of the integer algorithm (what twin.py and firmware/lib/mm_frontend compute).
# Bump when any integer changes for the same config; it is part of the config hash.
ALGORITHM_VERSION = 1


@dataclass(frozen=True)
class FrontendConfig(Settings):
    WHAT = "front-end config"

    sample_rate: int = 16000
    n_fft: int = 512
    hop_length: int = 256
    window: str = "hann"
    n_mels: int = 40
    fmin: float = 20.0
    fmax: float = 8000.0
    mel_htk: bool = False
    mel_norm: str = "slaney"
    window_frames: int = 64
    out_step_db: float = 0.5
    out_zero_db: float = -32.0
    algorithm: int = ALGORITHM_VERSION

    def __post_init__(self):
        self.validate()

    # --- checks ---------------------------------------------------------------
    def validate(self) -> None:
        def bad(field, why):
            raise MicromelError(f"front-end config: {field}={getattr(self, field)!r} {why}")

        half = self.n_fft // 2
        if self.n_fft < 32 or self.n_fft % 2 or half & (half - 1) or (half.bit_length() - 1) % 2:
            bad("n_fft", "must be 2 * 4^k (32, 128, 512, 2048): the fixed-point FFT is radix-4")
        if self.n_fft > 2048:
            bad("n_fft", "must be at most 2048")
        if not 16 <= self.hop_length <= self.n_fft or self.hop_length % 16:
            bad("hop_length", "must be a multiple of 16 between 16 and n_fft")
        if not 1000 <= self.sample_rate <= 96000:
            bad("sample_rate", "must be between 1000 and 96000 Hz")
        if self.window not in ("hann", "hamming"):
            bad("window", "must be 'hann' or 'hamming'")
        if not 1 <= self.n_mels <= 128:
            bad("n_mels", "must be between 1 and 128")
        if not 0 <= self.fmin < self.fmax <= self.sample_rate / 2:
            bad("fmax", f"must satisfy 0 <= fmin < fmax <= sample_rate/2 ({self.sample_rate / 2})")
        if self.mel_norm not in ("slaney", "none"):
            bad("mel_norm", "must be 'slaney' or 'none'")
        if not 0.05 <= self.out_step_db <= 4:
            bad("out_step_db", "must be between 0.05 and 4 dB")
        if not 1 <= self.window_frames <= 1024:
            bad("window_frames", "must be between 1 and 1024")
        if self.algorithm != ALGORITHM_VERSION:
            bad("algorithm", f"is not this micromel's front-end algorithm ({ALGORITHM_VERSION}); "
                             "retrain the model or use a matching micromel")

    # --- derived --------------------------------------------------------------
    @property
    def frame_length(self) -> int:
        """Samples per frame (the FFT length; the window spans the whole frame)."""
        return self.n_fft

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    @property
    def frames_per_second(self) -> float:
        return self.sample_rate / self.hop_length

    def n_frames(self, n_samples: int) -> int:
        """Frames a clip of n_samples gives from a reset state: frame f covers samples
        [f*hop, f*hop + n_fft)."""
        if n_samples < self.n_fft:
            return 0
        return 1 + (n_samples - self.n_fft) // self.hop_length

    def dequantize(self, q):
        """int8 feature -> dB (of mel power of the float signal)."""
        return self.out_zero_db + np.asarray(q, dtype=np.float64) * self.out_step_db

    # --- (de)serialisation ----------------------------------------------------


    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def hash(self) -> str:
        """Short stable hash of the config (reported by the firmware as fe_hash)."""
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()[:8]
