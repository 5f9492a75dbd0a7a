"""The model card (card.md) and confusion matrix (confusion.png) written into models/NAME/."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ..modeldir import ModelDir
from ..paths import CHECKOUT, recorded_path
from . import gate
from .config import TrainConfig
from .evaluate import loso_table
from .models import ARCHS


def confusion_png(confusion, labels_cols, title: str) -> bytes:
    """The confusion matrix as a PNG image (rows true, columns predicted)."""
    import matplotlib    # lazy: heavy, only for pictures

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = np.asarray(confusion)
    rows = labels_cols[: m.shape[0]]
    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * m.shape[1], 1.0 + 0.8 * m.shape[0]), dpi=100)
    ax.imshow(m, cmap="Blues")
    ax.set_xticks(range(m.shape[1]), labels_cols, rotation=30, ha="right")
    ax.set_yticks(range(m.shape[0]), rows)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    vmax = m.max() if m.size else 1
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(j, i, str(m[i, j]), ha="center", va="center",
                    color="white" if m[i, j] > 0.6 * vmax else "black", fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png")
    finally:
        plt.close(fig)
    return buf.getvalue()


def _rel(path: str) -> str:
    return recorded_path(path)


def rerender(model_dir, dataset_root=None) -> str:
    """Write card.md again from config.json and metrics.json (no retraining)."""
    model = ModelDir.open(model_dir)
    source = Path(model.dataset["source"]) if model.dataset else None
    root = dataset_root or (source if source is None or source.is_absolute() else CHECKOUT / source).parent
    text = render(model, model.metrics(), notes_for(root) if root else None)
    model.write_output("card.md", text)
    return text


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _epochs(v) -> str:
    """Epochs run: one number, or one per ensemble member ("52 / 80 / 43")."""
    return " / ".join(str(e) for e in v) if isinstance(v, list) else str(v if v is not None else "")


def _seed_table(metrics: dict) -> list[str]:
    seeds = metrics.get("seeds") or []
    members = any(len(s.get("member_seeds") or []) > 1 for s in seeds)
    out = ["| seed | " + ("member seeds | " if members else "")
           + "float acc | int8 acc | int8 macro-F1 | epochs run |",
           "|---:|" + ("---|" if members else "") + "---:|---:|---:|---:|"]
    for s in seeds:
        f, q = s.get("test_float") or {}, s.get("test_int8") or {}
        ms = (", ".join(str(v) for v in s.get("member_seeds") or [s["seed"]]) + " | ") if members else ""
        out.append(f"| {s['seed']} | {ms}{_pct(f.get('accuracy'))} | {_pct(q.get('accuracy'))} | "
                   f"{_pct(q.get('macro_f1'))} | {_epochs(s.get('epochs_run'))} |")
    accs = [s["test_int8"]["accuracy"] for s in seeds if s.get("test_int8")]
    if len(accs) > 1:
        a = np.array(accs)
        fa = np.array([s["test_float"]["accuracy"] for s in seeds if s.get("test_float")])
        out.append("")
        out.append(f"int8 accuracy over {len(a)} seeds: mean {100 * a.mean():.1f}%, standard "
                   f"deviation {100 * a.std(ddof=1):.1f} points, min {100 * a.min():.1f}%, "
                   f"max {100 * a.max():.1f}%. Float: mean {100 * fa.mean():.1f}%.")
        if len(fa) == len(a):
            d = 100 * (a - fa)
            out.append(f"int8 minus float accuracy per seed: {', '.join(f'{v:+.1f}' for v in d)} "
                       f"points (mean {d.mean():+.1f}).")
    return out


def _room_steps(a: dict, tr: dict) -> str:
    """The room-and-microphone augmentation of a training record, in words."""
    steps = []
    if a.get("bed_p"):
        beds = tr.get("backgrounds") or []
        steps.append(f"recorded beds at {a['bed_snr_db'][0]:g}..{a['bed_snr_db'][1]:g} dB SNR "
                     f"p={a['bed_p']} from {', '.join(f'`{_rel(b)}`' for b in beds)}" if beds
                     else f"recorded beds p={a['bed_p']} but no --background given: off")
    if a.get("reverb_p"):
        steps.append(f"simulated rooms (pyroomacoustics, RT60 {a['rt60_s'][0]:g}..{a['rt60_s'][1]:g} s) "
                     f"p={a['reverb_p']}")
    if a.get("phone_p"):
        steps.append(f"telephone band 300-3400 Hz p={a['phone_p']}")
    if a.get("cheap_mic_p"):
        steps.append(f"cheap-microphone band p={a['cheap_mic_p']}")
    return "; ".join(steps) if steps else "none"


def _test_sources_text(metrics: dict) -> str:
    """What the test split's sources say about its numbers when no source was held out by
    name: a dataset may split by source itself (from-labels splits by recording)."""
    by = (metrics.get("test_int8") or {}).get("by_source") or {}
    named = [s for s in by if s != "(no source)"]
    unseen = [s for s in named if s not in set(metrics.get("train_sources") or [])]
    if named and len(unseen) == len(named):
        return ("No source was held out by name, but training saw none of the test split's "
                f"sources ({len(unseen)}: the dataset splits by source, as `dataset from-labels` "
                "does by recording): its numbers are cross-source numbers.")
    if unseen:
        return (f"No source was held out by name; {len(unseen)} of the test split's "
                f"{len(named)} sources were not seen in training ('in training' below): only "
                "their numbers are cross-source ones.")
    return ("No source was held out: the test split holds other clips (kits, speakers) of "
            "sources training saw, so its numbers are same-source numbers.")


def _cross_source(metrics: dict) -> list[str]:
    """Per-source results of the test split, and the leave-one-source-out runs."""
    L = []
    by = (metrics.get("test_int8") or {}).get("by_source") or {}
    seen = set(metrics.get("train_sources") or [])
    if len(by) > 1 or (by and "(no source)" not in by):
        L += ["", "By source (int8 CNN; 'in training': training saw other clips of that source, "
                  "so the number is not a cross-source one; macro-F1 over the classes the source "
                  "holds, n/a for a source of one class, whose accuracy is its recall):", "",
              "| source | clips | in training | int8 accuracy | macro-F1 |", "|---|---:|---|---:|---:|"]
        for name, m in by.items():
            L.append(f"| {name} | {m['clips']} | {'yes' if name in seen else 'no'} | "
                     f"{_pct(m['accuracy'])} | {_pct(m['macro_f1'])} |")
    runs = metrics.get("loso") or []
    if runs:
        rows, mean = loso_table(runs)
        seeds = list(dict.fromkeys(r["seed"] for r in runs))
        L += ["", "### Leave one source out", "",
              "Each source in turn held out of training and validation (same recipe and "
              "architecture, `--loso`); its every clip is the test. No test clip's source was "
              "seen in training:", "",
              "| held-out source | clips | " + " | ".join(f"int8 seed {s}" for s in seeds)
              + " | mean |", "|---|---:|" + "---:|" * (len(seeds) + 1)]
        for source, clips, accs, m in rows:
            L.append(f"| {source} | {clips} | " + " | ".join(_pct(a) for a in accs) + f" | {_pct(m)} |")
        L += ["", f"**Mean int8 accuracy over the {len(rows)} held-out sources: {_pct(mean)}.**"]
    return L


def render(model, metrics: dict, notes: str | None = None) -> str:
    """card.md of a ModelDir trained by micromel, from its settings and metrics.json."""
    tcfg = TrainConfig.of_model(model)
    labels = list(model.labels)
    tf_, ti = metrics.get("test_float"), metrics.get("test_int8")
    forest = metrics.get("forest_test")
    m = metrics["model"]
    w = model.window.to_dict()
    fe = model.frontend.to_dict()
    arch = tcfg.arch
    tr = model.train
    L = []
    L.append(f"# Model card: {model.name}")
    L.append("")
    member_seeds = tcfg.member_seeds()
    n_members = len(member_seeds)
    archs = arch.split("+")
    desc = "; ".join(f"`{a}`: {ARCHS[a].description}" if a in ARCHS else f"`{a}`: custom"
                     for a in dict.fromkeys(archs))
    if n_members > 1:
        seeds = ", ".join(str(v) for v in member_seeds)
        L.append(f"Classes: {', '.join(labels)}. Architecture `{arch}`: an ensemble of "
                 f"{n_members} networks ({desc}) trained independently (seeds {seeds}) and shipped as one "
                 "int8 model: every network reads the same input window, their class logits are "
                 f"added (ADD) and one SOFTMAX follows. Seed {tcfg.seed}.")
    else:
        L.append(f"Classes: {', '.join(labels)}. Architecture {desc}, seed {tcfg.seed}.")
    if metrics.get("one_class"):
        stuck = metrics["one_class"]
        L.append("")
        L.append(f"**This model answers `{stuck['class']}` for all {stuck['clips']} voted "
                 f"{stuck['split']} clips**, of {stuck['classes']} classes: it has learned one "
                 "class. Train longer (`--epochs`) or on more data before using it.")
    L.append("")
    L.append("## Data and split")
    L.append("")
    ds = model.dataset or {"source": "(not recorded)", "digest": "-"}
    L.append(f"Dataset: `{_rel(ds['source'])}` (digest {ds['digest']}).")
    L.append("")
    if tcfg.hold_out_source:
        L.append(f"**Held-out source: `{tcfg.hold_out_source}`.** Every clip of it is the test "
                 "split and none of it was seen in training or validation: the test numbers "
                 "below are cross-source numbers.")
    else:
        L.append(_test_sources_text(metrics))
    if tcfg.specialist:
        who = "; ".join(f"network {k + 1} (`{m['arch']}`, seed {m['seed']}): {m['train_clips']} "
                        f"training clips of {', '.join(m['train_sources']) or '(no source)'}"
                        for k, m in enumerate(metrics.get("members", [])))
        L.append("")
        k = tcfg.specialist_networks
        L.append(f"**Specialist: `{tcfg.specialist}`.** The last {'network' if k == 1 else f'{k} networks'} "
                 "trained only on that source's training clips, the others on every training "
                 "source's; the model sums their logits (a product of generalists and "
                 f"specialists). {who}.")
    if tcfg.gate:
        L += ["", gate.card_paragraph(tcfg.gate, len(metrics.get("members", [])),
                                      metrics.get("gate") or {})]
    if tcfg.teacher:
        L.append("")
        L.append(f"**Student of `{tcfg.teacher}`.** Each training window's target was "
                 f"{1 - tcfg.distill:g} x its label + {tcfg.distill:g} x that teacher's float "
                 f"probabilities softened by T = {tcfg.distill_temperature:g} (knowledge "
                 "distillation; then label smoothing as for every model; the teacher was "
                 "trained on the same splits, so it never saw the test clips).")
    L.append("")
    counts = metrics["counts"]
    L.append("| split | " + " | ".join(labels) + " | total |")
    L.append("|---|" + "---:|" * (len(labels) + 1))
    for s in ("train", "val", "test"):
        row = [counts[s][lab] for lab in labels]
        L.append(f"| {s} | " + " | ".join(str(v) for v in row) + f" | {sum(row)} |")
    win = metrics.get("windows", {})
    if win:
        L.append("")
        L.append("Windows at the configured hop (non-silent / all): " + ", ".join(
            f"{s} {v['nonsilent']}/{v['windows']}" for s, v in win.items())
            + f". Training uses the clips plus {tr['augment']['variants']} "
              "waveform-augmented copies of each.")
    if notes:
        L.append("")
        L.append(notes.strip())
    L.append("")
    L.append("## Results on the test split (clip level)")
    L.append("")
    L.append("| model | accuracy | macro-F1 |")
    L.append("|---|---:|---:|")
    if tf_:
        L.append(f"| CNN float | {_pct(tf_['accuracy'])} | {_pct(tf_['macro_f1'])} |")
    if ti:
        L.append(f"| CNN int8 (shipped, model.tflite) | {_pct(ti['accuracy'])} | {_pct(ti['macro_f1'])} |")
    if forest:
        L.append(f"| random forest (forest.h, emlearn) | {_pct(forest['accuracy'])} | "
                 f"{_pct(forest['macro_f1'])} |")
    if tf_ and ti:
        L.append("")
        # in clips as well as points: a one-clip change of 3000 would print as "-0.0 points"
        d = ti["accuracy"] - tf_["accuracy"]
        n = round(d * ti["clips"])
        L.append(f"Float to int8 accuracy change: {n:+d} clip{'' if abs(n) == 1 else 's'}, "
                 f"{100 * d:+.2f} points (one clip is {100 / max(1, ti['clips']):.2f} points).")
    if ti:
        L.append("")
        L.append("Per-class F1 (int8 CNN" + (", forest" if forest else "") + "):")
        L.append("")
        L.append("| class | int8 CNN F1 | precision | recall | clips |" + (" forest F1 |" if forest else ""))
        L.append("|---|---:|---:|---:|---:|" + ("---:|" if forest else ""))
        for lab in labels:
            c = ti["per_class"][lab]
            row = (f"| {lab} | {_pct(c['f1'])} | {_pct(c['precision'])} | {_pct(c['recall'])} | "
                   f"{c['support']} |")
            if forest:
                row += f" {_pct(forest['per_class'][lab]['f1'])} |"
            L.append(row)
        L.append("")
        L.append("Confusion matrix of the int8 CNN (rows true, columns predicted): "
                 "![confusion](confusion.png)")
        L.append("")
        cols = ti["confusion_labels"]
        L.append("| true \\ predicted | " + " | ".join(cols) + " |")
        L.append("|---|" + "---:|" * len(cols))
        for lab, row in zip(labels, ti["confusion"]):
            L.append(f"| {lab} | " + " | ".join(str(v) for v in row) + " |")
    L.extend(_cross_source(metrics))
    L.append("")
    L.append("### Over training seeds")
    L.append("")
    L.extend(_seed_table(metrics))
    L.append("")
    L.append("## Model")
    L.append("")
    L.append(f"- Input: {w['frames']} frames x {fe['n_mels']} "
             f"{'HTK' if fe.get('mel_htk') else 'Slaney'} mel bands ({fe['fmin']:g}-{fe['fmax']:g} Hz) "
             "int8 (the front end's codes; "
             f"input scale 1.0, zero point 0), {fe['sample_rate']} Hz, FFT {fe['n_fft']}, hop "
             f"{fe['hop_length']} samples: {model.window_samples} samples = "
             f"{model.window_samples / fe['sample_rate']:.2f} s per window, a new window every "
             f"{w['hop_frames']} frames.")
    L.append(f"- Silence gate: a window is skipped when its RMS is below {w['silence_rms_dbfs']} dBFS "
             f"(integer threshold {model.gate_threshold} on the sum of squares of "
             f"{model.window_samples} samples).")
    L.append(f"- Parameters: {metrics['float_params']} in the float model (BatchNorm included), "
             f"{m['params']} in the int8 model after folding.")
    L.append(f"- MACs per window: {m['macs']:,}.")
    L.append(f"- Weight bytes (int8 weights + int32 biases): {m['weight_bytes']:,}; "
             f"model.tflite {m['flatbuffer_bytes']:,} bytes.")
    L.append(f"- Largest activation pair (input + output of one op, int8): "
             f"{m['peak_activation_bytes']:,} bytes.")
    ops = metrics.get("ops") or []
    if ops:
        L.append("- Ops: " + ", ".join(f"{o['op']} {'x'.join(str(v) for v in o['out_shape'][1:])}"
                                       for o in ops) + ".")
    t = metrics.get("timing", {})
    L.append("")
    L.append("## Training")
    L.append("")
    each = " per network" if isinstance(metrics["epochs_run"], list) and len(metrics["epochs_run"]) > 1 \
        else ""
    L.append(f"- {_epochs(metrics['epochs_run'])} epochs run{each} (max {tr['epochs']}); a network is the "
             f"average of the last {tr.get('average_epochs', 1)} epochs' weights; early stopping when the "
             f"validation loss of that average has not improved for {tr['patience']} epochs (lowest at "
             f"epoch {_epochs(metrics['best_epoch'])}). {tr['epoch_windows']} windows per epoch drawn "
             + ("class -> source -> clip" if tr.get("balance") == "source" else "class -> clip") + ", "
             f"batch {tr['batch_size']}, Adam lr {tr['learning_rate']} cosine-decayed, label "
             f"smoothing {tr['label_smoothing']}.")
    a = tr["augment"]
    L.append(f"- Augmentation: waveform ("
             + (f"speed {a['speed'][0]}..{a['speed'][1]} x p={a['speed_p']}, " if a.get("speed_p") else "")
             + (f"muffled (low-pass {a['muffle_hz'][0]:g}..{a['muffle_hz'][1]:g} Hz) p={a['muffle_p']}, "
                if a.get("muffle_p") else "")
             + f"random peak level {a['peak_dbfs'][0]}..{a['peak_dbfs'][1]} dBFS, 7-band EQ "
             f"p={a['eq_p']}, coloured noise {a['noise_snr_db'][0]}..{a['noise_snr_db'][1]} dB SNR "
             f"p={a['noise_p']}, onset delay {a['shift_ms'][0]}..{a['shift_ms'][1]} ms p={a['shift_p']}"
             + (f", another training clip mixed in {a['background_db'][0]}..{a['background_db'][1]} dB "
                f"below p={a['background_p']}" if a.get("background_p") else "")
             + f"), windows on the evaluation grid, SpecAugment ({a['time_masks']} time masks <= "
             f"{a['time_mask_frames']} frames, {a['freq_masks']} frequency masks <= "
             f"{a['freq_mask_bins']} bands), mixup (alpha {a['mixup_alpha']}, p={a['mixup_p']}).")
    L.append("- Room and microphone: " + _room_steps(a, tr) + ".")
    if t:
        n_seeds = len(metrics.get("seeds") or [1])
        L.append(f"- Wall time of this run: {t.get('total_seconds')} s for {n_seeds} seed(s) on "
                 f"{t.get('cpus')} CPUs (feature extraction {t.get('features_seconds')} s"
                 + (", from the cache" if (t.get('features_seconds') or 0) < 5 else "")
                 + f"; CNN fit of the shipped seed{', all networks' if each else ''} {t.get('fit_seconds')} s"
                 + (f"; and {t['loso_runs']} leave-one-source-out runs" if t.get("loso_runs") else "")
                 + ").")
    L.append("")
    L.append("## Reproduce")
    L.append("")
    L.append("```")
    L.append(metrics.get("command") or "(not recorded)")
    L.append("```")
    L.append("")
    return "\n".join(L)


def notes_for(dataset_root) -> str | None:
    """Task notes for the card: the drums dataset gets its reference numbers and what made
    the difference (docs/training.md has the measurements)."""
    root = Path(dataset_root)
    stamp = root / ".micromel-dataset"
    if not stamp.is_file() or "hydrogen-drumkits" not in stamp.read_text():
        return None
    return DRUMS_NOTES


DRUMS_NOTES = """\
The drums dataset (`micromel dataset drums --out data/drums` first): one-shots from twelve
pinned Debian packages in five source families, `hydrogen` (Hydrogen's kits, labelled from
drumkit.xml instrument names), `generaluser`, `fluid` and `gmsmall` (GM soundfonts' drum
kits rendered with fluidsynth, labelled by GM key) and `samples` (packaged sample folders,
labelled by file-name rules); near-duplicates dropped within and across families. Test split:
Hydrogen's four test kits (ColomboAcousticDrumkit, HardElectro1, Millo_MultiLayered3,
rumpf_kit_z01_h2), never trained on; validation: Hydrogen's Audiophob, Millo-Drums_v.1 and
VariBreaks plus one in ten of the other families' one-shots. Backgrounds: `micromel dataset
beds --out data/beds` (ambiences, city machines, tonal instruments: no drums). Rules,
recipe and its ablation: docs/training.md.

### References

- pyAudioAnalysis-style features (136 mid-term statistics) + RBF SVM on the same splits
  (`scripts/peer_svm.py data/drums --loso all`, the 939-clip build, stop 35): 87.2 % on the
  Hydrogen test kits; held-out sources fluid 80.9, generaluser 87.1, gmsmall 77.5, hydrogen
  76.5, samples 83.2 (mean 81.0 %).
- The committed `models/drums` (Hydrogen kits only, no room steps): 86.0 % on the Hydrogen
  test kits, and on the other families' one-shots, which it never saw: fluid 83.1,
  generaluser 79.3, gmsmall 76.0, samples 88.1 % (`micromel evaluate models/drums
  data/drums --split all --by source`, the same build).
"""
