"""micromel serial protocol, version 1: framing, CRCs and message ids.

This module is the single source of truth for every protocol constant. The
firmware never types them: `write_c_header` emits `mm_proto_ids.h` at build
time (see boards/scripts/micromel_pre.py). The byte-level spec is
docs/protocol.md.

Frame layout (all integers little-endian):

    0   SYNC0 0xA5
    1   SYNC1 0x5A
    2   TYPE  message type
    3   SEQ   sequence number chosen by the host, echoed in the reply
    4-5 LEN   payload length
    6   HCRC  CRC-8 (poly 0x07, init 0x00) over bytes 2..5
    7   PAYLOAD (LEN bytes)
    7+LEN CRC  CRC-16/CCITT-FALSE over bytes 2 .. 6+LEN
"""
from __future__ import annotations

import re
import struct
from collections import deque
from dataclasses import dataclass
from typing import Iterator

PROTOCOL_VERSION = 1
SYNC0 = 0xA5
SYNC1 = 0x5A
HEADER_SIZE = 7
CRC_SIZE = 2
OVERHEAD = HEADER_SIZE + CRC_SIZE
# Largest payload any device may accept; each device reports its own limit in INFO.
PROTOCOL_MAX_PAYLOAD = 0xFFFF
# Payload limit of micromel's firmware: small enough for a 64 KB-RAM board.
FIRMWARE_MAX_PAYLOAD = 4096
REPLY_BIT = 0x80
# A partial frame is dropped after the link is idle this long (device side).
IDLE_TIMEOUT_MS = 200

# Message types (host -> device). The reply carries type | REPLY_BIT.
MSG = {
    "PING": 0x01,               # payload echoed back
    "INFO": 0x02,               # key=value lines describing firmware, board and model
    "STATS": 0x03,              # link counters: frames, bad CRCs, dropped bytes...
    "BENCH": 0x04,              # cost per stage
    "RESEND": 0x05,             # the reply of the last stateful frame, or "never processed"
    "FEATURES": 0x10,           # int16 PCM in, int8 log-mel frames out
    "FEATURES_RESET": 0x11,     # clear the streaming front end's state
    "CLASSIFY_FEATURES": 0x20,  # int8 features in, int8 scores out
    "CLASSIFY_AUDIO": 0x21,     # PCM clip in, per-window scores + soft vote out
    "MODEL_TAP": 0x22,          # layer-by-layer check: per-layer CRC-32s or one layer's bytes
    "STREAM": 0x30,             # continuous PCM chunks in, window results out
    "LISTEN": 0x31,             # continuous recognition of the board's own audio: start/stop/status
}
# Device -> host only.
MSG_ERROR = 0x7F
MSG_LISTEN_DATA = 0x7E          # unsolicited while listening: events, windows, audio, status

# Error codes carried in an ERROR payload: code u8, seq u8, detail u16.
ERR = {
    "BAD_HEADER_CRC": 1,   # header CRC failed; seq is not trustworthy
    "TOO_LONG": 2,         # LEN above the device's max payload; detail = max
    "BAD_CRC": 3,          # payload CRC failed
    "TRUNCATED": 4,        # partial frame dropped after the idle timeout
    "UNKNOWN_TYPE": 5,     # detail = the type
    "BAD_PAYLOAD": 6,      # payload malformed for its type
    "UNSUPPORTED": 7,      # type known but not built into this firmware
}
ERR_NAMES = {v: k for k, v in ERR.items()}

# Sub-fields of message payloads (docs/protocol.md), generated into C too.
AUDIO_FLAG = {"START": 0x01, "END": 0x02, "FEATURES": 0x04}   # CLASSIFY_AUDIO / STREAM request
AUDIO_REPLY = {"RESULT": 0x01, "FRAMES": 0x02, "EVENTS": 0x04}  # their reply's flags byte
BENCH_PART = {"FRONTEND": 1, "MODEL": 2}                        # BENCH payload byte 0
TAP = {"CRC": 1, "RANDOM": 2, "SLICE": 3}                       # MODEL_TAP payload byte 0
LISTEN_OP = {"START": 1, "STOP": 2, "STATUS": 3}                # LISTEN payload byte 0
LISTEN_SOURCE = {"FILE": 1, "SILENCE": 2, "TONE": 3, "NOISE": 4, "MIC": 5}
LISTEN_FLAG = {"TEXT": 0x01, "WINDOWS": 0x02, "AUDIO": 0x04, "UNPACED": 0x08,
               "AUDIO_ONLY": 0x10}
LISTEN_KIND = {"EVENT": 1, "WINDOW": 2, "AUDIO": 3, "STATUS": 4, "END": 5}  # LISTEN_DATA byte 0
LISTEN_STATE = {"IDLE": 0, "LISTENING": 1, "ENDED": 2}
LISTEN_ERROR = {"NONE": 0, "CONFIG": 1, "NO_FILE": 2, "NO_TIMER": 3, "NO_MIC": 4, "NO_MODEL": 5}
MSG_NAMES = {v: k for k, v in MSG.items()}


def crc8(data: bytes, crc: int = 0) -> int:
    """CRC-8/SMBUS: poly 0x07, init 0x00, no reflection, no xorout."""
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def _crc16_table() -> list[int]:
    table = []
    for i in range(256):
        c = i << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x1021) & 0xFFFF if c & 0x8000 else (c << 1) & 0xFFFF
        table.append(c)
    return table


_CRC16 = _crc16_table()


def crc16(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no xorout."""
    for b in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC16[((crc >> 8) ^ b) & 0xFF]
    return crc


def encode(msg_type: int, seq: int, payload: bytes = b"") -> bytes:
    if not 0 <= msg_type <= 0xFF or not 0 <= seq <= 0xFF:
        raise ValueError("type and seq are bytes")
    if len(payload) > PROTOCOL_MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {PROTOCOL_MAX_PAYLOAD}")
    head = struct.pack("<BBH", msg_type, seq, len(payload))
    body = head + bytes([crc8(head)]) + payload
    return bytes([SYNC0, SYNC1]) + body + struct.pack("<H", crc16(body))


@dataclass(frozen=True)
class Frame:
    type: int
    seq: int
    payload: bytes

    @property
    def is_error(self) -> bool:
        return self.type == MSG_ERROR

    def error(self) -> tuple[str, int, int]:
        """(code name, seq, detail) of an ERROR frame (a short payload reads as zeros)."""
        code, seq, detail = struct.unpack("<BBH", self.payload[:4].ljust(4, b"\0"))
        return ERR_NAMES.get(code, f"code {code}"), seq, detail


class Parser:
    """Host-side frame parser with the same resynchronisation rule as the device:
    on any bad header or CRC, drop the first byte of the candidate frame and
    rescan what is buffered, so a valid frame hidden behind garbage is found."""

    def __init__(self, max_payload: int = PROTOCOL_MAX_PAYLOAD):
        self.buf = bytearray()
        self.max_payload = max_payload
        self.n_errors = 0                       # damaged frames skipped so far
        self.errors = deque(maxlen=16)          # the latest ones' reasons (bounded: a long
                                                # run over a noisy link damages thousands)

    def _error(self, why: str) -> None:
        self.n_errors += 1
        self.errors.append(why)

    def feed(self, data: bytes) -> Iterator[Frame]:
        self.buf += data
        while True:
            start = self.buf.find(bytes([SYNC0, SYNC1]))
            if start < 0:
                # keep a trailing SYNC0, it may start a frame
                keep = 1 if self.buf[-1:] == bytes([SYNC0]) else 0
                del self.buf[: len(self.buf) - keep]
                return
            del self.buf[:start]
            if len(self.buf) < HEADER_SIZE:
                return
            head = bytes(self.buf[2:6])
            msg_type, seq, length = struct.unpack("<BBH", head)
            if crc8(head) != self.buf[6]:
                self._error("bad header crc")
                del self.buf[:1]
                continue
            if length > self.max_payload:
                self._error("too long")
                del self.buf[:1]
                continue
            total = HEADER_SIZE + length + CRC_SIZE
            if len(self.buf) < total:
                return
            body = bytes(self.buf[2 : HEADER_SIZE + length])
            (crc,) = struct.unpack("<H", self.buf[HEADER_SIZE + length : total])
            if crc16(body) != crc:
                self._error("bad crc")
                del self.buf[:1]
                continue
            payload = bytes(self.buf[HEADER_SIZE : HEADER_SIZE + length])
            del self.buf[:total]
            yield Frame(msg_type, seq, payload)


    def drop_partial(self) -> list[Frame]:
        """The link went quiet inside a frame (bytes lost, or a damaged LEN announcing more
        than will come): drop its first byte and rescan the rest, as a device does on idle.
        Returns the frames found behind it."""
        if len(self.buf) <= 1:
            return []
        self._error("truncated")
        del self.buf[:1]
        return list(self.feed(b""))


def parse_info(payload: bytes) -> dict[str, str]:
    """INFO payload: ASCII `key=value` lines separated by '\\n'."""
    info = {}
    for line in payload.decode("ascii", errors="replace").splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            info[k.strip()] = v.strip()
    return info


_WHOLE = re.compile(r"-?[0-9]+")
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")
# names, versions and lists, whatever they look like: a model named "2024" stays "2024"
_TEXT_KEYS = ("firmware", "compiler", "model", "labels", "target", "core", "kernels",
              "counter_unit", "listen_sources", "input_shape")


def info_as_json(info: dict[str, str]) -> dict:
    """INFO with its numbers as JSON numbers (`device info --json`): a whole number an int,
    a decimal fraction or exponent a float; hashes (`*_hash`, hex that may be all digits) and
    the keys whose values are names (_TEXT_KEYS) stay strings, as does everything else."""
    def value(k: str, v: str):
        if k in _TEXT_KEYS or k.endswith("hash"):
            return v
        if _WHOLE.fullmatch(v):
            return int(v)
        return float(v) if _DECIMAL.fullmatch(v) else v
    return {k: value(k, v) for k, v in info.items()}


def c_header() -> str:
    """The C header with every protocol constant, generated from this module."""
    lines = [
        "/* Generated by micromel.protocol -- do not edit. */",
        "#ifndef MM_PROTO_IDS_H",
        "#define MM_PROTO_IDS_H",
        f"#define MM_PROTO_VERSION {PROTOCOL_VERSION}",
        f"#define MM_PROTO_SYNC0 0x{SYNC0:02X}u",
        f"#define MM_PROTO_SYNC1 0x{SYNC1:02X}u",
        f"#define MM_PROTO_HEADER_SIZE {HEADER_SIZE}u",
        f"#define MM_PROTO_CRC_SIZE {CRC_SIZE}u",
        f"#define MM_PROTO_REPLY_BIT 0x{REPLY_BIT:02X}u",
        f"#define MM_PROTO_IDLE_TIMEOUT_MS {IDLE_TIMEOUT_MS}u",
        "#ifndef MM_PROTO_MAX_PAYLOAD",
        f"#define MM_PROTO_MAX_PAYLOAD {FIRMWARE_MAX_PAYLOAD}u",
        "#endif",
        f"#define MM_MSG_ERROR 0x{MSG_ERROR:02X}u",
        f"#define MM_MSG_LISTEN_DATA 0x{MSG_LISTEN_DATA:02X}u",
    ]
    lines += [f"#define MM_MSG_{name} 0x{val:02X}u" for name, val in MSG.items()]
    lines += [f"#define MM_ERR_{name} {val}u" for name, val in ERR.items()]
    for prefix, table in (("MM_AUDIO_FLAG", AUDIO_FLAG), ("MM_AUDIO_REPLY", AUDIO_REPLY),
                          ("MM_BENCH_PART", BENCH_PART), ("MM_TAP", TAP),
                          ("MM_LISTEN_OP", LISTEN_OP), ("MM_LISTEN_SOURCE", LISTEN_SOURCE),
                          ("MM_LISTEN_FLAG", LISTEN_FLAG), ("MM_LISTEN_KIND", LISTEN_KIND),
                          ("MM_LISTEN_STATE", LISTEN_STATE), ("MM_LISTEN_ERROR", LISTEN_ERROR)):
        lines += [f"#define {prefix}_{name} {val}u" for name, val in table.items()]
    lines += ["#endif", ""]
    return "\n".join(lines)
