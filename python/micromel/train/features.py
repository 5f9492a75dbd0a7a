"""Features for training and evaluation: every clip through the front-end twin (the ONE
place training computes features: `compute_features`) after padding (clip.rules), training
clips also as waveform-augmented copies; the windows on the evaluation grid. Results are
cached in build/cache/features/ keyed by the front-end config, window length, the dataset's
file list (path, label, split, size, mtime), the augmentation settings, the seed and the
twin's own source."""
from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import multiprocessing as mp
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import audio
from ..clip import rules as win
from ..frontend import twin
from ..frontend.config import FrontendConfig
from ..paths import feature_cache
from . import augment as aug_mod
from .config import AugmentConfig

CACHE_VERSION = 1


def compute_features(pcm: np.ndarray, fcfg) -> np.ndarray:
    """int16 PCM -> int8 (frames, n_mels) through the front-end twin."""
    return twin.features(np.asarray(pcm, dtype=np.int16), fcfg)


def load_pcm(path: Path, sample_rate: int) -> np.ndarray:
    """int16 mono PCM at the front end's rate."""
    return audio.load_audio(path, sample_rate)


def framing(fcfg) -> win.Framing:
    return win.Framing(hop_samples=int(fcfg.hop_length), frame_samples=int(fcfg.frame_length))


def cache_dir() -> Path:
    return feature_cache()


# ---------------------------------------------------------------------------------------
# Feature extraction (cached)

@dataclass
class ClipFeatures:
    """Front-end output of clips (and augmented variants) of one split."""
    feats: list                 # int8 (n_frames, n_mels) per entry
    energy: list                # int64 sum of squares for every window start frame
    label: np.ndarray           # class index per entry
    clip: np.ndarray            # index of the clip in the split's item list
    variant: np.ndarray         # 0 = the clip itself, k > 0 = k-th augmented copy

    def __len__(self) -> int:
        return len(self.feats)


def _energies(pcm: np.ndarray, n_frames: int, w: win.WindowConfig, fr: win.Framing) -> np.ndarray:
    """Sum of squares of the samples the window starting at each frame covers (int64)."""
    n_starts = max(0, n_frames - w.frames + 1)
    x = pcm.astype(np.int64)
    csum = np.concatenate([[0], np.cumsum(x * x)])
    a = np.arange(n_starts, dtype=np.int64) * fr.hop_samples
    b = np.minimum(a + win.window_samples(w, fr), len(x))
    return csum[b] - csum[a]


def _extract_one(job):
    path, sample_rate, fcfg_dict, wdict, aug_dict, seed, clip_key, variant, partner, banks = job
    fcfg = FrontendConfig.from_dict(fcfg_dict)
    w = win.WindowConfig.from_dict(wdict)
    fr = framing(fcfg)
    pcm = load_pcm(Path(path), sample_rate)
    if variant:
        other = load_pcm(Path(partner), sample_rate) if partner else None
        pcm = aug_mod.augment_waveform(pcm, sample_rate, AugmentConfig.from_dict(aug_dict),
                                       seed, clip_key, variant, background=other,
                                       beds=banks[0], rooms=banks[1])
    pcm = win.pad_clip(pcm, w, fr)
    feats = compute_features(pcm, fcfg)
    return feats, _energies(pcm, len(feats), w, fr)


def _twin_source_hash() -> str:
    """Hash of the front-end twin's source files (what computes the integers)."""
    h = hashlib.sha256()
    for name in ("twin.py", "tables.py", "config.py"):
        h.update((Path(twin.__file__).parent / name).read_bytes())
    return h.hexdigest()[:16]


def extract(items, labels, fcfg, w: win.WindowConfig, augment: AugmentConfig | None,
            seed: int, desc: str, jobs: int = 0, quiet: bool = False,
            banks: tuple = (None, None)) -> ClipFeatures:
    """Front-end features of (path, label, split) items, plus augmented variants if given.
    `banks`: the bed and room folders (train.banks) the augmentation mixes in, or None."""
    from tqdm import tqdm    # lazy: only when features are computed

    variants = augment.variants if augment is not None else 0
    key_src = json.dumps({
        "v": CACHE_VERSION, "frontend": fcfg.to_dict(), "frames": w.frames,
        # the twin's own code: an integer change without a config change still misses the cache
        "twin": _twin_source_hash(),
        "items": [(str(p), lab, s, p.stat().st_size, p.stat().st_mtime_ns) for p, lab, s in items],
        "labels": list(labels), "variants": variants,
        "augment": augment.waveform_key() if augment is not None else None,
        "seed": seed if variants else None,
        **({"banks": [str(b) for b in banks]} if variants and any(banks) else {}),
    }, sort_keys=True)
    key = hashlib.sha256(key_src.encode()).hexdigest()[:20]
    path = cache_dir() / f"{desc.replace(' ', '_')}-{key}.npz"
    if path.exists():
        try:
            return _load_cache(path)
        except Exception:
            path.unlink(missing_ok=True)     # a damaged cache is rebuilt
    jobs_list = []
    meta = []
    for ci, (p, lab, _s) in enumerate(items):
        clip_key = hashlib.sha256(str(p.name).encode() + lab.encode()).hexdigest()[:12]
        for v in range(variants + 1):
            partner = None
            if v and augment.background_p > 0:
                # another training clip to mix in underneath (seeded by clip and variant)
                prng = np.random.default_rng([seed, int(clip_key[:8], 16), v])
                if prng.random() < augment.background_p and len(items) > 1:
                    k = int(prng.integers(len(items) - 1))
                    partner = str(items[k + (k >= ci)][0])
            jobs_list.append((str(p), fcfg.sample_rate, fcfg.to_dict(), w.to_dict(),
                              augment.to_dict() if augment else None, seed, clip_key, v, partner,
                              tuple(str(b) if b else None for b in banks)))
            meta.append((labels.index(lab), ci, v))
    n_jobs = jobs or min(2, os.cpu_count() or 1)
    results = []
    bar = tqdm(total=len(jobs_list), desc=f"features ({desc})", unit="clip", disable=quiet,
               file=sys.stderr)
    if n_jobs > 1 and len(jobs_list) >= 64:
        with cf.ProcessPoolExecutor(n_jobs, mp_context=mp.get_context("spawn")) as ex:
            for r in ex.map(_extract_one, jobs_list, chunksize=8):
                results.append(r)
                bar.update()
    else:
        for j in jobs_list:
            results.append(_extract_one(j))
            bar.update()
    bar.close()
    out = ClipFeatures(feats=[r[0] for r in results], energy=[r[1] for r in results],
                       label=np.array([m[0] for m in meta], dtype=np.int32),
                       clip=np.array([m[1] for m in meta], dtype=np.int32),
                       variant=np.array([m[2] for m in meta], dtype=np.int32))
    _save_cache(path, out)
    return out


def _save_cache(path: Path, cf: ClipFeatures) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lens = np.array([len(f) for f in cf.feats], dtype=np.int64)
    elens = np.array([len(e) for e in cf.energy], dtype=np.int64)
    n_mels = cf.feats[0].shape[1] if cf.feats else 0
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, feats=np.concatenate(cf.feats) if cf.feats else np.zeros((0, n_mels), np.int8),
             lens=lens, energy=np.concatenate(cf.energy) if cf.energy else np.zeros(0, np.int64),
             elens=elens, label=cf.label, clip=cf.clip, variant=cf.variant)
    os.replace(tmp, path)


def _load_cache(path: Path) -> ClipFeatures:
    with np.load(path) as z:      # read each array once (every z[...] decodes it anew)
        arrays = {k: z[k] for k in z.files}
    f_off = np.concatenate([[0], np.cumsum(arrays["lens"])])
    e_off = np.concatenate([[0], np.cumsum(arrays["elens"])])
    feats = [arrays["feats"][f_off[i]:f_off[i + 1]] for i in range(len(arrays["lens"]))]
    energy = [arrays["energy"][e_off[i]:e_off[i + 1]] for i in range(len(arrays["elens"]))]
    return ClipFeatures(feats, energy, arrays["label"], arrays["clip"], arrays["variant"])


# ---------------------------------------------------------------------------------------
# Windows for training and evaluation

def eval_windows(cf: ClipFeatures, w: win.WindowConfig, fr: win.Framing):
    """Windows of every entry at the configured hop: (windows int8 (N, F, M), nonsilent (N,),
    owner (N,) entry index). Mirrors micromel.windows exactly (tested)."""
    thr = win.gate_threshold(w, fr)
    xs, ns, owner = [], [], []
    for i, (f, e) in enumerate(zip(cf.feats, cf.energy)):
        wins = win.cut_windows(f, w)
        starts = np.arange(len(wins)) * w.hop_frames
        xs.append(wins)
        ns.append(e[starts] >= thr)
        owner.append(np.full(len(wins), i, dtype=np.int32))
    n_mels = cf.feats[0].shape[1]
    if not xs:
        return np.zeros((0, w.frames, n_mels), np.int8), np.zeros(0, bool), np.zeros(0, np.int32)
    return np.concatenate(xs), np.concatenate(ns), np.concatenate(owner)
