"""Frame indices -> seconds: where an event's boundaries lie in the stream. Events carry their
onset and offset in front-end frames (machine.py, step 5; refine.py)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from .config import SegParams
from .machine import Event
from ..clip import reject


@dataclass(frozen=True)
class Timebase:
    """Frame k covers samples [k*H, k*H + L) and stands for the hop-long slice at its centre,
    which starts at k*H + (L - H)/2; a boundary at frame k is that sample (clamped at 0).
    For the windows' centre slices this is window j's slice, [j*S*H + (span - S*H)/2, ...),
    when F - S is even. In the energy-only mode a frame is one block (H = L)."""
    frame_samples: int        # H
    offset_samples: float     # (L - H) / 2
    sample_rate: int

    @classmethod
    def of(cls, p: SegParams) -> "Timebase":
        h = p.hop_samples // p.hop_frames
        length = p.window_samples - (p.window_frames - 1) * h
        return cls(h, (length - h) / 2, p.sample_rate)

    def seconds(self, frame: int) -> float:
        return max(0.0, (frame * self.frame_samples + self.offset_samples) / self.sample_rate)


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


def timed(events: Iterable[Event], labels: list[str], tb: Timebase, rule=None) -> list[TimedEvent]:
    """Events in seconds, named by their label, or "unknown" where the model's rejection
    rule (clip/reject.py: event_label) rejects them."""
    return [TimedEvent(tb.seconds(e.onset), tb.seconds(e.offset), event_name(e, labels, rule),
                       e.confidence / 256.0, e) for e in events]


def event_name(e: Event, labels: list[str], rule=None) -> str:
    label = e.label if rule is None else reject.event_label(e.label, e.confidence, rule)
    if label >= len(labels):      # a device's class beyond the model's labels
        return f"class{label}"
    return reject.label_of(label, labels)
