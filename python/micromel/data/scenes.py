"""Scenes: a bed (music, ambience, noise or near silence) with spoken utterances and sound
effects placed at known times, and the ground truth of where speech is. The speech clips
(data/speech.py) are windows cut from short scenes of the training sources; the evaluation
streams (data/streams.py) are one-minute scenes of the held-out sources. One generator, so
training and evaluation define speech the same way (data/mixing.py: active extents, 0.4 s).

- Utterances: 1 to `max_words` recordings of one speaker group of one source, pauses between
  them drawn short (PAUSE_SHORT: inside one speech event) or long (PAUSE_LONG: two events)
  with probability LONG_PAUSE_P. A source is drawn with weight (its files)^(1/4) so small
  sources are heard without drowning the large ones; then a group, then a file.
- Levels: the bed at a random RMS (BED_DBFS); an utterance at `snr_db` above the bed's RMS
  around it (mixing.local_rms, never below a third of the bed's overall RMS); on a quiet bed
  at an absolute level (QUIET_SPEECH_DBFS). A sound effect at `sfx_snr_db` above the bed.
- Beds: music = a stretch of a track (several tracks joined if one is too short); ambience =
  ambience recordings looped and layered (or, for roles without ambience recordings, sound
  effects scattered at random) over coloured noise; noise = coloured noise with a slowly
  wandering level; quiet = faint noise (close-talk recordings)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import MicromelError
from . import mixing as mx
from .speech_sources import SOURCES, SourceFile, decode, duration, role_of, source_files

SR = mx.SAMPLE_RATE
WORD_MAX_S = 6.0
PAUSE_SHORT = (0.05, 0.35)
PAUSE_LONG = (0.45, 1.2)
LONG_PAUSE_P = 0.35
BED_DBFS = (-38.0, -22.0)
QUIET_DBFS = (-72.0, -58.0)
QUIET_SPEECH_DBFS = (-36.0, -14.0)
BED_KINDS = ("music", "ambience", "noise", "quiet")
CACHE_SAMPLES = 40_000_000     # decoded words and effects kept (float32: 160 MB)


@dataclass
class Placed:
    start: int          # samples, active extent
    end: int
    label: str          # speech | nonspeech
    tag: str            # source NAME/group


@dataclass
class Scene:
    pcm: np.ndarray                 # float, full scale 1.0
    bed: str                        # BED_KINDS
    bed_tag: str
    placed: list = field(default_factory=list)     # every word and effect

    def speech_spans(self) -> list[tuple[int, int]]:
        """The ground truth: words' active extents joined across gaps < mixing.GAP_S."""
        return mx.merge_spans([(p.start, p.end) for p in self.placed if p.label == "speech"],
                              int(round(mx.GAP_S * SR)))

    def speech_mask(self) -> np.ndarray:
        m = np.zeros(len(self.pcm), dtype=bool)
        for a, b in self.speech_spans():
            m[a:b] = True
        return m


def _weighted(rng: np.random.Generator, keys: list, sizes: list):
    w = np.asarray(sizes, dtype=np.float64) ** 0.25
    return keys[int(rng.choice(len(keys), p=w / w.sum()))]


class Library:
    """The files of one role (speech_sources.ROLES) by kind, decoded on demand."""

    def __init__(self, role: str, quiet: bool = True, cache_samples: int = CACHE_SAMPLES):
        self.role = role
        self.cache_samples = cache_samples   # decoded words and effects kept, at most
        self.speech: dict[str, dict[str, list[SourceFile]]] = {}
        self.other: dict[str, dict[str, list[SourceFile]]] = {k: {} for k in ("music", "ambience", "sfx")}
        for s in SOURCES:
            if s.role != role and not (role == "val" and s.val_groups):
                continue
            for f in source_files(s, quiet=quiet):
                if role_of(f) != role:
                    continue
                book = self.speech if s.kind == "speech" else self.other[s.kind]
                book.setdefault(s.name, {}).setdefault(f.group, []).append(f)
        if not self.speech:
            raise MicromelError(f"speech data: no speech source has the role {role}")
        self._durations: dict = {}
        self._decoded: dict = {}       # (path, max_s) -> active samples (float32) and runs
        self._cached = 0

    # -- drawing files ------------------------------------------------------------------
    def _file(self, book: dict, rng, name: str | None = None) -> SourceFile:
        names = sorted(book)
        name = name or _weighted(rng, names, [sum(map(len, book[n].values())) for n in names])
        groups = sorted(book[name])
        files = book[name][groups[int(rng.integers(len(groups)))]]
        return files[int(rng.integers(len(files)))]

    def has(self, kind: str) -> bool:
        return bool(self.other[kind])

    def word(self, rng, source: str | None = None, group: str | None = None,
             max_s: float = WORD_MAX_S):
        """(samples of a recording's active stretches, their runs, the file): a random file
        of a source (weighted) and group, or of the given ones; a longer recording is cut to
        at most max_s at pauses."""
        for _ in range(50):
            if group is not None:
                files = self.speech[source][group]
                f = files[int(rng.integers(len(files)))]
            else:
                f = self._file(self.speech, rng, source)
            x, runs = self._active(f)
            if x is not None:
                if len(x) > max_s * SR:
                    x, runs = mx.cut_at_pause(x, runs, int(max_s * SR), rng)
                return x, runs, f
        raise MicromelError(f"speech data: too many unreadable or silent files in {source or 'the speech sources'}")

    def effect(self, rng, max_s: float = 3.0):
        """(active samples of a sound effect, at most max_s, its file)."""
        for _ in range(50):
            f = self._file(self.other["sfx"], rng)
            x, runs = self._active(f, max_s)
            if x is not None and len(x) >= SR // 20:
                return x, f
        raise MicromelError("speech data: too many unreadable or silent sound effects")

    def _active(self, f: SourceFile, max_s: float | None = None):
        """(active samples, runs) of a file, or (None, None); kept decoded up to CACHE_SAMPLES."""
        key = (f.path, max_s)
        if key in self._decoded:
            x, runs = self._decoded[key]
            return (None, None) if x is None else (x.astype(np.float64), runs)
        try:
            x = decode(f, 0.0, max_s)
            runs = mx.active_runs(x)
        except MicromelError:
            runs = []
        if runs:
            a, b = runs[0][0], runs[-1][1]
            x, runs = x[a:b].astype(np.float32), [(r0 - a, r1 - a) for r0, r1 in runs]
        else:
            x, runs = None, None
        if self._cached < self.cache_samples:
            self._decoded[key] = (x, runs)
            self._cached += 0 if x is None else len(x)
        return (None, None) if x is None else (x.astype(np.float64), runs)

    def _duration(self, f: SourceFile) -> float:
        if f.path not in self._durations:
            try:
                self._durations[f.path] = duration(f)
            except MicromelError:
                self._durations[f.path] = 0.0
        return self._durations[f.path]

    # -- beds ---------------------------------------------------------------------------
    def music(self, rng, n: int) -> tuple[np.ndarray, str]:
        """n samples of music: a stretch of a random track, tracks joined if too short."""
        parts, tag, have = [], None, 0
        for _ in range(50):
            if have >= n:
                break
            f = self._file(self.other["music"], rng)
            d = self._duration(f)
            if d <= 0.5:
                continue
            want = (n - have) / SR
            start = rng.uniform(0, max(0.0, d - want))
            x = decode(f, start, want + 0.1)
            if mx.rms(x) < mx.dbfs(-55):          # a silent intro or outro
                continue
            parts.append(x / mx.rms(x))
            have += len(x)
            tag = tag or f"{f.source.name}/{f.group}"
        if have < n:
            raise MicromelError(f"speech data: could not fill a music bed from the {self.role} sources")
        return np.concatenate(parts)[:n], tag

    def ambience(self, rng, n: int) -> tuple[np.ndarray, str]:
        """n samples of ambience over coloured noise (module doc)."""
        tex = np.zeros(n)
        tag = "noise/texture"
        if self.has("ambience"):
            for k in range(int(rng.integers(1, 3))):
                x, f = self._loop_source(rng)
                tex += mx.fill(x, n) * mx.dbfs(-rng.uniform(0, 8) * k)
                tag = tag if k else f"{f.source.name}/{f.group}"
        else:
            t = 0
            while t < n:
                x, f = self.effect(rng)
                mx.add_at(tex, x / (mx.rms(x) + 1e-12), t, mx.dbfs(rng.uniform(-15, 0)))
                t += len(x) + int(rng.exponential(1.0) * SR)
        tex /= mx.rms(tex) + 1e-12
        noise = mx.coloured_noise(n, rng) * mx.dbfs(-rng.uniform(6, 20))
        return tex + noise, tag

    def _loop_source(self, rng):
        for _ in range(50):
            f = self._file(self.other["ambience"], rng)
            x, _ = self._active(f, 30.0)
            if x is not None and len(x) >= SR // 2:
                return x / (mx.rms(x) + 1e-12), f
        raise MicromelError("speech data: too many unreadable or silent ambience recordings")

    def bed(self, kind: str, rng, n: int) -> tuple[np.ndarray, str]:
        """A unit-RMS bed of n samples and its tag (source NAME/group)."""
        if kind == "music":
            x, tag = self.music(rng, n)
        elif kind == "ambience":
            x, tag = self.ambience(rng, n)
        else:
            colour = str(rng.choice(["white", "pink", "brown"]))
            x, tag = mx.coloured_noise(n, rng, colour), f"noise/{colour}"
        x = x * mx.slow_envelope(n, rng)
        return x / (mx.rms(x) + 1e-12), tag


@dataclass
class Recipe:
    """How a scene is drawn (module doc)."""
    bed: str
    snr_db: tuple = (0.0, 8.0)          # speech over the bed
    sfx_snr_db: tuple = (0.0, 12.0)     # effects over the bed
    speech_p: float = 0.6               # each event: an utterance, else an effect
    max_words: int = 4
    word_max_s: float = WORD_MAX_S      # longer recordings are cut at pauses
    gap_s: tuple = (0.6, 2.5)           # between events
    first_s: tuple = (0.1, 1.0)         # before the first event


def make_scene(lib: Library, rng: np.random.Generator, seconds: float, r: Recipe) -> Scene:
    n = int(round(seconds * SR))
    bed, tag = lib.bed(r.bed, rng, n)
    if r.bed == "quiet":
        bed *= mx.dbfs(rng.uniform(*QUIET_DBFS))
    else:
        bed *= mx.dbfs(rng.uniform(*BED_DBFS))
    overall = mx.rms(bed)
    scene = Scene(bed, r.bed, tag)
    t = int(rng.uniform(*r.first_s) * SR)
    while t < n - SR // 4:
        if rng.random() < r.speech_p:
            t = _utterance(lib, rng, scene, t, r, overall)
        else:
            x, f = lib.effect(rng)
            g = mx.local_rms(bed, t, t + len(x), floor=overall / 3) * mx.dbfs(rng.uniform(*r.sfx_snr_db))
            mx.add_at(scene.pcm, x, t, g / (mx.rms(x) + 1e-12))
            scene.placed.append(Placed(t, min(n, t + len(x)), "nonspeech", f"{f.source.name}/{f.group}"))
            t += len(x)
        t += int(rng.uniform(*r.gap_s) * SR)
    scene.placed = [p for p in scene.placed if p.start < n]
    return scene


def _utterance(lib: Library, rng, scene: Scene, t: int, r: Recipe, overall: float) -> int:
    """Place 1..max_words words of one group from t on; returns the sample after the last."""
    x, runs, f = lib.word(rng, max_s=r.word_max_s)
    words = [(x, runs)]
    for _ in range(int(rng.integers(1, r.max_words + 1)) - 1):
        y, yr, _ = lib.word(rng, f.source.name, f.group, r.word_max_s)
        words.append((y, yr))
    pos, spans = t, []
    for k, (y, yr) in enumerate(words):
        if k:
            lo, hi = PAUSE_LONG if rng.random() < LONG_PAUSE_P else PAUSE_SHORT
            pos += int(rng.uniform(lo, hi) * SR)
        spans.append((pos, y, yr))
        pos += len(y)
    end = min(pos, len(scene.pcm))
    active = np.concatenate([y[a:b] for _, y, yr in spans for a, b in yr])
    if r.bed == "quiet":
        level = mx.dbfs(rng.uniform(*QUIET_SPEECH_DBFS))
    else:
        level = mx.local_rms(scene.pcm, t, end, floor=overall / 3) * mx.dbfs(rng.uniform(*r.snr_db))
    g = level / (mx.rms(active) + 1e-12)
    tag = f"{f.source.name}/{f.group}"
    for at, y, yr in spans:
        mx.add_at(scene.pcm, y, at, g)
        for a, b in yr:
            if at + a < len(scene.pcm):
                scene.placed.append(Placed(at + a, min(len(scene.pcm), at + b), "speech", tag))
    return pos
