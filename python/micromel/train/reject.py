"""`micromel reject`: choose a model's open-set rejection rule (micromel.clip.reject) on the
validation split of its dataset, report the accuracy-coverage trade-off on the test split and
the false-accept rate on recordings of no known class, and (with --save) store the rule in
the model folder, where it reaches the device through the generated mm_clip_config.h.

Every number is computed from the int8 model's vote totals (the integers the device sums),
so what is reported here is what the device answers."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..audio import find_audio
from ..clip import reject
from ..data.datasets import load_dataset
from ..errors import MicromelError
from ..paths import recorded_path
from . import quantize
from .evaluate import int8_clip_votes
from .features import extract, framing

CURVE_TOPS = (0, 64, 96, 128, 160, 192, 224, 240)


def votes_of(model, items, desc: str, quiet: bool):
    """The int8 model's vote totals, non-silent window counts and labels of `items`."""
    fr = framing(model.frontend)
    cf = extract(items, list(model.labels), model.frontend, model.window, None, 0, desc, quiet=quiet)
    accs, ns = int8_clip_votes(model.tflite_bytes, cf, model.window, fr)
    return np.asarray(accs), np.asarray(ns), np.asarray(cf.label)


def other_index(labels, other: str | None) -> int:
    if other is None:
        return -1
    if other not in labels:
        raise MicromelError(f"--other-class {other}: not one of the model's labels ({', '.join(labels)})")
    return list(labels).index(other)


def unknown_items(model, paths, limit: int | None):
    """(path, any label, split) items of recordings of no known class; at most `limit`,
    spread evenly over the sorted list."""
    files = find_audio(paths, "--unknown")
    if limit and len(files) > limit:
        files = [files[i] for i in np.linspace(0, len(files) - 1, limit).round().astype(int)]
    return [(f, model.labels[0], "unknown") for f in files]


def calibrate(model, data, unknown=(), max_reject: float = 0.15, unknown_limit: int | None = None,
              quiet: bool = False, other: str | None = None, hold_out: str = "") -> dict:
    """The chosen rule and its numbers: {"rule", "val", "test", "test_curve", "unknown"}.
    With `other` (the label of a class trained on sounds of none of the others) a clip voted
    that class is unknown under every rule tried; clips labelled `other` are left out of the
    accuracies and counted with the sounds of no known class; the rule-off baseline is the
    vote among the known classes. With `hold_out` (a source the model was trained without)
    the dataset is split as `micromel train --hold-out-source` split it: that source's clips
    are the test split, the others keep their val clips (the rule is never chosen on it)."""
    quantize.check_int8_contract(model.tflite_bytes)
    labels = list(model.labels)
    oc = other_index(labels, other)
    ds = load_dataset(data, labels=labels)
    if hold_out:
        ds = ds.hold_out(hold_out)
    unknown_list = unknown_items(model, unknown, unknown_limit) if unknown else []  # named first
    out = {"max_reject": max_reject, "data": _shown(data), "labels": labels,
           "hold_out_source": hold_out}
    val_items, test_items = ds.select("val"), ds.select("test")
    if not val_items:
        raise MicromelError(f"{data}: no 'val' split to choose the rule on; give a dataset "
                            "with a manifest that names splits")
    accs, ns, vy = votes_of(model, val_items, "reject-val", quiet)
    known = vy != oc
    vp, vt, vm = reject.clip_stats(accs[known], ns[known])
    rule = reject.choose(vp, vt, vm, vy[known], max_reject, other_class=oc, n_classes=len(labels))
    out["rule"] = rule.to_dict()
    out["val"] = reject.operating_point(vp, vt, vm, vy[known], rule)
    # without a rule: the vote among the known classes, as the test's baseline (test_off)
    out["val_off"] = reject.operating_point(reject.closed_set(accs[known], ns[known], oc), vt, vm,
                                            vy[known], reject.RejectConfig())
    if test_items:
        accs, ns, ty = votes_of(model, test_items, "reject-test", quiet)
        known = ty != oc
        tp, tt, tm = reject.clip_stats(accs[known], ns[known])
        ty_known = ty[known]
        closed = reject.closed_set(accs[known], ns[known], oc)
        out["test_off"] = reject.operating_point(closed, tt, tm, ty_known, reject.RejectConfig())
        out["test"] = reject.operating_point(tp, tt, tm, ty_known, rule)
        out["test_curve"] = [reject.operating_point(tp, tt, tm, ty_known,
                                                    reject.RejectConfig(min_top=t, other_class=oc))
                             for t in CURVE_TOPS]
        names = np.array(ds.source_names(test_items))
        out["test_sources"] = sorted({n.split("/")[0] for n in names if n})
        if (~known).any():
            out["test_other"] = _false_accepts(accs[~known], ns[~known], rule)
    if unknown:
        accs, ns, _ = votes_of(model, unknown_list, "reject-unknown", quiet)
        out["unknown"] = {"paths": [_shown(p) for p in unknown], **_false_accepts(accs, ns, rule)}
    return out


def _false_accepts(accs, ns, rule) -> dict:
    """Recordings of no known class: false accepts with the rule and without any."""
    stats = reject.clip_stats(accs, ns)
    return {**reject.false_accepts(*stats, rule),
            "false_accept_off": reject.false_accepts(*stats, reject.RejectConfig())["false_accept"]}


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _sources(r: dict, most: int = 6) -> str:
    names = r.get("test_sources") or ["-"]
    return ", ".join(names[:most]) + (f", ... ({len(names)} in all)" if len(names) > most else "")


def format_report(r: dict) -> str:
    rule = reject.RejectConfig.from_dict(r["rule"])
    lines = [f"rule (chosen on val, rejecting at most {_pct(r['max_reject'])}): "
             f"{rule.describe(r.get('labels'))}",
             f"val:  accuracy on accepted {_pct(r['val']['accuracy_accepted'])}, "
             f"rejected {_pct(r['val']['rejected'])} of {r['val']['clips']} clips"]
    off = r.get("val_off")
    if off and r["val"]["rejected"] > 0 and \
            r["val"]["accuracy_accepted"] <= off["accuracy_accepted"] + 1e-9:
        # "among equals the strictest" (clip/reject.choose): nothing to gain on these clips
        lines.append(f"note: on val the rule gains no accuracy ({_pct(off['accuracy_accepted'])} "
                     "without it); it rejects clips only to refuse sounds of no known class (the "
                     "strictest rule among equals); --max-reject 0 chooses none")
    if "test" in r:
        t, off = r["test"], r["test_off"]
        lines.append(f"test: accuracy {_pct(off['accuracy_all'])} without rejection; "
                     f"{_pct(t['accuracy_accepted'])} on accepted clips, rejected "
                     f"{_pct(t['rejected'])} of {t['clips']} clips "
                     f"(sources: {_sources(r)})")
        lines.append("accuracy-coverage on test (rule: mean top probability >= T/256):")
        lines.append(f"{'T':>5} {'rejected':>9} {'acc. accepted':>14}")
        lines += [f"{p['min_top']:>5} {_pct(p['rejected']):>9} {_pct(p['accuracy_accepted']):>14}"
                  for p in r["test_curve"]]
    if "test_other" in r:
        u = r["test_other"]
        lines.append(f"test clips of the other class: false accepts {_pct(u['false_accept'])} of "
                     f"{u['nonsilent']} non-silent")
    if "unknown" in r:
        u = r["unknown"]
        lines.append(f"no known class: {u['nonsilent']} non-silent of {u['clips']} recordings; "
                     f"false accepts {_pct(u['false_accept'])} with the rule, "
                     f"{_pct(u['false_accept_off'])} without")
    return "\n".join(lines)


def _shown(path) -> str:
    """A path as a card shows it: relative to the project, or from its package folder."""
    s = str(path) if not Path(path).is_absolute() else recorded_path(path)
    i = s.find("debian/")
    return s[i:] if i > 0 else s


def card_section(r: dict) -> list[str]:
    """The model card's section on rejection (card_with_section puts it into card.md)."""
    rule = reject.RejectConfig.from_dict(r["rule"])
    L = [f"{HEADING} (\"unknown\")", "",
         f"Rule: {rule.describe(r.get('labels'))}; chosen on the validation split as the most accurate on "
         f"accepted clips among the rules rejecting at most {_pct(r['max_reject'])} of them "
         "(`micromel reject`). The device computes it in integers (mm_clip_decide).", ""]
    if "test" in r:
        t, off = r["test"], r["test_off"]
        L += [f"Test split (sources: {_sources(r)}; none used to choose the rule): accuracy "
              f"{_pct(off['accuracy_all'])} without rejection, {_pct(t['accuracy_accepted'])} on "
              f"the accepted clips with {_pct(t['rejected'])} rejected.", "",
              "| min top probability | rejected | accuracy on accepted |", "|---:|---:|---:|"]
        L += [f"| {p['min_top']}/256 | {_pct(p['rejected'])} | {_pct(p['accuracy_accepted'])} |"
              for p in r["test_curve"]]
        L.append("")
    if "unknown" in r:
        u = r["unknown"]
        L += [f"Recordings of no known class ({', '.join(f'`{p}`' for p in u['paths'])}; "
              f"{u['nonsilent']} non-silent of {u['clips']}): false accepts "
              f"{_pct(u['false_accept'])} with the rule, {_pct(u['false_accept_off'])} without.", ""]
    return L


def check_replaceable(model, force: bool) -> None:
    """A model's rule is replaced only with `force` (asked before any clip is scored)."""
    if model.reject.active and not force:
        raise MicromelError(f"{model.path}: already has a rejection rule ({model.reject.describe()}); "
                            "add --force to replace it")


def save_rule(model, r: dict, force: bool):
    """Store the rule in config.json and the numbers in metrics.json; a rule the model holds
    is replaced only with `force` (check_replaceable)."""
    check_replaceable(model, force)
    saved = model.replace(reject=reject.RejectConfig.from_dict(r["rule"])).save()
    try:
        metrics = saved.metrics()
    except MicromelError:
        return saved                # a model not trained here: no metrics.json, no card
    saved.write_output("metrics.json", json.dumps({**metrics, "reject": r}, indent=2) + "\n")
    card = saved.path / "card.md"
    if card.is_file():
        saved.write_output("card.md", card_with_section(card.read_text(), card_section(r)))
    return saved


HEADING = "## Open-set rejection"


def card_with_section(text: str, section: list[str]) -> str:
    """card.md with its rejection section replaced (up to the next '## ' heading), or added
    at the end; the rest of the card is kept as it is."""
    lines = text.rstrip("\n").split("\n")
    start = next((i for i, line in enumerate(lines) if line.startswith(HEADING)), None)
    if start is None:
        return "\n".join(lines + [""] + section).rstrip("\n") + "\n"
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "\n".join(lines[:start] + section + lines[end:]).rstrip("\n") + "\n"
