"""A lossy serial link for tests and by hand: a TCP proxy between a host and a device's
serial socket (an emulator's UART, a ser2net bridge) that drops, corrupts (one flipped bit),
duplicates and delays bytes at set rates, independently in each direction, from a seed.

    micromel device proxy --device emulate --model models/drums --loss 1e-3 --flip 1e-4
    # -> proxy on socket://127.0.0.1:PORT; point --device of verify/classify/segment at it

Loopback only: it listens on 127.0.0.1 and connects to the device's host and port. One
client at a time (as a serial port); a new client gets a new upstream connection."""
from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import MicromelError


@dataclass(frozen=True)
class Impairment:
    loss: float = 0.0      # probability that a byte is dropped
    flip: float = 0.0      # probability that a byte has one bit flipped
    dup: float = 0.0       # probability that a byte is sent twice
    delay_ms: float = 0.0  # added to every block forwarded

    def __post_init__(self):
        for name in ("loss", "flip", "dup"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise MicromelError(f"--{name} {v}: a probability per byte, between 0 and 1")
        if self.delay_ms < 0:
            raise MicromelError(f"--delay-ms {self.delay_ms}: must be at least 0")

    def apply(self, data: bytes, rng: np.random.Generator, counts: dict) -> bytes:
        """The bytes as they come out of the impaired link; counts what was done."""
        if not data or not (self.loss or self.flip or self.dup):
            return data
        b = np.frombuffer(data, np.uint8).copy()
        u = rng.random((3, len(b)))
        flip = u[1] < self.flip
        b[flip] ^= (1 << rng.integers(0, 8, int(flip.sum()))).astype(np.uint8)
        keep = u[0] >= self.loss
        reps = np.where(keep, 1 + (u[2] < self.dup), 0)
        counts["dropped"] += int((~keep).sum())
        counts["flipped"] += int((flip & keep).sum())
        counts["duplicated"] += int((reps == 2).sum())
        return np.repeat(b, reps).tobytes()


@dataclass
class Direction:
    name: str
    counts: dict = field(default_factory=lambda: {"bytes": 0, "dropped": 0, "flipped": 0,
                                                   "duplicated": 0})


class LossyProxy:
    """Listens on 127.0.0.1:port (0: a free one) and forwards to (host, upstream_port)
    through an Impairment in each direction. Stop with close() (or a with block)."""

    def __init__(self, upstream: tuple[str, int], imp: Impairment, port: int = 0, seed: int = 0):
        self.upstream, self.imp, self.seed = upstream, imp, seed
        self.server = socket.create_server(("127.0.0.1", port))
        self.port = self.server.getsockname()[1]
        self.to_device, self.to_host = Direction("host->device"), Direction("device->host")
        self.clients = 0
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def __enter__(self) -> "LossyProxy":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        for s in [self.server, *self._conns]:
            try:
                s.close()
            except OSError:
                pass

    def stats(self) -> dict:
        return {d.name: dict(d.counts) for d in (self.to_device, self.to_host)}

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            try:
                device = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                client.close()
                continue
            for s in (client, device):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                s.settimeout(None)
            self._conns += [client, device]
            self.clients += 1
            rng = np.random.default_rng([self.seed, self.clients])
            a, b = rng.spawn(2)
            t1 = threading.Thread(target=self._pump, args=(client, device, self.to_device, a), daemon=True)
            t2 = threading.Thread(target=self._pump, args=(device, client, self.to_host, b), daemon=True)
            t1.start()
            t2.start()

    def _pump(self, src: socket.socket, dst: socket.socket, d: Direction, rng) -> None:
        try:
            while not self._stop.is_set():
                data = src.recv(4096)
                if not data:
                    break
                d.counts["bytes"] += len(data)
                out = self.imp.apply(data, rng, d.counts)
                if self.imp.delay_ms:
                    time.sleep(self.imp.delay_ms / 1000.0)
                if out:
                    dst.sendall(out)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def socket_address(spec: str) -> tuple[str, int]:
    """socket://HOST:PORT (pyserial's options after '?' allowed) -> (HOST, PORT); a malformed
    one is a one-line error (pyserial's own reasons for it read as garbage)."""
    host, _, port = spec[len("socket://"):].split("?", 1)[0].rstrip("/").rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) <= 65535:
        raise MicromelError(f"--device {spec}: expected socket://HOST:PORT with a PORT of 1 to "
                            "65535, e.g. socket://127.0.0.1:4000")
    return host, int(port)


def parse_socket_url(spec: str) -> tuple[str, int]:
    """socket://HOST:PORT -> (HOST, PORT); the proxy only forwards to loopback."""
    if not spec.startswith("socket://"):
        raise MicromelError(f"--device {spec}: the proxy forwards to a socket://HOST:PORT "
                            "(or 'emulate')")
    host, port = socket_address(spec)
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise MicromelError(f"--device {spec}: the proxy is a test tool for this machine; give a "
                            "loopback address (127.0.0.1)")
    return host, port
