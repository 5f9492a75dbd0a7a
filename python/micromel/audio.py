"""Audio files in and out: int16 mono PCM at the front end's rate, whole or in blocks.

Any format soundfile (libsndfile) reads: WAV, FLAC, OGG/Vorbis, Opus, AIFF, MP3... Stereo
and multichannel are downmixed (mean of the channels), other rates resampled (soxr, high
quality). 16-bit mono files at the right rate are read bit for bit. Every problem with a
file is a one-line MicromelError naming it."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf
import soxr

from .errors import MicromelError
from .fileio import atomic_path

# The one list of audio file names every command looks for in a folder.
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".aif", ".aiff", ".au", ".mp3")
BLOCK_SAMPLES = 1 << 15


def to_int16(y: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1) -> int16 (round, clip)."""
    return np.clip(np.round(np.asarray(y, dtype=np.float64) * 32768.0), -32768, 32767).astype(np.int16)


def _finite(path: Path, y: np.ndarray) -> np.ndarray:
    """Float samples as read, refused when some are not numbers (a damaged float file: NaN
    would turn into arbitrary integers)."""
    if not np.all(np.isfinite(y)):
        raise MicromelError(f"{path}: holds samples that are not numbers (NaN or infinite); "
                            "the file is damaged: export it again or give another one")
    return y


def _unreadable(path: Path, e: Exception) -> MicromelError:
    msg = str(e).splitlines()[0] if str(e) else type(e).__name__
    return MicromelError(f"{path}: not a readable audio file ({msg})")


def audio_info(path: str | Path):
    """soundfile's info of an audio file. A missing file, a folder, an unreadable or an empty
    file is a one-line MicromelError naming it."""

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


def wav_truncation(path: str | Path) -> tuple[int, int] | None:
    """(bytes the WAV header announces for its samples, bytes the file holds) of a WAV file
    cut short (a copy or a recording that was interrupted), else None. libsndfile reads such
    a file up to where it ends without a word."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            size = path.stat().st_size
            while True:
                chunk = f.read(8)
                if len(chunk) < 8:
                    return None
                n = int.from_bytes(chunk[4:8], "little")
                if chunk[:4] == b"data":
                    have = size - f.tell()
                    # 0 and 0xFFFFFFFF: a streaming writer that never knew the length
                    return (n, have) if 0 < n < 0xFFFFFFFF and have < n else None
                f.seek(n + (n & 1), 1)
    except OSError:
        return None


def conversion_notes(path: str | Path, info, sample_rate: int) -> list[str]:
    """What reading the file at sample_rate changes: downmix, resampling; and a WAV file cut
    short (read up to where it ends)."""
    name = Path(path).name
    notes = []
    cut = wav_truncation(path)
    if cut:
        notes.append(f"{name}: truncated WAV (its header announces {cut[0]} bytes of samples, "
                     f"the file holds {cut[1]}); read up to where it ends")
    if info.channels > 1:
        notes.append(f"{name}: {info.channels} channels downmixed to mono")
    if info.samplerate != sample_rate:
        notes.append(f"{name}: resampled from {info.samplerate} Hz to {sample_rate} Hz")
    return notes


def load_audio(path: str | Path, sample_rate: int = 16000,
               notes: list[str] | None = None, max_seconds: float | None = None) -> np.ndarray:
    """int16 mono PCM of a whole audio file at sample_rate (for clips; long recordings go
    through `open_audio(...).chunks()`), or of its first max_seconds. What was changed
    (downmix, resampling, a truncated file) is appended to notes."""

    path = Path(path)
    info = audio_info(path)
    native16 = info.subtype == "PCM_16" and info.samplerate == sample_rate
    frames = -1 if max_seconds is None else int(max_seconds * info.samplerate)
    try:
        data, rate = sf.read(str(path), frames=frames, dtype="int16" if native16 else "float64",
                             always_2d=True)
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
    data = _finite(path, data)
    if rate != sample_rate:

        data = soxr.resample(data, rate, sample_rate, quality="HQ")
        if data.size == 0:
            raise MicromelError(f"{path}: too short to resample to {sample_rate} Hz")
    return to_int16(data)


@dataclass
class AudioStream:
    """An audio file read in blocks: memory does not grow with its length."""
    path: Path
    sample_rate: int
    n_samples: int          # at sample_rate (estimate when resampled)
    native: bool            # 16-bit mono at the right rate: read bit for bit
    notes: list

    def chunks(self, block: int = BLOCK_SAMPLES) -> Iterator[np.ndarray]:
        """int16 mono chunks at sample_rate. 16-bit mono files at the right rate give the
        same samples as load_audio; other files are downmixed, resampled with a streaming
        soxr resampler (HQ) and rounded like load_audio (differences from the one-shot
        resampler are at the rounding level). A file that turns out unreadable midway is a
        one-line MicromelError."""
        try:
            yield from self._chunks(block)
        except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as e:
            raise _unreadable(self.path, e) from None

    def _chunks(self, block: int) -> Iterator[np.ndarray]:
        with sf.SoundFile(str(self.path)) as f:
            if self.native:
                for b in f.blocks(blocksize=block, dtype="int16", always_2d=True):
                    yield np.ascontiguousarray(b[:, 0])
                return
            rs = None
            if f.samplerate != self.sample_rate:

                rs = soxr.ResampleStream(f.samplerate, self.sample_rate, 1, dtype="float64",
                                         quality="HQ")
            for b in f.blocks(blocksize=block, dtype="float64", always_2d=True):
                y = _finite(self.path, b.mean(axis=1) if b.shape[1] > 1 else b[:, 0])
                if rs is not None:
                    y = rs.resample_chunk(y)
                if len(y):
                    yield to_int16(y)
            if rs is not None:
                y = rs.resample_chunk(np.zeros(0), last=True)
                if len(y):
                    yield to_int16(y)


def open_audio(path, sample_rate: int) -> AudioStream:
    path = Path(path)
    info = audio_info(path)
    native = info.subtype == "PCM_16" and info.channels == 1 and info.samplerate == sample_rate
    n = int(round(info.frames * sample_rate / info.samplerate))
    return AudioStream(path, sample_rate, n, native, conversion_notes(path, info, sample_rate))


def write_wav(path, pcm: np.ndarray, sample_rate: int = 16000) -> Path:
    """A 16-bit PCM WAV, written atomically."""

    with atomic_path(path, suffix=".wav") as tmp:
        sf.write(str(tmp), np.asarray(pcm, np.int16), sample_rate, subtype="PCM_16", format="WAV")
    return Path(path)


def find_audio(names, option: str = "") -> list[Path]:
    """Files as given; folders are searched recursively for audio files (sorted). A folder
    without any, or a name that is no file or folder, is a one-line error, which names the
    command's `option` (e.g. "--background") where the names came from one."""
    out = []
    for name in names:
        p = Path(name)
        where = f"{option} {p}" if option else str(p)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file()
                           and f.suffix.lower() in AUDIO_EXTENSIONS)
            if not found:
                raise MicromelError(f"{where}: no audio files ({', '.join(AUDIO_EXTENSIONS)}) "
                                    "in this folder")
            out.extend(found)
        elif not p.exists():
            raise MicromelError(f"{where}: no such file or folder")
        else:
            out.append(p)
    return out
