"""Segmentation by classification: per-window model scores -> labelled events, as an
integer state machine that firmware/lib/mm_segment mirrors exactly (same windows in, same
events out).

Everything here is integers. Times are window indices; seconds appear only at output
(`Timebase`). The configuration lives in the model's config.json under "segment"
(`SegmentConfig`, in seconds and probabilities, what a user edits); `derive()` turns it into
the integers both twins use (`SegParams`), and `c_header()` writes those integers into the
generated header mm_segment_config.h. C never converts a second or a probability.

The algorithm, per window j = 0, 1, ... (in stream order):

1. Gate. A window the energy gate calls silent has every class score set to -128
   (probability 0): its model output is not used (the device does not even compute it).
   The gate (`EnergyGate`) compares the window's exact sum of squares with an integer
   threshold: the fixed one of the model (windows.gate_threshold), or one calibrated from
   the first `calib_windows` windows of the stream (those windows count as silent):
       mean = (sum of their energies) // calib_windows
       thr  = (mean >> 8) * margin_q8 + (((mean & 255) * margin_q8) >> 8)
   with margin_q8 = round(256 * 10^(margin_db / 10)), and never below the fixed threshold.
2. Median. For each class c, s[j][c] = median of the (gated) scores of windows
   j-h .. j+h, h = (median - 1) / 2 (median is odd; 1 = no smoothing). Windows before the
   stream start and after its end count as -128. So the decision for window j is known
   when window j+h has been pushed (or at finish).
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
   - no open event, d >= 0: an event opens at j.
   At finish (after the last window's decision), an open event closes.
   A closing event is EMITTED iff b - a >= min_windows, with confidence
       (sum + n // 2) // n          (0..255; the probability is confidence / 256)
   So merging happens before the minimum duration is applied (as in auditok: a short
   blip merged into a neighbour survives, a lone short blip does not), and a split piece
   shorter than min_windows (a tail) is dropped.

Energy-only activity detection (`activity_events`, `--activity-only`) runs the same state
machine with one class and no model: blocks of `activity_block` seconds of PCM, each with
score 127 if its sum of squares reaches the threshold (fixed in dBFS or calibrated from the
first seconds, same integer rule as the gate) and -128 otherwise.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, NamedTuple

from .errors import MicromelError

MAX_CLASSES = 32            # the event mask is a uint32 in C
DEFAULT_MAX_CLASSES = 8     # C array sizes of the build without a model
DEFAULT_MAX_MEDIAN = 15
NO_LABEL = -1


# --------------------------------------------------------------------------------------
# configuration (what the user edits: seconds and probabilities)
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SegmentConfig:
    hop_frames: int = 6                 # windows slide by this many front-end frames
    median: int = 5                     # odd number of windows of the median (1 = off)
    enter: float = 0.5                  # hysteresis: open at probability >= enter
    exit: float = 0.35                  # ... and stay open while >= exit
    min_duration: float = 0.25          # seconds; shorter events are dropped
    max_gap: float = 0.3                # seconds; shorter gaps inside an event are merged
    max_duration: float = 0.0           # seconds; longer events are split (0 = never)
    background_labels: tuple = ()       # classes that never make events
    calibrate_seconds: float = 0.0      # > 0: gate threshold from the stream's first seconds
    calibrate_margin_db: float = 10.0   # ... this far above their mean energy
    activity_block: float = 0.05        # energy-only mode: seconds per block
    activity_threshold_dbfs: float = -50.0  # energy-only mode: fixed threshold

    def __post_init__(self):
        def bad(name, why):
            raise MicromelError(f"segment config: {name}={getattr(self, name)!r} {why}")

        if not (isinstance(self.hop_frames, int) and 1 <= self.hop_frames <= 1024):
            bad("hop_frames", "must be an integer from 1 to 1024")
        if not (isinstance(self.median, int) and self.median >= 1 and self.median % 2 == 1
                and self.median <= 63):
            bad("median", "must be an odd integer from 1 to 63")
        if not 0.0 < self.enter <= 1.0:
            bad("enter", "must be a probability in (0, 1]")
        if not 0.0 <= self.exit <= self.enter:
            bad("exit", f"must be a probability in [0, enter={self.enter}]")
        if self.min_duration < 0:
            bad("min_duration", "must be >= 0 seconds")
        if self.max_gap < 0:
            bad("max_gap", "must be >= 0 seconds")
        if self.max_duration < 0 or (0 < self.max_duration < self.min_duration):
            bad("max_duration", "must be 0 (no split) or at least min_duration")
        if self.calibrate_seconds < 0:
            bad("calibrate_seconds", "must be >= 0")
        if not 0 <= self.calibrate_margin_db <= 30:
            bad("calibrate_margin_db", "must be between 0 and 30 dB")
        if not 0.001 <= self.activity_block <= 1.0:
            bad("activity_block", "must be between 0.001 and 1 second")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["background_labels"] = list(self.background_labels)
        return d

    @classmethod
    def from_dict(cls, d: dict | None) -> "SegmentConfig":
        if d is None:
            return cls()
        from .jsonconfig import from_dict

        return from_dict(cls, d, "segment config")

    def replace(self, **changes) -> "SegmentConfig":
        d = self.to_dict()
        d.update({k: v for k, v in changes.items() if v is not None})
        return SegmentConfig.from_dict(d)


def prob_to_q(p: float) -> int:
    """Probability -> int8 score code (softmax output, zero point -128, scale 1/256)."""
    return max(-128, min(127, int(math.floor(p * 256 + 0.5)) - 128))


def margin_q8(margin_db: float) -> int:
    return int(round(256 * 10.0 ** (margin_db / 10.0)))


def energy_threshold(n_samples: int, dbfs: float) -> int:
    """Sum-of-squares threshold of n_samples at an RMS of dbfs (re a 32768 square wave);
    the same rule as windows.gate_threshold."""
    return int(round(n_samples * 32768.0 ** 2 * 10.0 ** (dbfs / 10.0)))


def calibrated_threshold(mean_energy: int, margin_q8_: int, floor: int) -> int:
    """The gate's calibrated threshold (module doc, step 1), exact in int64 in C."""
    thr = (mean_energy >> 8) * margin_q8_ + (((mean_energy & 255) * margin_q8_) >> 8)
    return max(thr, floor)


# --------------------------------------------------------------------------------------
# the integers both twins use
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SegParams:
    n_classes: int
    event_mask: int            # bit c set: class c makes events
    median: int
    enter_q: int
    exit_q: int
    min_windows: int
    max_gap: int
    max_windows: int           # 0: never split
    # gate
    gate_threshold: int        # fixed threshold (sum of squares over a window)
    calib_windows: int         # 0: no calibration
    margin_q8: int = 2560
    # framing (for time conversion and for the generated header)
    hop_frames: int = 6
    window_frames: int = 64
    hop_samples: int = 1536    # samples between window starts
    window_samples: int = 16640
    sample_rate: int = 16000

    def validate(self) -> None:
        if not 1 <= self.n_classes <= MAX_CLASSES:
            raise MicromelError(f"segmentation: {self.n_classes} classes (at most {MAX_CLASSES})")
        if self.event_mask >> self.n_classes or self.event_mask == 0:
            raise MicromelError("segmentation: no class left to make events "
                                "(background_labels names every label)")
        if self.median < 1 or self.median % 2 == 0:
            raise MicromelError(f"segmentation: median {self.median} must be odd and >= 1")
        if not -128 <= self.exit_q <= self.enter_q <= 127:
            raise MicromelError("segmentation: need -128 <= exit_q <= enter_q <= 127")
        if self.min_windows < 1 or self.max_gap < 0 or self.max_windows < 0:
            raise MicromelError("segmentation: window counts must be non-negative "
                                "(min_windows >= 1)")


def _windows(seconds: float, hop_s: float) -> int:
    return int(math.floor(seconds / hop_s + 0.5))


def derive(cfg: SegmentConfig, labels: list[str], *, sample_rate: int, frame_hop: int,
           window_frames: int, window_samples: int, gate_threshold: int,
           hop_frames: int | None = None) -> SegParams:
    """SegmentConfig (seconds, probabilities) -> SegParams (integers). frame_hop is the
    front end's hop in samples; window_samples the PCM span of one window."""
    hop = hop_frames or cfg.hop_frames
    unknown = [b for b in cfg.background_labels if b not in labels]
    if unknown:
        raise MicromelError(f"segment config: background_labels {unknown} are not labels of "
                            f"the model ({labels})")
    mask = sum(1 << i for i, lab in enumerate(labels) if lab not in cfg.background_labels)
    hop_samples = hop * frame_hop
    hop_s = hop_samples / sample_rate
    min_w = max(1, _windows(cfg.min_duration, hop_s))
    max_w = _windows(cfg.max_duration, hop_s) if cfg.max_duration > 0 else 0
    if max_w:
        max_w = max(max_w, min_w)
    p = SegParams(
        n_classes=len(labels), event_mask=mask, median=cfg.median,
        enter_q=prob_to_q(cfg.enter), exit_q=prob_to_q(cfg.exit),
        min_windows=min_w, max_gap=_windows(cfg.max_gap, hop_s), max_windows=max_w,
        gate_threshold=gate_threshold,
        calib_windows=(int(math.ceil(cfg.calibrate_seconds / hop_s - 1e-9))
                       if cfg.calibrate_seconds > 0 else 0),
        margin_q8=margin_q8(cfg.calibrate_margin_db),
        hop_frames=hop, window_frames=window_frames, hop_samples=hop_samples,
        window_samples=window_samples, sample_rate=sample_rate)
    p.validate()
    return p


def activity_params(cfg: SegmentConfig, sample_rate: int, threshold_dbfs: float | None = None,
                    calibrate_seconds: float | None = None) -> SegParams:
    """The energy-only detector's integers: one class, blocks of activity_block seconds,
    no median, decisions are the gate's."""
    block = max(1, int(round(cfg.activity_block * sample_rate)))
    hop_s = block / sample_rate
    dbfs = cfg.activity_threshold_dbfs if threshold_dbfs is None else threshold_dbfs
    cal = cfg.calibrate_seconds if calibrate_seconds is None else calibrate_seconds
    min_w = max(1, _windows(cfg.min_duration, hop_s))
    max_w = _windows(cfg.max_duration, hop_s) if cfg.max_duration > 0 else 0
    if max_w:
        max_w = max(max_w, min_w)
    p = SegParams(n_classes=1, event_mask=1, median=1, enter_q=0, exit_q=0,
                  min_windows=min_w, max_gap=_windows(cfg.max_gap, hop_s), max_windows=max_w,
                  gate_threshold=energy_threshold(block, dbfs),
                  calib_windows=int(math.ceil(cal / hop_s - 1e-9)) if cal > 0 else 0,
                  margin_q8=margin_q8(cfg.calibrate_margin_db),
                  hop_frames=1, window_frames=1, hop_samples=block, window_samples=block,
                  sample_rate=sample_rate)
    p.validate()
    return p


# --------------------------------------------------------------------------------------
# model folder -> config and params
# --------------------------------------------------------------------------------------
def _model_json(model_dir) -> dict:
    path = Path(model_dir) / "config.json"
    if not path.exists():
        raise MicromelError(f"model {model_dir}: no config.json (is it a model folder?)")
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise MicromelError(f"model {model_dir}: config.json is not valid JSON ({e})") from None


def config_from_model(model_dir) -> SegmentConfig:
    return SegmentConfig.from_dict(_model_json(model_dir).get("segment"))


def params_for(labels: list[str], frontend, window, cfg: SegmentConfig,
               hop_frames: int | None = None) -> SegParams:
    """Params from a FrontendConfig and a windows.WindowConfig."""
    from . import windows as W

    fr = W.Framing(hop_samples=frontend.hop_length, frame_samples=frontend.frame_length)
    return derive(cfg, list(labels), sample_rate=frontend.sample_rate,
                  frame_hop=frontend.hop_length, window_frames=window.frames,
                  window_samples=W.window_samples(window, fr),
                  gate_threshold=W.gate_threshold(window, fr), hop_frames=hop_frames)


def params_from_model(model_dir, cfg: SegmentConfig | None = None,
                      hop_frames: int | None = None) -> SegParams:
    from .frontend.config import FrontendConfig
    from .windows import WindowConfig

    d = _model_json(model_dir)
    for key in ("labels", "frontend", "window"):
        if key not in d:
            raise MicromelError(f"model {model_dir}: config.json has no '{key}'")
    cfg = cfg or SegmentConfig.from_dict(d.get("segment"))
    return params_for(d["labels"], FrontendConfig.from_dict(d["frontend"]),
                      WindowConfig.from_dict(d["window"]), cfg, hop_frames)


def default_params() -> SegParams:
    from .frontend.config import FrontendConfig
    from .windows import WindowConfig

    return params_for(["event", "background"], FrontendConfig(), WindowConfig(),
                      SegmentConfig(background_labels=("background",)))


# --------------------------------------------------------------------------------------
# the state machine (Python twin of firmware/lib/mm_segment)
# --------------------------------------------------------------------------------------
class Event(NamedTuple):
    label: int          # class index
    start: int          # first window
    end: int            # one past the last window
    confidence: int     # 0..255: mean probability of the label in 1/256


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
        self.decisions: list[int] | None = None   # set to [] to record d[j]

    # -- step 2 -------------------------------------------------------------------
    def _store(self, scores) -> None:
        self.ring[self.pos] = list(scores)
        self.pos = (self.pos + 1) % self.p.median

    def _smoothed(self) -> list[int]:
        m = self.p.median
        return [sorted(self.ring[k][c] for k in range(m))[m // 2] for c in range(self.p.n_classes)]

    def push(self, scores, silent: bool) -> list[Event]:
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

    # -- step 4 -------------------------------------------------------------------
    def _open(self, label: int, j: int, prob: int) -> None:
        self.label, self.start, self.end, self.sum, self.count = label, j, j + 1, prob, 1

    def _close(self) -> list[Event]:
        label, a, b, s, n = self.label, self.start, self.end, self.sum, self.count
        self.label = NO_LABEL
        if b - a >= self.p.min_windows:
            return [Event(label, a, b, (s + n // 2) // n)]
        return []

    def _events(self, j: int, d: int, prob: int) -> list[Event]:
        p = self.p
        if self.label == NO_LABEL:
            if d >= 0:
                self._open(d, j, prob)
            return []
        if d == self.label:
            if p.max_windows and j + 1 - self.start > p.max_windows:
                out = self._close()
                self._open(d, j, prob)
                return out
            self.end = j + 1
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
    """The whole algorithm over a sequence of (int8 scores or None, silent) per window.
    This is the boundary the device path plugs into: a device in STREAM mode returns the
    same per-window results (or the events themselves, which must equal these)."""
    seg = Segmenter(p)
    out: list[Event] = []
    for scores, silent in window_results:
        out += seg.push(scores, silent)
    return out + seg.finish()


# --------------------------------------------------------------------------------------
# times
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Timebase:
    """Window index -> seconds. Window j covers samples [j*hop, j*hop + span); it is taken
    to stand for the hop-long slice centred on its centre, so an event of windows [a, b)
    spans [a*hop + (span-hop)/2, b*hop + (span-hop)/2) samples (clamped at 0)."""
    hop_samples: int
    span_samples: int
    sample_rate: int

    @classmethod
    def of(cls, p: SegParams) -> "Timebase":
        return cls(p.hop_samples, p.window_samples, p.sample_rate)

    def seconds(self, window_edge: int) -> float:
        s = (window_edge * self.hop_samples + (self.span_samples - self.hop_samples) / 2)
        return max(0.0, s / self.sample_rate)


@dataclass(frozen=True)
class TimedEvent:
    start: float
    end: float
    label: str
    confidence: float
    raw: Event = field(compare=False, default=None)

    def to_dict(self) -> dict:
        return {"start": round(self.start, 4), "end": round(self.end, 4), "label": self.label,
                "confidence": round(self.confidence, 4)}


def timed(events: Iterable[Event], labels: list[str], tb: Timebase) -> list[TimedEvent]:
    return [TimedEvent(tb.seconds(e.start), tb.seconds(e.end), labels[e.label],
                       e.confidence / 256.0, e) for e in events]


# --------------------------------------------------------------------------------------
# energy-only activity detection (no model)
# --------------------------------------------------------------------------------------
ACTIVITY_LABELS = ["activity"]


def block_energies(chunks: Iterable, block: int):
    """Exact sums of squares of consecutive blocks of `block` samples of an int16 stream
    given in chunks (a trailing partial block is dropped). Constant memory."""
    import numpy as np

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
    gate lets it through; the state machine does min duration, merge and split."""
    gate = EnergyGate(p)
    seg = Segmenter(p)
    out: list[Event] = []
    for e in block_energies(chunks, p.hop_samples):
        silent = gate.silent(e)
        out += seg.push(None if silent else [127], silent)
    return out + seg.finish()


# --------------------------------------------------------------------------------------
# the generated header
# --------------------------------------------------------------------------------------
def c_header(model_dir=None) -> str:
    """mm_segment_config.h: the integers of the model's "segment" config (or defaults)."""
    if model_dir and (Path(model_dir) / "config.json").exists():
        p = params_from_model(model_dir)
        src = f"{Path(model_dir).name}/config.json[\"segment\"]"
        max_classes, max_median = p.n_classes, p.median
    else:
        p = default_params()
        src = "defaults (no model)"
        max_classes, max_median = DEFAULT_MAX_CLASSES, DEFAULT_MAX_MEDIAN
    lines = [
        "/* Generated by micromel.segment.c_header -- do not edit.",
        f" * Segmentation parameters from {src}. */",
        "#ifndef MM_SEGMENT_CONFIG_H",
        "#define MM_SEGMENT_CONFIG_H",
        "",
        "/* Array sizes of the state (constant memory). */",
        f"#define MM_SEG_MAX_CLASSES {max_classes}",
        f"#define MM_SEG_MAX_MEDIAN {max_median}",
        "",
        "/* The parameters (see python/micromel/segment.py for the algorithm). */",
        f"#define MM_SEG_N_CLASSES {p.n_classes}",
        f"#define MM_SEG_EVENT_MASK 0x{p.event_mask:08x}u",
        f"#define MM_SEG_MEDIAN {p.median}",
        f"#define MM_SEG_ENTER_Q ({p.enter_q})",
        f"#define MM_SEG_EXIT_Q ({p.exit_q})",
        f"#define MM_SEG_MIN_WINDOWS {p.min_windows}u",
        f"#define MM_SEG_MAX_GAP {p.max_gap}u",
        f"#define MM_SEG_MAX_WINDOWS {p.max_windows}u",
        f"#define MM_SEG_GATE_THRESHOLD {p.gate_threshold}ull",
        f"#define MM_SEG_CALIB_WINDOWS {p.calib_windows}u",
        f"#define MM_SEG_MARGIN_Q8 {p.margin_q8}u",
        "",
        "/* Framing: windows of WINDOW_FRAMES frames every HOP_FRAMES frames. */",
        f"#define MM_SEG_HOP_FRAMES {p.hop_frames}",
        f"#define MM_SEG_WINDOW_FRAMES {p.window_frames}",
        f"#define MM_SEG_HOP_SAMPLES {p.hop_samples}",
        f"#define MM_SEG_WINDOW_SAMPLES {p.window_samples}",
        "",
        "#define MM_SEG_PARAMS_DEFAULT { MM_SEG_N_CLASSES, MM_SEG_EVENT_MASK, MM_SEG_MEDIAN, \\",
        "    MM_SEG_ENTER_Q, MM_SEG_EXIT_Q, MM_SEG_MIN_WINDOWS, MM_SEG_MAX_GAP, \\",
        "    MM_SEG_MAX_WINDOWS, MM_SEG_GATE_THRESHOLD, MM_SEG_CALIB_WINDOWS, MM_SEG_MARGIN_Q8 }",
        "",
        "#endif",
        "",
    ]
    return "\n".join(lines)
