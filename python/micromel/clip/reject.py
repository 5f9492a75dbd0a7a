"""Open-set rejection of a clip ("unknown"): the integer rule the firmware mirrors in C
(firmware/lib/mm_clip: mm_clip_decide), and its choice on validation clips.

The soft vote (rules.py) leaves, for a clip of n >= 1 non-silent windows, acc[c] = sum of
(q[c] + 128): the mean probability of class c is acc[c] / (256 n). With b the voted class
(lowest index among the maxima) and acc2 the largest total of the other classes (0 for a
one-class model), the clip is ACCEPTED iff

    acc[b]        >= min_top    * n     (mean top probability  >= min_top / 256)
    acc[b] - acc2 >= min_margin * n     (mean margin to the next >= min_margin / 256)

in exact integers (int64 in C: acc < 2^24, n < 2^16, thresholds <= 256); otherwise it is
UNKNOWN (-2). A clip with no non-silent window stays silence (-1). min_top = min_margin = 0
accepts every clip: the closed-set vote of the models saved before rejection existed.
Thresholds are in 1/256 units (the int8 softmax's own step), so they reach C unchanged.
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

    def __post_init__(self):
        for name in ("min_top", "min_margin"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= SCALE:
                raise MicromelError(f"reject: {name}={v!r} must be an integer from 0 to {SCALE} "
                                    "(a probability in 1/256)")

    @property
    def active(self) -> bool:
        return self.min_top > 0 or self.min_margin > 0

    def describe(self) -> str:
        if not self.active:
            return "off (every clip gets a class)"
        return (f"unknown unless mean top probability >= {self.min_top}/256 "
                f"({self.min_top / SCALE:.3f}) and margin >= {self.min_margin}/256 "
                f"({self.min_margin / SCALE:.3f})")


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
    if top < cfg.min_top * n_nonsilent or top - second < cfg.min_margin * n_nonsilent:
        return UNKNOWN
    return b


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


def operating_point(pred, top, margin, y, cfg: RejectConfig) -> dict:
    """Coverage and accuracy on accepted clips of one rule (clips of known classes y)."""
    voiced = top >= 0
    accepted = voiced & (top >= cfg.min_top) & (margin >= cfg.min_margin)
    n = len(y)
    hits = int(np.sum(accepted & (pred == y)))
    return {"min_top": cfg.min_top, "min_margin": cfg.min_margin, "clips": n,
            "rejected": float(np.mean(voiced & ~accepted)) if n else 0.0,
            "accuracy_accepted": hits / max(int(accepted.sum()), 1),
            "accuracy_all": float(np.mean(pred == y)) if n else 0.0}


def false_accepts(top, margin, cfg: RejectConfig) -> dict:
    """Clips of no known class: the fraction of the non-silent ones given a class."""
    voiced = top >= 0
    acc = voiced & (top >= cfg.min_top) & (margin >= cfg.min_margin)
    return {"clips": int(len(top)), "nonsilent": int(voiced.sum()),
            "false_accept": float(acc.sum() / max(int(voiced.sum()), 1))}


def candidates(step: int = 4):
    for t in range(0, SCALE + 1, step):
        yield RejectConfig(min_top=t)
    for m in range(step, SCALE + 1, step):
        yield RejectConfig(min_margin=m)


def choose(pred, top, margin, y, max_reject: float) -> RejectConfig:
    """The rule of the highest accuracy on accepted validation clips among those rejecting
    at most `max_reject` of them; among equals the strictest (most rejected: sounds of no
    known class are what it is for), then the top-probability rule."""
    if not 0.0 <= max_reject < 1.0:
        raise MicromelError(f"--max-reject {max_reject}: must be a fraction in [0, 1)")
    best, key = RejectConfig(), None
    for cfg in candidates():
        p = operating_point(pred, top, margin, y, cfg)
        if p["rejected"] > max_reject + 1e-12:
            continue
        k = (round(p["accuracy_accepted"], 9), p["rejected"], cfg.min_margin == 0)
        if key is None or k > key:
            best, key = cfg, k
    return best
