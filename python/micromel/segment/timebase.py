"""Window indices -> seconds: where an event of windows [a, b) lies in the stream."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from .config import SegParams
from .machine import Event


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
