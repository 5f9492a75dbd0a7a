"""`micromel evaluate-segments`: segment-based and event-based precision, recall and F1 of
one class (sed_eval) for micromel's segmentation and for auditok's energy-only detection on
the same streams.

- Streams: every `*.wav` in the folder with a `<stem>.events.tsv` ground truth beside it
  (`micromel dataset streams`). Only events of the evaluated class are the reference.
- micromel: `micromel segment` on the host (front-end twin, TFLite Micro reference, the
  integer state machine) with the model's segment config and the command line's overrides.
- auditok (PyPI, energy-only): `auditok.split` with the same minimum duration, maximum
  silence and maximum duration, analysis window 50 ms, trailing silence dropped, over a grid
  of energy thresholds and two maximum silences (micromel's max_gap and auditok's default
  0.3 s); the best pair (by segment-based F1) is reported, as its best case. Every region it finds counts as the evaluated class (it cannot tell classes apart).
- Metrics (sed_eval.sound_event): segment-based with `--resolution` seconds (default 0.1),
  event-based with an onset collar of `--collar` seconds and an offset collar of
  max(collar, 20 % of the event's length), accumulated over all streams (micro-averaged)."""
from __future__ import annotations

import itertools
import time
from pathlib import Path

from ..data.streams import read_truth, truth_path
from ..errors import MicromelError
from . import run
from .config import SegmentConfig
from .machine import segment_windows
from .timebase import Timebase, timed


def _container(events, filename):
    import dcase_util    # lazy: heavy (sed_eval's container library)

    return dcase_util.containers.MetaDataContainer([
        {"event_label": lab, "onset": float(a), "offset": float(b), "filename": filename}
        for a, b, lab in events])


class Scores:
    """sed_eval segment- and event-based metrics of one system, accumulated over files."""

    def __init__(self, label: str, resolution: float, collar: float):
        import sed_eval    # lazy: heavy

        self.label = label
        self.seg = sed_eval.sound_event.SegmentBasedMetrics(event_label_list=[label],
                                                            time_resolution=resolution)
        self.ev = sed_eval.sound_event.EventBasedMetrics(event_label_list=[label], t_collar=collar,
                                                         percentage_of_length=0.2)

    def add(self, truth, est, filename: str) -> None:
        ref = _container([t for t in truth if t[2] == self.label], filename)
        hyp = _container([e for e in est if e[2] == self.label], filename)
        self.seg.evaluate(reference_event_list=ref, estimated_event_list=hyp)
        self.ev.evaluate(reference_event_list=ref, estimated_event_list=hyp)

    def summary(self) -> dict:
        s = self.seg.results_overall_metrics()["f_measure"]
        e = self.ev.results_overall_metrics()["f_measure"]
        return {"segment": {k: round(float(s[k]), 4) for k in ("precision", "recall", "f_measure")},
                "event": {k: round(float(e[k]), 4) for k in ("precision", "recall", "f_measure")}}


def streams_in(folder: Path, limit: int | None = None) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise MicromelError(f"STREAMS {folder}: no such folder (make one with "
                            "'micromel dataset streams')")
    wavs = [p for p in sorted(folder.glob("*.wav")) if truth_path(p).exists()]
    if not wavs:
        raise MicromelError(f"STREAMS {folder}: no *.wav with a <stem>.events.tsv beside it")
    return wavs[:limit] if limit else wavs


def auditok_events(wav: Path, threshold: float, cfg, label: str,
                   max_silence: float | None = None) -> list:
    import auditok    # lazy: only for the peer comparison

    regions = auditok.split(str(wav), min_dur=max(cfg.min_duration, 0.05),
                            max_dur=cfg.max_duration or 3600.0,
                            max_silence=cfg.max_gap if max_silence is None else max_silence,
                            drop_trailing_silence=True, energy_threshold=threshold,
                            analysis_window=0.05)
    return [(float(r.start), float(r.end), label) for r in regions]


AUDITOK_DEFAULT_MAX_SILENCE = 0.3

TUNE_GRID = {
    "median": (1, 3, 5, 7, 9, 11),
    "enter": (0.5, 0.6, 0.7, 0.8),
    "exit": (0.2, 0.3, 0.4, 0.5),
    "min_duration": (0.1, 0.3),
    "max_gap": (0.1, 0.3),
}


def tune(model, base: SegmentConfig, streams: Path, label: str, resolution: float = 0.1,
         collar: float = 0.2, limit: int | None = None, progress=None
         ) -> tuple[float, SegmentConfig, int]:
    """Grid search of the segment config on these streams (use VALIDATION streams, never the
    test streams): the model runs once per stream, the state machine once per grid point.
    Returns (best segment F1, its config, streams); `progress(f1, changes)` sees every
    improvement."""
    p0 = model.segment_params(base)
    scorer = run.Scorer(model)
    cached = []
    for wav in streams_in(Path(streams), limit):
        audio = run.open_audio(wav, p0.sample_rate)
        results = list(run.host_window_results(audio.chunks(), model, p0, scorer))
        cached.append((wav.name, read_truth(truth_path(wav)), results))
    labels = list(model.labels)
    best = None
    keys = list(TUNE_GRID)
    for combo in itertools.product(*(TUNE_GRID[k] for k in keys)):
        kw = dict(zip(keys, combo))
        if kw["exit"] > kw["enter"]:
            continue
        cfg = base.replace(**kw)
        p = model.segment_params(cfg)
        sc = Scores(label, resolution, collar)
        for name, truth, results in cached:
            ev = timed(segment_windows(results, p), labels, Timebase.of(p))
            sc.add(truth, [(e.start, e.end, e.label) for e in ev], name)
        f = sc.summary()["segment"]["f_measure"]
        if best is None or f > best[0]:
            best = (f, cfg)
            if progress is not None:
                progress(f, kw)
    return best[0], best[1], len(cached)


def evaluate(model, cfg: SegmentConfig, streams: Path, label: str, resolution: float = 0.1,
             collar: float = 0.2, thresholds=(35, 40, 45, 50, 55, 60), limit: int | None = None,
             progress=None) -> dict:
    """micromel (host twin with `cfg`) and auditok's threshold grid on the same streams:
    sed_eval segment- and event-based metrics of class `label`."""
    p = model.segment_params(cfg)
    wavs = streams_in(Path(streams), limit)
    silences = sorted({round(cfg.max_gap, 3), AUDITOK_DEFAULT_MAX_SILENCE})
    grid = [(float(t), ms) for ms in silences for t in thresholds]
    mm = Scores(label, resolution, collar)
    au = {g: Scores(label, resolution, collar) for g in grid}
    scorer = run.Scorer(model)
    total_s, t0 = 0.0, time.time()
    for k, wav in enumerate(wavs):
        truth = read_truth(truth_path(wav))
        res = run.segment_file(wav, model, p, scorer)
        total_s += res.duration
        mm.add(truth, [(e.start, e.end, e.label) for e in res.events], wav.name)
        for t, ms in grid:
            au[(t, ms)].add(truth, auditok_events(wav, t, cfg, label, ms), wav.name)
        if progress is not None:
            progress(k + 1, len(wavs), wav.name, len(res.events), time.time() - t0)
    au_sum = {t: s.summary() for t, s in au.items()}
    best = max(grid, key=lambda t: au_sum[t]["segment"]["f_measure"])
    out = {
        "model": str(model.path), "streams": str(streams), "files": len(wavs),
        "seconds": round(total_s, 1), "class": label, "resolution": resolution,
        "collar": collar, "segment_config": cfg.to_dict(),
        "micromel": mm.summary(),
        "auditok": {"best_threshold": best[0], "best_max_silence": best[1], "best": au_sum[best],
                    "grid": {f"{t:g} dB, max_silence {ms:g} s": au_sum[(t, ms)]
                             for t, ms in grid}},
    }
    out["segment_f1_margin"] = round(out["micromel"]["segment"]["f_measure"]
                                     - au_sum[best]["segment"]["f_measure"], 4)
    return out


def format_report(out: dict, model_name: str) -> str:
    """The table `micromel evaluate-segments` prints."""
    lines = [f"{out['files']} streams, {out['seconds'] / 60:.1f} min, class '{out['class']}', "
             f"segments {out['resolution'] * 1000:.0f} ms, event collar {out['collar'] * 1000:.0f} ms",
             f"{'system':<28} {'seg P':>6} {'seg R':>6} {'seg F1':>6}   {'ev P':>6} {'ev R':>6} {'ev F1':>6}"]

    def row(name, s):
        a, b = s["segment"], s["event"]
        lines.append(f"{name:<28} {a['precision']:6.3f} {a['recall']:6.3f} {a['f_measure']:6.3f}   "
                     f"{b['precision']:6.3f} {b['recall']:6.3f} {b['f_measure']:6.3f}")

    row(f"micromel ({model_name})", out["micromel"])
    au = out["auditok"]
    best = f"{au['best_threshold']:g} dB, max_silence {au['best_max_silence']:g} s"
    for name, s in au["grid"].items():
        t, ms = name.split(" dB, max_silence ")
        row(f"auditok {t} dB, sil {ms}" + (" *" if name == best else ""), s)
    f_mm = out["micromel"]["segment"]["f_measure"]
    f_au = au["best"]["segment"]["f_measure"]
    lines.append(f"segment F1: micromel {f_mm:.3f}, auditok best (*) {f_au:.3f} (threshold "
                 f"{au['best_threshold']:g}, max_silence {au['best_max_silence']:g} s), "
                 f"margin {f_mm - f_au:+.3f}")
    return "\n".join(lines)
