"""One way to open a device, whatever it is.

    open_device("emulate")              build if needed, boot QEMU, UART on a free port
    open_device("/dev/ttyACM0")         a real board on a tty
    open_device("socket://host:port")   any pyserial URL
    open_device("labgrid:PLACE")        a farm board this process holds (farm.py), flashed
                                        first when given an ELF (farm_flash.py)

All return a `Device`: request/reply over the framed protocol (protocol.py),
with resynchronisation after bad frames. An emulated device owns its QEMU
process (emulator.py) and shuts it down on close, on error and at interpreter exit."""
from __future__ import annotations

import struct
import time
from pathlib import Path

import serial

from ..errors import DeviceError, DeviceTimeout, MicromelError
from . import protocol
from ..boards import firmware
from . import farm, farm_flash
from .emulator import Emulator, qemu_config

DEFAULT_TIMEOUT = 5.0
BAUD = 115200
READ_SLICE = 0.1   # seconds one read of the link may block (deadlines are checked in between)


class Device:
    """A framed-protocol connection to a device."""

    def __init__(self, link: serial.SerialBase, name: str, emulator: Emulator | None = None):
        self.link = link
        if link.timeout != READ_SLICE:
            # set once, never per read: on an rfc2217:// link (a farm board behind ser2net)
            # plain pyserial renegotiates the port at every timeout change (pyserial-labgrid
            # does not), ~4 RFC 2217 subnegotiations and a 50 ms wait each time
            link.timeout = READ_SLICE
        self.name = name
        self.emulator = emulator
        self.parser = protocol.Parser()
        self.pending: list[protocol.Frame] = []
        self._seq = 0
        self._info: dict[str, str] | None = None

    # --- context manager -------------------------------------------------
    def __enter__(self) -> "Device":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.link.close()
        finally:
            if self.emulator:
                self.emulator.stop()

    # --- frames ----------------------------------------------------------
    def next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFF
        return self._seq

    def send(self, msg_type: int, payload: bytes = b"", seq: int | None = None) -> int:
        seq = self.next_seq() if seq is None else seq
        self.send_raw(protocol.encode(msg_type, seq, payload))
        return seq

    def send_raw(self, data: bytes) -> None:
        try:
            self.link.write(data)
        except (serial.SerialException, OSError) as e:
            raise DeviceError(f"{self.name}: link lost while sending ({e})") from None

    def read_frame(self, timeout: float = DEFAULT_TIMEOUT) -> protocol.Frame:
        deadline = time.monotonic() + timeout
        while not self.pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeviceTimeout(f"{self.name}: no reply within {timeout:.1f} s")
            try:
                data = self.link.read(max(1, self.link.in_waiting or 1))
            except (serial.SerialException, OSError) as e:
                raise DeviceError(f"{self.name}: link lost ({e})") from None
            if data:
                self.pending.extend(self.parser.feed(data))
            elif self.emulator and not self.emulator.alive():
                raise DeviceError(f"{self.name}: emulator exited ({self.emulator.proc.returncode}): "
                                  + " | ".join(self.emulator.stderr_lines[-3:]))
        return self.pending.pop(0)

    def request(self, msg_type: int, payload: bytes = b"", timeout: float = DEFAULT_TIMEOUT) -> protocol.Frame:
        """Send a message and return its reply; an ERROR reply raises DeviceError.
        Replies to earlier requests (stale sequence numbers) are skipped."""
        seq = self.send(msg_type, payload)
        deadline = time.monotonic() + timeout
        while True:
            frame = self.read_frame(max(0.0, deadline - time.monotonic()))
            if frame.seq != seq:
                continue
            if frame.type == (msg_type | protocol.REPLY_BIT):
                return frame
            if frame.is_error:
                code, _, detail = frame.error()
                raise DeviceError(f"{self.name}: {protocol.MSG_NAMES.get(msg_type, msg_type)} "
                                  f"refused: {code} (detail {detail})")

    def drain(self, quiet_for: float = 0.3) -> list[protocol.Frame]:
        """Read and return whatever arrives until the link is quiet."""
        frames = []
        while True:
            try:
                frames.append(self.read_frame(quiet_for))
            except DeviceTimeout:
                return frames

    def resync(self, timeout: float = 60.0) -> None:
        """Bring the link back to frame boundaries after garbage: send enough
        zero bytes to complete any partial frame the device holds (it then
        fails its CRC and is skipped), then PING until the device answers. The
        device may still be working through a backlog of bytes (the emulated
        UART takes ~15-30 kB/s), hence the generous deadline."""
        max_payload = int((self._info or {}).get("max_payload", protocol.FIRMWARE_MAX_PAYLOAD))
        self.send_raw(bytes(max_payload + protocol.OVERHEAD))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.ping(b"resync", timeout=2.0)
                self.pending.clear()
                return
            except DeviceTimeout:
                continue
            except DeviceError:  # an error reply to a ping mangled by the backlog
                continue
        raise DeviceError(f"{self.name}: no answer within {timeout:.0f} s of resynchronising")

    # --- messages --------------------------------------------------------
    def ping(self, payload: bytes = b"", timeout: float = DEFAULT_TIMEOUT) -> float:
        t0 = time.monotonic()
        reply = self.request(protocol.MSG["PING"], payload, timeout)
        if reply.payload != payload:
            raise DeviceError(f"{self.name}: PING echo differs")
        return time.monotonic() - t0

    def info(self, refresh: bool = False) -> dict[str, str]:
        if self._info is None or refresh:
            self._info = protocol.parse_info(self.request(protocol.MSG["INFO"]).payload)
        return dict(self._info)

    def stats(self) -> dict[str, int]:
        payload = self.request(protocol.MSG["STATS"]).payload
        names = ["frames", "bad_header", "too_long", "bad_crc", "truncated", "skipped_bytes"]
        return dict(zip(names, struct.unpack("<6I", payload[:24])))


def open_emulated(env_name: str = "emulate", elf: Path | None = None, gen_dir: Path | None = None,
                  model_dir: Path | None = None, realtime: bool = False) -> Device:
    qemu = qemu_config(env_name)   # refuses a non-emulated environment before building
    elf = elf or firmware.build(env_name, gen_dir=gen_dir, model_dir=model_dir)
    emu = Emulator(elf, **qemu, realtime=realtime)
    port = emu.start()
    try:
        link = serial.serial_for_url(f"socket://127.0.0.1:{port}", timeout=0.1)
    except Exception as e:
        emu.stop()
        raise DeviceError(f"cannot connect to the emulator on port {port}: {e}") from None
    dev = Device(link, f"emulate:{port}", emulator=emu)
    try:
        dev.ping(b"boot", timeout=10.0)
    except BaseException:
        dev.close()
        raise
    return dev


def open_farm_device(spec: str, elf: Path | None = None) -> Device:
    """A farm board held by this process (farm.hold): flashed with `elf` when given, its UART
    opened and answering."""
    board = farm.held_board(spec)
    if elf is not None:
        farm_flash.flash(board, elf)
    try:
        link = serial.serial_for_url(board.url, timeout=0.1)
    except serial.SerialException as e:
        raise DeviceError(f"{spec}: cannot open its UART {board.url}: {e}") from None
    board.attach(link)
    dev = Device(link, spec)
    try:
        try:
            dev.ping(b"farm", timeout=5.0)
        except DeviceTimeout:
            dev.resync(timeout=30.0)   # a previous client may have left half a frame
    except BaseException:
        dev.close()
        raise
    return dev


def open_device(spec: str = "emulate", **kwargs) -> Device:
    """spec: 'emulate' (or 'emulate:<env>'), a tty path, a pyserial URL, or a held farm
    board 'labgrid:PLACE'."""
    if spec == "emulate" or spec.startswith("emulate:"):
        env_name = spec.split(":", 1)[1] if ":" in spec else "emulate"
        return open_emulated(env_name, **kwargs)
    if farm.is_farm_spec(spec):
        return open_farm_device(spec, kwargs.get("elf"))
    try:
        if "://" in spec:
            link = serial.serial_for_url(spec, timeout=0.1)
        else:
            if not Path(spec).exists():
                raise MicromelError(f"--device {spec}: no such port; use 'emulate', a tty such as "
                                    "/dev/ttyACM0, or a URL such as socket://127.0.0.1:4000")
            link = serial.Serial(spec, BAUD, timeout=0.1)
    except serial.SerialException as e:
        raise MicromelError(f"--device {spec}: cannot open: {e}") from None
    dev = Device(link, spec)
    return dev
