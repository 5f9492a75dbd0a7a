"""Data augmentation, in two places.

On the waveform (before the front end, so the int8 features see what a microphone would
give), in the order sound meets them: the source itself played faster or slower (speed
perturbation: another voice, another tuning; off by default), another training clip mixed
in underneath (bleed), a time shift (silence before the onset, so the hit lands anywhere in
a window), the source muffled (heard through a door or an enclosure; off by default), a
simulated room's reverberation, a recorded bed (noise, music, ambience) at a random SNR, the
microphone (a telephone band, a cheap microphone's band, a 7-band parametric EQ), coloured
sensor noise at a random SNR, and a random level (peak normalised to a random dBFS). These
run once per training clip and variant, seeded by (seed, clip, variant) so results never
depend on the order clips are processed, and the front end's output is cached: `variants`
augmented copies of each training clip plus the clean one. Built on audiomentations (and
soxr for the speed).

On the spectrogram (every epoch, numpy, seeded): SpecAugment time and frequency masks
(filled with the window's minimum, i.e. the front end's quietest code) and mixup between
windows of the batch (labels mixed with the same weight).
"""
from __future__ import annotations

import functools
import hashlib
import random
import warnings
import numpy as np
import soxr

from .config import AugmentConfig


def _seed_all(*parts) -> np.random.Generator:
    h = int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:8], "little")
    # audiomentations draws from the global `random` and `np.random` generators
    random.seed(h)
    np.random.seed(h % (2 ** 32))
    return np.random.default_rng(h)


def augment_waveform(pcm: np.ndarray, sample_rate: int, cfg: AugmentConfig, seed: int,
                     clip, variant: int, background: np.ndarray | None = None,
                     beds: str | None = None, rooms: str | None = None) -> np.ndarray:
    """One augmented copy of an int16 clip (deterministic in seed, clip, variant). With
    `background` (another training clip), that clip is mixed in underneath, its peak
    background_db below the clip's: the bleed of other instruments a real recording has.
    `beds` and `rooms` are the folders of banks.bed_bank and banks.room_bank."""
    rng = _seed_all("wave", seed, clip, variant)
    x = pcm.astype(np.float32) / 32768.0
    if cfg.speed_p > 0 and rng.random() < cfg.speed_p:   # no draw when off: old copies unchanged
        x = change_speed(x, sample_rate, float(rng.uniform(*cfg.speed)))
    if background is not None and len(background) and np.any(background) and np.any(x):
        b = background.astype(np.float32) / 32768.0
        start = int(rng.integers(0, max(1, len(x))))       # the other hit comes at any time
        b = np.concatenate([np.zeros(start, np.float32), b])[:max(len(x), len(b))]
        x = np.pad(x, (0, max(0, len(b) - len(x))))[:len(b)] if len(b) > len(x) else x
        b = np.pad(b, (0, len(x) - len(b)))
        g = 10.0 ** (rng.uniform(*cfg.background_db) / 20.0) * np.max(np.abs(x))
        if np.any(b):   # the shift can leave only the other clip's silent part: nothing to mix
            x = x + (g / np.max(np.abs(b))) * b
    if rng.random() < cfg.shift_p:
        pad = int(rng.uniform(*cfg.shift_ms) * sample_rate / 1000)
        x = np.concatenate([np.zeros(pad, dtype=np.float32), x])
    chain = _chain(cfg, beds, rooms)
    with warnings.catch_warnings():
        # A bed excerpt may hold a silent stretch (a pause in the user's recording): then
        # that clip gets no bed, which is right, and the warning would only bury the
        # progress lines of a long training run.
        warnings.filterwarnings("ignore", message=".*too silent to be added as noise")
        y = chain(samples=x, sample_rate=sample_rate)
    # Level: a random peak level, whatever the clip's own. Drum kits are recorded with
    # kicks and snares near full scale and hi-hats and cymbals 10 dB lower; without this,
    # the model learns loudness as a class cue and calls a loud hi-hat a snare.
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    if peak > 0:
        y = y * (10.0 ** (rng.uniform(*cfg.peak_dbfs) / 20.0) / peak)
    return np.clip(np.round(y * 32768.0), -32768, 32767).astype(np.int16)


def change_speed(x: np.ndarray, sample_rate: int, r: float) -> np.ndarray:
    """`x` played r times as fast (pitch and tempo times r), as long as `x`: cut or padded at
    the end, so a one-shot keeps its attack (a clip starts at its onset) and a window's
    centre moves by (1/r - 1)/2 of its length (30 ms of a 0.53 s window at r = 0.9).
    Resampled with soxr, as audio.load_audio resamples."""
    y = soxr.resample(x, sample_rate * r, sample_rate, quality="HQ").astype(np.float32)
    n = len(x)
    return y[:n] if len(y) >= n else np.concatenate([y, np.zeros(n - len(y), np.float32)])


@functools.lru_cache(maxsize=8)
def _chain(cfg: AugmentConfig, beds: str | None, rooms: str | None):
    """The audiomentations chain of a config, built once per process: its constructors list
    the bed and room folders (hundreds of files), which would otherwise cost more than the
    augmentation itself. Every call draws its parameters anew from the seeded generators."""
    from audiomentations import (AddBackgroundNoise, AddColorNoise, ApplyImpulseResponse,  # lazy: heavy
                                 Compose, HighPassFilter, LowPassFilter, SevenBandParametricEQ)

    steps = []
    if cfg.muffle_p > 0:       # the source through a door, a wall, an enclosure
        steps.append(LowPassFilter(cfg.muffle_hz[0], cfg.muffle_hz[1], min_rolloff=12, max_rolloff=24,
                                   p=cfg.muffle_p))
    if rooms and cfg.reverb_p > 0:
        steps.append(ApplyImpulseResponse(ir_path=rooms, p=cfg.reverb_p, leave_length_unchanged=True))
    if beds and cfg.bed_p > 0:
        steps.append(AddBackgroundNoise(sounds_path=beds, min_snr_db=cfg.bed_snr_db[0],
                                        max_snr_db=cfg.bed_snr_db[1], p=cfg.bed_p))
    if cfg.phone_p > 0:        # the telephone band, 300-3400 Hz
        steps.append(Compose([HighPassFilter(250.0, 350.0, p=1.0),
                              LowPassFilter(3000.0, 3600.0, p=1.0)], p=cfg.phone_p))
    if cfg.cheap_mic_p > 0:    # small capsules: little bass, treble rolled off
        steps.append(Compose([HighPassFilter(100.0, 400.0, p=1.0),
                              LowPassFilter(3500.0, 7000.0, p=1.0)], p=cfg.cheap_mic_p))
    return Compose(steps + [
        SevenBandParametricEQ(min_gain_db=-9.0, max_gain_db=9.0, p=cfg.eq_p),
        AddColorNoise(min_snr_db=cfg.noise_snr_db[0], max_snr_db=cfg.noise_snr_db[1],
                      p=cfg.noise_p),
    ])


def spec_augment(x: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """Time and frequency masks on a batch of windows (n, frames, mels), in place on a copy."""
    x = x.copy()
    n, t, f = x.shape[:3]
    floor = x.reshape(n, -1).min(axis=1)
    for i in range(n):
        for _ in range(cfg.time_masks):
            w = int(rng.integers(0, cfg.time_mask_frames + 1))
            if w:
                a = int(rng.integers(0, t - w + 1))
                x[i, a:a + w] = floor[i]
        for _ in range(cfg.freq_masks):
            w = int(rng.integers(0, cfg.freq_mask_bins + 1))
            if w:
                a = int(rng.integers(0, f - w + 1))
                x[i, :, a:a + w] = floor[i]
    return x


def mixup(x: np.ndarray, y: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator):
    """Mix a share mixup_p of the batch with a shuffled partner (features and targets: one-hot
    labels, or with a teacher the mixed soft ones)."""
    if cfg.mixup_alpha <= 0 or cfg.mixup_p <= 0:
        return x, y
    n = len(x)
    lam = rng.beta(cfg.mixup_alpha, cfg.mixup_alpha, size=n).astype(np.float32)
    lam = np.maximum(lam, 1 - lam)               # the first sample dominates
    lam = np.where(rng.random(n) < cfg.mixup_p, lam, 1.0).astype(np.float32)
    perm = rng.permutation(n)
    lx = lam.reshape((n,) + (1,) * (x.ndim - 1))
    return lx * x + (1 - lx) * x[perm], lam[:, None] * y + (1 - lam[:, None]) * y[perm]
