"""Incremental (streaming) inference: rows a window shares with the windows before it.

The segmenter runs the model on windows that slide by `hop` input rows (front-end
frames). A row of a layer's output depends on an interval of input rows; it is
*interior* when that interval lies inside the window and no padding row entered it, and
then its value depends only on those input rows, not on where the window starts. Two
windows that both see the same input rows therefore share such a row: row r of window w
equals row r' of window w - k when lo_r + k hop = lo_r' (lo: the first input row the
row depends on). With strides, only some rows line up, and for some layers only every
other window does (a hop of 6 frames and a cumulative stride of 4 meet every 12 frames).

`plan_stream` picks the streamed layers whose rows are worth keeping (a row cache per
layer, keyed by the row's absolute position and tagged, so a row missing for any reason
is simply recomputed), the rows of each such layer that live in the cache (those a
later window reuses, or that come from an earlier one) and the cache's size. Every
other row is computed as before, and rows only the reused rows needed are not computed
at all. The cached rows are bit for bit what recomputing them gives (the same kernels
on the same integers), and the device checks that the input really slid by one hop
(the overlapping input rows equal the last window's) before it reuses anything.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from math import gcd

import numpy as np

from . import schedule
from .plan import Plan

# rough instructions per MAC by kind, to rank what a cache saves (bench reports the truth)
_COST = {"conv": 1.1, "dwconv": 2.9, "avgpool": 0.5, "maxpool": 0.5, "add": 0.5}


@dataclass
class RowInfo:
    interior: bool
    lo: int          # first input row the row depends on (meaningful when interior)


@dataclass
class Cache:
    """The row cache of one layer's output."""
    layer: int
    tensor: int
    stride: int      # input rows between consecutive output rows (cumulative stride)
    unit: int        # anchors are multiples of unit: gcd(hop, stride)
    slots: int       # rows the cache holds
    stored: list     # output rows of a window that live in the cache
    row_bytes: int


@dataclass
class StreamPlan:
    hop: int
    window: int
    caches: dict = field(default_factory=dict)      # tensor id -> Cache
    computed: dict = field(default_factory=dict)    # layer index -> rows computed per window
    rows: dict = field(default_factory=dict)        # layer index -> rows per window
    saved_macs: int = 0
    macs: int = 0

    @property
    def cache_bytes(self) -> int:
        return sum(c.slots * c.row_bytes for c in self.caches.values())


def _chain(plan: Plan, sched) -> list:
    """The row layers of the first step whose input is the model input, in order, each
    reading one streamed tensor (or the model input): what streaming can reuse."""
    producer = {lay.output: lay for lay in plan.layers}
    out = []
    for lay in plan.layers:
        if not schedule.is_row_layer(lay) or len(set(lay.inputs)) != 1:
            continue
        src = lay.inputs[0]
        if src != plan.input and not (src in producer and producer[src] in out
                                      and sched.places[src].kind == "ring"):
            continue
        out.append(lay)
    return out


def row_infos(plan: Plan, chain: list) -> dict:
    """tensor id -> [RowInfo per row] for the model input and the chain's outputs."""
    h_in = plan.input_shape[0]
    info = {plan.input: [RowInfo(True, i) for i in range(h_in)]}
    for lay in chain:
        src = info[lay.inputs[0]]
        kh, sh, ph = schedule.window(lay)
        rows = []
        for r in range(lay.out_shape[0]):
            idx = [r * sh - ph + k for k in range(kh)]
            inside = [i for i in idx if 0 <= i < len(src)]
            interior = len(inside) == kh and all(src[i].interior for i in inside)
            rows.append(RowInfo(interior, min(src[i].lo for i in inside) if inside else 0))
        info[lay.output] = rows
    return info


def _reads(lay, r: int, n_in: int) -> list:
    kh, sh, ph = schedule.window(lay)
    return [i for i in (r * sh - ph + k for k in range(kh)) if 0 <= i < n_in]


def _steady(plan: Plan, chain: list, info: dict, hop: int, cached: set):
    """(rows computed per layer, rows reused per layer, stored rows per cached layer) of a
    window in the steady state, when the layers in `cached` keep their rows."""
    lo_sets = {lay.output: {ri.lo: r for r, ri in enumerate(info[lay.output]) if ri.interior}
               for lay in chain}
    horizon = plan.input_shape[0] // hop + 1

    def source(lay, r):
        """k of the earliest window w - k that holds row r too (None: none)."""
        ri = info[lay.output][r]
        if not ri.interior:
            return None
        for k in range(1, horizon + 1):
            if ri.lo + k * hop in lo_sets[lay.output]:
                return k
        return None

    readers = {}
    for lay in plan.layers:
        for t in lay.inputs:
            readers.setdefault(t, []).append(lay)
    needed = {}
    reused = {}
    for lay in reversed(chain):
        rows = lay.out_shape[0]
        outs = readers.get(lay.output, [])
        if lay.output == plan.output or any(o not in chain for o in outs):
            need = set(range(rows))                 # a reducer or step end reads every row
        else:
            need = set()
            for o in outs:
                for r in needed[o.index] - reused[o.index]:
                    need |= set(_reads(o, r, rows))
        needed[lay.index] = need
        reused[lay.index] = ({r for r in need if source(lay, r) is not None}
                             if lay.index in cached else set())
    stored = {}
    for lay in chain:
        if lay.index not in cached:
            continue
        rows_lo = {ri.lo: r for r, ri in enumerate(info[lay.output]) if ri.interior}
        keep = set()
        for r2 in reused[lay.index]:                 # rows later windows take from this one
            k = source(lay, r2)
            keep.add(rows_lo[info[lay.output][r2].lo + k * hop])
        stored[lay.index] = sorted(reused[lay.index] | keep)
    computed = {i: needed[i] - reused[i] for i in needed}
    return computed, reused, stored, source


def _stride(rows: list) -> int:
    """Input rows between consecutive interior rows (the cumulative stride)."""
    inner = [r for r, ri in enumerate(rows) if ri.interior]
    for a, b in zip(inner, inner[1:]):
        if b == a + 1:
            return max(1, rows[b].lo - rows[a].lo)
    return 1


def _slots(lay, info, hop: int, stored: list, windows: int = 16) -> tuple[int, int]:
    """(unit, slots): a stored row's anchor (window start + its first input row) is a
    multiple of unit; the row lives in slot (anchor / unit) mod slots from the first
    window that holds it to the last. The smallest slots for which rows alive in the
    same window never share a slot, over consecutive windows (the pattern repeats)."""
    rows = info[lay.output]
    unit = gcd(hop, _stride(rows))
    lo0 = min(ri.lo for ri in rows)
    span = {}                                        # anchor index -> (first, last window)
    for w in range(windows):
        for r in stored:
            a = (w * hop + rows[r].lo - lo0) // unit
            f, l = span.get(a, (w, w))
            span[a] = (min(f, w), max(l, w))
    live = [[a for a, (f, l) in span.items() if f <= w <= l] for w in range(windows)]
    for slots in range(max(1, len(stored)), 8 * len(rows) + 8):
        if all(len({a % slots for a in group}) == len(group) for group in live):
            return unit, slots
    raise AssertionError("no cache size found")


def plan_stream(plan: Plan, sched, hop: int, max_bytes: int | None = None) -> StreamPlan:
    """The caches that save the most (MACs weighted by kind) within max_bytes of RAM
    (None: no limit)."""
    chain = _chain(plan, sched)
    info = row_infos(plan, chain)
    sp = StreamPlan(hop=hop, window=plan.input_shape[0])
    if hop <= 0 or hop >= plan.input_shape[0]:
        return sp

    def macs_per_row(lay):
        return lay.macs / max(1, lay.out_shape[0])

    def cost(computed):
        return sum(len(computed[lay.index]) * macs_per_row(lay) * _COST.get(lay.kind, 1.0)
                   for lay in chain)

    base, _, _, _ = _steady(plan, chain, info, hop, set())
    cands = []
    for lay in chain:
        _, reused, _, _ = _steady(plan, chain, info, hop, {lay.index})
        if reused[lay.index] and sched.places[lay.output].kind == "ring":
            cands.append(lay.index)
    best = (cost(base), 0, frozenset())
    layers = {lay.index: lay for lay in chain}
    for mask in range(1, 1 << len(cands)):
        sel = {cands[j] for j in range(len(cands)) if mask >> j & 1}
        computed, reused, stored, source = _steady(plan, chain, info, hop, sel)
        if any(not reused[i] for i in sel):
            continue
        ram = 0
        for i in sel:
            lay = layers[i]
            _, slots = _slots(lay, info, hop, stored[i])
            ram += slots * lay.out_shape[1] * lay.out_shape[2]
        if max_bytes is not None and ram > max_bytes:
            continue
        c = cost(computed)
        if c < best[0] - 1e-9 or (abs(c - best[0]) < 1e-9 and ram < best[1]):
            best = (c, ram, frozenset(sel))
    sel = set(best[2])
    computed, reused, stored, source = _steady(plan, chain, info, hop, sel)
    for i in sorted(sel):
        lay = layers[i]
        unit, slots = _slots(lay, info, hop, stored[i])
        rows = info[lay.output]
        sp.caches[lay.output] = Cache(layer=i, tensor=lay.output, stride=_stride(rows),
                                      unit=unit, slots=slots, stored=stored[i],
                                      row_bytes=lay.out_shape[1] * lay.out_shape[2])
    for lay in chain:
        sp.computed[lay.index] = sorted(computed[lay.index])
        sp.rows[lay.index] = lay.out_shape[0]
        sp.macs += lay.macs
        sp.saved_macs += int(round(macs_per_row(lay) * (lay.out_shape[0] - len(computed[lay.index]))))
    return sp


def sliding_windows(stream: np.ndarray, window: int, hop: int) -> np.ndarray:
    """Windows of `window` rows every `hop` rows of a (rows, ...) stream."""
    n = 1 + (len(stream) - window) // hop
    return np.stack([stream[i * hop:i * hop + window] for i in range(n)])
