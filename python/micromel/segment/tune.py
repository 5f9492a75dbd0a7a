"""`micromel tune`: the segmenter's post-processing for a false-alarm budget.

On labelled streams (audio with an Audacity label track beside it, `rec.wav` + `rec.txt`,
read by micromel.data.labels; or the `<stem>.events.tsv` of `micromel dataset streams`), the
model runs ONCE per stream (host twin: front end, gate, TFLite Micro scores); then the
integer state machine (machine.segment_windows, the twin of the device's mm_seg) runs once
per point of a grid over what only post-processes those scores: the smoothing window and
its kind (median or mean; micro_speech's RecognizeCommands averages), the hysteresis
thresholds enter/exit, the minimum event duration, the longest gap merged and the
suppression time after an event.
(The hop and the gate change the windows themselves and are not searched.)

Scoring (event level, per class; truth labels that are no event class of the model are
ignored, detections over them are false alarms):
- a truth event is DETECTED when a detection of its label overlaps it (any overlap);
- a detection that overlaps no truth event of its label is a FALSE ALARM;
- recall = detected / truth events, miss rate = 1 - recall, false alarms per hour of audio.
The chosen point is the best recall with false alarms per hour <= the target (fewer false
alarms, then the grid order, break ties). The DET curve is the grid's lower-left frontier:
for each false-alarm rate, the lowest miss rate reached at or below it.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

from ..audio import open_audio
from ..clip.reject import UNKNOWN_LABEL
from ..data.labels import check_extent, find_pairs, label_track, read_labels
from ..data.streams import read_truth, truth_path
from ..errors import MicromelError
from ..fileio import atomic_path
from . import gridmap, run
from .config import SegmentConfig, refuse_replacing_own
from .machine import segment_windows

GRID = {
    "median": (1, 3, 5, 9),            # the smoothing window, in windows
    "smoothing": ("median", "mean"),   # (one window is both: mean is skipped there)
    "enter": (0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
    "exit_ratio": (0.6, 1.0),          # exit = enter * ratio
    "min_duration": (0.1, 0.25, 0.5),
    "max_gap": (0.1, 0.3),
    "suppress": (0.0, 0.5, 1.0, 2.0),  # seconds after an event in which none opens
}
# what a chosen setting changes (GRID's keys, exit for exit_ratio): tune --save replaces
# these only with --force when the model has its own
TUNED_KEYS = tuple("exit" if k == "exit_ratio" else k for k in GRID)
PROGRESS_EVERY = 250   # configs between progress lines (the grid takes minutes on long streams)
COLUMNS = ("fa_per_hour", "miss_rate", "recall", "false_alarms", "detected", "truth_events",
           *TUNED_KEYS)


@dataclass
class Stream:
    name: str
    seconds: float
    truth: list          # (start s, end s, label)
    results: list        # (int8 scores or None, silent) per window


def track_of(audio: Path) -> Path | None:
    """The labels beside a recording: its Audacity label track or its .events.tsv (two
    tracks refused as in from-labels: one would be read, the other not)."""
    return label_track(audio, also=(truth_path(audio),))


def read_track(track: Path, audio: Path | None = None) -> list:
    """(start s, end s, label) of a label track (Audacity's or `micromel dataset streams`');
    with `audio`, an Audacity label past that recording's end is an error naming its line
    (as from-labels says: made on another recording, or in another unit)."""
    if track.name.endswith(".events.tsv"):
        return read_truth(track)
    labels = read_labels(track)
    if audio is not None:
        check_extent(audio, track, labels, EXTENT_RATE)
    return [(lab.start, lab.end, lab.name) for lab in labels]


EXTENT_RATE = 16000     # any rate measures a recording's length


def labelled_streams(names, skipped: list | None = None) -> list[tuple[Path, list]]:
    """(audio, truth) of the files and folders given (folders: every recording with labels
    beside it, the others appended to `skipped`; a named file without labels is an error)."""
    return [(a, read_track(t, a)) for a, t in find_pairs(names, track_of, skipped)]


def unscored_labels(pairs, model, classes) -> dict[str, int]:
    """Labels of the streams that name no event class scored (not the model's, or one of its
    background classes; 'unknown' aside: a corrected segment output says it): name -> count."""
    out: dict[str, int] = {}
    for _, truth in pairs:
        for _, _, name in truth:
            if name not in classes and name != UNKNOWN_LABEL and name not in model.labels:
                out[name] = out.get(name, 0) + 1
    return out


def score_streams(model, pairs, base: SegmentConfig, progress=None) -> list[Stream]:
    """Run the model once over every stream (host twin + TFLite Micro)."""
    p0 = model.segment_params(base)
    scorer = run.Scorer(model)
    out = []
    for k, (path, truth) in enumerate(pairs):
        audio = open_audio(path, p0.sample_rate)
        results = list(run.host_window_results(audio.chunks(), model, p0, scorer))
        out.append(Stream(path.name, audio.n_samples / p0.sample_rate, truth, results))
        if progress is not None:
            progress(k + 1, len(pairs), path.name)
    return out


def event_classes(model, base: SegmentConfig, only: str | None = None) -> list[str]:
    classes = [lab for lab in model.labels if lab not in base.background_labels]
    if only is not None:
        if only not in classes:
            raise MicromelError(f"--class {only}: not an event class of {model.path} "
                                f"(choose from {', '.join(classes)})")
        classes = [only]
    return classes


def count(truth, detections, classes) -> tuple[int, int, int]:
    """(truth events, detected truth events, false alarms) of one stream."""
    truth = [t for t in truth if t[2] in classes]
    dets = [d for d in detections if d[2] in classes]

    def overlap(a, b):
        return a[2] == b[2] and a[0] < b[1] and b[0] < a[1]

    detected = sum(1 for t in truth if any(overlap(t, d) for d in dets))
    false_alarms = sum(1 for d in dets if not any(overlap(d, t) for t in truth))
    return len(truth), detected, false_alarms


def grid(base: SegmentConfig) -> list[SegmentConfig]:
    """The model's own settings first (the baseline), then the grid around them."""
    keys = list(GRID)
    out = [base]
    for combo in itertools.product(*(GRID[k] for k in keys)):
        kw = dict(zip(keys, combo))
        ratio = kw.pop("exit_ratio")
        kw["exit"] = round(kw["enter"] * ratio, 3)
        if kw["median"] == 1 and kw["smoothing"] == "mean":
            continue
        if base.max_duration and kw["min_duration"] > base.max_duration:
            continue
        cfg = base.replace(**kw)
        if cfg != base:
            out.append(cfg)
    return out


def config_counts(state, cfg: SegmentConfig) -> tuple[int, int, int]:
    """(truth events, detected, false alarms) of one config over every stream; state is
    (model, streams, classes)."""
    model, streams, classes = state
    p = model.segment_params(cfg)
    n_truth = n_det = n_fa = 0
    for s in streams:
        # an event the rejection rule refuses is "unknown": no detection, no false alarm
        ev = run.timed_events(model, segment_windows(s.results, p), p)
        t, d, f = count(s.truth, [(e.start, e.end, e.label) for e in ev], classes)
        n_truth, n_det, n_fa = n_truth + t, n_det + d, n_fa + f
    return n_truth, n_det, n_fa


def det_points(model, streams: list[Stream], configs, classes, progress=None,
               jobs: int = 1) -> list[dict]:
    """One point per config: its false alarms per hour and miss rate over all streams, the
    configs split over `jobs` worker processes (gridmap: the same points in the same order).
    `progress(k, n)` is called after every PROGRESS_EVERY configs and after the last."""
    hours = sum(s.seconds for s in streams) / 3600.0
    configs = list(configs)
    shown = [0]

    def done(results):
        k = len(results)
        if progress is not None and k < len(configs) and k // PROGRESS_EVERY > shown[0]:
            shown[0] = k // PROGRESS_EVERY
            progress(shown[0] * PROGRESS_EVERY, len(configs))

    counts = gridmap.map_points(config_counts, (model, streams, classes), configs, jobs, done)
    points = []
    for cfg, (n_truth, n_det, n_fa) in zip(configs, counts):
        recall = n_det / n_truth if n_truth else 0.0
        points.append({"fa_per_hour": n_fa / hours if hours else 0.0, "miss_rate": 1.0 - recall,
                       "recall": recall, "false_alarms": n_fa, "detected": n_det,
                       "truth_events": n_truth, **{k: getattr(cfg, k) for k in TUNED_KEYS},
                       "config": cfg})
    if progress is not None:
        progress(len(configs), len(configs))
    return points


def choose(points: list[dict], target_fa_per_hour: float) -> dict | None:
    """The best recall within the budget (then fewer false alarms; then grid order)."""
    ok = [pt for pt in points if pt["fa_per_hour"] <= target_fa_per_hour + 1e-9]
    if not ok:
        return None
    return max(ok, key=lambda pt: (pt["recall"], -pt["fa_per_hour"]))


def det_curve(points: list[dict]) -> list[dict]:
    """The frontier: sorted by false alarms per hour, each point lowering the miss rate."""
    out = []
    for pt in sorted(points, key=lambda pt: (pt["fa_per_hour"], pt["miss_rate"])):
        if not out or pt["miss_rate"] < out[-1]["miss_rate"]:
            out.append(pt)
    return out


def table(points: list[dict], sep: str = "\t") -> str:
    """The DET points as TSV (or an aligned table with sep=' ')."""
    def cell(pt, k):
        v = pt[k]
        return f"{v:.4f}" if isinstance(v, float) else str(v)

    rows = [sep.join(COLUMNS)] + [sep.join(cell(pt, k) for k in COLUMNS) for pt in points]
    return "\n".join(rows) + "\n"


def det_png(path: Path, curve: list[dict], chosen: dict | None, target: float, title: str) -> None:
    """The DET curve as a PNG at `path` (through a temp file and a rename)."""
    import matplotlib    # lazy: heavy, only for the picture

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
    ax.step([pt["fa_per_hour"] for pt in curve], [100 * pt["miss_rate"] for pt in curve],
            where="post", marker="o", ms=3)
    ax.axvline(target, color="grey", ls="--", lw=1, label=f"target {target:g}/h")
    if chosen is not None:
        ax.plot([chosen["fa_per_hour"]], [100 * chosen["miss_rate"]], "r*", ms=12, label="chosen")
    ax.set_xlabel("false alarms per hour")
    ax.set_ylabel("miss rate (%)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    try:
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)


def save_config(model, cfg: SegmentConfig, force: bool):
    """Write the chosen config into the model folder; settings of its own already there
    (config.refuse_replacing_own, TUNED_KEYS) are replaced only with `force`."""
    refuse_replacing_own(model, TUNED_KEYS, force)
    return model.replace(segment=cfg).save()
