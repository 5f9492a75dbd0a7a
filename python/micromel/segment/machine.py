"""The segmentation state machine: per-window model scores -> labelled events, the Python twin
of firmware/lib/mm_segment (same windows in, same events out).

Everything here is integers. Times are window indices; seconds appear only at output
(`Timebase`). The configuration lives in the model's config.json under "segment"
(`config.SegmentConfig`, in seconds and probabilities, what a user edits); `config.derive()`
turns it into the integers both twins use (`config.SegParams`), and `header.c_header()` writes
those integers into the generated header mm_segment_config.h. C never converts a second or a probability.

The algorithm, per window j = 0, 1, ... (in stream order):

1. Gate. A window the energy gate calls silent has every class score set to -128
   (probability 0): its model output is not used (the device does not even compute it).
   The gate (`EnergyGate`) compares the window's exact sum of squares with an integer
   threshold: the fixed one of the model (windows.gate_threshold), or one calibrated from
   the first `calib_windows` windows of the stream (those windows count as silent):
       mean = (sum of their energies) // calib_windows
       thr  = (mean >> 8) * margin_q8 + (((mean & 255) * margin_q8) >> 8)
   with margin_q8 = round(256 * 10^(margin_db / 10)), and never below the fixed threshold.
2. Smoothing. For each class c, s[j][c] = the median of the (gated) scores of windows
   j-h .. j+h, h = (median - 1) / 2 (median is odd; 1 = no smoothing), or with `mean`
   their rounded mean, computed on the non-negative codes:
       s = (sum of (score + 128) + median // 2) // median - 128
   Windows before the stream start and after its end count as -128. So the decision for
   window j is known when window j+h has been pushed (or at finish).
3. Decision (hysteresis). best = the event class (a class not in background_labels) with
   the largest s[j][c], the lowest index winning ties. With cur the previous decision
   (-1 = none; -1 before the first window):
       if cur >= 0 and s[j][cur] < exit_q: cur = -1
       if best >= 0 and s[j][best] >= enter_q and (cur < 0 or s[j][best] > s[j][cur]):
           cur = best
   d[j] = cur. enter_q >= exit_q (int8 codes: q + 128 is the probability in 1/256).
4. Events. An open event has a label L, a start a and an end b (exclusive: one past its
   last window decided L), and sums the smoothed scores s[.][L] + 128 of its windows
   decided L (count n). For each window j with decision d:
   - open event, d == L: if j + 1 - a > max_windows (and max_windows > 0), the event is
     closed as [a, b) and a new one opens at j (split); else b = j + 1, sum and n grow.
   - open event, d is another label: the event closes; a new one opens at j.
   - open event, d == -1: if j + 1 - b > max_gap the event closes (so gaps of up to
     max_gap windows inside an event are merged into it).
   - no open event, d >= 0: an event opens at j, unless it is suppressed: suppress > 0,
     an event was emitted before and j - e < suppress, e the end of the last emitted
     event (a suppressed window is left outside every event; the next window with d >= 0
     asks again). Only events opening after a stretch of no event are suppressed: a split
     piece or a class taking over opens at once. An event is emitted max_gap + 1 windows
     after its end at the earliest, so a suppress of at most max_gap + 1 changes nothing.
   At finish (after the last window's decision), an open event closes.
   A closing event is EMITTED iff b - a >= min_windows, with confidence
       (sum + n // 2) // n          (0..255; the probability is confidence / 256)
   So merging happens before the minimum duration is applied (as in auditok: a short
   blip merged into a neighbour survives, a lone short blip does not), and a split piece
   shorter than min_windows (a tail) is dropped.
5. Boundaries. An event also carries its onset and offset in front-end FRAMES: set when it
   opens at window a (onset of c(a), offset of c(a+1)) and each time a window j extends it
   (offset of c(j+1)), c(j) = j*S + (F-S)//2: the centre slices' edges, or, with refine,
   the frame energies' (refine.py; the energies of the frames each window completes come
   with that window's scores).

Energy-only activity detection (`activity_events`, `--activity-only`) runs the same state
machine with one class and no model: blocks of `activity_block` seconds of PCM, each with
score 127 if its sum of squares reaches the threshold (fixed in dBFS or calibrated from the
first seconds, same integer rule as the gate) and -128 otherwise.
"""
from __future__ import annotations

from typing import Iterable, NamedTuple

import numpy as np

from .config import SegParams, calibrated_threshold
from .refine import FrameRing

NO_LABEL = -1


class Event(NamedTuple):
    label: int          # class index
    start: int          # first window
    end: int            # one past the last window
    confidence: int     # 0..255: mean probability of the label in 1/256
    onset: int = 0      # first frame (step 5)
    offset: int = 0     # one past the last frame


class EnergyGate:
    """Silent-window decision from the window's exact sum of squares (module doc, step 1)."""

    def __init__(self, p: SegParams):
        self.p = p
        self.threshold = p.gate_threshold
        self.seen = 0
        self.acc = 0

    def silent(self, energy: int) -> bool:
        p = self.p
        if self.seen < p.calib_windows:
            self.seen += 1
            self.acc += int(energy)
            if self.seen == p.calib_windows:
                self.threshold = calibrated_threshold(self.acc // p.calib_windows,
                                                      p.margin_q8, p.gate_threshold)
            return True
        return int(energy) < self.threshold


class Segmenter:
    """Push one window at a time; closed events come out (module doc, steps 2-4)."""

    def __init__(self, p: SegParams):
        p.validate()
        self.p = p
        self.h = (p.median - 1) // 2
        self.ring = [[-128] * p.n_classes for _ in range(p.median)]
        self.pos = 0
        self.fed = 0            # windows pushed (real ones)
        self.cur = NO_LABEL
        self.label = NO_LABEL   # open event
        self.start = self.end = 0
        self.sum = self.count = 0
        self.onset = self.offset = 0
        self.last_end = 0       # end of the last emitted event, 0 before one (an end is >= 1)
        self.energy = FrameRing(p.frame_ring) if p.refine else None
        self.decisions: list[int] | None = None   # set to [] to record d[j]

    # -- step 2 -------------------------------------------------------------------
    def _store(self, scores) -> None:
        self.ring[self.pos] = list(scores)
        self.pos = (self.pos + 1) % self.p.median

    def _smoothed(self) -> list[int]:
        m = self.p.median
        if self.p.mean:
            return [(sum(self.ring[k][c] + 128 for k in range(m)) + m // 2) // m - 128
                    for c in range(self.p.n_classes)]
        return [sorted(self.ring[k][c] for k in range(m))[m // 2] for c in range(self.p.n_classes)]

    def push(self, scores, silent: bool, energies=()) -> list[Event]:
        """One window: its int8 scores (ignored when silent) and the exact energies of the
        front-end frames it completed (used with refine)."""
        if self.energy is not None:
            for e in energies:
                self.energy.push(e)
        if silent or scores is None:
            scores = [-128] * self.p.n_classes
        else:
            scores = [int(x) for x in scores]
            if len(scores) != self.p.n_classes:
                raise ValueError(f"expected {self.p.n_classes} scores, got {len(scores)}")
        self._store(scores)
        self.fed += 1
        j = self.fed - 1 - self.h
        if j < 0:
            return []
        return self._decide(j, self._smoothed())

    def finish(self) -> list[Event]:
        out: list[Event] = []
        n = self.fed
        for k in range(self.h):
            self._store([-128] * self.p.n_classes)
            j = n + k - self.h
            if j >= 0:
                out += self._decide(j, self._smoothed())
        if self.label != NO_LABEL:
            out += self._close()
        return out

    # -- step 3 -------------------------------------------------------------------
    def _decide(self, j: int, s: list[int]) -> list[Event]:
        p = self.p
        best = NO_LABEL
        for c in range(p.n_classes):
            if p.event_mask >> c & 1 and (best < 0 or s[c] > s[best]):
                best = c
        cur = self.cur
        if cur >= 0 and s[cur] < p.exit_q:
            cur = NO_LABEL
        if best >= 0 and s[best] >= p.enter_q and (cur < 0 or s[best] > s[cur]):
            cur = best
        self.cur = cur
        if self.decisions is not None:
            self.decisions.append(cur)
        return self._events(j, cur, s[cur] + 128 if cur >= 0 else 0)

    # -- step 5 -------------------------------------------------------------------
    def _edge(self, j: int, onset: bool) -> int:
        p = self.p
        c = j * p.hop_frames + p.frame_offset
        if self.energy is None:
            return c
        if onset:
            return self.energy.onset(c, p.hop_frames, p.refine_min_q)
        return self.energy.offset(c, p.hop_frames, p.refine_min_q, self.onset)

    # -- step 4 -------------------------------------------------------------------
    def _open(self, label: int, j: int, prob: int) -> None:
        self.label, self.start, self.end, self.sum, self.count = label, j, j + 1, prob, 1
        self.onset = self._edge(j, True)
        self.offset = self._edge(j + 1, False)

    def _close(self) -> list[Event]:
        label, a, b, s, n = self.label, self.start, self.end, self.sum, self.count
        self.label = NO_LABEL
        if b - a >= self.p.min_windows:
            self.last_end = b
            return [Event(label, a, b, (s + n // 2) // n, self.onset, self.offset)]
        return []

    def _events(self, j: int, d: int, prob: int) -> list[Event]:
        p = self.p
        if self.label == NO_LABEL:
            suppressed = self.last_end and j - self.last_end < p.suppress
            if d >= 0 and not suppressed:
                self._open(d, j, prob)
            return []
        if d == self.label:
            if p.max_windows and j + 1 - self.start > p.max_windows:
                out = self._close()
                self._open(d, j, prob)
                return out
            self.end = j + 1
            self.offset = self._edge(j + 1, False)
            self.sum += prob
            self.count += 1
            return []
        if d >= 0:
            out = self._close()
            self._open(d, j, prob)
            return out
        if j + 1 - self.end > p.max_gap:
            return self._close()
        return []


def segment_windows(window_results: Iterable, p: SegParams) -> list[Event]:
    """The whole algorithm over a sequence of (int8 scores or None, silent[, frame
    energies]) per window. This is the boundary the device path plugs into: a device in
    STREAM mode returns the same per-window results (or the events themselves, which must
    equal these)."""
    seg = Segmenter(p)
    out: list[Event] = []
    for r in window_results:
        out += seg.push(r[0], r[1], r[2] if len(r) > 2 else ())
    return out + seg.finish()


# --------------------------------------------------------------------------------------
# energy-only activity detection (no model)
# --------------------------------------------------------------------------------------
def block_energies(chunks: Iterable, block: int):
    """Exact sums of squares of consecutive blocks of `block` samples of an int16 stream
    given in chunks (a trailing partial block is dropped). Constant memory."""
    rest = np.zeros(0, dtype=np.int64)
    for chunk in chunks:
        x = np.concatenate([rest, np.asarray(chunk, dtype=np.int64)])
        n = len(x) // block
        if n:
            e = (x[: n * block].reshape(n, block) ** 2).sum(axis=1)
            yield from (int(v) for v in e)
        rest = x[n * block:]


def activity_events(chunks: Iterable, p: SegParams) -> list[Event]:
    """Energy-only detection over an int16 stream in chunks: each block is active iff the
    gate lets it through; the state machine does min duration, merge, split and
    suppression."""
    gate = EnergyGate(p)
    seg = Segmenter(p)
    out: list[Event] = []
    for e in block_energies(chunks, p.hop_samples):
        silent = gate.silent(e)
        out += seg.push(None if silent else [127], silent)
    return out + seg.finish()
