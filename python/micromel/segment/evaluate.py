"""`micromel evaluate-segments`: micromel's segmentation and its peers (segment/peers.py) on
the same streams, scored by segment/metrics.py for one class.

- Streams: every `*.wav` in the folder with a `<stem>.events.tsv` ground truth beside it
  (`micromel dataset streams`); `streams.csv`, if present, names each stream's bed, and the
  results are also given for the music-bed streams and the other (ambience and noise) ones.
- micromel: `micromel segment` on the host (front-end twin, TFLite Micro reference, the
  integer state machine) with the model's segment config and the command line's overrides.
- Peers: auditok over a grid of thresholds and maximum silences, WebRTC VAD at modes 0-3,
  silero-vad with its defaults and over a grid of thresholds. The best grid settings are
  chosen on the streams being scored: the peers' best case.
- `--tune`: grid search of micromel's segment config on (validation) streams."""
from __future__ import annotations

import itertools
import time
from pathlib import Path

from ..audio import load_audio
from ..data.streams import read_index, read_sources, read_truth, truth_path
from ..errors import MicromelError
from . import gridmap, peers, run
from .config import SegmentConfig
from .machine import segment_windows
from .metrics import Scores, SourceScores

PEERS = ("auditok", "webrtc", "silero")
# 65 dB included so that auditok's best on the test streams (60) lies inside the grid, not at
# its edge (65-75 dB scored lower: docs/segmentation.md)
AUDITOK_THRESHOLDS = (35, 40, 45, 50, 55, 60, 65)
AUDITOK_MAX_SILENCE = 0.3
SILERO_THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
OTHER = "ambience+noise"


def streams_in(folder: Path, limit: int | None = None) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise MicromelError(f"STREAMS {folder}: no such folder (make one with "
                            "'micromel dataset streams')")
    wavs = [p for p in sorted(folder.glob("*.wav")) if truth_path(p).exists()]
    if not wavs:
        raise MicromelError(f"STREAMS {folder}: no *.wav with a <stem>.events.tsv beside it")
    return wavs[:limit] if limit else wavs


class Board:
    """Scores of every system, overall and per stream group (music / ambience+noise)."""

    def __init__(self, resolution: float, collar: float):
        self.resolution, self.collar = resolution, collar
        self.scores: dict[str, dict[str, Scores]] = {}

    def add(self, system: str, group: str, ref, est, duration: float) -> None:
        groups = self.scores.setdefault(system, {})
        for g in ("all", group) if group else ("all",):
            groups.setdefault(g, Scores(self.resolution, self.collar)).add(ref, est, duration)

    def summary(self) -> dict:
        return {s: {g: sc.summary() for g, sc in groups.items()} for s, groups in self.scores.items()}


def _ref(truth, label):
    return [(a, b) for a, b, lab in truth if lab == label]


def evaluate(model, cfg: SegmentConfig, streams: Path, label: str, resolution: float = 0.1,
             collar: float = 0.2, which=PEERS, limit: int | None = None, progress=None,
             by_source: bool = False) -> dict:
    """micromel (host twin with `cfg`) and the peers on the same streams (module doc); with
    `by_source`, also recall per source of the class and false alarms per sound
    (metrics.SourceScores) of micromel and each peer's best setting."""
    unknown = set(which) - set(PEERS)
    if unknown:
        raise MicromelError(f"--peers {','.join(sorted(unknown))}: choose from {', '.join(PEERS)}")
    peers.check_installed(which)
    p = model.segment_params(cfg)
    wavs = streams_in(Path(streams), limit)
    index = read_index(Path(streams))
    board = Board(resolution, collar)
    scorer = run.Scorer(model)
    silero = peers.Silero() if "silero" in which else None
    sources: dict[str, SourceScores] = {}
    total_s, t0 = 0.0, time.time()
    truths = {wav: read_sources(truth_path(wav)) for wav in wavs}    # a bad row: before any work
    for k, wav in enumerate(wavs):
        truth = truths[wav]
        ref = _ref([t[:3] for t in truth], label)
        bed = index.get(wav.name, {}).get("bed", "")
        group = "music" if bed == "music" else (OTHER if bed else "")

        def put(system: str, est, dur) -> None:
            board.add(system, group, ref, est, dur)
            if by_source:
                sources.setdefault(system, SourceScores(resolution)).add(
                    truth, label, est, dur, f"{index.get(wav.name, {}).get('bed_source') or '?'} ({bed or '?'})")

        res = run.segment_file(wav, model, p, scorer)
        dur = res.duration
        total_s += dur
        put("micromel", [(e.start, e.end) for e in res.events if e.label == label], dur)
        pcm = load_audio(wav, p.sample_rate) if set(which) & {"webrtc", "silero"} else None
        if "auditok" in which:
            for t, ms in itertools.product(AUDITOK_THRESHOLDS, sorted({AUDITOK_MAX_SILENCE, cfg.max_gap})):
                put(f"auditok {t:g} dB, max silence {ms:g} s", peers.auditok_events(wav, t, ms, cfg.min_duration),
                    dur)
        if "webrtc" in which:
            for mode in range(4):
                put(f"WebRTC VAD mode {mode}", peers.webrtc_events(pcm, mode), dur)
        if silero is not None:
            probs = silero.probabilities(pcm)
            for t in SILERO_THRESHOLDS:
                name = f"silero-vad threshold {t:g}" + (" (default)" if t == 0.5 else "")
                put(name, peers.silero_events(probs, len(pcm), threshold=t), dur)
        if progress is not None:
            progress(k + 1, len(wavs), wav.name, len(res.events), time.time() - t0)
    out = {"model": str(model.path), "streams": str(streams), "files": len(wavs),
           "seconds": round(total_s, 1), "class": label, "resolution": resolution, "collar": collar,
           "segment_config": cfg.to_dict(), "systems": board.summary()}
    out["best"] = best_of_families(out["systems"])
    if by_source:
        out["by_source"] = {name: sources[name].summary() for name in out["best"].values()}
    return out


def family(system: str) -> str:
    return system.split(" ")[0]


def best_of_families(systems: dict) -> dict:
    """{family: the system of that family with the highest overall segment F1}."""
    best: dict[str, str] = {}
    for name, s in systems.items():
        f = family(name)
        if f not in best or s["all"]["segment"]["f_measure"] > systems[best[f]]["all"]["segment"]["f_measure"]:
            best[f] = name
    return best


def format_report(out: dict, model_name: str) -> str:
    """The table `micromel evaluate-segments` prints."""
    sy = out["systems"]
    groups = [g for g in ("music", OTHER) if g in sy["micromel"]]
    lines = [f"{out['files']} streams, {out['seconds'] / 60:.1f} min, class '{out['class']}': segment F1 "
             f"({out['resolution'] * 1000:.0f} ms segments, active when half covered), event F1 (onset "
             f"collar {out['collar'] * 1000:.0f} ms), median |onset| and |offset| errors of matched events",
             f"{'system':<40} {'seg F1':>6} " + " ".join(f"{g[:9]:>9}" for g in groups)
             + f" {'seg P':>6} {'seg R':>6} {'ev F1':>6} {'onset':>6} {'offset':>6}"]
    best = set(out["best"].values())

    def ms(v):
        return f"{1000 * v:5.0f}ms" if v is not None else "     -"

    for name, s in sy.items():
        a = s["all"]
        label = f"micromel ({model_name})" if name == "micromel" else name
        lines.append(f"{label + (' *' if name in best and name != 'micromel' else ''):<40} "
                     f"{a['segment']['f_measure']:6.3f} "
                     + " ".join(f"{s[g]['segment']['f_measure']:9.3f}" for g in groups)
                     + f" {a['segment']['precision']:6.3f} {a['segment']['recall']:6.3f} "
                       f"{a['event']['f_measure']:6.3f} {ms(a['onset_error'])} {ms(a['offset_error'])}")
    f_mm = sy["micromel"]["all"]["segment"]["f_measure"]
    rivals = [n for f, n in out["best"].items() if f != "micromel"]
    if rivals:
        top = max(rivals, key=lambda n: sy[n]["all"]["segment"]["f_measure"])
        f_top = sy[top]["all"]["segment"]["f_measure"]
        lines.append(f"* best setting of each peer on these streams. segment F1: micromel {f_mm:.3f}, "
                     f"best peer {top} {f_top:.3f}, margin {f_mm - f_top:+.3f}")
    return "\n".join(lines)


def format_by_source(out: dict) -> str:
    """Recall per source of the class and false alarms per sound: micromel and each peer's
    best setting side by side."""
    by = out["by_source"]
    names = list(by)
    short = ["micromel"] + [n for n in names if n != "micromel"]
    head = " ".join(f"{family(n)[:9]:>9}" for n in short)
    lines = [f"by source: share of the reference's '{out['class']}' segments found (recall), then of "
             "the other segments marked active (false alarms), by what is there",
             f"{'source':<40} {'segments':>8} {head}"]
    for part, title in (("recall", "recall"), ("false_alarm", "false alarms")):
        keys = sorted({k for n in short for k in by[n][part]})
        lines.append(f"{title}:")
        for key in keys:
            segs = by["micromel"][part].get(key, {}).get("segments", 0)
            vals = " ".join(f"{by[n][part][key]['rate']:9.3f}" if key in by[n][part] else f"{'-':>9}"
                            for n in short)
            lines.append(f"  {key:<38} {segs:>8} {vals}")
    lines.append("micromel's missed segments by where they lie in their event: inside (a pause it "
                 "opened), before the first found (late onset), after the last (early offset), in "
                 "events it found nothing of:")
    for key, m in by["micromel"]["misses"].items():
        total = sum(m.values()) or 1
        lines.append(f"  {key:<38} " + "  ".join(f"{kind} {v} ({v / total:.0%})" for kind, v in m.items()))
    return "\n".join(lines)


TUNE_GRID = {
    "median": (1, 3, 5, 7, 9),
    "enter": (0.4, 0.5, 0.6, 0.7, 0.8),
    "exit": (0.2, 0.3, 0.4, 0.5),
    "min_duration": (0.1, 0.2, 0.3),
    "max_gap": (0.1, 0.2, 0.3, 0.4),
}


def cached_results(model, p, streams: Path, label: str, limit: int | None = None) -> list:
    """(reference events, per-window results, duration) of every stream: the model runs once."""
    scorer = run.Scorer(model)
    wavs = streams_in(Path(streams), limit)
    refs = [_ref(read_truth(truth_path(wav)), label) for wav in wavs]   # a bad row: before any work
    out = []
    for wav, ref in zip(wavs, refs):
        audio = run.open_audio(wav, p.sample_rate)
        results = list(run.host_window_results(audio.chunks(), model, p, scorer))
        out.append((ref, results, audio.n_samples / p.sample_rate))
    return out


def score_config(model, cfg: SegmentConfig, cached: list, label: str, resolution: float,
                 collar: float) -> Scores:
    p = model.segment_params(cfg)
    sc = Scores(resolution, collar)
    for ref, results, dur in cached:
        ev = run.timed_events(model, segment_windows(results, p), p)
        sc.add(ref, [(e.start, e.end) for e in ev if e.label == label], dur)
    return sc


def config_f1(state, cfg: SegmentConfig) -> float:
    """Segment F1 of one config; state is (model, cached, label, resolution, collar)."""
    model, cached, label, resolution, collar = state
    return score_config(model, cfg, cached, label, resolution, collar).summary()["segment"]["f_measure"]


def tune(model, base: SegmentConfig, streams: Path, label: str, resolution: float = 0.1,
         collar: float = 0.2, limit: int | None = None, progress=None, jobs: int = 1
         ) -> tuple[float, SegmentConfig, int]:
    """Grid search of the segment config on these streams (use VALIDATION streams, never the
    test streams): the model runs once per stream, the state machine once per grid point
    (the points split over `jobs` worker processes, gridmap). Returns (best segment F1, its
    config, streams); `progress(f1, changes)` sees every improvement, in grid order."""
    cached = cached_results(model, model.segment_params(base), streams, label, limit)
    keys = list(TUNE_GRID)
    combos = [kw for kw in (dict(zip(keys, c)) for c in itertools.product(*TUNE_GRID.values()))
              if kw["exit"] <= kw["enter"]]
    configs = [base.replace(**kw) for kw in combos]
    best, seen = None, 0

    def done(scores):       # every improvement, in grid order, as the results come in
        nonlocal best, seen
        for k in range(seen, len(scores)):
            if best is None or scores[k] > best[0]:
                best = (scores[k], configs[k])
                if progress is not None:
                    progress(scores[k], combos[k])
        seen = len(scores)

    gridmap.map_points(config_f1, (model, cached, label, resolution, collar), configs, jobs, done)
    # then the boundaries: refined or the centre slices', at the best point
    other = best[1].replace(refine=not best[1].refine)
    f = score_config(model, other, cached, label, resolution, collar).summary()["segment"]["f_measure"]
    if f > best[0]:
        best = (f, other)
        if progress is not None:
            progress(f, {"refine": other.refine})
    return best[0], best[1], len(cached)
