"""The segmentation metrics of `micromel evaluate-segments`, for one class, pooled over streams.

- Segment-based: the stream is cut into segments of `resolution` seconds (the last one may
  be shorter); a segment is ACTIVE when events (their union) cover at least half of it. The
  rule is the same for the reference and the system. Over all segments of all streams:
  TP = active in both, FP = active only in the system, FN = only in the reference;
  precision, recall, F1. (sed_eval's segment-based metric calls a segment active when any
  part of it is covered; tests/segment/test_metrics.py shows the difference on a hand-made
  case.)
- Event-based: a system event matches a reference event when their onsets are at most
  `collar` seconds apart, each event matched at most once, as many matches as possible
  (sorted by onset and matched greedily, which is optimal for a distance threshold on a line
  and gives sed_eval's onset-only event F1, tested); precision, recall, F1 over all streams.
- Boundary errors: on matched events, |system onset - reference onset| and the same for
  offsets; their medians (and the signed medians, which tell early from late).

- By source (`SourceScores`): the reference's active segments of each source of the class
  (recall per speaker set), and the other segments by what is there (a non-class event's
  source, or the stream's bed when no event covers half of the segment) with the share the
  system marks active (false alarms per sound). The missed segments of each source are also
  told apart by where they lie in their reference event: inside (between two segments the
  system found: a pause it opened), before the first found one (a late onset), after the last
  (an early offset), or in an event it found nothing of.

Events are (onset, offset) pairs in seconds."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


def union(events) -> list[tuple[float, float]]:
    out: list[list[float]] = []
    for a, b in sorted((float(a), float(b)) for a, b in events if b > a):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def segment_count(duration: float, resolution: float) -> int:
    return max(1, int(math.ceil(duration / resolution - 1e-9)))


def segment_edges(n: int, duration: float, resolution: float) -> np.ndarray:
    """The n + 1 edges of the n segments, in seconds (the last segment may be shorter)."""
    return np.minimum(np.arange(n + 1) * resolution, duration)


def segment_lengths(n: int, duration: float, resolution: float) -> np.ndarray:
    return np.diff(segment_edges(n, duration, resolution))


def coverage(events, n: int, resolution: float, duration: float) -> np.ndarray:
    """Seconds of each of the n segments covered by each event: (len(events), n)."""
    edges = segment_edges(n, duration, resolution)
    out = np.zeros((len(events), n))
    for i, (a, b) in enumerate(events):
        out[i] = np.clip(np.minimum(b, edges[1:]) - np.maximum(a, edges[:-1]), 0.0, None)
    return out


def segment_activity(events, duration: float, resolution: float = 0.1) -> np.ndarray:
    """Per segment of `resolution` seconds: covered at least half by the events' union."""
    n = segment_count(duration, resolution)
    cover = coverage(union(events), n, resolution, duration).sum(axis=0)
    return cover >= 0.5 * segment_lengths(n, duration, resolution) - 1e-9


def match_onsets(ref, est, collar: float) -> list[tuple[int, int]]:
    """Pairs (i, j) of reference and system events (each sorted by onset) with onsets at
    most `collar` apart: a maximum matching (greedy in onset order)."""
    ref = sorted(ref)
    est = sorted(est)
    i = j = 0
    pairs = []
    while i < len(ref) and j < len(est):
        d = est[j][0] - ref[i][0]
        if abs(d) <= collar + 1e-9:
            pairs.append((i, j))
            i += 1
            j += 1
        elif d < 0:
            j += 1
        else:
            i += 1
    return pairs


def prf(tp: int, fp: int, fn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f_measure": round(f, 4)}


@dataclass
class Scores:
    """Segment- and event-based counts and boundary errors of one system, added stream by
    stream (module doc)."""
    resolution: float = 0.1
    collar: float = 0.2
    seg: list = field(default_factory=lambda: [0, 0, 0])     # tp, fp, fn
    ev: list = field(default_factory=lambda: [0, 0, 0])
    onset_err: list = field(default_factory=list)            # signed, seconds
    offset_err: list = field(default_factory=list)

    def add(self, ref, est, duration: float) -> None:
        """ref, est: (onset, offset) events of the evaluated class in one stream."""
        r = segment_activity(ref, duration, self.resolution)
        e = segment_activity(est, duration, self.resolution)
        self.seg[0] += int(np.sum(r & e))
        self.seg[1] += int(np.sum(~r & e))
        self.seg[2] += int(np.sum(r & ~e))
        ref, est = sorted(ref), sorted(est)
        pairs = match_onsets(ref, est, self.collar)
        self.ev[0] += len(pairs)
        self.ev[1] += len(est) - len(pairs)
        self.ev[2] += len(ref) - len(pairs)
        for i, j in pairs:
            self.onset_err.append(est[j][0] - ref[i][0])
            self.offset_err.append(est[j][1] - ref[i][1])

    def merged(self, other: "Scores") -> "Scores":
        return Scores(self.resolution, self.collar, [a + b for a, b in zip(self.seg, other.seg)],
                      [a + b for a, b in zip(self.ev, other.ev)], self.onset_err + other.onset_err,
                      self.offset_err + other.offset_err)

    def summary(self) -> dict:
        def med(v):
            return round(float(np.median(v)), 4) if len(v) else None

        return {"segment": prf(*self.seg), "event": prf(*self.ev),
                "onset_error": med(np.abs(self.onset_err)), "offset_error": med(np.abs(self.offset_err)),
                "onset_bias": med(self.onset_err), "offset_bias": med(self.offset_err),
                "matched": len(self.onset_err)}


@dataclass
class SourceScores:
    """Per source, pooled over streams: {source: [reference segments, found by the system]}
    for the evaluated class, {what is there: [segments, marked active]} for the rest, and
    {source: missed segments [inside, late onset, early offset, event not found]}."""
    resolution: float = 0.1
    recall: dict = field(default_factory=dict)
    false_alarm: dict = field(default_factory=dict)
    misses: dict = field(default_factory=dict)

    def add(self, truth, label: str, est, duration: float, bed: str = "") -> None:
        """truth: (onset, offset, label, source) of every event of one stream; est: the
        system's (onset, offset) events of `label`."""
        if duration <= 0:
            return
        r = segment_activity([(a, b) for a, b, lab, _ in truth if lab == label], duration, self.resolution)
        e = segment_activity(est, duration, self.resolution)
        n = len(r)
        cover = coverage([(a, b) for a, b, _, _ in truth], n, self.resolution, duration)
        length = segment_lengths(n, duration, self.resolution)
        top = cover.argmax(axis=0) if len(truth) else np.zeros(n, int)
        mine = np.array([lab == label for _, _, lab, _ in truth], bool)
        # an active segment belongs to the class event covering most of it (an effect may
        # overlap it more), any other segment to whatever covers most of it
        top_mine = np.where(mine[:, None], cover, -1.0).argmax(axis=0) if mine.any() else top
        for k in range(n):
            t = truth[top[k]] if len(truth) else None
            if r[k]:
                c = self.recall.setdefault(truth[top_mine[k]][3] or "(no source)", [0, 0])
            else:
                held = t is not None and t[2] != label and cover[top[k], k] >= 0.5 * length[k] - 1e-9
                c = self.false_alarm.setdefault(
                    f"{t[2]}: {t[3] or '(no source)'}" if held else f"bed: {bed or '(unknown)'}", [0, 0])
            c[0] += 1
            c[1] += int(e[k])
        for i in np.flatnonzero(mine):      # where each class event's misses lie
            seg = np.flatnonzero(r & (top_mine == i))
            missed, hit = seg[~e[seg]], seg[e[seg]]
            c = self.misses.setdefault(truth[i][3] or "(no source)", [0, 0, 0, 0])
            if len(hit):
                c[0] += int(np.sum((missed > hit[0]) & (missed < hit[-1])))
                c[1] += int(np.sum(missed < hit[0]))
                c[2] += int(np.sum(missed > hit[-1]))
            else:
                c[3] += len(missed)

    def summary(self) -> dict:
        def rate(v):
            return {"segments": v[0], "rate": round(v[1] / v[0], 4) if v[0] else None}

        return {"recall": {k: rate(v) for k, v in sorted(self.recall.items())},
                "false_alarm": {k: rate(v) for k, v in sorted(self.false_alarm.items())},
                "misses": {k: dict(zip(MISS_KINDS, v)) for k, v in sorted(self.misses.items())}}


MISS_KINDS = ("inside", "late_onset", "early_offset", "not_found")
