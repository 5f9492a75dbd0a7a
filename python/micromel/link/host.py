"""The host build of the firmware's C code (PlatformIO env `native`) as a ctypes library:
the same sources that run on the device, callable from Python for bit-exactness tests and
for `--impl c`. The C side of each library's interface is firmware/host/host_<stage>.c."""
from __future__ import annotations

import ctypes
from functools import lru_cache
from pathlib import Path

from ..boards import firmware
from .device import Device


@lru_cache(maxsize=None)
def load(gen_dir: str | None = None, model_dir: str | None = None) -> ctypes.CDLL:
    """Build (incrementally) and load libmicromel.so for the given generated
    headers. Cached per process: one library per configuration."""
    so = firmware.build("native", gen_dir=Path(gen_dir) if gen_dir else None,
                        model_dir=Path(model_dir) if model_dir else None)
    return ctypes.CDLL(str(so))


class HostApp:
    """The firmware application running in-process: bytes in, bytes out."""

    def __init__(self, lib: ctypes.CDLL | None = None):
        self.lib = lib or load()
        self.lib.mm_host_app_read.restype = ctypes.c_size_t
        self.lib.mm_host_app_lost.restype = ctypes.c_size_t
        self.lib.mm_host_app_init()

    def rx(self, data: bytes) -> None:
        self.lib.mm_host_app_rx(data, ctypes.c_size_t(len(data)))

    def idle(self) -> None:
        self.lib.mm_host_app_idle()

    def poll(self, turns: int = 64) -> int:
        """Turns of the board's main loop (the listening work); how many found it listening."""
        return int(self.lib.mm_host_app_poll(turns))

    def read(self) -> bytes:
        out = ctypes.create_string_buffer(1 << 20)
        n = self.lib.mm_host_app_read(out, ctypes.c_size_t(len(out)))
        return out.raw[:n]


class HostParser:
    """The device's protocol parser alone (mm_proto.c), for unit tests."""

    FRAME, ERROR = 1, 2

    def __init__(self, lib: ctypes.CDLL | None = None):
        self.lib = lib or load()
        self.lib.mm_host_parser_run.restype = ctypes.c_size_t
        self.lib.mm_host_parser_buffered.restype = ctypes.c_size_t
        self.lib.mm_host_max_payload.restype = ctypes.c_uint
        self.lib.mm_host_parser_stats.restype = ctypes.POINTER(ctypes.c_uint32 * 6)
        self.lib.mm_host_parser_init()

    @property
    def max_payload(self) -> int:
        return int(self.lib.mm_host_max_payload())

    def run(self, data: bytes, idle: bool = False) -> list[tuple[int, int, int, int]]:
        """Feed bytes; returns events (kind, type-or-error, seq, len-or-detail)."""
        cap = 4 * len(data) + 16
        ev = ctypes.create_string_buffer(8 * cap)
        n = self.lib.mm_host_parser_run(data, ctypes.c_size_t(len(data)), int(idle), ev,
                                        ctypes.c_size_t(cap))
        if n == ctypes.c_size_t(-1).value:
            raise RuntimeError("parser buffer overflow")
        raw = ev.raw
        return [(raw[8 * i], raw[8 * i + 1], raw[8 * i + 2], raw[8 * i + 3] | raw[8 * i + 4] << 8)
                for i in range(min(n, cap))]

    def stats(self) -> dict[str, int]:
        vals = list(self.lib.mm_host_parser_stats().contents)
        names = ["frames", "bad_header", "too_long", "bad_crc", "truncated", "skipped_bytes"]
        return dict(zip(names, vals))

    def buffered(self) -> int:
        return int(self.lib.mm_host_parser_buffered())


class HostLink:
    """A pyserial-like link to the firmware app running in-process (HostApp),
    so `device.Device` drives the host build exactly as it drives a board."""

    def __init__(self, app: HostApp):
        self.app = app
        self.buf = bytearray()
        self.timeout = 0.1

    @property
    def in_waiting(self) -> int:
        self.app.poll()
        self.buf += self.app.read()
        return len(self.buf)

    def write(self, data: bytes) -> int:
        self.app.rx(bytes(data))
        return len(data)

    def read(self, n: int = 1) -> bytes:
        self.app.poll()
        self.buf += self.app.read()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def close(self) -> None:
        pass


def host_device(gen_dir, model_dir):
    """A Device backed by the host build of the firmware for one model."""
    return Device(HostLink(HostApp(load(str(gen_dir), str(model_dir)))), "host-build")
