"""Features for training and evaluation: every clip through the front-end twin (the ONE
place training computes features: `compute_features`) after padding (clip.rules), training
clips also as waveform-augmented copies; the windows on the evaluation grid. Results are
cached in the feature cache (micromel.paths) keyed by the front-end config, window length,
the dataset's file list (path, label, split, size, mtime), the augmentation settings, the
seed and the twin's own source; and clip by clip (entries/), so that runs sharing clips
share their features."""
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
from ..fileio import atomic_path
from ..frontend.config import FrontendConfig
from ..link.emulator import die_with_parent
from ..paths import feature_cache
from . import augment as aug_mod, banks
from .config import AugmentConfig, TrainConfig

CACHE_VERSION = 2


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


def _worker_init(parent: int) -> None:
    die_with_parent(parent)()


def _pool(n_jobs: int) -> cf.ProcessPoolExecutor:
    """Worker processes for the features: they get SIGKILL when the process that started them
    dies (PR_SET_PDEATHSIG, as train.members' and tune's workers), so a killed `micromel
    train` leaves no worker computing features for nobody."""
    return cf.ProcessPoolExecutor(n_jobs, mp_context=mp.get_context("spawn"),
                                  initializer=_worker_init, initargs=(os.getpid(),))


def _twin_source_hash() -> str:
    """Hash of the front-end twin's source files (what computes the integers)."""
    h = hashlib.sha256()
    for name in ("twin.py", "tables.py", "config.py"):
        h.update((Path(twin.__file__).parent / name).read_bytes())
    return h.hexdigest()[:16]


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on uint64 arrays (wrapping arithmetic): a cheap, well-mixed hash."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def clip_keys(items) -> list[str]:
    """A clip's identity for the augmentation's seeds: its file name and label."""
    return [hashlib.sha256(str(p.name).encode() + lab.encode()).hexdigest()[:12] for p, lab, _ in items]


def partners(items, keys: list[str], augment: AugmentConfig, seed: int) -> dict:
    """{(clip index, variant): partner path}: the other training clip mixed in underneath
    (augment.background_p). Drawn by rendezvous hashing, the clip with the highest hash of
    (seed, clip, variant, candidate): leaving a source out changes only the copies whose
    partner came from it, so the other copies (and their cached features) stay the same."""
    out = {}
    if augment is None or augment.background_p <= 0 or len(items) < 2:
        return out
    cand = np.array([int(k, 16) for k in keys], dtype=np.uint64)
    for ci, key in enumerate(keys):
        for v in range(1, augment.variants + 1):
            prng = np.random.default_rng([seed, int(key[:8], 16), v])
            if prng.random() < augment.background_p:
                q = int(hashlib.sha256(f"{seed}|{key}|{v}".encode()).hexdigest()[:16], 16)
                score = _mix64(cand ^ np.uint64(q))
                score[ci] = 0
                out[(ci, v)] = str(items[int(np.argmax(score))][0])
    return out


def _file_id(path) -> list:
    """A file for the per-clip cache: name, size and mtime (not its folder, so a dataset
    copied with its times, or moved, keeps its cached features)."""
    st = Path(path).stat()
    return [Path(path).name, st.st_size, st.st_mtime_ns]


def _entry_path(common: str, path, variant: int, partner) -> Path:
    """Where one clip's (or augmented copy's) features are cached, keyed by everything that
    makes them: the front end, the augmentation (for copies), the file and the partner."""
    key = hashlib.sha256(json.dumps([common, _file_id(path), variant,
                                     _file_id(partner) if partner else None]).encode()).hexdigest()
    return cache_dir() / "entries" / key[:2] / f"{key[2:24]}.npz"


def extract(items, labels, fcfg, w: win.WindowConfig, augment: AugmentConfig | None,
            seed: int, desc: str, jobs: int = 0, quiet: bool = False,
            banks: tuple = (None, None)) -> ClipFeatures:
    """Front-end features of (path, label, split) items, plus augmented variants if given.
    `banks`: the bed and room folders (train.banks) the augmentation mixes in, or None.
    Cached twice: the whole list (one file), and every clip and copy on its own (so runs
    that share clips, such as leave-one-source-out folds, compute them once)."""
    from tqdm import tqdm    # lazy: only when features are computed

    variants = augment.variants if augment is not None else 0
    front = {"v": CACHE_VERSION, "frontend": fcfg.to_dict(), "frames": w.frames,
             # the twin's own code: an integer change without a config change still misses
             "twin": _twin_source_hash()}
    aug = {"augment": augment.waveform_key() if augment is not None else None,
           "seed": seed if variants else None,
           **({"banks": [str(b) for b in banks]} if variants and any(banks) else {})}
    key_src = json.dumps({
        **front, **aug,
        "items": [(str(p), lab, s, p.stat().st_size, p.stat().st_mtime_ns) for p, lab, s in items],
        "labels": list(labels), "variants": variants,
    }, sort_keys=True)
    key = hashlib.sha256(key_src.encode()).hexdigest()[:20]
    path = cache_dir() / f"{desc.replace(' ', '_')}-{key}.npz"
    if path.exists():
        try:
            return _load_cache(path)
        except Exception:
            path.unlink(missing_ok=True)     # a damaged cache is rebuilt
    clean_key = json.dumps(front, sort_keys=True)
    copy_key = json.dumps({**front, **aug}, sort_keys=True)
    keys = clip_keys(items)
    mixed = partners(items, keys, augment, seed)
    jobs_all, entries, meta = [], [], []
    for ci, (p, lab, _s) in enumerate(items):
        for v in range(variants + 1):
            partner = mixed.get((ci, v))
            entries.append(_entry_path(copy_key if v else clean_key, p, v, partner))
            meta.append((labels.index(lab), ci, v))
            jobs_all.append((str(p), fcfg.sample_rate, fcfg.to_dict(), w.to_dict(),
                             augment.to_dict() if augment else None, seed, keys[ci], v, partner,
                             tuple(str(b) if b else None for b in banks)))
    todo = [(k, jobs_all[k]) for k, e in enumerate(entries) if not e.exists()]
    n_jobs = jobs or min(2, os.cpu_count() or 1)
    bar = tqdm(total=len(todo), desc=f"features ({desc})", unit="clip", disable=quiet or not todo,
               file=sys.stderr)
    computed = {}
    if n_jobs > 1 and len(todo) >= 64:
        with _pool(n_jobs) as ex:
            for (k, _), r in zip(todo, ex.map(_extract_one, [j for _, j in todo], chunksize=8)):
                computed[k] = r
                bar.update()
    else:
        for k, j in todo:
            computed[k] = _extract_one(j)
            bar.update()
    bar.close()
    results = []
    for k, entry in enumerate(entries):
        r = computed.get(k)
        if r is None:
            try:
                with np.load(entry) as z:
                    r = (z["feats"], z["energy"])
            except Exception:        # damaged (or removed meanwhile): computed anew
                r = computed[k] = _extract_one(jobs_all[k])
        if k in computed:
            with atomic_path(entry, suffix=".npz") as tmp:
                np.savez(tmp, feats=r[0], energy=r[1])
        results.append(r)
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


def augment_banks(cfg: TrainConfig, sample_rate: int) -> tuple:
    """The bed and room folders the recipe mixes in (train.banks), None where off. The banks
    are material, not draws: the same for every seed (which excerpt and which room a copy
    gets is drawn per seed, clip and copy). Beds need --background recordings; without
    them the bed step is off (the card says so)."""
    beds = rooms = None
    if cfg.augment.variants and cfg.augment.bed_p > 0 and cfg.backgrounds:
        beds = banks.bed_bank(list(cfg.backgrounds), sample_rate)
    if cfg.augment.variants and cfg.augment.reverb_p > 0:
        rooms = banks.room_bank(sample_rate, cfg.augment.rt60_s)
    return beds, rooms


def training_features(ds, fcfg, cfg: TrainConfig, quiet: bool = False) -> ClipFeatures:
    """The training split's features of dataset `ds` (data.datasets.Dataset): each clip and its
    augmented copies (cached)."""
    return extract(ds.split("train"), ds.labels, fcfg, cfg.window, cfg.augment, cfg.seed,
                   "train", quiet=quiet, banks=augment_banks(cfg, fcfg.sample_rate))
