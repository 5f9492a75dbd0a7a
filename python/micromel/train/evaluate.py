"""Clip-level evaluation of a model on a dataset split, and `micromel evaluate`.

A clip is classified from its windows (micromel.windows): padded, cut at the configured hop,
silent windows dropped by the integer RMS gate, then
- int8: the integer soft vote over the int8 scores (exactly what the firmware computes),
- float: the mean of the softmax probabilities, argmax (lowest index wins ties),
- forest: the sum of the trees' votes, argmax (lowest index wins ties).
A clip whose windows are all silent is predicted as "silence" (a wrong answer, shown as its
own column in the confusion matrix).

Reported: accuracy, macro-F1 over the classes the clips hold (`held_macro_f1`: a class with
no clip has no F1 to average; clips of one class have none, their accuracy says it all),
per-class precision/recall/F1 and
the confusion matrix (rows = true class, columns = predicted). An int8 model that holds a
rejection rule (`micromel reject --save`) is also scored as the device answers with it:
accuracy on the clips it accepts and the fraction it rejects (`unknown`), overall and, with
`--by source`, per source; the accuracy above stays the vote's without the rule.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..clip import reject
from ..clip import rules as win
from ..clip.reference import check_model_file
from ..engine import tflite
from ..data.datasets import load_dataset
from ..errors import MicromelError
from ..modeldir import FLOAT_TFLITE
from . import quantize
from .features import eval_windows, extract, framing
from .forest import clip_vote, window_stats

SILENCE_LABEL = "(silence)"
NO_SOURCE = "(no source)"    # the by-source row of clips without a source


def held_macro_f1(f1, support) -> float | None:
    """The mean F1 of the classes that have clips (a class without any has F1 0 by definition
    and would pull the mean down); None for fewer than two: a lone class's precision is 1 by
    construction, and its accuracy (the recall) says it all."""
    held = [float(x) for x, n in zip(f1, support) if n]
    return float(np.mean(held)) if len(held) > 1 else None


def pct(x) -> str:
    """A share as a percentage, '-' for None (a macro-F1 of one class)."""
    return "-" if x is None else f"{100 * x:.1f}%"


def clip_metrics(y_true: np.ndarray, y_pred: np.ndarray, labels: list[str]) -> dict:
    from sklearn.metrics import precision_recall_fscore_support

    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    n = len(labels)
    classes = list(range(n))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=classes, zero_division=0)
    cols = labels + ([SILENCE_LABEL] if np.any(y_pred < 0) else [])
    conf = np.zeros((n, len(cols)), dtype=int)
    for t, q in zip(y_true, y_pred):
        conf[t, q if q >= 0 else n] += 1
    return {
        "clips": int(len(y_true)),
        "accuracy": float(np.mean(y_true == y_pred)) if len(y_true) else 0.0,
        "macro_f1": held_macro_f1(f, s),
        "per_class": {labels[i]: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                                  "support": int(s[i])} for i in range(n)},
        "confusion": conf.tolist(),
        "confusion_labels": cols,
        "silent_clips": int(np.sum(y_pred < 0)),
    }


def voted_answers(m: dict) -> tuple[int, list[str], int]:
    """(voted clips, the classes answered, how many classes those clips hold) of a split,
    from clip_metrics' confusion (rows true, columns predicted; silent clips, column n,
    aside): a model that learned one class answers one class for clips of several."""
    voted = np.asarray(m["confusion"])[:, :len(m["per_class"])]
    answered = [m["confusion_labels"][int(c)] for c in np.flatnonzero(voted.sum(axis=0))]
    return int(voted.sum()), answered, int(np.count_nonzero(voted.sum(axis=1)))


def predict_float(model, x: np.ndarray) -> np.ndarray:
    """Softmax probabilities of int8 windows (n, F, M) through a Keras model or float .tflite."""
    xf = np.asarray(x, dtype=np.float32)[..., None]
    if isinstance(model, (bytes, bytearray)):
        return quantize.run_tflite(model, xf)
    if len(xf) == 0:
        return np.zeros((0, model.output_shape[-1]), dtype=np.float32)
    return model.predict(xf, batch_size=512, verbose=0)


def float_clip_predictions(model, cf, w, fr) -> np.ndarray:
    x, ns, own = eval_windows(cf, w, fr)
    probs = predict_float(model, x[ns])
    n = len(cf)
    pred = np.full(n, -1, dtype=np.int64)
    owners = own[ns]
    for i in range(n):
        sel = owners == i
        if np.any(sel):
            pred[i] = int(np.argmax(probs[sel].mean(axis=0)))
    return pred


def evaluate_float(model, cf, w, fr, labels) -> dict:
    return clip_metrics(cf.label, float_clip_predictions(model, cf, w, fr), labels)


def int8_clip_votes(flat: bytes, cf, w, fr) -> tuple[np.ndarray, np.ndarray]:
    """The soft vote's totals of every clip (clips, classes) int64 and its non-silent
    window counts (clips,): what the device's vote and rejection rule see."""
    x, ns, own = eval_windows(cf, w, fr)
    n_classes = quantize.run_int8(flat, x[:1]).shape[1] if len(x) else 0
    scores = np.zeros((len(x), n_classes), dtype=np.int8)
    if np.any(ns):
        scores[ns] = quantize.run_int8(flat, x[ns])
    accs = np.zeros((len(cf), n_classes), dtype=np.int64)
    counts = np.zeros(len(cf), dtype=np.int64)
    for i in range(len(cf)):
        sel = own == i
        if n_classes:
            _, accs[i] = win.soft_vote(scores[sel], ns[sel])
        counts[i] = int(ns[sel].sum())
    return accs, counts


def voted_classes(accs, counts) -> np.ndarray:
    """The soft vote's class of each clip (lowest index wins ties; silence: SILENCE)."""
    return np.array([int(np.argmax(a)) if n else win.SILENCE for a, n in zip(accs, counts)],
                    dtype=np.int64)


def int8_clip_predictions(flat: bytes, cf, w, fr) -> np.ndarray:
    return voted_classes(*int8_clip_votes(flat, cf, w, fr))


def with_rule(accs, counts, y, rule: reject.RejectConfig) -> dict:
    """What the device answers with the model's rejection rule: {"clips", "rejected" (non-silent
    clips answered unknown, a fraction of all), "accuracy_accepted"}."""
    point = reject.operating_point(*reject.clip_stats(accs, counts), np.asarray(y), rule)
    return {k: point[k] for k in ("clips", "rejected", "accuracy_accepted")}


def evaluate_int8(flat: bytes, cf, w, fr, labels) -> dict:
    return clip_metrics(cf.label, int8_clip_predictions(flat, cf, w, fr), labels)


def evaluate_forest(forest, cf, w, fr, labels) -> dict:
    x, ns, own = eval_windows(cf, w, fr)
    votes = np.zeros((len(x), len(labels)), dtype=np.int32)
    if np.any(ns):
        votes[ns] = forest.predict_votes(window_stats(x[ns]))
    pred = np.array([clip_vote(votes[own == i], ns[own == i]) for i in range(len(cf))], dtype=np.int64)
    return clip_metrics(cf.label, pred, labels)


def evaluate_model(model, data: str | Path, split: str | None = None, impl: str = "int8",
                   quiet: bool = False, by_source: bool = False) -> tuple[dict, str]:
    """`micromel evaluate`: clip-level metrics of a ModelDir on a dataset split. With no
    split given: "test" where the dataset names splits, else every clip (a plain folder of
    the user's recordings). `by_source` adds the same metrics per source of the dataset
    ("by_source": {name: metrics}). Returns (metrics, the split used)."""
    labels = list(model.labels)
    if impl == "int8":
        check_model_file(model)
    elif impl == "float":
        tflite.check_io(tflite.parse(model.float_tflite_bytes(), model.path / FLOAT_TFLITE),
                        model.window.frames * model.frontend.n_mels, len(labels), kind="float32")
    ds = load_dataset(data, labels=labels)
    split = split or ds.default_split
    items = ds.select(split)
    if not items:
        raise MicromelError(f"{ds.source}: no files in the '{split}' split "
                            "(use --split train|val|test|all)")
    w, fr = model.window, framing(model.frontend)
    cf = extract(items, labels, model.frontend, w, None, 0, f"eval-{split}", quiet=quiet)
    if impl == "int8":
        flat = model.tflite_bytes
        quantize.check_int8_contract(flat)
        accs, counts = int8_clip_votes(flat, cf, w, fr)
        pred = voted_classes(accs, counts)
    elif impl == "float":
        pred = float_clip_predictions(model.float_tflite_bytes(), cf, w, fr)
    else:
        raise MicromelError(f"--impl {impl}: choose float or int8")
    m = clip_metrics(cf.label, pred, labels)
    rule = model.reject if impl == "int8" and model.reject.active else None
    if rule:
        m["rule"] = rule.to_dict()
        m["with_rule"] = with_rule(accs, counts, cf.label, rule)
    if by_source:
        names = ds.source_names(items)
        m["by_source"] = metrics_by_source(cf.label, pred, names, labels)
        if rule:
            y = np.asarray(cf.label)
            for name, sel in source_groups(names):
                m["by_source"][name]["with_rule"] = with_rule(accs[sel], counts[sel], y[sel], rule)
    return m, split


def source_groups(names):
    """(row name, clip mask) per source in name order; "(no source)" for clips without one."""
    names = np.asarray(names)
    return [(name or NO_SOURCE, names == name) for name in sorted(set(names.tolist()))]


def metrics_by_source(y_true, y_pred, names, labels) -> dict:
    """clip_metrics of each source's clips ({source: metrics}; "(no source)" for clips
    without one), macro-F1 over the classes each holds, as everywhere (`held_macro_f1`)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return {name: clip_metrics(y_true[sel], y_pred[sel], labels)
            for name, sel in source_groups(names)}


def format_by_source(m: dict) -> str:
    """The per-source table: clips, accuracy, macro-F1 of each source (and, for a model with a
    rejection rule, accuracy on the accepted clips and the fraction rejected)."""
    rows = m["by_source"]
    width = max([len(n) for n in rows] + [6])
    ruled = "with_rule" in m
    lines = [f"{'source':<{width}} {'clips':>6} {'accuracy':>9} {'macro-F1':>9}"
             + (f" {'accepted':>9} {'rejected':>9}" if ruled else "")]
    for name, r in rows.items():
        line = f"{name:<{width}} {r['clips']:>6} {100 * r['accuracy']:>8.1f}% {pct(r['macro_f1']):>9}"
        if ruled:
            q = r["with_rule"]
            line += f" {100 * q['accuracy_accepted']:>8.1f}% {100 * q['rejected']:>8.1f}%"
        lines.append(line)
    return "\n".join(lines)


def loso_table(runs: list[dict]) -> tuple[list[tuple], float | None]:
    """Leave-one-source-out runs per held-out source: [(source, clips, [int8 accuracy per
    seed], mean)], and the mean over sources of their means."""
    rows = []
    for source in dict.fromkeys(r["source"] for r in runs):
        accs = [r["test_int8"]["accuracy"] for r in runs if r["source"] == source]
        clips = next(r["clips"] for r in runs if r["source"] == source)
        rows.append((source, clips, accs, float(np.mean(accs))))
    return rows, (float(np.mean([r[3] for r in rows])) if rows else None)


def format_loso(runs: list[dict]) -> str:
    rows, mean = loso_table(runs)
    width = max([len(r[0]) for r in rows] + [6])
    lines = [f"{'source':<{width}} {'clips':>6} {'int8 accuracy per seed':>24} {'mean':>7}"]
    for source, clips, accs, m in rows:
        lines.append(f"{source:<{width}} {clips:>6} {' '.join(f'{100 * a:.1f}' for a in accs):>24} "
                     f"{100 * m:>6.1f}%")
    lines.append(f"mean over {len(rows)} held-out sources: {100 * mean:.1f}%")
    return "\n".join(lines)


def format_metrics(m: dict, labels: list[str]) -> str:
    lines = [f"clips {m['clips']}   accuracy {100 * m['accuracy']:.1f}%   "
             f"macro-F1 {pct(m['macro_f1'])}"
             + (f"   all-silent clips {m['silent_clips']}" if m["silent_clips"] else "")]
    if "with_rule" in m:
        q = m["with_rule"]
        rule = reject.RejectConfig.from_dict(m["rule"]).describe(labels)
        lines.append(f"with its rejection rule ({rule}): "
                     f"accuracy on accepted clips {100 * q['accuracy_accepted']:.1f}%, "
                     f"rejected (unknown) {100 * q['rejected']:.1f}%")
    lines.append(f"{'class':<12}{'prec':>7}{'recall':>8}{'F1':>7}{'clips':>7}")
    for lab in labels:
        c = m["per_class"][lab]
        lines.append(f"{lab:<12}{100 * c['precision']:>6.1f}%{100 * c['recall']:>7.1f}%"
                     f"{100 * c['f1']:>6.1f}%{c['support']:>7}")
    cols = m["confusion_labels"]
    lines.append("confusion (rows true, columns predicted):")
    lines.append(" " * 12 + "".join(f"{c[:7]:>8}" for c in cols))
    for lab, row in zip(labels, m["confusion"]):
        lines.append(f"{lab:<12}" + "".join(f"{v:>8}" for v in row))
    return "\n".join(lines)
