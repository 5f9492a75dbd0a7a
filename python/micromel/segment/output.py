"""What `micromel segment` writes: events as JSON, an Audacity label track, a TSV of one
class per file (file, ratio of the class, start/end pairs, as speech segmenters write it),
and `--plot`: waveform, spectrogram, per-window probabilities and events on one PNG.
Files are written through a temp file and a rename."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..fileio import write_text_atomic
from ..frontend.twin import features
from .timebase import Timebase, TimedEvent


def events_json(res) -> str:
    p = res.params
    doc = {
        "file": str(res.path),
        "duration": round(res.duration, 4),
        "labels": res.labels,
        "sample_rate": p.sample_rate,
        "window_seconds": p.window_samples / p.sample_rate,
        "hop_seconds": p.hop_samples / p.sample_rate,
        "params": {k: getattr(p, k) for k in ("median", "enter_q", "exit_q", "min_windows",
                                              "max_gap", "max_windows", "calib_windows", "refine",
                                              "refine_min_q", "mean", "suppress")},
        "events": [e.to_dict() for e in res.events],
    }
    return json.dumps(doc, indent=1) + "\n"


def audacity_labels(events: list[TimedEvent]) -> str:
    """Audacity's label track format: start<TAB>end<TAB>label per line, seconds."""
    return "".join(f"{e.start:.6f}\t{e.end:.6f}\t{e.label}\n" for e in events)


def class_ratio(events: list[TimedEvent], label: str, duration: float) -> float:
    total = sum(e.end - e.start for e in events if e.label == label)
    return total / duration if duration > 0 else 0.0


TSV_HEADER = "#file\tclass\tratio\tstart_1\tend_1\tstart_2\tend_2\t...\n"


def tsv_line(res, label: str) -> str:
    """One file on one line: file, class, ratio of the file's duration in that class, then
    the start/end pairs (seconds) of its events."""
    pairs = [f"{e.start:.3f}\t{e.end:.3f}" for e in res.events if e.label == label]
    ratio = class_ratio(res.events, label, res.duration)
    return "\t".join([str(res.path), label, f"{ratio:.4f}"] + pairs) + "\n"


def file_names(stem: str) -> dict[str, str]:
    """The files `segment` and `listen` write for an input of this stem, by output."""
    return {"json": f"{stem}.events.json", "audacity": f"{stem}.labels.txt",
            "plot": f"{stem}.segments.png"}


def tsv_name(label: str) -> str:
    """The one TSV of all inputs (`--format tsv`)."""
    return f"segments_{label}.tsv"


def output_paths(out_dir: Path, stems, formats: set[str], label: str,
                 plot: bool = False) -> list[Path]:
    """Every file a run writes into out_dir for inputs of these stems (write_outputs, the
    one TSV, --plot's PNGs): what `segment` and `listen` check before any work."""
    files = []
    for stem in stems:
        names = file_names(stem)
        files += [out_dir / names[f] for f in ("json", "audacity") if f in formats]
        files += [out_dir / names["plot"]] if plot else []
    return files + ([out_dir / tsv_name(label)] if "tsv" in formats else [])


def write_outputs(res, out_dir: Path, formats: set[str]) -> list[Path]:
    out_dir = Path(out_dir)
    names = file_names(res.path.stem)
    written = []
    if "json" in formats:
        p = out_dir / names["json"]
        write_text_atomic(p, events_json(res))
        written.append(p)
    if "audacity" in formats:
        p = out_dir / names["audacity"]
        write_text_atomic(p, audacity_labels(res.events))
        written.append(p)
    return written


def write_tsv(results: list, label: str, path: Path) -> Path:
    write_text_atomic(Path(path), TSV_HEADER + "".join(tsv_line(r, label) for r in results))
    return Path(path)


def plot(res, pcm, frontend_cfg, out_png: Path, truth: list | None = None) -> Path:
    """Waveform, log-mel spectrogram (the front-end twin's int8 output), per-window
    probability of each event class, and the events (and ground truth, if given)."""
    import matplotlib    # lazy: heavy, only for --plot

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sr = res.params.sample_rate
    t = np.arange(len(pcm)) / sr
    feats = features(np.asarray(pcm, np.int16), frontend_cfg)
    n_rows = 4 if res.trace is not None else 3
    fig, axes = plt.subplots(n_rows, 1, figsize=(14, 2.2 * n_rows), sharex=True)
    step = max(1, len(pcm) // 20000)
    axes[0].plot(t[::step], pcm[::step] / 32768.0, lw=0.4, color="0.3")
    axes[0].set_ylabel("waveform")
    axes[0].set_ylim(-1, 1)
    hop_s = frontend_cfg.hop_length / sr
    axes[1].imshow(feats.T, origin="lower", aspect="auto", cmap="magma",
                   extent=[frontend_cfg.frame_length / 2 / sr - hop_s / 2,
                           frontend_cfg.frame_length / 2 / sr + (len(feats) - 0.5) * hop_s,
                           0, feats.shape[1]])
    axes[1].set_ylabel("mel band")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    labels = res.labels
    if res.trace is not None:
        tb = Timebase.of(res.params)
        centres = np.array([(tb.seconds(j) + tb.seconds(j + 1)) / 2
                            for j in range(len(res.trace.silent))])
        ax = axes[2]
        for c, lab in enumerate(labels):
            pr = np.array([(int(s[c]) + 128) / 256 if s is not None else 0.0
                           for s in res.trace.scores])
            ax.plot(centres, pr, lw=1, color=colors[c % len(colors)], label=lab)
        ax.axhline((res.params.enter_q + 128) / 256, ls="--", lw=0.6, color="k")
        ax.axhline((res.params.exit_q + 128) / 256, ls=":", lw=0.6, color="k")
        ax.set_ylim(0, 1)
        ax.set_ylabel("probability")
        ax.legend(loc="upper right", fontsize=7, ncol=len(labels))
    ax = axes[-1]
    for e in res.events:
        c = labels.index(e.label) if e.label in labels else 0
        ax.axvspan(e.start, e.end, ymin=0.5, ymax=0.95, color=colors[c % len(colors)], alpha=0.7)
        ax.text(e.start, 0.8, f"{e.label} {e.confidence:.2f}", fontsize=6, va="center")
    for e in truth or []:
        ax.axvspan(e[0], e[1], ymin=0.05, ymax=0.45, color="0.5", alpha=0.6)
        ax.text(e[0], 0.25, e[2], fontsize=6, va="center")
    ax.set_yticks([0.25, 0.75] if truth else [0.75])
    ax.set_yticklabels(["truth", "events"] if truth else ["events"])
    ax.set_ylim(0, 1)
    ax.set_xlabel("time (s)")
    ax.set_xlim(0, len(pcm) / sr)
    fig.suptitle(f"{res.path.name}: {len(res.events)} events")
    fig.tight_layout()
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_png.with_name(f".{out_png.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(out_png)
    return out_png
