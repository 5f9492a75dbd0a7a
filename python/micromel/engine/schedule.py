"""When each layer runs and where each tensor lives in the one static arena.

Row layers (convolutions, pools, ADD) compute one output row at a time from
a few input rows; reducers (MEAN, a global AVERAGE_POOL_2D) take their input
one row at a time. A tensor made by a row layer and read only by one row
layer or reducer is *streamed*: it never exists whole, only as a ring of as
many rows as its reader needs at once, and its rows are computed when the
reader asks for them. Every other tensor is *materialized* whole, by one
*step* of the schedule: its layer runs to the end, pulling the streamed rows
it needs. Buffers live from the step that writes them to the last step that
reads them; buffers whose steps overlap may not share bytes, the others do
(first fit by decreasing size, as TFLite Micro's greedy planner)."""
from __future__ import annotations

from dataclasses import dataclass, field

from .plan import Layer, Plan

ALIGN = 8


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def is_global_pool(lay: Layer) -> bool:
    """An AVERAGE_POOL_2D whose one window is the whole map."""
    if lay.kind != "avgpool" or len(lay.in_shape) != 3:
        return False
    h, w, _ = lay.in_shape
    return (tuple(lay.out_shape[:2]) == (1, 1) and tuple(lay.params["filter"]) == (h, w)
            and tuple(lay.params["pad"]) == (0, 0))


def is_reducer(lay: Layer) -> bool:
    return lay.kind == "mean" or is_global_pool(lay)


def is_row_layer(lay: Layer) -> bool:
    """Makes its output row by row (from rows of its inputs)."""
    if lay.kind in ("conv", "dwconv", "maxpool"):
        return True
    if lay.kind == "avgpool":
        return not is_global_pool(lay)
    return lay.kind == "add" and all(len(s) == 3 for s in (lay.in_shape, lay.out_shape))


def window(lay: Layer) -> tuple[int, int, int]:
    """(kernel rows, stride, padding rows) of a row layer or reducer."""
    if lay.kind in ("conv", "dwconv"):
        return lay.params["kernel"][0], lay.params["stride"][0], lay.params["pad"][0]
    if lay.kind in ("avgpool", "maxpool") and not is_global_pool(lay):
        return lay.params["filter"][0], lay.params["stride"][0], lay.params["pad"][0]
    return 1, 1, 0     # add and reducers: one row at a time


@dataclass
class Buffer:
    name: str
    size: int
    first: int          # first step it is live
    last: int           # last step it is live
    offset: int = -1


@dataclass
class Place:
    """Where one activation tensor lives."""
    tid: int
    kind: str                     # "full", "ring" or "alias"
    shape: tuple
    buffer: Buffer | None = None
    ring_rows: int = 0            # ring: rows kept
    alias_of: int | None = None   # alias: the tensor whose bytes these are

    @property
    def rows(self) -> int:
        return self.shape[0] if len(self.shape) == 3 else 1

    @property
    def row_bytes(self) -> int:
        if len(self.shape) == 3:
            return self.shape[1] * self.shape[2]
        n = 1
        for s in self.shape:
            n *= s
        return n

    @property
    def size(self) -> int:
        return self.rows * self.row_bytes


@dataclass
class Schedule:
    plan: Plan
    steps: list                       # layer indices, in order
    step_of: dict                     # layer index -> the step it runs in
    places: dict                      # tensor id -> Place
    buffers: list
    scratch: dict                     # step -> Buffer
    sums: dict                        # reducer layer index -> Buffer (int32 sums)
    arena_bytes: int
    pad_rows: dict = field(default_factory=dict)   # zero point -> bytes (flash)
    persistent: dict = field(default_factory=dict)  # name -> Buffer kept across inferences
    stream: object = None                           # engine.stream.StreamPlan when streaming
    pairs: set = field(default_factory=set)         # layers computing two rows per call

    def place(self, tid: int) -> Place:
        p = self.places[tid]
        while p.kind == "alias":
            p = self.places[p.alias_of]
        return p

    def offset(self, tid: int) -> int:
        return self.place(tid).buffer.offset

    def scratch_offset(self, layer: int) -> int:
        return self.scratch[self.step_of[layer]].offset

    @property
    def sum_of_tensors(self) -> int:
        """What a planner without reuse would need (for reports)."""
        return sum(p.size for p in self.places.values() if p.kind != "alias")


def consumers(plan: Plan) -> dict:
    out = {}
    for lay in plan.layers:
        for tid in lay.inputs:
            out.setdefault(tid, []).append(lay)
    return out


def paired(lay: Layer) -> bool:
    """A pointwise convolution whose rows have an odd number of pixels computes two rows
    per call, so the matrix engine pairs every pixel (the last pixel of a row with the
    first of the next) instead of running a lone pixel per row."""
    return (lay.kind == "conv" and tuple(lay.params["kernel"]) == (1, 1)
            and tuple(lay.params["stride"]) == (1, 1) and len(lay.out_shape) == 3
            and lay.out_shape[1] % 2 == 1 and lay.out_shape[0] >= 2)


def build(plan: Plan, kdata: dict, persistent: dict | None = None,
          no_pairs: frozenset = frozenset()) -> Schedule:
    """persistent: name -> bytes of buffers that keep their contents from one inference
    to the next (streaming row caches); they share no byte with any other buffer.
    no_pairs: layers that must compute one row per call (see paired)."""
    cons = consumers(plan)
    producer = {lay.output: lay for lay in plan.layers}
    pairs = {lay.index for lay in plan.layers if paired(lay) and lay.index not in no_pairs}
    places: dict[int, Place] = {plan.input: Place(plan.input, "full", plan.input_shape)}
    for lay in plan.layers:
        t = lay.output
        shape = lay.out_shape
        readers = cons.get(t, [])
        if lay.kind == "reshape":
            places[t] = Place(t, "alias", shape, alias_of=lay.inputs[0])
            continue
        if (is_row_layer(lay) and t != plan.output and len(readers) == 1
                and (is_row_layer(readers[0]) or is_reducer(readers[0]))
                and t in readers[0].inputs and len(shape) == 3):
            rows = window(readers[0])[0]
            if lay.index in pairs:          # two rows at a time, next to each other
                rows = (rows + 2) // 2 * 2
            if readers[0].index in pairs:   # read two rows at a time
                rows = max(2, (rows + 1) // 2 * 2)
            if rows < shape[0]:
                places[t] = Place(t, "ring", shape, ring_rows=rows)
                continue
        places[t] = Place(t, "full", shape)
    steps = [lay.index for lay in plan.layers if places[lay.output].kind != "ring"]

    def pulled(lay: Layer, acc: list):
        """The layer and every layer it pulls rows from, transitively."""
        acc.append(lay)
        for tid in lay.inputs:
            if places[tid].kind == "ring":
                pulled(producer[tid], acc)
        return acc

    def root(tid):
        while places[tid].kind == "alias":
            tid = places[tid].alias_of
        return tid

    n = len(steps)
    step_of = {}
    live = {}
    scratch = {}
    sums = {}
    buffers = []
    for s, li in enumerate(steps):
        layers = pulled(plan.layers[li], [])
        need = 0
        for lay in layers:
            step_of[lay.index] = s
            need = max(need, kdata[lay.index].scratch)
            for tid in lay.inputs + [lay.output]:
                r = root(tid)
                a, b = live.get(r, (s, s))
                live[r] = (min(a, s), max(b, s))
        scratch[s] = Buffer(f"scratch{s}", _align(need), s, s)
        if need:
            buffers.append(scratch[s])
        lay = plan.layers[li]
        if is_reducer(lay):
            sums[li] = Buffer(f"sums{li}", _align(4 * lay.in_shape[-1]), s, s)
            buffers.append(sums[li])
    r = root(plan.input)
    live[r] = (0, live.get(r, (0, 0))[1])
    r = root(plan.output)
    live[r] = (live[r][0], n - 1)
    for tid, (a, b) in sorted(live.items()):
        pl = places[tid]
        size = pl.size if pl.kind == "full" else pl.ring_rows * pl.row_bytes
        pl.buffer = Buffer(f"t{tid}" + ("_ring" if pl.kind == "ring" else ""), _align(size), a, b)
        buffers.append(pl.buffer)

    keep = {name: Buffer(name, _align(size), 0, max(n - 1, 0))
            for name, size in (persistent or {}).items()}
    buffers.extend(keep.values())
    # First fit, biggest first.
    placed: list[Buffer] = []
    for buf in sorted(buffers, key=lambda b: (-b.size, b.first, b.name)):
        clashes = sorted((o for o in placed if not (o.last < buf.first or buf.last < o.first)),
                         key=lambda o: o.offset)
        off = 0
        for o in clashes:
            if off + buf.size <= o.offset:
                break
            off = max(off, o.offset + o.size)
        buf.offset = off
        placed.append(buf)
    for b in scratch.values():
        if b.offset < 0:
            b.offset = 0
    # + ALIGN: kernels may read up to 3 bytes past a tensor (into zero weights)
    arena = max((b.offset + b.size for b in buffers), default=0) + ALIGN

    # rows of input zero points for vertical padding, one per zero point, as long as the
    # longest reader needs (kernels.KernelData.pad_row_bytes)
    pad_rows: dict[int, int] = {}
    for lay in plan.layers:
        n = kdata[lay.index].pad_row_bytes
        if n:
            zp = int(lay.params["zp_in"])
            pad_rows[zp] = max(pad_rows.get(zp, 0), n)
    return Schedule(plan, steps, step_of, places, buffers, scratch, sums, max(arena, ALIGN),
                    pad_rows, keep, pairs=pairs)


def check(schedule: Schedule) -> None:
    """No two buffers live at the same step share a byte (a self-test)."""
    bufs = schedule.buffers
    for i, a in enumerate(bufs):
        assert a.offset >= 0 and a.offset % ALIGN == 0
        assert a.offset + a.size <= schedule.arena_bytes
        for b in bufs[i + 1:]:
            if a.last < b.first or b.last < a.first:
                continue
            assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset, (a, b)
