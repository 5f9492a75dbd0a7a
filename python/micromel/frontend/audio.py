"""Audio files -> int16 mono PCM at the front end's sample rate.

Any format soundfile (libsndfile) reads: WAV, FLAC, OGG/Vorbis, AIFF... Stereo and
multichannel are downmixed (mean of the channels), other sample rates are resampled
(soxr, high quality). 16-bit mono files at the right rate are read bit for bit."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import MicromelError


def to_int16(y: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1) -> int16 (round, clip)."""
    return np.clip(np.round(np.asarray(y, dtype=np.float64) * 32768.0), -32768, 32767).astype(np.int16)


def audio_info(path: str | Path):
    """soundfile's info of an audio file. A missing file, a folder, an unreadable or an empty
    file is a one-line MicromelError naming it."""
    import soundfile as sf

    path = Path(path)
    if not path.exists():
        raise MicromelError(f"{path}: no such file")
    if path.is_dir():
        raise MicromelError(f"{path}: is a folder, expected an audio file")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as e:
        raise _unreadable(path, e) from None
    if info.frames == 0:
        raise MicromelError(f"{path}: the file holds no samples")
    return info


def conversion_notes(path: str | Path, info, sample_rate: int) -> list[str]:
    """What reading the file at sample_rate changes: downmix, resampling."""
    name = Path(path).name
    notes = []
    if info.channels > 1:
        notes.append(f"{name}: {info.channels} channels downmixed to mono")
    if info.samplerate != sample_rate:
        notes.append(f"{name}: resampled from {info.samplerate} Hz to {sample_rate} Hz")
    return notes


def _unreadable(path: Path, e: Exception) -> MicromelError:
    msg = str(e).splitlines()[0] if str(e) else type(e).__name__
    return MicromelError(f"{path}: not a readable audio file ({msg})")


def load_audio(path: str | Path, sample_rate: int = 16000,
               notes: list[str] | None = None) -> np.ndarray:
    """int16 mono PCM of an audio file at sample_rate. What was changed (downmix,
    resampling) is appended to notes. Bad input raises a one-line MicromelError."""
    import soundfile as sf

    path = Path(path)
    info = audio_info(path)
    native16 = info.subtype == "PCM_16" and info.samplerate == sample_rate
    try:
        data, rate = sf.read(str(path), dtype="int16" if native16 else "float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as e:
        raise _unreadable(path, e) from None
    if data.shape[0] == 0:
        raise MicromelError(f"{path}: the file holds no samples")
    if notes is not None:
        notes.extend(conversion_notes(path, info, sample_rate))
    if data.shape[1] > 1:
        if native16:
            # mean of int16 channels, rounded half to even like the float path
            data = np.round(data.astype(np.float64).mean(axis=1)).astype(np.int16)
        else:
            data = data.mean(axis=1)
    else:
        data = data[:, 0]
    if native16:
        return np.ascontiguousarray(data, dtype=np.int16)
    if rate != sample_rate:
        import soxr

        data = soxr.resample(data, rate, sample_rate, quality="HQ")
        if data.size == 0:
            raise MicromelError(f"{path}: too short to resample to {sample_rate} Hz")
    return to_int16(data)
