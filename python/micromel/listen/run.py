"""`micromel listen` and `micromel record` without the printing: a device listens to its own
audio input (an emulated board: a file played through its emulated microphone, or its
signal generator; a real board: its microphone) and reports events as they close, its CPU
load, overruns and latency; or it records what its microphone hears.

The events are the segmenter's (firmware/lib/mm_segment), their onset and offset in front-end
frames of the run they belong to; a run restarts after audio was lost to an overrun, at the stream sample
`run_start`. In seconds they are placed as `micromel segment` places them
(segment.timebase), shifted by run_start."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..audio import open_audio
from ..errors import DeviceError, DeviceTimeout, MicromelError
from ..fileio import atomic_path
from ..segment.machine import Event
from ..segment.run import FileResult
from ..segment.timebase import Timebase, TimedEvent, event_name
from .session import FLAG, Listener, Status, checksum

DATA_TIMEOUT = 60.0   # seconds without a frame before the device is declared lost


@dataclass
class MicFile:
    """A file converted for the emulated microphone: raw int16 LE mono at the board's rate."""
    source: Path
    pcm: Path
    n_samples: int
    checksum: int      # of all its samples (the device's checksum, session.checksum)
    notes: list = field(default_factory=list)


def prepare_mic(path, rate: int, out_dir: Path, seconds: float | None = None) -> MicFile:
    """Decode and resample `path` (as `micromel segment` reads it: audio.open_audio) into the
    raw file the emulated microphone plays; block by block, memory bounded."""
    audio = open_audio(path, rate)
    limit = int(round(seconds * rate)) if seconds else None
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    dst = out_dir / f"{Path(path).stem}.{rate}.pcm"
    n, h = 0, 0
    with atomic_path(dst) as tmp, open(tmp, "wb") as f:
        for c in audio.chunks():
            if limit is not None:
                c = c[: max(0, limit - n)]
            if not len(c):
                break
            f.write(np.asarray(c, "<i2").tobytes())
            h = checksum(c, h)
            n += len(c)
    return MicFile(Path(path), dst, n, h, audio.notes)


def timed_events(raw: list[tuple], labels: list[str], p, rule=None) -> list[TimedEvent]:
    """(run_start, onset, offset, label, confidence) from the device (frames) -> events in
    seconds, "unknown" where the model's rejection rule rejects them."""
    tb = Timebase.of(p)
    out = []
    for run, a, b, lab, conf in raw:
        shift = run / p.sample_rate
        e = Event(lab, 0, 0, conf, a, b)     # the device sends frames, not windows
        out.append(TimedEvent(tb.seconds(a) + shift, tb.seconds(b) + shift,
                              event_name(e, labels, rule), conf / 256.0, e))
    return out


def event_line(e: TimedEvent) -> str:
    """The device's text line of an event (app_listen.c), e.g. '12.34 18.90 speech 0.91'."""
    return f"{e.start:.2f} {e.end:.2f} {e.label} {e.confidence:.2f}"


@dataclass
class ListenResult:
    raw: list                  # (run_start, onset, offset, label, confidence) per event
    status: Status             # the final one
    windows: list              # (run_start, index, silent, scores) with want_windows
    stopped: bool = False      # stopped by the host (--seconds on a live source, Ctrl-C)

    def as_file_result(self, name: str, labels: list[str], p, notes: list, rule=None) -> FileResult:
        """The result in the form `micromel segment` writes (segment.output)."""
        return FileResult(Path(name), self.status.seconds, list(labels),
                          timed_events(self.raw, labels, p, rule), p, None, notes)


def listen(lst: Listener, source: str, path: str = "", seconds: float | None = None,
           unpaced: bool = False, want_windows: bool = False, tone_hz: int = 1000,
           amplitude: int = 8000, on_event: Callable | None = None,
           on_status: Callable | None = None, stop_after: float | None = None) -> ListenResult:
    """Listen until the source ends (its file, or `seconds` of audio), or for `stop_after`
    seconds of wall time (a live microphone); Ctrl-C stops the device cleanly (its open
    events close) and returns what it reported."""
    flags = (FLAG["UNPACED"] if unpaced else 0) | (FLAG["WINDOWS"] if want_windows else 0)
    rate = lst._unit["rate"]
    max_samples = int(round(seconds * rate)) if seconds else 0
    st = lst.start(source, path, flags, max_samples, tone_hz, amplitude)
    res = ListenResult([], st, [])
    t_end = time.monotonic() + stop_after if stop_after else None
    stopping = False
    try:
        for d in lst.data(DATA_TIMEOUT):
            _take(d, res, on_event, on_status)
            if t_end and not stopping and time.monotonic() > t_end:
                stopping = res.stopped = True
                lst.stop()
    except KeyboardInterrupt:
        res.stopped = True
        _stop_and_drain(lst, res, on_event)
    except DeviceTimeout:
        raise DeviceError(f"{lst.dev.name}: nothing from the device for {DATA_TIMEOUT:.0f} s while "
                          "listening (last status: " + res.status.line() + ")") from None
    return res


def _take(d, res: ListenResult, on_event, on_status=None) -> None:
    """One LISTEN_DATA frame into the result."""
    if d.kind == "event":
        res.raw.append((d.run_start, d.start, d.end, d.label, d.confidence))
        if on_event:
            on_event(res.raw[-1])
    elif d.kind == "window":
        res.windows.append((d.run_start, d.index, d.silent, d.scores))
    elif d.kind in ("status", "end"):
        res.status = d.status
        if on_status:
            on_status(d.status)


def _stop_and_drain(lst: Listener, res: ListenResult, on_event) -> None:
    lst.stop()
    for d in lst.data(DATA_TIMEOUT):
        _take(d, res, on_event)


def overrun_note(st: Status, windows_per_second: float | None = None) -> str | None:
    """What the host says when the board could not keep up."""
    if not st.overruns:
        return None
    need = st.steady_load(windows_per_second) if windows_per_second else None
    why = (f"with a window every {1 / windows_per_second:.3f} s it needs {100 * need:.0f}% of "
           "its clock" if need is not None else "the model and hop need more than its clock")
    return (f"the board could not keep up: it dropped {st.overruns} half-buffers "
            f"({st.dropped / st.rate:.2f} s of {(st.samples + st.dropped) / st.rate:.2f} s of audio; "
            f"worst latency {1000 * (st.latency() or 0):.0f} ms): {why}. It closed the events at "
            "each gap and restarted the pipeline after it, so events near the gaps are cut. "
            "Use a smaller model, a longer segment hop_frames, or a faster board "
            "(`micromel build MODEL --check` gives the real-time budget)")


def record(lst: Listener, source: str, seconds: float, path: str = "", tone_hz: int = 1000,
           amplitude: int = 8000, on_status: Callable | None = None,
           unpaced: bool = False) -> tuple[list[np.ndarray], Status]:
    """`seconds` of the device's audio input as contiguous pieces (a new piece starts after
    samples were lost to an overrun), and the final status."""
    rate = lst._unit["rate"]
    flags = FLAG["AUDIO"] | FLAG["AUDIO_ONLY"] | (FLAG["UNPACED"] if unpaced else 0)
    st = lst.start(source, path, flags, int(round(seconds * rate)), tone_hz, amplitude)
    pieces: list[list[np.ndarray]] = [[]]
    expect = 0
    try:
        for d in lst.data(DATA_TIMEOUT):
            if d.kind == "audio":
                if d.index != expect and pieces[-1]:
                    pieces.append([])
                pieces[-1].append(d.pcm)
                expect = d.index + len(d.pcm)
            elif d.kind in ("status", "end"):
                st = d.status
                if on_status:
                    on_status(st)
    except DeviceTimeout:
        raise DeviceError(f"{lst.dev.name}: nothing from the device for {DATA_TIMEOUT:.0f} s "
                          "while recording") from None
    out = [np.concatenate(p) for p in pieces if p]
    if not out:
        raise MicromelError(f"{lst.dev.name}: recorded no audio")
    return out, st
