"""A gate for sounds of none of the known classes (TrainConfig.gate): one class, e.g.
"other" (data/other.py), that only the ensemble's last network learns.

- The classifiers (every network but the last) never train on the gate's class and hold its
  logit at exactly 0 (models.ZeroColumns); the gate (the last network) trains on every class
  and holds every logit but the gate class's at 0. The model's summed logits are then the
  classifiers' for the known classes and the gate's for its class: the gate can answer "none
  of these" without changing how the known classes are told apart (but for label smoothing,
  whose small target on the gate class meets the classifiers' logit held at 0).
- The gate's logit was learned against logits of 0, the classifiers' summed logits are
  larger, so on its own it would seldom win. `calibrate` moves it by a bias chosen on the
  validation clips: the one of a grid whose clip votes tell the gate class from the known
  classes best (balanced accuracy), the smallest among equals. It lands in the gate's
  class-layer bias, so the shipped model (and the device) computes it like any weight."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import MicromelError
from . import models
from .features import eval_windows

BIAS_GRID = tuple(np.arange(0.0, 16.01, 0.5))
NO_CLIPS = "no validation clips (not all silent) of both the gate class and the others"


@dataclass(frozen=True)
class Role:
    """What one network of an ensemble does with the classes (member_roles)."""
    name: str = ""                       # "classifier" or "gate"; "" without a gate
    zero_logits: tuple[int, ...] = ()    # classes whose logit it holds at 0
    skip_classes: tuple[int, ...] = ()   # classes it never trains or validates on


def member_roles(labels, cfg) -> list[Role]:
    """The role of each network of the ensemble `cfg.arch` names (module doc); no gate:
    nothing held, nothing skipped."""
    n = len(models.member_archs(cfg.arch))
    if not cfg.gate:
        return [Role()] * n
    labels = list(labels)
    if cfg.gate not in labels:
        raise MicromelError(f"--gate {cfg.gate}: not a class of the data (its classes: "
                            f"{', '.join(labels)})")
    g = labels.index(cfg.gate)
    others = tuple(k for k in range(len(labels)) if k != g)
    return [Role("classifier", (g,), (g,))] * (n - 1) + [Role("gate", others)]


def vote_gate(logp: np.ndarray, own: np.ndarray, n_clips: int, g: int, bias: float) -> np.ndarray:
    """Which clips vote the gate class when its logit is moved by `bias`: per window the
    softmax of (log-probabilities + bias on g), summed per clip (the soft vote), argmax."""
    z = logp.copy()
    z[:, g] += bias
    z -= z.max(axis=1, keepdims=True)
    q = np.exp(z)
    q /= q.sum(axis=1, keepdims=True)
    votes = np.zeros((n_clips, logp.shape[1]))
    np.add.at(votes, own, q)
    return votes.argmax(axis=1) == g


def calibrate(model, val_cf, window, fr, g: int) -> dict:
    """The bias for the gate class's logit (module doc), from the float ensemble's window
    probabilities of the validation clips that are not all silent (the vote's clips).
    {"bias", "val_gate_recall", "val_known_passed"} (and "note" when the bias is the grid's
    largest: a larger one might tell them apart better); no such clips of both the gate
    class and the others: {"bias": 0.0, "note"}."""
    y = np.asarray(val_cf.label) if val_cf is not None else np.zeros(0, np.int64)
    if not len(y):
        return {"bias": 0.0, "note": NO_CLIPS}
    x, ns, own = eval_windows(val_cf, window, fr)
    voiced = np.zeros(len(y), bool)
    voiced[own[ns]] = True
    yy = y[voiced]
    if not (yy == g).any() or not (yy != g).any():
        return {"bias": 0.0, "note": NO_CLIPS}
    p = model.predict(x[ns].astype(np.float32)[..., None], batch_size=512, verbose=0)
    logp = np.log(np.clip(p.astype(np.float64), 1e-300, 1.0))
    best = None
    for b in BIAS_GRID:
        said = vote_gate(logp, own[ns], len(y), g, b)[voiced]
        recall, passed = float(said[yy == g].mean()), float((~said[yy != g]).mean())
        score = (recall + passed) / 2
        if best is None or score > best[0] + 1e-12:
            best = (score, float(b), recall, passed)
    out = {"bias": best[1], "val_gate_recall": round(best[2], 4),
           "val_known_passed": round(best[3], 4)}
    if best[1] >= BIAS_GRID[-1]:
        out["note"] = f"the largest bias tried ({BIAS_GRID[-1]:g}); a larger one might do better"
    return out


def move_bias(net, g: int, bias: float) -> None:
    """Add `bias` to the gate network's logit of class g (its class layer's bias)."""
    dense = net.get_layer("classes")
    kernel, b = dense.get_weights()
    b = b.copy()
    b[g] += bias
    dense.set_weights([kernel, b])


def card_paragraph(label: str, n: int, cal: dict) -> str:
    """The model card's paragraph on the gate of an ensemble of n networks (cal: calibrate's
    result, as metrics.json holds it)."""
    moved = (f" Its logit is moved by {cal['bias']:g}, chosen on the validation clips (float "
             f"model): {100 * cal['val_gate_recall']:.1f} % of their `{label}` clips vote it, "
             f"{100 * cal['val_known_passed']:.1f} % of the others do not"
             + (f" ({cal['note']})." if cal.get("note") else ".")
             if "val_gate_recall" in cal else " Its logit is not moved (" + cal.get("note", "") + ").")
    who = (f"Network 1 is the classifier: it never saw a `{label}` clip and holds" if n == 2 else
           f"Networks 1-{n - 1} are the classifiers: they never saw a `{label}` clip and hold")
    return (f"**Gate: `{label}`.** {who} its logit at 0; network {n}, the gate, "
            f"learned every class and holds every logit but `{label}`'s at 0. The summed logits "
            f"tell the known classes apart as the classifiers do, and the gate alone says `{label}` "
            f"(`micromel reject ... --other-class {label}`; the random forest, forest.h, learns "
            f"`{label}` as a class like any other).{moved}")
