"""Material for the room-and-microphone augmentation, made once and cached:

- the bed bank: excerpts of the user's background recordings (`--background DIR`: noise,
  music, ambience), resampled to the front end's rate and cut into short files, so that a
  training clip mixes in a random stretch of a random recording without decoding a
  five-minute file each time;
- the room bank: impulse responses of simulated rooms (pyroomacoustics' image-source model:
  shoebox rooms of random size, absorption for a drawn RT60, random source and microphone
  positions).

Both are folders of WAV files that audiomentations reads (AddBackgroundNoise,
ApplyImpulseResponse), keyed by everything that changes them."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ..audio import find_audio, open_audio, write_wav
from ..errors import MicromelError
from ..paths import feature_cache

EXCERPT_S = 8.0               # seconds per bed excerpt
BANK_MAX_S = 3600.0           # at most an hour of beds, spread over the recordings
ROOMS = 160                   # impulse responses in the room bank


def _key(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def _complete(folder: Path) -> bool:
    return (folder / ".complete").is_file()


def bed_bank(folders, sample_rate: int, seed: int = 0) -> Path:
    """A folder of EXCERPT_S-long WAV excerpts of the audio files under `folders`, each file
    giving excerpts in proportion to its length (all of a short file, evenly spaced stretches
    of a long one), BANK_MAX_S in all at most."""
    files = find_audio(folders, "--background")     # an empty folder is its error
    infos = [(f, open_audio(f, sample_rate)) for f in files]
    key = _key({"files": [(str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files],
                "rate": sample_rate, "excerpt": EXCERPT_S, "max": BANK_MAX_S, "seed": seed})
    out = feature_cache().parent / "beds" / key
    if _complete(out):
        return out
    total = sum(a.n_samples for _, a in infos) / sample_rate
    share = min(1.0, BANK_MAX_S / max(total, 1e-9))
    n_ex = int(EXCERPT_S * sample_rate)
    rng = np.random.default_rng(seed)
    k = 0
    for f, a in infos:
        seconds = a.n_samples / sample_rate
        want = max(1, int(round(seconds * share / EXCERPT_S)))
        pcm = np.concatenate(list(a.chunks())) if seconds < 4 * EXCERPT_S else None
        if pcm is not None:          # short: the whole file, once
            write_wav(out / f"{k:05d}.wav", pcm[: n_ex * want], sample_rate)
            k += 1
            continue
        starts = np.sort(rng.uniform(0, seconds - EXCERPT_S, size=want))
        picked = _read_stretches(a, (starts * sample_rate).astype(np.int64), n_ex)
        for x in picked:
            if np.any(x):
                write_wav(out / f"{k:05d}.wav", x, sample_rate)
                k += 1
    if k == 0:
        raise MicromelError(f"--background: the files under {folders} hold only silence")
    (out / ".complete").write_text(f"{k} excerpts\n")
    return out


def _read_stretches(stream, starts: np.ndarray, n: int) -> list[np.ndarray]:
    """Stretches of n samples at sorted start positions, read in one pass of the stream (the
    memory holds one block and the stretches, however long the file)."""
    out = [np.zeros(n, np.int16) for _ in starts]
    pos = 0
    for chunk in stream.chunks():
        a, b = pos, pos + len(chunk)
        for i, s in enumerate(starts):
            lo, hi = max(a, s), min(b, s + n)
            if lo < hi:
                out[i][lo - s:hi - s] = chunk[lo - a:hi - a]
        pos = b
        if pos >= starts[-1] + n:
            break
    return out


def room_bank(sample_rate: int, rt60_s: tuple, seed: int = 0) -> Path:
    """ROOMS impulse responses of simulated shoebox rooms (pyroomacoustics), RT60 drawn
    uniformly in rt60_s, as WAV files (peak-normalised; the direct path first)."""
    import pyroomacoustics as pra    # lazy: only when reverberation is on

    key = _key({"rate": sample_rate, "rt60": list(rt60_s), "rooms": ROOMS, "seed": seed,
                "pra": pra.__version__})
    out = feature_cache().parent / "rooms" / key
    if _complete(out):
        return out
    rng = np.random.default_rng(seed)
    for k in range(ROOMS):
        dims = np.array([rng.uniform(3, 12), rng.uniform(3, 10), rng.uniform(2.4, 4.0)])
        rt60 = rng.uniform(*rt60_s)
        try:
            absorption, max_order = pra.inverse_sabine(rt60, dims)
        except ValueError:        # too reverberant for so small a room: the largest that fits
            absorption, max_order = 0.02, 60
        room = pra.ShoeBox(dims, fs=sample_rate, materials=pra.Material(absorption),
                           max_order=min(max_order, 40))
        room.add_source(rng.uniform(0.3, dims - 0.3))
        room.add_microphone(rng.uniform(0.3, dims - 0.3))
        room.compute_rir()
        h = np.asarray(room.rir[0][0], dtype=np.float64)
        h = h[np.argmax(np.abs(h) > 0.01 * np.max(np.abs(h))):][: int(1.5 * sample_rate)]
        write_wav(out / f"{k:04d}.wav", np.round(h / np.max(np.abs(h)) * 32000), sample_rate)
    (out / ".complete").write_text(f"{ROOMS} rooms\n")
    return out
