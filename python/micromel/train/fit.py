"""Fitting the CNN: every epoch draws a class-balanced sample of windows on the evaluation
grid, applies SpecAugment and mixup, and takes one pass. Adam with a cosine-decayed learning
rate, label smoothing; early stopping on the validation split's window loss; the network is
the average of the last epochs' weights at the stop. With a teacher (train/teacher.py) the
targets mix in its softened probabilities of each window."""
from __future__ import annotations

import collections
import os
import sys

import numpy as np

from ..clip import rules as win
from . import augment as aug_mod
from . import models
from . import teacher as teacher_mod
from ..modeldir import ModelDir
from .config import TrainConfig
from .evaluate import predict_float
from .features import ClipFeatures, eval_windows


class EpochSampler:
    """Class-balanced windows: a class, then one of its clips (or augmented copies), then one
    of that clip's non-silent windows on the evaluation grid (start frames 0, S, 2S, ...),
    so training sees windows where evaluation and the device see them: the first one
    holds the onset (moved by the waveform time-shift augmentation), later ones the decay."""

    def __init__(self, cf: ClipFeatures, w: win.WindowConfig, fr: win.Framing, n_classes: int,
                 sources: list | None = None):
        """sources: the source of each clip (cf.clip indexes them); given, a class's windows
        are drawn source by source (class -> source -> clip)."""
        thr = win.gate_threshold(w, fr)
        self.cf = cf
        self.w = w
        self.starts = [np.flatnonzero(e >= thr) for e in cf.energy]
        self.starts = [s[s % w.hop_frames == 0] for s in self.starts]
        usable = np.array([len(s) > 0 for s in self.starts])
        self.by_class = [np.flatnonzero((cf.label == c) & usable) for c in range(n_classes)]
        self.n_classes = n_classes
        self.soft = None        # per clip, the teacher's soft targets of its windows (distill)
        self.distill = 0.0
        self.by_source = None
        if sources is not None:
            src = np.array([sources[i] for i in cf.clip])
            self.by_source = [[idx[src[idx] == s] for s in np.unique(src[idx])] for idx in self.by_class]

    def sample(self, n: int, rng: np.random.Generator):
        per = [c for c in range(self.n_classes) if len(self.by_class[c])]
        cls = rng.choice(per, size=n)
        x = np.zeros((n, self.w.frames, self.cf.feats[0].shape[1]), dtype=np.int8)
        soft = np.zeros((n, self.n_classes), dtype=np.float32) if self.soft is not None else None
        for k, c in enumerate(cls):
            if self.by_source is None:
                i = int(rng.choice(self.by_class[c]))
            else:
                group = self.by_source[c][int(rng.integers(len(self.by_source[c])))]
                i = int(rng.choice(group))
            s = int(rng.choice(self.starts[i]))
            x[k] = self.cf.feats[i][s:s + self.w.frames]
            if soft is not None:
                soft[k] = self.soft[i][np.searchsorted(self.starts[i], s)]
        y = np.zeros((n, self.n_classes), dtype=np.float32)
        y[np.arange(n), cls] = 1.0
        return (x, y) if soft is None else (x, teacher_mod.targets(y, soft, self.distill))

    def leave_out(self, classes) -> None:
        """Never draw windows of these classes (a network that must not learn them)."""
        for c in classes:
            self.by_class[c] = self.by_class[c][:0]
            if self.by_source is not None:
                self.by_source[c] = []

    def use_teacher(self, probabilities, temperature: float, distill: float) -> None:
        """The teacher's softened probabilities of every window sample() can draw, in one
        pass (`probabilities`: int8 windows (n, frames, mels) -> (n, classes))."""
        f = self.w.frames
        wins = [self.cf.feats[i][s:s + f] for i, st in enumerate(self.starts) for s in st]
        p = teacher_mod.soften(probabilities(np.stack(wins)), temperature) if wins else \
            np.zeros((0, self.n_classes), dtype=np.float32)
        self.soft = np.split(p, np.cumsum([len(st) for st in self.starts])[:-1])
        self.distill = distill


def _set_seeds(seed: int) -> None:
    import random

    import keras                # lazy: TensorFlow
    import tensorflow as tf

    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def quiet_tf() -> None:
    # level 3: TF 2.21's tf.data logs a harmless "NodeDef mentions attribute ..." ERROR on
    # every fit(); real failures still raise Python exceptions
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "2")


def fit_cnn(train_cf: ClipFeatures, val_cf: ClipFeatures | None, n_classes: int, cfg: TrainConfig,
            fr: win.Framing, quiet: bool = False, watch=None, sources: list | None = None,
            position: int = 0, zero_logits: tuple[int, ...] = (), skip_classes: tuple[int, ...] = ()):
    """Train the CNN; returns (keras model, history list of dicts, best epoch). `position`:
    the progress bar's line, when several networks train at once (train.members).
    `zero_logits`: classes whose logit the network holds at 0 (models.ZeroColumns);
    `skip_classes`: classes it never trains or validates on (TrainConfig.gate)."""
    quiet_tf()
    import keras                # lazy: TensorFlow
    from tqdm import tqdm

    _set_seeds(cfg.seed)
    n_mels = train_cf.feats[0].shape[1]
    model = models.build(cfg.arch, (cfg.window.frames, n_mels, 1), n_classes,
                         zero_logits=zero_logits)
    steps = max(1, cfg.epoch_windows // cfg.batch_size)
    sched = keras.optimizers.schedules.CosineDecay(cfg.learning_rate, decay_steps=steps * cfg.epochs,
                                                   alpha=0.05)
    model.compile(optimizer=keras.optimizers.Adam(sched),
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing))
    sampler = EpochSampler(train_cf, cfg.window, fr, n_classes,
                           sources if cfg.balance == "source" else None)
    sampler.leave_out(skip_classes)
    if cfg.teacher:
        flat = ModelDir.open(cfg.teacher).float_tflite_bytes()
        sampler.use_teacher(lambda x: predict_float(flat, x), temperature=cfg.distill_temperature,
                            distill=cfg.distill)
    rng = np.random.default_rng([cfg.seed, 1])
    if val_cf is not None and len(val_cf):
        vx, vns, vown = eval_windows(val_cf, cfg.window, fr)
        vy = val_cf.label[vown[vns]]
        keep = ~np.isin(vy, skip_classes)
        vx, vy = vx[vns][keep].astype(np.float32)[..., None], vy[keep]
    else:
        vx = None
    best = (np.inf, None, 0)
    history = []
    recent: collections.deque = collections.deque(maxlen=max(1, cfg.average_epochs))
    bar = tqdm(range(cfg.epochs), desc=f"train {cfg.arch} seed {cfg.seed}", unit="epoch",
               disable=quiet, file=sys.stderr, position=position, leave=position == 0)
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
