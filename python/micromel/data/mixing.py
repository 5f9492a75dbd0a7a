"""Mixing sounds into beds, and where a word is: the rules the speech clips and the evaluation
streams share (float samples, full scale 1.0, 16 kHz).

A word's ACTIVE extent is from the first to the last 10 ms frame whose energy is within
ACTIVE_DB of the word's loudest frame. Within one recording (a sentence), runs of active
frames less than GAP_S apart are one stretch; runs at least GAP_S apart are separate, and
the gap between them is not speech. The same GAP_S joins the words of a scene: words less
than GAP_S apart make one speech event (the pause counts as speech), words further apart
make two (`merge_spans`)."""
from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16000
FRAME = SAMPLE_RATE // 100          # 10 ms
ACTIVE_DB = 28.0
GAP_S = 0.4


def frame_db(x: np.ndarray) -> np.ndarray:
    """Energy of each whole 10 ms frame in dB (mean square, full scale 1.0)."""
    n = len(x) // FRAME
    fr = np.asarray(x[: n * FRAME], dtype=np.float64).reshape(n, FRAME)
    return 10.0 * np.log10(np.mean(fr * fr, axis=1) + 1e-20)


def merge_spans(spans, gap: int) -> list[tuple[int, int]]:
    """Sorted (a, b) spans with the gaps shorter than `gap` samples filled."""
    out: list[list[int]] = []
    for a, b in sorted(spans):
        if out and a - out[-1][1] < gap:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def active_runs(x: np.ndarray, active_db: float = ACTIVE_DB,
                gap_s: float = GAP_S) -> list[tuple[int, int]]:
    """[a, b) sample spans of a recording's active stretches (module doc); [] if silent."""
    db = frame_db(x)
    if len(db) == 0 or db.max() <= -190:
        return []
    on = np.flatnonzero(db >= db.max() - active_db)
    runs = []
    start = prev = int(on[0])
    for k in on[1:]:
        if k != prev + 1:
            runs.append((start * FRAME, (prev + 1) * FRAME))
            start = int(k)
        prev = int(k)
    runs.append((start * FRAME, (prev + 1) * FRAME))
    return merge_spans(runs, int(round(gap_s * SAMPLE_RATE)))


def cut_at_pause(x: np.ndarray, runs, max_samples: int, rng: np.random.Generator):
    """A stretch of at most max_samples of a long recording that starts at the start of an
    active run and ends at the end of one (never inside a word when the recording has
    pauses): (samples, runs within them). Without a pause that fits, a plain cut."""
    i = int(rng.integers(len(runs)))
    a0 = runs[i][0]
    keep = [(a, b) for a, b in runs[i:] if b - a0 <= max_samples]
    if not keep:
        keep = [(runs[i][0], min(runs[i][1], a0 + max_samples))]
    b0 = keep[-1][1]
    return x[a0:b0], [(a - a0, b - a0) for a, b in keep]


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


def dbfs(level_db: float) -> float:
    """Linear RMS (full scale 1.0) of a level in dBFS."""
    return 10.0 ** (level_db / 20.0)


def coloured_noise(n: int, rng: np.random.Generator, colour: str | None = None) -> np.ndarray:
    """Unit-RMS white, pink (1/f) or brown (1/f^2) noise."""
    colour = colour or str(rng.choice(["white", "pink", "brown"]))
    m = 1 << max(1, int(n - 1).bit_length())     # a power of two: a fast FFT
    w = rng.standard_normal(m)
    if colour != "white":
        spec = np.fft.rfft(w)
        f = np.arange(len(spec), dtype=np.float64)
        f[0] = 1.0
        spec /= f ** (0.5 if colour == "pink" else 1.0)
        spec[:2] = 0                         # no DC
        w = np.fft.irfft(spec, m)
    w = w[:n]
    return w / (rms(w) + 1e-12)


def slow_envelope(n: int, rng: np.random.Generator, depth_db: float = 3.0,
                  points: int = 8) -> np.ndarray:
    """A gain that wanders by +-depth_db over the length (a room's level is never constant)."""
    return np.interp(np.arange(n), np.linspace(0, n, points),
                     10 ** (rng.uniform(-depth_db, depth_db, points) / 20))


def fill(x: np.ndarray, n: int, fade: int = 800) -> np.ndarray:
    """x repeated (crossfaded over `fade` samples) or cut to n samples: a loop as a bed."""
    if len(x) >= n:
        return x[:n].copy()
    fade = min(fade, len(x) // 4)
    out = np.zeros(n)
    ramp = np.linspace(0.0, 1.0, fade) if fade else np.zeros(0)
    pos = 0
    while pos < n:
        y = x.copy()
        if pos and fade:
            y[:fade] *= ramp
            out[pos - fade:pos] *= ramp[::-1]
            pos -= fade
        k = min(len(y), n - pos)
        out[pos:pos + k] += y[:k]
        pos += k
    return out


def local_rms(bed: np.ndarray, a: int, b: int, pad: int = SAMPLE_RATE // 4,
              floor: float = 0.0) -> float:
    """RMS of the bed under [a, b) widened by `pad` (what a listener hears around a word),
    never below `floor`."""
    return max(rms(bed[max(0, a - pad): min(len(bed), b + pad)]), floor)


def add_at(out: np.ndarray, x: np.ndarray, at: int, gain: float) -> None:
    """out[at:at+len(x)] += gain * x, clipped to out."""
    a, b = max(0, at), min(len(out), at + len(x))
    if b > a:
        out[a:b] += gain * x[a - at: b - at]


def to_int16(x: np.ndarray, peak: float = 0.97) -> np.ndarray:
    """int16 PCM, scaled down if its peak exceeds `peak` (never clipped)."""
    m = float(np.max(np.abs(x))) if len(x) else 0.0
    if m > peak:
        x = x * (peak / m)
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)
