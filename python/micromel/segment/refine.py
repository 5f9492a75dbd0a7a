"""Event boundaries that follow the sound: the Python twin of firmware/lib/mm_segment's
mm_seg_refine.c. Integers only.

Boundaries are FRAMES of the front end. Frame k covers samples [k*H, k*H + L) (H the hop,
L the frame length) and stands for the hop-long slice at its centre, samples
[k*H + (L-H)/2, (k+1)*H + (L-H)/2) (`Timebase`). Window j covers frames [j*S, j*S + F) and
stands for its S centre frames, from frame c(j) = j*S + (F-S)//2: an event of windows
[a, b) spans frames [c(a), c(b)) unrefined.

The segmenter keeps the integer log energy of the last `ring` frames:
    E[k] = sum of squares of frame k's L samples (exact, int64)
    q(E) = 8*floor(log2 E) + the 3 bits below E's leading one  (0 for E = 0)
(1/8 of an octave of power, about 0.38 dB per step). With refinement on, in a range of
frames whose q spans at least min_q (lo = min, hi = max; else the edge stays where it is):
- ONSET of an event opening at window a: the frames [c(a) - S, c(a) + ONSET_AHEAD * S) (the
  slice before its centre slice, that slice and the ones after it: a window turns to speech
  while the word is still in its later part, so the word often starts after c(a) + S); the
  onset is the first of them with q >= lo + (hi - lo) * ONSET_EIGHTHS / 8.
- OFFSET, each time window j extends an event: the frames [c(j+1) - OFFSET_BACK * S,
  c(j+1)) from the event's onset on (its last OFFSET_BACK slices: the decisions run late at
  a word's end, where the window still holds most of the word); the offset is one past the
  last of them with q >= lo + (hi - lo) * OFFSET_EIGHTHS / 8, never at or before the onset.
The constants were chosen by segment F1 on validation streams and on streams of the training
sources (docs/segmentation.md, scripts/refine_sweep.py). Frames not yet pushed when a
decision is made are not searched (twin and C alike); with the committed models' framing
(F = 32, S = 6: c(a) + 3S is frame 31 of window a) every frame searched is in. The ring holds the oldest frames searched (its
size, a power of two, covers median//2 windows of look-ahead and the offset's look-back)."""
from __future__ import annotations


def log_q(e: int) -> int:
    """8 * floor(log2 e) + the 3 bits below the leading one (0 for e <= 0)."""
    e = int(e)
    if e <= 0:
        return 0
    b = e.bit_length() - 1
    frac = (e >> (b - 3)) & 7 if b >= 3 else (e << (3 - b)) & 7
    return 8 * b + frac


ONSET_EIGHTHS = 4      # onset threshold: the midpoint of the range (log domain)
ONSET_AHEAD = 3        # slices an onset search looks past the centre slice's start
OFFSET_EIGHTHS = 2     # offset threshold: 2/8 up the range (a word's tail decays)
OFFSET_BACK = 4        # slices an offset search looks back


def threshold(lo: int, hi: int, eighths: int) -> int:
    return lo + (((hi - lo) * eighths) >> 3)


def ring_size(hop_frames: int, window_frames: int, median: int) -> int:
    """Frames the ring must hold: from the newest frame at a decision back to the first frame
    a search looks at, rounded up to a power of two."""
    off = (window_frames - hop_frames) // 2
    need = (median // 2 + max(1, OFFSET_BACK - 1)) * hop_frames + window_frames - off
    r = 1
    while r < need:
        r *= 2
    return r


class FrameRing:
    """q of the last `size` frames, frame k at slot k % size."""

    def __init__(self, size: int):
        self.size = size
        self.q = [0] * size
        self.frames = 0

    def push(self, energy: int) -> None:
        self.q[self.frames % self.size] = log_q(energy)
        self.frames += 1

    def _range(self, lo: int, hi: int) -> list[tuple[int, int]]:
        lo = max(lo, 0, self.frames - self.size)
        hi = min(hi, self.frames)
        return [(k, self.q[k % self.size]) for k in range(lo, hi)]

    def onset(self, c: int, span: int, min_q: int) -> int:
        got = self._range(c - span, c + ONSET_AHEAD * span)
        lo_hi = _span(got, min_q)
        if lo_hi is None:
            return c
        thr = threshold(*lo_hi, ONSET_EIGHTHS)
        return next(k for k, q in got if q >= thr)

    def offset(self, e: int, span: int, min_q: int, onset: int) -> int:
        got = self._range(max(e - OFFSET_BACK * span, onset), e)
        lo_hi = _span(got, min_q)
        if lo_hi is None:
            return max(e, onset + 1)
        thr = threshold(*lo_hi, OFFSET_EIGHTHS)
        return max(max(k for k, q in got if q >= thr) + 1, onset + 1)


def _span(got, min_q: int):
    """(lo, hi) of the frames' q, or None if there are none or they span less than min_q."""
    if not got:
        return None
    lo, hi = min(q for _, q in got), max(q for _, q in got)
    return None if hi - lo < min_q else (lo, hi)
