"""Speech / non-speech clips for training (`micromel dataset speech`), from many sources.

Every clip is one model window (window_samples of --window-frames frames), cut from a
short SCENE (data/scenes.py): a bed of music, ambience, noise or near silence with
utterances and sound effects at known times. A clip's label is what the segmenter needs of
that window: its decision stands for the hop-long slice at the window's centre
(segment.Timebase), so the clip is `speech` when the ground truth (words' tight active
extents, pauses under 0.4 s joined: data/mixing.py) covers at least half of its CENTRE
SLICE (--centre-frames frames, the segmentation hop), else `nonspeech`. The rest of the
window is context: a window whose centre falls in a pause of 0.5 s between two words is
non-speech, one whose centre is 50 ms before a word's onset too.

Splits follow the sources' roles (data/speech_sources.py): train clips come from the
training sources, val clips from the validation sources, test clips from the held-out
sources only. The manifest's source column is `NAME/group` of what the centre slice holds:
the speech recording for a speech clip, else the sound effect there, else the bed.

Per scene (SCENE_S seconds, WINDOWS_PER_SCENE windows): a bed kind drawn from
CLIP_RECIPES (music beds with speech at -3..10 dB SNR, the evaluation's 0-8 dB widened;
ambience and noise at 0..25 dB; near silence), a share NO_SPEECH_P of scenes without any
speech (music and effects alone: the hard negatives), and windows centred half on speech
and half off it, a share EDGE_P of the latter within EDGE_S of a speech event's edge."""
from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import numpy as np

from .. import cliargs
from ..audio import write_wav
from ..clip.rules import Framing, WindowConfig
from ..clip.rules import window_samples as _window_samples
from ..errors import MicromelError
from ..frontend.config import FrontendConfig
from . import mixing as mx
from .datasets import write_manifest
from .scenes import SR, Library, Recipe, make_scene
from .speech_sources import SOURCES

LABELS = ("speech", "nonspeech")
SCENE_S = 8.0
WINDOWS_PER_SCENE = 8
NO_SPEECH_P = 0.25
EDGE_P = 0.4
EDGE_S = 0.3
CLIP_RECIPES = (   # (weight, recipe)
    (0.50, Recipe("music", snr_db=(-3.0, 10.0), sfx_snr_db=(-3.0, 12.0), gap_s=(0.3, 2.0))),
    (0.15, Recipe("ambience", snr_db=(0.0, 25.0), sfx_snr_db=(0.0, 15.0), gap_s=(0.3, 2.0))),
    (0.20, Recipe("noise", snr_db=(0.0, 25.0), sfx_snr_db=(0.0, 15.0), gap_s=(0.3, 2.0))),
    (0.15, Recipe("quiet", sfx_snr_db=(20.0, 40.0), gap_s=(0.3, 2.0))),
)
DEFAULT_COUNTS = {"train": 16000, "val": 2000, "test": 3000}
VERSION = 6


def window_samples(window_frames: int) -> int:
    fe = FrontendConfig()
    return _window_samples(WindowConfig(frames=window_frames, hop_frames=1),
                           Framing(fe.hop_length, fe.frame_length))


def centre_slice(n: int, centre_frames: int) -> tuple[int, int]:
    """[a, b) of a window of n samples that its decision stands for (segment.Timebase)."""
    hop = centre_frames * FrontendConfig().hop_length
    return (n - hop) // 2, (n - hop) // 2 + hop


def window_label(mask: np.ndarray, start: int, n: int, centre_frames: int) -> bool:
    """Speech iff the ground truth covers at least half of the window's centre slice."""
    a, b = centre_slice(n, centre_frames)
    return 2 * int(np.count_nonzero(mask[start + a: start + b])) >= b - a


def pick_starts(mask: np.ndarray, n: int, k: int, rng: np.random.Generator) -> list[int]:
    """k window starts: centres on speech and off it in turn (off it near an edge with
    probability EDGE_P), each window inside the scene."""
    total = len(mask)
    on = np.flatnonzero(mask)
    off = np.flatnonzero(~mask)
    edges = np.flatnonzero(np.diff(mask.astype(np.int8)))
    starts = []
    for i in range(k):
        if i % 2 == 0 and len(on):
            c = int(rng.choice(on))
        elif len(edges) and rng.random() < EDGE_P:
            c = int(rng.choice(edges)) + int(rng.integers(-int(EDGE_S * SR), int(EDGE_S * SR) + 1))
        else:
            c = int(rng.choice(off)) if len(off) else int(rng.integers(total))
        starts.append(int(np.clip(c - n // 2, 0, total - n)))
    return starts


def clip_tag(scene, start: int, n: int, centre_frames: int, speech: bool) -> str:
    """The source of what the window's centre slice holds (module doc)."""
    a, b = centre_slice(n, centre_frames)
    a, b = start + a, start + b
    label = "speech" if speech else "nonspeech"
    # overlap with the slice (negative: distance to it, for a slice inside a short pause)
    hits = [(min(b, p.end) - max(a, p.start), p.tag) for p in scene.placed if p.label == label]
    if speech:
        return max(hits)[1]
    return max(hits)[1] if hits and max(hits)[0] > 0 else scene.bed_tag


def draw_recipe(rng: np.random.Generator) -> Recipe:
    w = np.array([c[0] for c in CLIP_RECIPES])
    r = CLIP_RECIPES[int(rng.choice(len(w), p=w / w.sum()))][1]
    return replace(r, speech_p=0.0) if rng.random() < NO_SPEECH_P else r


def split_clips(lib: Library, count: int, n: int, centre_frames: int, rng: np.random.Generator):
    """Yield (int16 pcm, label, source tag) of `count` clips from scenes of one library."""
    made = 0
    while made < count:
        scene = make_scene(lib, rng, SCENE_S, draw_recipe(rng))
        mask = scene.speech_mask()
        pcm = mx.to_int16(scene.pcm)
        for s in pick_starts(mask, n, min(WINDOWS_PER_SCENE, count - made), rng):
            sp = window_label(mask, s, n, centre_frames)
            yield pcm[s:s + n], "speech" if sp else "nonspeech", clip_tag(scene, s, n, centre_frames, sp)
            made += 1


def catalogue_digest() -> str:
    return hashlib.sha256(repr(SOURCES).encode()).hexdigest()[:16]


def build_speech(out_dir: Path, window_frames: int = 32, centre_frames: int = 6,
                 counts: dict | None = None, seed: int = 0, quiet: bool = False) -> Path:
    """Write the clips and manifest.csv (path, label, split, source); returns the manifest."""
    from tqdm import tqdm    # lazy: only when building

    counts = counts or DEFAULT_COUNTS
    out_dir = cliargs.out_folder(out_dir, "--out", "for the dataset")    # before any download
    n = window_samples(window_frames)
    if not 1 <= centre_frames <= window_frames:
        raise MicromelError(f"--centre-frames {centre_frames}: must be 1 to --window-frames ({window_frames})")
    stamp = out_dir / ".speech-stamp"
    key = (f"v{VERSION} frames={window_frames} centre={centre_frames} counts={sorted(counts.items())} "
           f"seed={seed} sources={catalogue_digest()}")
    manifest = out_dir / "manifest.csv"
    if stamp.exists() and stamp.read_text() == key and manifest.exists():
        if not quiet:
            print(f"{manifest}: up to date")
        return manifest
    stamp.unlink(missing_ok=True)
    rows = []
    for split, count in counts.items():
        lib = Library(split, quiet=quiet)
        rng = np.random.default_rng([seed, ("train", "val", "test").index(split)])
        clips = split_clips(lib, count, n, centre_frames, rng)
        for k, (pcm, label, tag) in enumerate(tqdm(clips, total=count, desc=f"speech data [{split}]",
                                                   disable=quiet, leave=False)):
            rel = f"{label}/{split}_{k:05d}.wav"
            write_wav(out_dir / rel, pcm)
            rows.append({"path": rel, "label": label, "split": split, "source": tag})
    write_manifest(manifest, rows)
    stamp.write_text(key)
    if not quiet:
        sp = sum(r["label"] == "speech" for r in rows)
        print(f"wrote {len(rows)} clips of {n} samples ({sp} speech) to {out_dir} ({manifest})")
    return manifest
