"""Speech / non-speech data from Debian packages, and evaluation streams with known events.

Sources
-------
- Speech: the spoken words of `tuxpaint-stamps-default` (volunteer recordings, one word or
  short phrase per file): `*_desc_<lang>.ogg` and `*_desc.ogg` (English), and the spoken
  numbers and letters under symbols/math and symbols/alphabets (`<name>_<lang>.ogg`, or no
  language suffix: English, German for alphabets/german). Each language was recorded by its
  own volunteer(s), so splitting BY LANGUAGE keeps speakers apart: TEST_LANGS and
  VAL_LANGS are held out entirely (held-out speakers, and held-out languages).
- Non-speech: the package's other sounds (animals, machines, instruments, household: files
  without a language suffix outside math/alphabets), except EXCLUDED_EFFECT_DIRS whose
  sounds may be voices (faces, dreidel letters, road signs); split 80/10/10 by a stable hash
  of the path. Plus drum hits from `hydrogen-drumkits`, split by kit as the drums dataset
  is (micromel.datasets.kit_split). Plus coloured noise (white, pink, brown).
- Background: coloured noise beds (level drawn per clip or stream), into which speech and
  sounds are mixed at SNRS (dB, RMS of the active part of the sound over the bed's RMS).

Trimming: a word's ACTIVE part is from the first to the last 10 ms frame within
TRIM_DB of its loudest frame (and above -60 dBFS).

Training clips (`build_speech`, `micromel dataset speech`)
----------------------------------------------------------
Each clip is exactly one model window long (window_samples for --window-frames frames of the
default front end), so the trainer cuts exactly one window from it and the clip's label is
that window's label. Labels are defined by COVERAGE, the fraction of the window inside an
utterance (1 to 3 words of one language with pauses of PAUSE_S between them; the pauses
count as speech, as in the stream ground truth):
- speech: coverage >= POS_COVERAGE;
- nonspeech: bed only, bed + sound effects / drum hits, or bed + speech with coverage
  <= NEG_COVERAGE (an utterance's edge in the window: hard negatives).
The model thus learns "the window is mostly speech", and a window decided speech stands for
the hop-long slice at its centre (micromel.segment.Timebase): with the decision at coverage
about 0.5, event boundaries land on the utterance's boundaries.
Output: `<out>/<label>/<split>_<n>.wav` and `<out>/manifest.csv` (path,label,split,source).

Evaluation streams (`build_streams`, `micromel dataset streams`)
----------------------------------------------------------------
From the TEST split only (held-out languages, held-out effects and kits): a coloured-noise
bed, then events at increasing times separated by STREAM_GAP_S: speech utterances (1-4
words, pauses of PAUSE_S) at an SNR drawn from SNRS, or non-speech (an effect or 1-4 drum
hits) at a level drawn the same way. Ground truth per stream: `<name>.events.tsv` with
onset, offset (seconds, the utterance's first active sample to its last) and label (speech
or nonspeech); `<name>.wav` is int16 16 kHz mono.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..audio import AUDIO_EXTENSIONS, write_wav
from ..clip.rules import Framing, WindowConfig
from ..clip.rules import window_samples as _window_samples
from ..errors import MicromelError
from ..frontend.config import FrontendConfig
from . import debpkg
from .datasets import write_manifest
from .drums import KITS_DIR, decode_16k_mono, kit_split

SAMPLE_RATE = 16000
SPEECH_PACKAGE = "tuxpaint-stamps-default"
DRUM_PACKAGE = "hydrogen-drumkits"
STAMPS_DIR = "usr/share/tuxpaint/stamps"
TEST_LANGS = ("ro", "el")
VAL_LANGS = ("da", "lt", "nl")
EXCLUDED_EFFECT_DIRS = ("symbols/faces", "seasonal/hanukkah", "town/roadsigns")
SPEECH_DIRS = ("symbols/math", "symbols/alphabets")
LABELS = ("speech", "nonspeech")
SNRS = (0.0, 5.0, 10.0, 20.0)
BED_DBFS = (-50.0, -30.0)
TRIM_DB = 35.0
PAUSE_S = (0.05, 0.25)
POS_COVERAGE = 0.6
NEG_COVERAGE = 0.4
STREAM_GAP_S = (0.8, 3.0)
MAX_SOUND_S = 3.0

_LANG_RE = re.compile(r"_desc_([a-z]{2,3}(?:_[A-Za-z]{2})?)(?:\.ogg)?$|_([a-z]{2}(?:_[A-Za-z]{2})?)$")


# --------------------------------------------------------------------------------------
# sources
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    path: Path
    kind: str        # "speech", "effect", "drum"
    group: str       # language, effect path, kit
    split: str


def _hash_split(key: str) -> str:
    v = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 10
    return "test" if v == 0 else "val" if v == 1 else "train"


def lang_split(lang: str) -> str:
    base = lang.split("_")[0]
    return "test" if base in TEST_LANGS else "val" if base in VAL_LANGS else "train"


def spoken_language(rel: str) -> str | None:
    """Language of a tuxpaint sound file if it is spoken, else None (module doc)."""
    stem = rel[: -len(".ogg")] if rel.endswith(".ogg") else rel
    stem = stem[: -len(".ogg")] if stem.endswith(".ogg") else stem     # "x_desc_da.ogg.ogg"
    name = stem.rsplit("/", 1)[-1]
    if name.endswith("_desc"):
        return "en"
    m = re.search(r"_desc_([a-z]{2,3}(?:_[A-Za-z]{2})?)$", name)
    if m:
        return m.group(1)
    in_speech_dir = any(rel.startswith(d + "/") for d in SPEECH_DIRS)
    m = re.search(r"_([a-z]{2}(?:_[A-Za-z]{2})?)$", name)
    if m and (in_speech_dir or len(m.group(1)) == 5 or m.group(1) in _KNOWN_LANGS):
        return m.group(1)
    if in_speech_dir:
        return "de" if "/german/" in rel else "en"
    return None


_KNOWN_LANGS = {"be", "bg", "ca", "da", "de", "el", "es", "fr", "lt", "ml", "nl", "ro", "ru",
                "sv", "pt", "ja", "ko", "nb", "nn", "zh", "en", "it", "pl", "fi", "hu", "cs"}


def speech_sources(root: Path) -> tuple[list[Source], list[Source]]:
    """(spoken words, sound effects) of the tuxpaint stamps package."""
    base = root / STAMPS_DIR
    if not base.is_dir():
        raise MicromelError(f"{root}: no {STAMPS_DIR} (is it the extracted {SPEECH_PACKAGE}?)")
    words, effects = [], []
    for p in sorted(base.rglob("*.ogg")):
        rel = p.relative_to(base).as_posix()
        lang = spoken_language(rel)
        if lang is not None:
            words.append(Source(p, "speech", lang, lang_split(lang)))
        elif not any(rel.startswith(d + "/") for d in EXCLUDED_EFFECT_DIRS):
            effects.append(Source(p, "effect", rel, _hash_split(rel)))
    return words, effects


def drum_sources(root: Path) -> list[Source]:

    out = []
    kits = root / KITS_DIR
    for p in sorted(kits.rglob("*")):
        if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file():
            kit = p.relative_to(kits).parts[0]
            out.append(Source(p, "drum", kit, kit_split(kit)))
    return out


def all_sources(quiet: bool = False) -> dict[str, dict[str, list[Source]]]:
    """{split: {kind: [Source]}} from the Debian packages (fetched once, cached)."""
    words, effects = speech_sources(debpkg.fetch(SPEECH_PACKAGE, quiet=quiet))
    drums = drum_sources(debpkg.fetch(DRUM_PACKAGE, quiet=quiet))
    out = {s: {"speech": [], "effect": [], "drum": []} for s in ("train", "val", "test")}
    for src in words + effects + drums:
        out[src.split][src.kind].append(src)
    for split, kinds in out.items():
        for kind, lst in kinds.items():
            if not lst:
                raise MicromelError(f"speech data: no {kind} sounds for the {split} split")
    return out


# --------------------------------------------------------------------------------------
# audio helpers
# --------------------------------------------------------------------------------------
def active_span(x: np.ndarray, sr: int = SAMPLE_RATE) -> tuple[int, int] | None:
    """[a, b) from the first to the last 10 ms frame within TRIM_DB of the loudest one."""
    hop = sr // 100
    n = len(x) // hop
    if n == 0:
        return None
    fr = x[: n * hop].astype(np.float64).reshape(n, hop)
    db = 10 * np.log10(np.mean(fr ** 2, axis=1) + 1e-12)
    thr = max(db.max() - TRIM_DB, -60.0)
    on = np.flatnonzero(db >= thr)
    if len(on) == 0:
        return None
    return int(on[0] * hop), int((on[-1] + 1) * hop)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


def coloured_noise(n: int, rng: np.random.Generator, colour: str | None = None) -> np.ndarray:
    """Unit-RMS white, pink (1/f) or brown (1/f^2) noise, float64."""
    colour = colour or rng.choice(["white", "pink", "brown"])
    w = rng.standard_normal(n + 1)
    if colour != "white":
        spec = np.fft.rfft(w)
        f = np.arange(len(spec), dtype=np.float64)
        f[0] = 1.0
        spec /= f ** (0.5 if colour == "pink" else 1.0)
        spec[:2] = 0  # no DC
        w = np.fft.irfft(spec, n + 1)
    w = w[:n]
    return w / (rms(w) + 1e-12)


def dbfs(level_db: float) -> float:
    """Linear RMS (full scale 1.0) of a level in dBFS."""
    return 10.0 ** (level_db / 20.0)


class Pool:
    """Decoded, trimmed sounds of one split and kind, decoded once on first use."""

    def __init__(self, sources: list[Source], rng: np.random.Generator, limit: int | None = None):
        idx = np.arange(len(sources))
        if limit is not None and len(idx) > limit:
            idx = np.sort(rng.choice(idx, size=limit, replace=False))
        self.sources = [sources[i] for i in idx]
        self._cache: dict[int, np.ndarray | None] = {}
        self.groups: dict[str, list[int]] = {}
        for i, s in enumerate(self.sources):
            self.groups.setdefault(s.group, []).append(i)

    def get(self, i: int) -> np.ndarray | None:
        """Float samples (full scale 1.0) of the active part, or None if unusable."""
        if i not in self._cache:
            try:
                x = decode_16k_mono(self.sources[i].path, max_seconds=MAX_SOUND_S)
            except MicromelError:
                x = None
            if x is not None:
                x = x.astype(np.float64) / 32768.0
                span = active_span(x)
                x = x[span[0]: span[1]] if span and span[1] - span[0] >= SAMPLE_RATE // 20 else None
            self._cache[i] = x
        return self._cache[i]

    def draw(self, rng: np.random.Generator, group: str | None = None) -> tuple[np.ndarray, Source]:
        for _ in range(50):
            cand = self.groups[group] if group else range(len(self.sources))
            i = int(rng.choice(list(cand)))
            x = self.get(i)
            if x is not None:
                return x, self.sources[i]
        raise MicromelError("speech data: too many unreadable or silent sounds in a pool")


def utterance(pool: Pool, rng: np.random.Generator, n_words: int) -> tuple[np.ndarray, str]:
    """1..n words of one language with short pauses; starts and ends on active samples."""
    x, src = pool.draw(rng)
    parts = [x]
    lang = src.group
    for _ in range(int(rng.integers(1, n_words + 1)) - 1):
        y, _ = pool.draw(rng, lang)
        pause = int(rng.uniform(*PAUSE_S) * SAMPLE_RATE)
        parts += [np.zeros(pause), y * (rms(x) / (rms(y) + 1e-12))]
    u = np.concatenate(parts)
    return u, f"{src.kind}:{lang}:{src.path.name}"


def nonspeech_sound(effects: Pool, drums: Pool, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """An effect, or 1-4 drum hits of one kit a beat apart."""
    if rng.random() < 0.5:
        x, src = effects.draw(rng)
        return x, f"effect:{src.group}"
    x, src = drums.draw(rng)
    hits = int(rng.integers(1, 5))
    beat = int(rng.uniform(0.15, 0.5) * SAMPLE_RATE)
    out = np.zeros(beat * (hits - 1) + len(x))
    for k in range(hits):
        y, _ = drums.draw(rng, src.group) if k else (x, src)
        y = y[: len(out) - k * beat]
        out[k * beat: k * beat + len(y)] += y
    return out, f"drum:{src.group}"


def _mix_at(bed: np.ndarray, x: np.ndarray, at: int, snr_db: float, bed_rms: float) -> None:
    """Add x into bed at sample `at` (clipped to the bed) with RMS snr_db above bed_rms."""
    g = bed_rms * 10 ** (snr_db / 20) / (rms(x) + 1e-12)
    a, b = max(0, at), min(len(bed), at + len(x))
    if b > a:
        bed[a:b] += g * x[a - at: b - at]


def _to_int16(x: np.ndarray) -> np.ndarray:
    peak = np.max(np.abs(x)) if len(x) else 0.0
    if peak > 0.97:
        x = x * (0.97 / peak)
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


# --------------------------------------------------------------------------------------
# training clips
# --------------------------------------------------------------------------------------
def window_samples(window_frames: int) -> int:
    fe = FrontendConfig()
    return _window_samples(WindowConfig(frames=window_frames, hop_frames=1),
                           Framing(fe.hop_length, fe.frame_length))


def make_clip(kind: str, pools: dict, rng: np.random.Generator, n: int) -> tuple[np.ndarray, str, str]:
    """One window-long clip: (int16 pcm, label, source description)."""
    bed_level = rng.uniform(*BED_DBFS)
    bed = coloured_noise(n, rng) * dbfs(bed_level)
    bed_rms = dbfs(bed_level)
    snr = float(rng.choice(SNRS)) + rng.uniform(-2, 2)
    if kind == "speech":
        u, desc = utterance(pools["speech"], rng, 3)
        lo = int(np.ceil(POS_COVERAGE * n))
        if len(u) < lo:
            return make_clip("speech", pools, rng, n)     # too short to cover the window
        # every start in [lo - len, n - lo] gives an overlap of at least lo samples
        at = int(rng.integers(lo - len(u), n - lo + 1))
        _mix_at(bed, u, at, snr, bed_rms)
        if rng.random() < 0.15:
            y, d2 = nonspeech_sound(pools["effect"], pools["drum"], rng)
            _mix_at(bed, y, int(rng.integers(-len(y) + 1, n)), snr - rng.uniform(0, 10), bed_rms)
            desc += "+" + d2
        return _to_int16(bed), "speech", desc
    r = rng.random()
    desc = "bed"
    if r < 0.55:
        y, desc = nonspeech_sound(pools["effect"], pools["drum"], rng)
        _mix_at(bed, y, int(rng.integers(-len(y) // 2, n)), snr, bed_rms)
    elif r < 0.85:
        u, desc = utterance(pools["speech"], rng, 2)
        cov = int(rng.integers(max(1, n // 20), int(NEG_COVERAGE * n) + 1))
        at = -(len(u) - cov) if rng.random() < 0.5 else n - cov   # an edge of the utterance
        _mix_at(bed, u, at, snr, bed_rms)
        desc = "edge:" + desc
    return _to_int16(bed), "nonspeech", desc


DEFAULT_COUNTS = {"train": 6000, "val": 800, "test": 1200}


def build_speech(out_dir: Path, window_frames: int = 32, counts: dict | None = None,
                 seed: int = 0, quiet: bool = False) -> Path:
    """Write the training clips and manifest.csv; returns the manifest path."""
    from tqdm import tqdm    # lazy: only when building


    counts = counts or DEFAULT_COUNTS
    out_dir = Path(out_dir)
    stamp = out_dir / ".speech-stamp"
    key = f"v1 frames={window_frames} counts={sorted(counts.items())} seed={seed}"
    manifest = out_dir / "manifest.csv"
    if stamp.exists() and stamp.read_text() == key and manifest.exists():
        if not quiet:
            print(f"{manifest}: up to date")
        return manifest
    src = all_sources(quiet)
    n = window_samples(window_frames)
    rows = []
    for split, count in counts.items():
        rng = np.random.default_rng([seed, ("train", "val", "test").index(split)])
        pools = {"speech": Pool(src[split]["speech"], rng, 2500),
                 "effect": Pool(src[split]["effect"], rng),
                 "drum": Pool(src[split]["drum"], rng, 400)}
        for k in tqdm(range(count), desc=f"speech data [{split}]", disable=quiet, leave=False):
            kind = "speech" if k % 2 == 0 else "nonspeech"
            pcm, label, desc = make_clip(kind, pools, rng, n)
            rel = f"{label}/{split}_{k:05d}.wav"
            write_wav(out_dir / rel, pcm)
            rows.append({"path": rel, "label": label, "split": split, "source": desc})
    write_manifest(manifest, rows)
    stamp.write_text(key)
    if not quiet:
        print(f"wrote {len(rows)} clips of {n} samples to {out_dir} ({manifest})")
    return manifest


# --------------------------------------------------------------------------------------
# evaluation streams
# --------------------------------------------------------------------------------------
