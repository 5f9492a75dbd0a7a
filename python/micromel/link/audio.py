"""Host side of the audio messages of the firmware application
(CLASSIFY_AUDIO and STREAM; payloads in docs/protocol.md, "Application")."""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from ..errors import DeviceError
from . import protocol
from .device import Device, Undelivered

FLAG_START = protocol.AUDIO_FLAG["START"]        # reset front end and clip state first
FLAG_END = protocol.AUDIO_FLAG["END"]            # clip ends: pad if short, vote, send the result
FLAG_FEATURES = protocol.AUDIO_FLAG["FEATURES"]  # include this chunk's feature frames
REPLY = protocol.AUDIO_REPLY
# int16 samples per request: a 4096-byte payload minus the flags byte, rounded down to hops
CHUNK_SAMPLES = 2048 - 256


@dataclass
class WindowResult:
    index: int
    silent: bool
    scores: np.ndarray | None  # int8 (classes,), None when silent


@dataclass
class AudioResult:
    frames: list[np.ndarray] = field(default_factory=list)   # int8 (n_mels,) each
    windows: list[WindowResult] = field(default_factory=list)
    events: list = field(default_factory=list)  # (onset, offset, label, confidence), STREAM
    vote: int | None = None          # class index, -1 for silence
    acc: np.ndarray | None = None    # int32 (classes,)
    n_nonsilent: int = 0

    def features(self, n_mels: int) -> np.ndarray:
        if not self.frames:
            return np.zeros((0, n_mels), dtype=np.int8)
        return np.stack(self.frames).astype(np.int8)


def parse_audio_reply(payload: bytes, n_mels: int, n_classes: int, into: AudioResult) -> None:
    """Reply: u16 n_frames, u16 n_windows, u8 flags (bit0: result present, bit1:
    frames included), n_frames x n_mels int8 (only if bit1; else n_frames just counts them),
    n_windows x (u32 index, u8 silent, n_classes int8 scores),
    result: i8 class, u16 n_nonsilent, n_classes x u32 acc (only if bit0),
    events (only if bit2, STREAM): u16 n, n x (u32 onset, u32 offset, u8 label, u8 conf),
    onset and offset in front-end frames (segment/machine.py, step 5)."""
    try:
        n_frames, n_windows, flags = struct.unpack_from("<HHB", payload, 0)
        off = 5
        if flags & REPLY["FRAMES"]:
            for _ in range(n_frames):
                into.frames.append(np.frombuffer(payload, np.int8, n_mels, off).copy())
                off += n_mels
        for _ in range(n_windows):
            idx, silent = struct.unpack_from("<IB", payload, off)
            off += 5
            scores = np.frombuffer(payload, np.int8, n_classes, off).copy()
            off += n_classes
            into.windows.append(WindowResult(idx, bool(silent), None if silent else scores))
        if flags & REPLY["RESULT"]:
            vote, nns = struct.unpack_from("<bH", payload, off)
            off += 3
            into.acc = np.frombuffer(payload, "<u4", n_classes, off).astype(np.int32)
            off += 4 * n_classes
            into.vote, into.n_nonsilent = int(vote), int(nns)
        if flags & REPLY["EVENTS"]:
            (n_events,) = struct.unpack_from("<H", payload, off)
            off += 2
            for _ in range(n_events):
                into.events.append(struct.unpack_from("<IIBB", payload, off))
                off += 10
    except (struct.error, ValueError):    # a field or an array past the end of the payload
        raise DeviceError(f"malformed audio reply of {len(payload)} bytes") from None
    if off != len(payload):
        raise DeviceError(f"audio reply has {len(payload) - off} unexpected trailing bytes")


def chunk_samples(dev: Device, header: int) -> int:
    """Samples per request: CHUNK_SAMPLES, fewer while the device's link needs resending
    (Device.payload_budget: smaller frames get through a noisy link more often)."""
    budget = getattr(dev, "payload_budget", protocol.FIRMWARE_MAX_PAYLOAD)
    return max(1, min(CHUNK_SAMPLES, (budget - header) // 2))


def as_chunks(pcm) -> Iterable[np.ndarray]:
    """A clip given whole (an int16 array) or in chunks (any iterable of them), as chunks."""
    return [pcm] if isinstance(pcm, np.ndarray) else pcm


class Samples:
    """A clip or stream (an int16 array, or an iterable of chunks of any sizes: a long file
    streams) handed out in chunks of the size asked each time; a chunk the device never
    received (Undelivered) is put back and handed out again, smaller."""

    def __init__(self, pcm):
        self.src = iter(as_chunks(pcm))
        self.buf = np.zeros(0, "<i2")
        self.done = False

    def take(self, n: int) -> np.ndarray:
        while len(self.buf) <= n and not self.done:   # one more than n: is this the last?
            chunk = next(self.src, None)
            if chunk is None:
                self.done = True
            else:
                self.buf = np.concatenate([self.buf, np.asarray(chunk, dtype="<i2")])
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def unread(self, chunk: np.ndarray) -> None:
        self.buf = np.concatenate([chunk, self.buf])

    @property
    def empty(self) -> bool:
        return self.done and not len(self.buf)


def classify_audio(dev: Device, pcm, n_mels: int, n_classes: int, want_features: bool = True,
                   timeout: float = 30.0, keep_windows: bool = True,
                   on_reply=None) -> AudioResult:
    """Send one clip (an int16 array, or an iterable of chunks: a long file streams) as
    CLASSIFY_AUDIO chunks; each reply acknowledges its chunk (that is the flow control) and
    carries what the chunk produced. keep_windows=False keeps only the clip result;
    on_reply(part) is given each reply's frames and windows instead of keeping them (memory
    stays bounded however long the clip)."""
    out = AudioResult()
    samples = Samples(pcm)
    first = True
    while True:
        chunk = samples.take(chunk_samples(dev, 1))
        last = samples.empty
        flags = (FLAG_START if first else 0) | (FLAG_END if last else 0)
        flags |= FLAG_FEATURES if want_features else 0
        try:
            reply = dev.request(protocol.MSG["CLASSIFY_AUDIO"], bytes([flags]) + chunk.tobytes(),
                                timeout=timeout, resplit=True)
        except Undelivered:
            samples.unread(chunk)
            continue
        if on_reply is None:
            parse_audio_reply(reply.payload, n_mels, n_classes, out)
        else:
            part = AudioResult()
            parse_audio_reply(reply.payload, n_mels, n_classes, part)
            on_reply(part)
            out.vote, out.acc, out.n_nonsilent = part.vote, part.acc, part.n_nonsilent
        if not keep_windows:
            out.windows.clear()
        first = False
        if last:
            break
    if out.vote is None:
        raise DeviceError(f"{dev.name}: no clip result after the last chunk")
    return out


class Stream:
    """STREAM: continuous PCM in chunks, window results as they are ready. Each
    chunk carries its index and waits for its reply before the next is sent,
    so no chunk is dropped, repeated or reordered."""

    def __init__(self, dev: Device, n_mels: int, n_classes: int, want_features: bool = False):
        self.dev, self.n_mels, self.n_classes = dev, n_mels, n_classes
        self.want_features = want_features
        self.index = 0

    def _chunk(self, pcm: np.ndarray, end: bool, out: AudioResult, timeout: float) -> None:
        flags = (FLAG_START if self.index == 0 else 0) | (FLAG_FEATURES if self.want_features else 0)
        flags |= FLAG_END if end else 0
        payload = bytes([flags]) + struct.pack("<I", self.index) + pcm.tobytes()
        reply = self.dev.request(protocol.MSG["STREAM"], payload, timeout=timeout, resplit=not end)
        self.index += 1
        parse_audio_reply(reply.payload, self.n_mels, self.n_classes, out)

    def send(self, pcm: np.ndarray, timeout: float = 30.0) -> AudioResult:
        """Send samples (any length; split into chunks); returns what they produced."""
        samples = Samples(np.asarray(pcm, dtype="<i2"))
        out = AudioResult()
        while not samples.empty:
            chunk = samples.take(chunk_samples(self.dev, 5))  # after flags and chunk index
            if not len(chunk):
                break
            try:
                self._chunk(chunk, False, out, timeout)
            except Undelivered:
                samples.unread(chunk)
        return out

    def finish(self, timeout: float = 30.0) -> AudioResult:
        """End the stream: the device pads a stream shorter than one window and
        closes its open events."""
        out = AudioResult()
        self._chunk(np.zeros(0, "<i2"), True, out, timeout)
        return out
