"""Open-set rejection of a clip ("unknown"): the integer rule the firmware mirrors in C
(firmware/lib/mm_clip: mm_clip_decide), and its choice on validation clips.

The soft vote (rules.py) leaves, for a clip of n >= 1 non-silent windows, acc[c] = sum of
(q[c] + 128): the mean probability of class c is acc[c] / (256 n). With b the voted class
(lowest index among the maxima) and acc2 the largest total of the other classes (0 for a
one-class model), the clip is ACCEPTED iff

    acc[b]        >= floor[b]   * n     (mean top probability  >= floor[b] / 256)
    acc[b] - acc2 >= min_margin * n     (mean margin to the next >= min_margin / 256)

where floor[b] = max(min_top, class_min_top[b]): one floor for every class, raised for the
classes that `class_min_top` names (a model whose calls of one class are less reliable, e.g.
a speech detector's "speech" over music, rejects more of those and fewer of the others).

in exact integers (int64 in C: acc < 2^24, n < 2^16, thresholds <= 256); otherwise it is
UNKNOWN (-2). A model trained with an explicit class for sounds of none of its classes (an
`other` class from background recordings) names its index as `other_class`: a clip voted
`other_class` is UNKNOWN too (before the thresholds; -1: no such class). A clip with no
non-silent window stays silence (-1). min_top = min_margin = 0 and no other class accept
every clip: the closed-set vote of the models saved before rejection existed. Thresholds
are in 1/256 units (the int8 softmax's own step), so they reach C unchanged (floor[] as
MM_CLIP_REJECT_MIN_TOP, one entry per class).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import MicromelError
from ..jsonconfig import Settings
from .rules import SILENCE

UNKNOWN = -2
UNKNOWN_LABEL = "unknown"
SCALE = 256                 # thresholds in units of 1/256 of a probability


@dataclass(frozen=True)
class RejectConfig(Settings):
    WHAT = "reject config"

    min_top: int = 0        # mean top probability of the clip, in 1/256
    min_margin: int = 0     # mean top minus second probability, in 1/256
    other_class: int = -1   # index of the model's class of "none of the others" (-1: none)
    class_min_top: tuple[int, ...] = ()   # per class: raises min_top for that class (empty: none)

    def __post_init__(self):
        for name, v in [("min_top", self.min_top), ("min_margin", self.min_margin)] + [
                (f"class_min_top[{c}]", t) for c, t in enumerate(self.class_min_top)]:
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= SCALE:
                raise MicromelError(f"reject: {name}={v!r} must be an integer from 0 to {SCALE} "
                                    "(a probability in 1/256)")
        v = self.other_class
        if isinstance(v, bool) or not isinstance(v, int) or v < -1:
            raise MicromelError(f"reject: other_class={v!r} must be a class index, or -1 for none")
        if not any(self.class_min_top):     # all zero raises nothing: the same rule as none
            object.__setattr__(self, "class_min_top", ())

    def to_dict(self) -> dict:
        # without an other class, the dict (config.json, the model hash) of the rules saved
        # before other_class existed
        d = super().to_dict()
        if self.other_class < 0:
            del d["other_class"]
        if self.class_min_top:
            d["class_min_top"] = list(self.class_min_top)
        else:
            del d["class_min_top"]
        return d

    @property
    def active(self) -> bool:
        return (self.min_top > 0 or self.min_margin > 0 or self.other_class >= 0
                or bool(self.class_min_top))

    def floor(self, c: int) -> int:
        """Class c's floor of the mean probability, in 1/256: max(min_top, class_min_top[c])."""
        return max(self.min_top, self.class_min_top[c] if self.class_min_top else 0)

    def floors(self, n_classes: int) -> list[int]:
        """Every class's floor (what C gets as MM_CLIP_REJECT_MIN_TOP)."""
        if self.class_min_top and len(self.class_min_top) != n_classes:
            raise MicromelError(f"reject: class_min_top has {len(self.class_min_top)} entries, "
                                f"the model has {n_classes} classes")
        return [self.floor(c) for c in range(n_classes)]

    def describe(self, labels=None) -> str:
        if not self.active:
            return "off (every clip gets a class)"
        parts = []
        if self.other_class >= 0:
            name = labels[self.other_class] if labels else f"class {self.other_class}"
            parts.append(f"unknown when voted '{name}'")
        if self.class_min_top:
            names = labels or [f"class {c}" for c in range(len(self.class_min_top))]
            top = ("the voted class's mean probability reaches its floor ("
                   + ", ".join(f"{n} {self.floor(c)}/256" for c, n in enumerate(names)) + ")")
        else:
            top = f"mean top probability >= {self.min_top}/256 ({self.min_top / SCALE:.3f})"
        if self.class_min_top or self.min_top or self.min_margin:
            parts.append(f"unknown unless {top} and margin >= {self.min_margin}/256 "
                         f"({self.min_margin / SCALE:.3f})")
        return "; ".join(parts)


def top_two(acc) -> tuple[int, int, int]:
    """(voted class, its total, the largest total of the other classes)."""
    acc = [int(a) for a in acc]
    b = max(range(len(acc)), key=lambda c: (acc[c], -c))     # lowest index wins ties
    second = max((a for c, a in enumerate(acc) if c != b), default=0)
    return b, acc[b], second


def decide(acc, n_nonsilent: int, cfg: RejectConfig) -> int:
    """The clip's answer from its vote totals: class index, SILENCE or UNKNOWN."""
    if n_nonsilent <= 0:
        return SILENCE
    b, top, second = top_two(acc)
    if b == cfg.other_class:
        return UNKNOWN
    if top < cfg.floors(len(acc))[b] * n_nonsilent or top - second < cfg.min_margin * n_nonsilent:
        return UNKNOWN
    return b


def event_label(label: int, confidence: int, cfg: RejectConfig) -> int:
    """A segmentation event's class, or UNKNOWN: an event voted the other class, or whose
    confidence (the mean probability of its label over its windows, in 1/256, computed by
    both segmenters) is below its label's floor (min_top, or class_min_top[label] when
    higher). An event has no second class, so min_margin is a clip rule only."""
    if label == cfg.other_class or confidence < cfg.floor(label):
        return UNKNOWN
    return label


def label_of(answer: int, labels) -> str:
    if answer == SILENCE:
        return "(silence)"
    if answer == UNKNOWN:
        return UNKNOWN_LABEL
    return labels[answer]


# --------------------------------------------------------------------------------------
# choosing a rule on validation clips
# --------------------------------------------------------------------------------------
def clip_stats(accs: np.ndarray, ns: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per clip (accs (clips, classes) int, ns (clips,)): voted class, top and margin as
    the largest thresholds (1/256) the clip still passes (-1: silent clip)."""
    accs = np.asarray(accs, np.int64)
    ns = np.asarray(ns, np.int64)
    pred = np.full(len(ns), SILENCE, np.int64)
    top = np.full(len(ns), -1, np.int64)
    margin = np.full(len(ns), -1, np.int64)
    for i, (acc, n) in enumerate(zip(accs, ns)):
        if n <= 0:
            continue
        b, t, s = top_two(acc)
        pred[i], top[i], margin[i] = b, t // n, (t - s) // n   # floor: t >= k n <=> t // n >= k
    return pred, top, margin


def accepted_mask(pred, top, margin, cfg: RejectConfig) -> np.ndarray:
    """Which clips the rule gives a class (clip_stats' arrays): decide() != UNKNOWN, SILENCE."""
    pred, top, margin = np.asarray(pred), np.asarray(top), np.asarray(margin)
    floor = np.full(len(pred), cfg.min_top, np.int64)
    if cfg.class_min_top:
        per = np.asarray(cfg.floors(len(cfg.class_min_top)), np.int64)
        floor = np.where(pred >= 0, per[np.clip(pred, 0, None)], floor)
    return (top >= 0) & (pred != cfg.other_class) & (top >= floor) & (margin >= cfg.min_margin)


def closed_set(accs, ns, other_class: int) -> np.ndarray:
    """The vote among the known classes only (the other class left out; SILENCE for a clip
    with no non-silent window): what the model answers with rejection off, the baseline
    rejection is measured against."""
    accs = np.array(accs, np.int64)
    if other_class >= 0:
        accs[:, other_class] = -1
    pred = np.argmax(accs, axis=1) if len(accs) else np.zeros(0, np.int64)  # lowest index wins
    pred[np.asarray(ns) <= 0] = SILENCE
    return pred


def operating_point(pred, top, margin, y, cfg: RejectConfig) -> dict:
    """Coverage and accuracy on accepted clips of one rule (clips of known classes y)."""
    voiced = top >= 0
    accepted = accepted_mask(pred, top, margin, cfg)
    n = len(y)
    hits = int(np.sum(accepted & (pred == y)))
    return {"min_top": cfg.min_top, "min_margin": cfg.min_margin,
            **({"class_min_top": list(cfg.class_min_top)} if cfg.class_min_top else {}),
            "clips": n,
            "rejected": float(np.mean(voiced & ~accepted)) if n else 0.0,
            "accuracy_accepted": hits / max(int(accepted.sum()), 1),
            "accuracy_all": float(np.mean(pred == y)) if n else 0.0}


def false_accepts(pred, top, margin, cfg: RejectConfig) -> dict:
    """Clips of no known class: the fraction of the non-silent ones given a class."""
    voiced = np.asarray(top) >= 0
    acc = accepted_mask(pred, top, margin, cfg)
    return {"clips": int(len(top)), "nonsilent": int(voiced.sum()),
            "false_accept": float(acc.sum() / max(int(voiced.sum()), 1))}


STEP = 4                    # thresholds searched in steps of 4/256
PER_CLASS_MIN_CLIPS = 100   # validation clips of every class before floors per class are tried


def candidates(step: int = STEP, other_class: int = -1):
    for t in range(0, SCALE + 1, step):
        yield RejectConfig(min_top=t, other_class=other_class)
    for m in range(step, SCALE + 1, step):
        yield RejectConfig(min_margin=m, other_class=other_class)


def choose(pred, top, margin, y, max_reject: float, other_class: int = -1,
           n_classes: int | None = None) -> RejectConfig:
    """The rule of the highest accuracy on accepted validation clips among those rejecting
    at most `max_reject` of them; among equals the strictest (most rejected: sounds of no
    known class are what it is for), then the top-probability rule. With `n_classes` and
    at least PER_CLASS_MIN_CLIPS validation clips of every known class, a floor per class
    (class_min_top) is searched too: coordinate ascent, class after class until no floor
    moves, from no floors and from the best single floor; kept only if strictly more
    accurate on the validation clips (on fewer clips a floor per class fits their noise)."""
    if not 0.0 <= max_reject < 1.0:
        raise MicromelError(f"--max-reject {max_reject}: must be a fraction in [0, 1)")

    def key_of(cfg):
        p = operating_point(pred, top, margin, y, cfg)
        if p["rejected"] > max_reject + 1e-12:
            return None
        return (round(p["accuracy_accepted"], 9), p["rejected"], cfg.min_margin == 0)

    best, key = RejectConfig(other_class=other_class), None
    for cfg in candidates(other_class=other_class):
        k = key_of(cfg)
        if k is not None and (key is None or k > key):
            best, key = cfg, k
    known = [c for c in range(n_classes or 0) if c != other_class]
    counts = np.bincount(np.asarray(y, np.int64), minlength=n_classes or 0) if known else []
    if key is None or not known or any(counts[c] < PER_CLASS_MIN_CLIPS for c in known):
        return best
    for start in sorted({0, best.min_top}):
        floors = [start] * n_classes
        here = key_of(RejectConfig(other_class=other_class, class_min_top=tuple(floors)))
        for _ in range(n_classes * SCALE // STEP):          # bounded; ends when nothing moves
            moved = False
            for c in known:
                for t in range(0, SCALE + 1, STEP):
                    trial = floors[:c] + [t] + floors[c + 1:]
                    k = key_of(RejectConfig(other_class=other_class, class_min_top=tuple(trial)))
                    if k is not None and (here is None or k > here):
                        floors, here, moved = trial, k, True
            if not moved:
                break
        if here is not None and here[0] > key[0]:     # strictly more accurate only
            best, key = RejectConfig(other_class=other_class, class_min_top=tuple(floors)), here
    return best
