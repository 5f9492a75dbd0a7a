"""The front end over the serial protocol: FEATURES / FEATURES_RESET and BENCH part 1
(byte layouts in docs/protocol.md, "Front end")."""
from __future__ import annotations

import struct

import numpy as np

from ..link import protocol
from ..errors import MicromelError
from .twin import _as_int16

FEATURES_HEADER = 8
BENCH_PART = protocol.BENCH_PART["FRONTEND"]
BENCH_STAGES = ("normalise", "window", "fft", "power", "filterbank", "log")
BENCH_SIGNALS = {"noise": 0, "silence": 1, "square": 2}


def max_samples_per_message(dev) -> int:
    max_payload = int(dev.info().get("max_payload", protocol.FIRMWARE_MAX_PAYLOAD))
    return max_payload // 2


def reset(dev) -> None:
    dev.request(protocol.MSG["FEATURES_RESET"])


def process(dev, pcm, n_mels: int | None = None, timeout: float = 10.0) -> np.ndarray:
    """Stream int16 PCM through the device's front end (continuing its state); returns the
    frames it emitted, int8 [frames, n_mels]."""
    pcm = _as_int16(pcm)
    step = max_samples_per_message(dev)
    frames = []
    pos = 0
    while pos < len(pcm):
        chunk = pcm[pos:pos + step]
        reply = dev.request(protocol.MSG["FEATURES"], chunk.astype("<i2").tobytes(), timeout=timeout)
        got, used = parse_features_reply(reply.payload, n_mels, dev.name)
        frames.append(got)
        if used == 0 and len(got) == 0:
            raise MicromelError(f"{dev.name}: FEATURES made no progress")
        pos += used
    if not frames:
        return np.zeros((0, n_mels or 0), dtype=np.int8)
    return np.concatenate(frames)


def parse_features_reply(p: bytes, n_mels: int | None, name: str) -> tuple[np.ndarray, int]:
    """(frames int8 [n, mels], samples used) of a FEATURES reply; a malformed one is a
    one-line MicromelError naming the device."""
    if len(p) < FEATURES_HEADER:
        raise MicromelError(f"{name}: FEATURES reply too short ({len(p)} bytes)")
    n, used, _pending, mels = struct.unpack("<HHHB", p[:7])
    if n_mels is not None and mels != n_mels:
        raise MicromelError(f"{name}: device front end has {mels} mel bands, expected {n_mels}")
    body = np.frombuffer(p[FEATURES_HEADER:], dtype=np.int8)
    if body.size != n * mels or (n and not mels):
        raise MicromelError(f"{name}: FEATURES reply holds {body.size} bytes for {n} frames")
    return body.reshape(n, mels), used


def parse_bench_reply(p: bytes, name: str) -> tuple[int, int, int, tuple]:
    """(samples, frames, total, per-stage costs) of a BENCH part 1 reply."""
    if len(p) < 20:
        raise MicromelError(f"{name}: malformed BENCH reply ({len(p)} bytes)")
    part, _, n_stages, n_samples, n_frames, total = struct.unpack("<BBHIIQ", p[:20])
    if part != BENCH_PART or len(p) != 20 + 8 * n_stages:
        raise MicromelError(f"{name}: malformed BENCH reply ({len(p)} bytes)")
    return n_samples, n_frames, total, struct.unpack(f"<{n_stages}Q", p[20:])


def features(dev, pcm, n_mels: int | None = None) -> np.ndarray:
    """A whole clip from a reset state (same contract as micromel.frontend.features)."""
    reset(dev)
    return process(dev, pcm, n_mels)


def bench(dev, signal: str = "noise") -> dict:
    """BENCH part 1: the front end's cost on one second of a test signal, converted with
    the device's counter ratio (instructions on the emulated board)."""
    info = dev.info()
    reply = dev.request(protocol.MSG["BENCH"], bytes([BENCH_PART, BENCH_SIGNALS[signal]]),
                        timeout=60.0)
    n_samples, n_frames, total, stages = parse_bench_reply(reply.payload, dev.name)
    n_stages = len(stages)
    num, den = int(info.get("counter_num", 1)), int(info.get("counter_den", 1))
    rate = int(info.get("fe_sample_rate", 16000))
    hop = int(info.get("fe_hop", 256))
    frames_per_s = rate / hop
    names = BENCH_STAGES if n_stages == len(BENCH_STAGES) else [f"stage{i}" for i in range(n_stages)]
    per_frame = {k: v * num / den / max(n_frames, 1) for k, v in zip(names, stages)}
    per_frame_total = total * num / den / max(n_frames, 1)
    # steady state: one frame per hop, so per second = per frame * sample_rate / hop
    return {
        "signal": signal, "unit": info.get("counter_unit", "?"), "samples": n_samples,
        "frames": n_frames, "frames_per_second": frames_per_s,
        "per_frame_total": per_frame_total, "per_frame_stages": per_frame,
        "per_second_total": per_frame_total * frames_per_s,
        "per_second_stages": {k: v * frames_per_s for k, v in per_frame.items()},
        "raw_total": total, "raw_stages": list(stages),
    }
