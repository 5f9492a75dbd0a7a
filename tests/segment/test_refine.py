"""Boundary refinement by frame energies (segment/refine.py) on hand-made cases; C == twin is
in test_segment_c.py (hypothesis sequences) and test_stream_segment.py (real audio)."""
import numpy as np

from micromel.segment.config import SegParams, SegmentConfig, derive
from micromel.segment.machine import segment_windows
from micromel.segment.refine import FrameRing, log_q, ring_size
from micromel.segment.timebase import Timebase


def test_log_q_is_eighths_of_an_octave():
    assert [log_q(e) for e in (0, 1, 2, 3, 8, 9, 15, 16)] == [0, 0, 8, 12, 24, 25, 31, 32]
    assert log_q(2 ** 40) == 320 and log_q(2 ** 40 + 2 ** 39) == 324
    # monotonic, and 6 dB of power is 16 steps
    e = np.unique(np.round(np.logspace(0, 13, 400)).astype(np.int64))
    q = [log_q(int(v)) for v in e]
    assert all(a <= b for a, b in zip(q, q[1:]))
    assert log_q(4 * 10 ** 9) - log_q(10 ** 9) == 16


def ring_of(energies, size=64):
    r = FrameRing(size)
    for e in energies:
        r.push(e)
    return r


def test_onset_at_the_midpoint_offset_at_a_quarter_of_the_local_range():
    # frames 0-9 quiet (q 80), 10-19 loud (q 160), then quiet: onset threshold 120, offset 100
    quiet, loud = 2 ** 10, 2 ** 20
    r = ring_of([quiet] * 10 + [loud] * 10 + [quiet] * 10)
    assert r.onset(12, 6, 16) == 10          # search [6, 30): first frame >= 120
    assert r.onset(8, 6, 16) == 10           # search [2, 26)
    # the offset looks back 4 slices from the edge, not before the onset: [10, 24)
    assert r.offset(24, 6, 16, onset=10) == 20
    assert r.offset(24, 6, 16, onset=21) == 24        # all quiet after the onset: unmoved
    # a range narrower than min_q leaves the slice edge where it is
    assert r.onset(12, 6, 81) == 12 and r.offset(24, 6, 81, onset=10) == 24
    flat = ring_of([loud] * 30)
    assert flat.onset(12, 6, 1) == 12 and flat.offset(20, 6, 1, onset=20) == 21   # after the onset


def test_onset_search_looks_past_the_centre_slice():
    # a window turns to speech while the word is in its later part: the word (frame 25 on)
    # starts after the centre slice [12, 18) and the slice after it; the search reaches
    # ONSET_AHEAD = 3 slices past the centre slice's start, [6, 30)
    r = ring_of([2 ** 10] * 25 + [2 ** 20] * 10)
    assert r.onset(12, 6, 16) == 25
    assert r.onset(6, 6, 16) == 6            # [0, 24): all quiet, the edge stays


def test_search_stays_inside_the_frames_pushed_and_the_ring():
    r = ring_of([2 ** 20] * 3 + [2 ** 10] * 97, size=16)
    # frames 84..99 are in the ring; an onset search before them keeps the edge
    assert r.onset(10, 6, 16) == 10
    r = ring_of([2 ** 10] * 4 + [2 ** 20] * 2)       # 6 frames pushed: search clipped to [0, 6)
    assert r.onset(3, 6, 16) == 4


def test_ring_size_covers_the_look_back():
    # decision of window j when j + median//2 is pushed: newest frame (j+h)S + F - 1, oldest
    # needed jS + (F-S)//2 - S
    # and an offset search looks OFFSET_BACK slices back from the edge of the window decided
    assert ring_size(6, 32, 7) == 64         # (3 + 3) * 6 + 32 - 13 = 55
    assert ring_size(6, 64, 15) == 128       # (7 + 3) * 6 + 64 - 29 = 95


def test_refined_events_follow_the_energies():
    cfg = SegmentConfig(hop_frames=6, median=1, enter=0.5, exit=0.5, min_duration=0.0,
                        max_gap=0.0, refine=True, refine_min_db=6.0)
    p = derive(cfg, ["speech"], sample_rate=16000, frame_hop=256, window_frames=32,
               window_samples=31 * 256 + 512, gate_threshold=0)
    assert p.frame_offset == 13 and p.refine == 1 and p.refine_min_q == 16
    # a word over frames 100..127 (quiet bed elsewhere); windows 14..19 decided speech: their
    # slices span frames 14*6+13 = 97 .. 20*6+13 = 133 (the decisions run late at the end)
    energy = [2 ** 12] * 400
    energy[100:128] = [2 ** 24] * 28
    results, given = [], 0
    for w in range(60):
        upto = w * 6 + 32
        sc = [127] if 14 <= w < 20 else [-128]
        results.append((sc, False, energy[given:upto]))
        given = upto
    (ev,) = segment_windows(results, p)
    assert (ev.start, ev.end) == (14, 20)
    assert (ev.onset, ev.offset) == (100, 128)   # searches [91, 115) and [109, 133)
    plain = segment_windows(results, SegParams(**{**p.__dict__, "refine": 0}))[0]
    assert (plain.onset, plain.offset) == (97, 133)
    tb = Timebase.of(p)
    assert tb.seconds(97) == (97 * 256 + 128) / 16000      # frame centre slice start
