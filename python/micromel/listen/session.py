"""The LISTEN message seen from the host (byte layouts: docs/protocol.md, "Listening"): start,
stop and status requests, and the LISTEN_DATA frames the device sends on its own while it
listens (events, window results, audio, status, end). Requests and unsolicited frames share
the link, so every frame read while waiting for a reply is kept for `data()`."""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ..errors import DeviceError
from ..link import protocol
from ..link.device import Device

OP = protocol.LISTEN_OP
KIND = protocol.LISTEN_KIND
FLAG = protocol.LISTEN_FLAG
SOURCES = {name.lower(): v for name, v in protocol.LISTEN_SOURCE.items()}
ERRORS = {
    protocol.LISTEN_ERROR["CONFIG"]: "the firmware refused the settings",
    protocol.LISTEN_ERROR["NO_FILE"]: "the emulated microphone cannot open its file",
    protocol.LISTEN_ERROR["NO_TIMER"]: "this board has no audio timer: real-time file and "
                                       "generator sources need one (--unpaced runs them without)",
    protocol.LISTEN_ERROR["NO_MIC"]: "this board's firmware has no microphone driver",
    protocol.LISTEN_ERROR["NO_MODEL"]: "the firmware has no model: it can record, not listen",
}
START = struct.Struct("<BBBBIHH")
STATUS = struct.Struct("<BBBB12IQQQIQ")
STATUS_FIELDS = ("state", "source", "flags", "error", "samples", "periods", "overruns",
                 "dropped", "windows", "inferences", "events", "checksum", "fill_max",
                 "stack_used", "stack_size", "clock_hz", "busy", "elapsed", "latency_max",
                 "run_start", "model_busy")


@dataclass(frozen=True)
class Status:
    """The device's listening counters. Costs (busy, elapsed, latency_max) are raw mm_cost
    counts; `unit` converts them (instructions on an emulated board, cycles on silicon)."""
    state: int
    source: int
    flags: int
    error: int
    samples: int        # processed by the pipeline
    periods: int        # half-buffers the source delivered
    overruns: int       # half-buffers dropped: the pipeline was behind
    dropped: int        # samples in them
    windows: int
    inferences: int     # windows the gate let through to the model
    events: int
    checksum: int       # of the processed samples (h = 31 h + x, 32-bit)
    fill_max: int       # most samples queued in the ring
    stack_used: int     # the stack's high-water mark (bytes, 0: unknown)
    stack_size: int
    clock_hz: int
    busy: int
    elapsed: int
    latency_max: int
    run_start: int
    model_busy: int     # of busy: the model's inferences (input copy included)
    rate: int = 16000
    num: int = 1        # raw count * num / den = counter_unit
    den: int = 1
    unit: str = "instructions"

    @property
    def listening(self) -> bool:
        return self.state == protocol.LISTEN_STATE["LISTENING"]

    @property
    def seconds(self) -> float:
        """Audio processed, in seconds."""
        return self.samples / self.rate

    def busy_per_second(self) -> float | None:
        """Busy instructions (cycles) per second of processed audio."""
        if not self.samples or not self.num:
            return None
        return self.busy * self.num / self.den / self.seconds

    def cpu_load(self) -> float | None:
        """Busy instructions (cycles) per second of audio against the board's clock: the
        demand, which keeps its meaning above 1 (it does not saturate as utilisation does)."""
        b = self.busy_per_second()
        return b / self.clock_hz if b is not None and self.clock_hz else None

    def steady_load(self, windows_per_second: float) -> float | None:
        """CPU load when every window runs the model, at the measured cost per inference and
        per second of audio of the rest (what a board behind on its audio needs)."""
        if not self.samples or not self.inferences or not self.clock_hz or not self.num:
            return None
        rest = (self.busy - self.model_busy) / self.seconds
        per_inference = self.model_busy / self.inferences
        return (rest + per_inference * windows_per_second) * self.num / self.den / self.clock_hz

    def utilisation(self) -> float | None:
        """Busy share of the time since the start (saturates at 1 when overloaded)."""
        return self.busy / self.elapsed if self.elapsed else None

    def latency(self) -> float | None:
        """Worst seconds from a window's last sample arriving to its result."""
        if not self.clock_hz or not self.num or not self.windows:
            return None
        return self.latency_max * self.num / self.den / self.clock_hz

    def line(self) -> str:
        """One status line: audio, CPU load, overruns, latency, stack."""
        load, lat = self.cpu_load(), self.latency()
        parts = [f"{self.seconds:8.2f} s", f"{self.events} events",
                 f"cpu {100 * load:5.1f}%" if load is not None else "cpu ?",
                 f"overruns {self.overruns}"]
        if self.overruns:
            util = self.utilisation()
            parts[-1] += f" ({self.dropped / self.rate:.2f} s lost"
            parts[-1] += f", busy {100 * util:.0f}% of the time)" if util is not None else ")"
        parts.append(f"latency max {1000 * lat:.1f} ms" if lat is not None else "latency ?")
        if self.stack_used:
            parts.append(f"stack {self.stack_used} B of {self.stack_size}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Data:
    """One LISTEN_DATA frame: kind and its fields (unused ones are None)."""
    kind: str                       # "event", "window", "audio", "status", "end"
    run_start: int | None = None    # event, window: stream sample where the run began
    start: int | None = None        # event: front-end frames [start, end)
    end: int | None = None
    label: int | None = None
    confidence: int | None = None   # 1/256
    index: int | None = None        # window index; audio: stream index of the first sample
    silent: bool | None = None
    scores: np.ndarray | None = None
    pcm: np.ndarray | None = None
    status: Status | None = None


def checksum(pcm: np.ndarray, h: int = 0) -> int:
    """The device's checksum of processed samples, h = 31 h + (uint16) x mod 2^32, continued
    from h (vectorised: h * 31^n + sum x_i 31^(n-1-i))."""
    x = np.asarray(pcm, np.int16).view(np.uint16).astype(np.uint64)
    mask = np.uint64(0xFFFFFFFF)
    step = 1 << 14
    pw = np.ones(step + 1, np.uint64)
    for k in range(1, step + 1):
        pw[k] = (pw[k - 1] * np.uint64(31)) & mask
    for a in range(0, len(x), step):
        c = x[a:a + step]
        n = len(c)
        s = int(np.sum((c * pw[n - 1::-1][:n]) & mask, dtype=np.uint64) & mask)
        h = (h * int(pw[n]) + s) & 0xFFFFFFFF
    return h


class Listener:
    """LISTEN on an open Device."""

    def __init__(self, dev: Device):
        self.dev = dev
        info = dev.info()
        self.info = info
        if "listen" not in info:
            raise DeviceError(f"{dev.name}: the firmware has no LISTEN message (INFO lacks "
                              "'listen'); build and flash a current firmware")
        self.n_classes = int(info.get("n_classes", 0))
        self.sources = info.get("listen_sources", "").split(",")
        self._unit = dict(rate=int(info.get("audio_rate", 16000)),
                          num=int(info.get("counter_num", 1)), den=int(info.get("counter_den", 1)),
                          unit=info.get("counter_unit", "?"))
        self.backlog: list[Data] = []

    # --- requests -----------------------------------------------------------------
    def _request(self, payload: bytes, timeout: float = 10.0) -> Status:
        seq = self.dev.send(protocol.MSG["LISTEN"], payload)
        want = protocol.MSG["LISTEN"] | protocol.REPLY_BIT
        while True:
            f = self.dev.read_frame(timeout)
            if f.type == protocol.MSG_LISTEN_DATA:
                self.backlog.append(self.parse(f.payload))
            elif f.seq == seq and f.type == want:
                return self.parse_status(f.payload)
            elif f.seq == seq and f.is_error:
                code, _, detail = f.error()
                raise DeviceError(f"{self.dev.name}: LISTEN refused: {code} (detail {detail})")

    def start(self, source: str, path: str = "", flags: int = 0, max_samples: int = 0,
              tone_hz: int = 1000, amplitude: int = 8000) -> Status:
        if source not in SOURCES:
            raise DeviceError(f"unknown source {source!r} (one of {', '.join(SOURCES)})")
        raw = path.encode()
        if len(raw) > 160:
            raise DeviceError(f"the microphone file's path is longer than 160 bytes: {path}")
        st = self._request(START.pack(OP["START"], SOURCES[source], flags, 0, max_samples,
                                      tone_hz, amplitude & 0xFFFF) + raw)
        if st.error:
            raise DeviceError(f"{self.dev.name}: cannot listen: "
                              f"{ERRORS.get(st.error, f'error {st.error}')}"
                              + (f" ({path})" if st.error == protocol.LISTEN_ERROR['NO_FILE'] else ""))
        return st

    def stop(self) -> Status:
        return self._request(bytes([OP["STOP"]]))

    def status(self) -> Status:
        return self._request(bytes([OP["STATUS"]]))

    # --- unsolicited frames ---------------------------------------------------------
    def data(self, timeout: float = 5.0) -> Iterator[Data]:
        """LISTEN_DATA frames as they come, until the device sends END; a quiet link for
        `timeout` seconds raises DeviceTimeout (the caller decides)."""
        while True:
            while self.backlog:
                d = self.backlog.pop(0)
                yield d
                if d.kind == "end":
                    return
            f = self.dev.read_frame(timeout)
            if f.type == protocol.MSG_LISTEN_DATA:
                self.backlog.append(self.parse(f.payload))

    def parse_status(self, p: bytes) -> Status:
        if len(p) != STATUS.size:
            raise DeviceError(f"{self.dev.name}: LISTEN status of {len(p)} bytes, {STATUS.size} expected")
        return Status(**dict(zip(STATUS_FIELDS, STATUS.unpack(p))), **self._unit)

    def parse(self, p: bytes) -> Data:
        try:
            kind = p[0]
            if kind == KIND["EVENT"]:
                run, a, b, lab, conf = struct.unpack_from("<IIIBB", p, 1)
                return Data("event", run_start=run, start=a, end=b, label=lab, confidence=conf)
            if kind == KIND["WINDOW"]:
                run, idx, silent = struct.unpack_from("<IIB", p, 1)
                scores = np.frombuffer(p, np.int8, len(p) - 10, 10).copy()
                return Data("window", run_start=run, index=idx, silent=bool(silent),
                            scores=None if silent else scores)
            if kind == KIND["AUDIO"]:
                idx, n = struct.unpack_from("<IH", p, 1)
                return Data("audio", index=idx, pcm=np.frombuffer(p, "<i2", n, 7).astype(np.int16))
            if kind in (KIND["STATUS"], KIND["END"]):
                return Data("status" if kind == KIND["STATUS"] else "end",
                            status=self.parse_status(p[1:]))
        except (struct.error, ValueError, IndexError):
            pass
        raise DeviceError(f"{self.dev.name}: malformed LISTEN_DATA frame of {len(p)} bytes")

