"""Segmentation settings: `SegmentConfig` (seconds and probabilities, what a user edits,
saved in a model's config.json["segment"]) and `derive()`, which turns it into the integers
both twins use (`SegParams`). The algorithm itself: machine.py."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ..clip.rules import Framing, WindowConfig, gate_threshold, window_samples
from ..errors import MicromelError
from ..frontend.config import FrontendConfig
from ..jsonconfig import from_dict
from .refine import ring_size

MAX_CLASSES = 32            # the event mask is a uint32 in C
DEFAULT_MAX_CLASSES = 8     # C array sizes of the build without a model
DEFAULT_MAX_MEDIAN = 15
# the one class of energy-only activity detection (--activity-only)
ACTIVITY_LABELS = ["activity"]
# what smooths each class's scores over `median` windows (machine.py, step 2)
SMOOTHING = ("median", "mean")


# --------------------------------------------------------------------------------------
# configuration (what the user edits: seconds and probabilities)
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SegmentConfig:
    hop_frames: int = 6                 # windows slide by this many front-end frames
    median: int = 5                     # odd number of windows of the median (1 = off)
    smoothing: str = "median"           # ... or "mean": their average (one window is both)
    enter: float = 0.5                  # hysteresis: open at probability >= enter
    exit: float = 0.35                  # ... and stay open while >= exit
    min_duration: float = 0.25          # seconds; shorter events are dropped
    max_gap: float = 0.3                # seconds; shorter gaps inside an event are merged
    max_duration: float = 0.0           # seconds; longer events are split (0 = never)
    suppress: float = 0.0               # seconds after an event during which none opens
    background_labels: tuple = ()       # classes that never make events
    calibrate_seconds: float = 0.0      # > 0: gate threshold from the stream's first seconds
    calibrate_margin_db: float = 10.0   # ... this far above their mean energy
    activity_block: float = 0.05        # energy-only mode: seconds per block
    activity_threshold_dbfs: float = -50.0  # energy-only mode: fixed threshold
    refine: bool = False                # move boundaries to the frame energies (refine.py)
    refine_min_db: float = 6.0          # ... where they span at least this much

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
        if self.smoothing not in SMOOTHING:
            bad("smoothing", f"must be one of {', '.join(SMOOTHING)}")
        if not 0 <= self.suppress <= 3600:
            bad("suppress", "must be between 0 and 3600 seconds")
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
        if not isinstance(self.refine, bool):
            bad("refine", "must be true or false")
        if not 0.0 <= self.refine_min_db <= 60.0:
            bad("refine_min_db", "must be between 0 and 60 dB")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["background_labels"] = list(self.background_labels)
        return d

    @classmethod
    def from_dict(cls, d: dict | None, what: str = "segment config") -> "SegmentConfig":
        if d is None:
            return cls()
        return from_dict(cls, d, what)

    def replace(self, **changes) -> "SegmentConfig":
        d = self.to_dict()
        d.update({k: v for k, v in changes.items() if v is not None})
        return SegmentConfig.from_dict(d)


def refuse_replacing_own(model, keys, force: bool) -> None:
    """`tune --save` and `evaluate-segments --tune --save`: a model folder whose segment
    settings already differ from the defaults in one of `keys` (tuned before, or set by hand)
    keeps them unless `force`. Checked before the tuning runs, whatever it will choose."""
    default = SegmentConfig()
    if not force and any(getattr(model.segment, k) != getattr(default, k) for k in keys):
        raise MicromelError(f"{model.path}: config.json already has its own segment settings; "
                            "add --force to replace them with the tuned ones")


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
    # boundaries (refine.py): 0 = the windows' centre slices, 1 = refined by frame energies
    refine: int = 0
    refine_min_q: int = 16     # least range of the frames' log energies, 1/8 octave steps
    mean: int = 0              # 1: smooth by the rounded mean instead of the median
    suppress: int = 0          # windows after an emitted event's end in which none opens

    @property
    def frame_offset(self) -> int:
        """Window j stands for frames [j*S + frame_offset, +S) (refine.py)."""
        return (self.window_frames - self.hop_frames) // 2

    @property
    def frame_ring(self) -> int:
        return ring_size(self.hop_frames, self.window_frames, self.median)

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
        if self.refine and self.frame_offset + 2 * self.hop_frames > self.window_frames:
            raise MicromelError(f"segment config: refine needs hop_frames ({self.hop_frames}) at most "
                                f"a third of the window ({self.window_frames} frames)")
        if not 0 <= self.refine_min_q <= 255:
            raise MicromelError("segmentation: refine_min_q must be 0..255")
        if self.mean not in (0, 1) or not 0 <= self.suppress < 2 ** 32:
            raise MicromelError("segmentation: mean must be 0 or 1 and suppress 0..2^32-1")


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
        window_samples=window_samples, sample_rate=sample_rate,
        refine=int(cfg.refine), refine_min_q=int(round(cfg.refine_min_db * 8 / (10 * math.log10(2)))),
        mean=int(cfg.smoothing == "mean"), suppress=_windows(cfg.suppress, hop_s))
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
                  sample_rate=sample_rate, suppress=_windows(cfg.suppress, hop_s))
    p.validate()
    return p


def params_for(labels: list[str], frontend, window, cfg: SegmentConfig,
               hop_frames: int | None = None) -> SegParams:
    """Params from a FrontendConfig and a WindowConfig (ModelDir.segment_params for a model)."""
    fr = Framing(hop_samples=frontend.hop_length, frame_samples=frontend.frame_length)
    return derive(cfg, list(labels), sample_rate=frontend.sample_rate,
                  frame_hop=frontend.hop_length, window_frames=window.frames,
                  window_samples=window_samples(window, fr),
                  gate_threshold=gate_threshold(window, fr), hop_frames=hop_frames)


def default_params() -> SegParams:
    """The parameters of the firmware built without a model."""
    return params_for(["event", "background"], FrontendConfig(), WindowConfig(),
                      SegmentConfig(background_labels=("background",)))
