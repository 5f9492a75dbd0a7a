"""`micromel train`: a folder of labelled audio -> models/NAME/ (int8 .tflite, config, card).

Pipeline:
1. Features: every clip goes through the front-end twin (`compute_features`, the ONE place
   this module calls the front end) after padding (micromel.windows); training clips also
   as `augment.variants` waveform-augmented copies. Results are cached in
   build/cache/features/ keyed by the front-end config, window length, the dataset's file
   list (path, label, split, size, mtime), the augmentation settings and the seed.
2. CNN (micromel.models_cnn): every epoch draws a class-balanced sample of windows (a class
   is drawn uniformly, then a clip of it, then one of the clip's non-silent windows on the
   evaluation grid; waveform time shifts move the onset within the first window), applies
   SpecAugment and mixup, and takes one pass. Adam with cosine-decayed learning rate, label
   smoothing. Early stopping on the validation split's window loss (patience); the network
   is the average of the last epochs' weights at the stop. When `arch` names several
   networks ("dscnn-m4+dscnn-m4", the default) each is trained so, with its own seed, and
   models_cnn.ensemble joins them into one model (summed logits, one softmax).
3. int8 conversion (micromel.quantize) with the int8-input contract verified.
4. Forest (micromel.forest) on the same windows, exported as forest.h with emlearn.
5. Evaluation of float and int8 CNN and forest on the test split (clip level, soft vote
   over non-silent windows), model card and confusion matrix (micromel.card).

Reproducible: python, numpy and TensorFlow seeds plus TF op determinism; every random draw
comes from generators seeded by (seed, purpose).
"""
from __future__ import annotations

import collections
import hashlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import augment as aug_mod
from . import windows as win
from .datasets import Dataset, load_dataset, require_classes
from .errors import MicromelError
from .paths import BUILD_DIR

CACHE_VERSION = 1
MEMBER_SEED_STEP = 1000


# ---------------------------------------------------------------------------------------
# The front end: the only place this module touches it.

def frontend_config(window_frames: int | None = None, **overrides):
    """FrontendConfig's defaults with `overrides` (checked: unknown keys and wrong types
    are one-line errors)."""
    from .frontend import FrontendConfig

    if window_frames is not None:
        overrides["window_frames"] = window_frames
    return FrontendConfig.from_dict({**FrontendConfig().to_dict(), **overrides})


def compute_features(pcm: np.ndarray, fcfg) -> np.ndarray:
    """int16 PCM -> int8 (frames, n_mels) through the front-end twin."""
    from .frontend import features

    return features(np.asarray(pcm, dtype=np.int16), fcfg)


def load_pcm(path: Path, sample_rate: int) -> np.ndarray:
    """int16 mono PCM at the front end's rate (the front end's loader)."""
    from .frontend.audio import load_audio

    return load_audio(path, sample_rate)


def framing(fcfg) -> win.Framing:
    return win.Framing(hop_samples=int(fcfg.hop_length), frame_samples=int(fcfg.frame_length))


# ---------------------------------------------------------------------------------------
# Settings

def _default_frontend() -> dict:
    # HTK mel bands: with the same 40 bands from 20 Hz to 8 kHz they are ~42 Hz apart at the
    # bottom instead of Slaney's ~73 Hz (about as wide at the top), so kick, tom and the low
    # body of a snare fall into twice as many bands. Drums test kits, 4 seeds each, one
    # dscnn-m4: int8 accuracy 76.5 % (Slaney) -> 83.2 % (HTK); docs/training.md.
    return {"mel_htk": True}


@dataclass
class TrainConfig:
    # two dscnn-m4 networks shipped as one model (summed logits): docs/training.md
    arch: str = "dscnn-m4+dscnn-m4"
    epochs: int = 80
    seed: int = 0
    batch_size: int = 64
    learning_rate: float = 3e-3
    label_smoothing: float = 0.05
    patience: int = 25
    average_epochs: int = 10           # the model is the mean of the last N epochs' weights
    epoch_windows: int = 3000          # windows drawn per epoch (class-balanced)
    # 0.5 s windows every 0.25 s (at the default 16 ms hop): a one-shot's attack and decay fit
    # one window; the gate keeps quiet soft hits (the RMS of a soft hit's window is
    # around -55 dBFS) and drops digital and near-digital silence
    window: win.WindowConfig = field(default_factory=lambda: win.WindowConfig(32, 16, -65.0))
    augment: aug_mod.AugmentConfig = field(default_factory=aug_mod.AugmentConfig)
    forest: bool = True
    # front-end settings that differ from FrontendConfig's defaults (the model's whole
    # front-end config is saved in config.json["frontend"] and generated into C from there)
    frontend: dict = field(default_factory=_default_frontend)

    # `arch` may name several networks ("dscnn-m4+dscnn-m0"): each is trained on its own
    # (seeds seed, seed + 1000, ...: own augmented copies, initialisation and sampling) and
    # they ship as ONE model whose class logits are summed (models_cnn.ensemble).
    def member_seeds(self) -> list[int]:
        from .models_cnn import member_archs

        return [self.seed + MEMBER_SEED_STEP * k for k in range(len(member_archs(self.arch)))]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["window"] = self.window.to_dict()
        d["augment"] = self.augment.to_dict()
        return d


def cache_dir() -> Path:
    return Path(os.environ.get("MICROMEL_CACHE", BUILD_DIR / "cache")) / "features"


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
    path, sample_rate, fcfg_dict, wdict, aug_dict, seed, clip_key, variant, partner = job
    from .frontend import FrontendConfig

    fcfg = FrontendConfig.from_dict(fcfg_dict)
    w = win.WindowConfig.from_dict(wdict)
    fr = framing(fcfg)
    pcm = load_pcm(Path(path), sample_rate)
    if variant:
        other = load_pcm(Path(partner), sample_rate) if partner else None
        pcm = aug_mod.augment_waveform(pcm, sample_rate, aug_mod.AugmentConfig.from_dict(aug_dict),
                                       seed, clip_key, variant, background=other)
    pcm = win.pad_clip(pcm, w, fr)
    feats = compute_features(pcm, fcfg)
    return feats, _energies(pcm, len(feats), w, fr)


def _twin_source_hash() -> str:
    """Hash of the front-end twin's source files (what computes the integers)."""
    import micromel.frontend as fe_pkg

    h = hashlib.sha256()
    for name in ("twin.py", "tables.py", "config.py"):
        h.update((Path(fe_pkg.__file__).parent / name).read_bytes())
    return h.hexdigest()[:16]


def extract(items, labels, fcfg, w: win.WindowConfig, augment: aug_mod.AugmentConfig | None,
            seed: int, desc: str, jobs: int = 0, quiet: bool = False) -> ClipFeatures:
    """Front-end features of (path, label, split) items, plus augmented variants if given."""
    from tqdm import tqdm

    variants = augment.variants if augment is not None else 0
    key_src = json.dumps({
        "v": CACHE_VERSION, "frontend": fcfg.to_dict(), "frames": w.frames,
        # the twin's own code: an integer change without a config change still misses the cache
        "twin": _twin_source_hash(),
        "items": [(str(p), lab, s, p.stat().st_size, p.stat().st_mtime_ns) for p, lab, s in items],
        "labels": list(labels), "variants": variants,
        "augment": augment.waveform_key() if augment is not None else None,
        "seed": seed if variants else None,
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
                              augment.to_dict() if augment else None, seed, clip_key, v, partner))
            meta.append((labels.index(lab), ci, v))
    n_jobs = jobs or min(2, os.cpu_count() or 1)
    results = []
    bar = tqdm(total=len(jobs_list), desc=f"features ({desc})", unit="clip", disable=quiet,
               file=sys.stderr)
    if n_jobs > 1 and len(jobs_list) >= 64:
        import concurrent.futures as cf
        import multiprocessing as mp

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


class EpochSampler:
    """Class-balanced windows: a class, then one of its clips (or augmented copies), then one
    of that clip's non-silent windows on the evaluation grid (start frames 0, S, 2S, ...),
    so training sees windows where evaluation and the device see them: the first one
    holds the onset (moved by the waveform time-shift augmentation), later ones the decay."""

    def __init__(self, cf: ClipFeatures, w: win.WindowConfig, fr: win.Framing, n_classes: int):
        thr = win.gate_threshold(w, fr)
        self.cf = cf
        self.w = w
        self.starts = [np.flatnonzero(e >= thr) for e in cf.energy]
        self.starts = [s[s % w.hop_frames == 0] for s in self.starts]
        usable = np.array([len(s) > 0 for s in self.starts])
        self.by_class = [np.flatnonzero((cf.label == c) & usable) for c in range(n_classes)]
        self.n_classes = n_classes

    def sample(self, n: int, rng: np.random.Generator):
        per = [c for c in range(self.n_classes) if len(self.by_class[c])]
        cls = rng.choice(per, size=n)
        x = np.zeros((n, self.w.frames, self.cf.feats[0].shape[1]), dtype=np.int8)
        for k, c in enumerate(cls):
            i = int(rng.choice(self.by_class[c]))
            s = int(rng.choice(self.starts[i]))
            x[k] = self.cf.feats[i][s:s + self.w.frames]
        y = np.zeros((n, self.n_classes), dtype=np.float32)
        y[np.arange(n), cls] = 1.0
        return x, y


def _set_seeds(seed: int) -> None:
    import random

    import keras
    import tensorflow as tf

    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def _quiet_tf() -> None:
    # level 3: TF 2.21's tf.data logs a harmless "NodeDef mentions attribute ..." ERROR on
    # every fit(); real failures still raise Python exceptions
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "2")


def fit_cnn(train_cf: ClipFeatures, val_cf: ClipFeatures | None, n_classes: int, cfg: TrainConfig,
            fr: win.Framing, quiet: bool = False, watch=None):
    """Train the CNN; returns (keras model, history list of dicts)."""
    _quiet_tf()
    import keras
    from tqdm import tqdm

    from . import models_cnn

    _set_seeds(cfg.seed)
    n_mels = train_cf.feats[0].shape[1]
    model = models_cnn.build(cfg.arch, (cfg.window.frames, n_mels, 1), n_classes)
    steps = max(1, cfg.epoch_windows // cfg.batch_size)
    sched = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, decay_steps=steps * cfg.epochs,
                                                   alpha=0.05)
    model.compile(optimizer=keras.optimizers.Adam(sched),
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing))
    sampler = EpochSampler(train_cf, cfg.window, fr, n_classes)
    rng = np.random.default_rng([cfg.seed, 1])
    if val_cf is not None and len(val_cf):
        vx, vns, vown = eval_windows(val_cf, cfg.window, fr)
        vx = vx[vns].astype(np.float32)[..., None]
        vy = val_cf.label[vown[vns]]
    else:
        vx = None
    best = (np.inf, None, 0)
    history = []
    recent: collections.deque = collections.deque(maxlen=max(1, cfg.average_epochs))
    bar = tqdm(range(cfg.epochs), desc=f"train {cfg.arch} seed {cfg.seed}", unit="epoch",
               disable=quiet, file=sys.stderr)
    for epoch in bar:
        x, y = sampler.sample(steps * cfg.batch_size, rng)
        xf = aug_mod.spec_augment(x, cfg.augment, rng).astype(np.float32)
        xf, y = aug_mod.mixup(xf, y, cfg.augment, rng)
        h = model.fit(xf[..., None], y, batch_size=cfg.batch_size, epochs=1, verbose=0,
                      shuffle=False)
        rec = {"epoch": epoch + 1, "loss": float(h.history["loss"][-1])}
        # The candidate model is the average of the last `average_epochs` epochs' weights:
        # from one epoch to the next, accuracy on unseen kits swings by several points;
        # the average sits in the middle of those swings and is what validation selects.
        current = model.get_weights()
        recent.append(current)
        averaged = [np.mean([w[k] for w in recent], axis=0) for k in range(len(current))]
        model.set_weights(averaged)
        if vx is not None and len(vx):
            p = model.predict(vx, batch_size=512, verbose=0)
            rec["val_loss"] = float(-np.mean(np.log(np.clip(p[np.arange(len(vy)), vy], 1e-7, 1))))
            rec["val_window_acc"] = float(np.mean(p.argmax(1) == vy))
            if rec["val_loss"] < best[0]:
                best = (rec["val_loss"], averaged, epoch + 1)
        if watch is not None:      # development only: a split to watch, never used to select
            rec["watch_acc"] = watch(model)
        model.set_weights(current)
        history.append(rec)
        bar.set_postfix({k: round(v, 3) for k, v in rec.items() if k != "epoch"})
        if vx is not None and best[2] > 0 and epoch + 1 - best[2] >= cfg.patience:
            break
    bar.close()
    # The model is the weight average at the stop (Keras' EarlyStopping without
    # restore_best_weights): the validation kits' loss is too flat and noisy at its minimum
    # (38 clips) to pick one epoch, but it does tell when training has stopped helping.
    model.set_weights(averaged)
    return model, history, (best[2] if best[1] is not None else 0)


# ---------------------------------------------------------------------------------------
# The whole run

def prepare_data(data: str | Path, fcfg, cfg: TrainConfig, quiet: bool = False):
    ds = load_dataset(data)
    require_classes(ds, "train")
    if len(ds.labels) < 2:
        raise MicromelError(f"{ds.source}: needs at least two classes, found {ds.labels}")
    fr = framing(fcfg)
    train_cf = extract(ds.split("train"), ds.labels, fcfg, cfg.window, cfg.augment, cfg.seed,
                       "train", quiet=quiet)
    val_items = ds.split("val")
    val_cf = extract(val_items, ds.labels, fcfg, cfg.window, None, 0, "val", quiet=quiet) \
        if val_items else None
    test_items = ds.split("test")
    test_cf = extract(test_items, ds.labels, fcfg, cfg.window, None, 0, "test", quiet=quiet) \
        if test_items else None
    return ds, fr, train_cf, val_cf, test_cf


def train_one(ds: Dataset, fr, fcfg, train_cf, val_cf, test_cf, cfg: TrainConfig,
              quiet: bool = False):
    """Train one seed (each network `cfg.arch` names, combined into one model): returns a
    dict with the keras model, int8 flatbuffer and metrics."""
    from . import evaluate, models_cnn, quantize

    t0 = time.time()
    watch = None
    if os.environ.get("MICROMEL_WATCH_TEST") and test_cf is not None:
        from .evaluate import evaluate_float

        def watch(m):
            return evaluate_float(m, test_cf, cfg.window, fr, ds.labels)["accuracy"]
    nets, histories, best_epochs = [], [], []
    archs = models_cnn.member_archs(cfg.arch)
    for k, seed in enumerate(cfg.member_seeds()):
        mcfg = TrainConfig(**{**cfg.__dict__, "seed": seed, "arch": archs[k]})
        cf = train_cf if k == 0 else extract(ds.split("train"), ds.labels, fcfg, mcfg.window,
                                             mcfg.augment, seed, "train", quiet=quiet)
        net, history, best_epoch = fit_cnn(cf, val_cf, len(ds.labels), mcfg, fr, quiet=quiet,
                                           watch=watch)
        nets.append(net)
        histories.append(history)
        best_epochs.append(best_epoch)
    model = models_cnn.ensemble(cfg.arch, nets)
    t_fit = time.time() - t0
    # representative set: training windows at the configured hop (clean and augmented)
    rx, rns, _ = eval_windows(train_cf, cfg.window, fr)
    flat = quantize.to_int8(model, rx[rns].astype(np.float32)[..., None], seed=cfg.seed)
    res = {"model": model, "flat": flat, "histories": histories, "best_epochs": best_epochs,
           "epochs_run": [len(h) for h in histories], "fit_seconds": t_fit}
    if test_cf is not None:
        res["test_float"] = evaluate.evaluate_float(model, test_cf, cfg.window, fr, ds.labels)
        res["test_int8"] = evaluate.evaluate_int8(flat, test_cf, cfg.window, fr, ds.labels)
    if val_cf is not None:
        res["val_int8"] = evaluate.evaluate_int8(flat, val_cf, cfg.window, fr, ds.labels)
    return res


def run(data: str | Path, out: str | Path, cfg: TrainConfig, spread_seeds=(), command: str = "",
        quiet: bool = False, name: str | None = None) -> dict:
    """`micromel train`: train, quantize, evaluate, write models/NAME/. Returns metrics."""
    from . import card, evaluate, forest as forest_mod, quantize
    from .codegen import write_text_atomic

    _quiet_tf()
    t_start = time.time()
    out = Path(out)
    fcfg = frontend_config(window_frames=cfg.window.frames, **cfg.frontend)
    ds, fr, train_cf, val_cf, test_cf = prepare_data(data, fcfg, cfg, quiet=quiet)
    t_feat = time.time() - t_start
    main = train_one(ds, fr, fcfg, train_cf, val_cf, test_cf, cfg, quiet=quiet)

    seeds = []
    for s in spread_seeds:
        c2 = TrainConfig(**{**cfg.__dict__, "seed": int(s)})
        tr2 = extract(ds.split("train"), ds.labels, fcfg, c2.window, c2.augment, c2.seed, "train",
                      quiet=quiet)
        r = train_one(ds, fr, fcfg, tr2, val_cf, test_cf, c2, quiet=quiet)
        seeds.append({"seed": int(s), "test_float": _short(r.get("test_float")),
                      "test_int8": _short(r.get("test_int8")), "best_epoch": r["best_epochs"],
                      "epochs_run": r["epochs_run"], "member_seeds": c2.member_seeds()})

    forest_res = None
    if cfg.forest:
        tx, tns, town = eval_windows(train_cf, cfg.window, fr)
        f = forest_mod.fit(tx[tns], train_cf.label[town[tns]], len(ds.labels), cfg.seed)
        forest_res = {"forest": f}
        if test_cf is not None:
            forest_res["test"] = evaluate.evaluate_forest(f, test_cf, cfg.window, fr, ds.labels)

    stats = quantize.model_stats(main["flat"])
    input_shape = [cfg.window.frames, fcfg.n_mels, 1]
    config = {
        "name": name or out.name,
        "labels": list(ds.labels),
        "frontend": fcfg.to_dict(),
        "window": cfg.window.to_dict(),
        "arch": cfg.arch,
        "seed": cfg.seed,
        "member_seeds": cfg.member_seeds(),
        "input_shape": input_shape,
        "gate_threshold": win.gate_threshold(cfg.window, fr),
        "window_samples": win.window_samples(cfg.window, fr),
        "train": cfg.to_dict(),
        "dataset": {"source": _repo_relative(ds.source), "digest": ds.digest()},
        "forest": "forest.h" if forest_res else None,
    }
    metrics = {
        "labels": list(ds.labels),
        "counts": ds.counts(),
        "windows": {s: _window_counts(c, cfg.window, fr) for s, c in
                    (("train", train_cf), ("val", val_cf), ("test", test_cf)) if c is not None},
        "best_epoch": main["best_epochs"],
        "epochs_run": main["epochs_run"],
        "history": main["histories"],
        "test_float": main.get("test_float"),
        "test_int8": main.get("test_int8"),
        "val_int8": _short(main.get("val_int8")),
        "forest_test": forest_res.get("test") if forest_res else None,
        "seeds": [{"seed": cfg.seed, "test_float": _short(main.get("test_float")),
                   "test_int8": _short(main.get("test_int8")), "best_epoch": main["best_epochs"],
                   "epochs_run": main["epochs_run"], "member_seeds": cfg.member_seeds()}]
        + seeds,
        "model": {k: v for k, v in stats.items() if k != "ops"},
        "ops": stats["ops"],
        "float_params": int(main["model"].count_params()),
        "timing": {"features_seconds": round(t_feat, 1), "fit_seconds": round(main["fit_seconds"], 1),
                   "total_seconds": round(time.time() - t_start, 1), "cpus": os.cpu_count()},
        "command": command,
    }
    out.mkdir(parents=True, exist_ok=True)
    _write_bytes_atomic(out / "model.tflite", main["flat"])
    _write_bytes_atomic(out / "model_float.tflite", _float_tflite(main["model"]))
    write_text_atomic(out / "config.json", json.dumps(config, indent=2) + "\n")
    if forest_res:
        write_text_atomic(out / "forest.h", forest_res["forest"].c_header("mm_forest", ds.labels))
    if main.get("test_int8"):
        card.confusion_png(out / "confusion.png", main["test_int8"]["confusion"],
                           main["test_int8"]["confusion_labels"],
                           f"{config['name']}: int8 CNN on the test split")
    metrics["timing"]["total_seconds"] = round(time.time() - t_start, 1)
    write_text_atomic(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    write_text_atomic(out / "card.md", card.render(config, metrics, card.notes_for(ds.root)))
    return metrics


def _repo_relative(path) -> str:
    from .paths import REPO

    try:
        return str(Path(path).resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def _short(m: dict | None) -> dict | None:
    if not m:
        return None
    return {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"]}


def _window_counts(cf: ClipFeatures, w, fr) -> dict:
    _, ns, _ = eval_windows(cf, w, fr)
    return {"windows": int(len(ns)), "nonsilent": int(ns.sum()), "entries": len(cf)}


def _float_tflite(model) -> bytes:
    import contextlib
    import io

    import keras
    import tensorflow as tf

    fixed = keras.models.clone_model(model, input_tensors=keras.Input(
        shape=model.input_shape[1:], batch_size=1, name="features"))
    fixed.set_weights(model.get_weights())
    conv = tf.lite.TFLiteConverter.from_keras_model(fixed)
    with contextlib.redirect_stdout(io.StringIO()):
        return conv.convert()


def _write_bytes_atomic(path: Path, data: bytes) -> None:
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)          # mkstemp makes 0600; model files are ordinary files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def train_model(data: str | Path, out: str | Path, quiet: bool = False, **overrides) -> dict:
    """Train with the defaults of `micromel train` (what the demo calls); keyword arguments
    override TrainConfig fields."""
    cfg = TrainConfig(**overrides)
    cmd = f"micromel train {data} --out {out} --arch {cfg.arch} --epochs {cfg.epochs} --seed {cfg.seed}"
    return run(data, out, cfg, command=cmd, quiet=quiet)
