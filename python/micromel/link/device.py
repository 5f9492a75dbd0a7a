"""One way to open a device, whatever it is.

    open_device("emulate")              build if needed, boot QEMU, UART on a free port
    open_device("/dev/ttyACM0")         a real board on a tty
    open_device("socket://host:port")   any pyserial URL
    open_device("labgrid:PLACE")        a farm board this process holds (farm.py), flashed
                                        first when given an ELF (farm_flash.py)

All return a `Device`: request/reply over the framed protocol (protocol.py),
with resynchronisation after bad frames and retransmission of requests whose reply is lost
or corrupted (docs/reliability.md, "A lossy serial link"; counted in `link_stats`). An
emulated device owns its QEMU process (emulator.py) and shuts it down on close, on error and
at interpreter exit."""
from __future__ import annotations

import struct
import time
from pathlib import Path

import serial

from ..errors import DeviceError, DeviceTimeout, MicromelError
from ..boards import firmware
from . import farm, farm_flash, protocol
from .emulator import Emulator, emulated_env, qemu_config
from .proxy import socket_address

DEFAULT_TIMEOUT = 5.0
BAUD = 115200
READ_SLICE = 0.1   # seconds one read of the link may block (deadlines are checked in between)
MIN_PAYLOAD_BUDGET = 256   # bytes: small frames get through a lossy link (1e-3: 3 in 4)
ATTEMPTS = 10          # sends of one request before the link is declared too noisy
ATTEMPT_WAIT = 2.0     # s without its reply before a request is sent again (at most)
LINK_BYTES_PER_S = 8000  # a slow link's throughput (an emulated UART: 18-35 kB/s)
GRACE = 0.15           # s to wait for the reply after a sign of corruption, then resend
# Device errors that say a frame was damaged on the way (it was not processed): resend.
LINK_ERRORS = {protocol.ERR[k] for k in ("BAD_HEADER_CRC", "TOO_LONG", "BAD_CRC", "TRUNCATED")}
# Requests that change the device's state: resent only to a device that replays a repeated
# frame instead of processing it twice (INFO replay=1); every other request is idempotent.
STATEFUL = {protocol.MSG[k] for k in ("FEATURES", "CLASSIFY_AUDIO", "STREAM")}


class Undelivered(DeviceError):
    """A stateful request the device never processed, too large for the noisy link: the
    caller sends its content again in smaller chunks (Device.request(resplit=True))."""


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
        self.link_stats = {"requests": 0, "retries": 0, "timeouts": 0, "corrupt": 0, "resyncs": 0}
        self.clean_streak = 0   # requests answered at the first send, in a row
        self.rtt = None         # smoothed time to a first-send reply (s): how long to wait
        self.payload_budget = protocol.FIRMWARE_MAX_PAYLOAD  # link/audio.py sizes chunks by it

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
                                  + self.emulator.said())
        return self.pending.pop(0)

    def request(self, msg_type: int, payload: bytes = b"", timeout: float = DEFAULT_TIMEOUT,
                resplit: bool = False) -> protocol.Frame:
        """Send a message and return its reply; an ERROR reply raises DeviceError. Replies
        to earlier requests (stale sequence numbers) are skipped.

        Retransmission (docs/reliability.md, "A lossy serial link"): a reply that does not come
        (lost, or corrupted and dropped by the parser), or an ERROR saying a frame was damaged,
        makes an idempotent request go out again, up to ATTEMPTS sends within `timeout`. A
        stateful request (STATEFUL) to a device that replays (INFO replay=1) is never processed
        twice: the host asks with RESEND for the stored reply, and sends the frame again only if
        the device says it never processed it; then, with resplit=True, a frame larger than the
        (halved) payload budget raises Undelivered so the caller sends its samples again in
        smaller chunks."""
        seq = self.next_seq()
        frame = protocol.encode(msg_type, seq, payload)
        stateful = msg_type in STATEFUL
        retry = not stateful or self.replays()
        deadline = time.monotonic() + timeout
        self.link_stats["requests"] += 1
        name = protocol.MSG_NAMES.get(msg_type, msg_type)
        sends, state, t0 = 0, "send", time.monotonic()
        # ATTEMPTS counts sends of the frame, not rounds: a round that only waits for a late
        # reply or asks RESEND (whose answer was lost) must not use up a send (under load,
        # such rounds used the budget up after 2 sends); the deadline bounds the rounds
        for attempt in range(3 * ATTEMPTS if retry else 1):
            if state == "send":
                if sends >= ATTEMPTS:
                    break
                if sends:
                    self.link_stats["retries"] += 1
                    if stateful and resplit and len(payload) > self.payload_budget:
                        raise Undelivered(f"{self.name}: {name} not delivered; send it in "
                                          "smaller chunks")
                self.send_raw(frame)
                sends += 1
            reply, why = self._await(self._reply_to(msg_type, seq), seq, name, deadline, retry,
                                     len(frame))
            if reply is not None:
                self._took(time.monotonic() - t0, clean=attempt == 0)
                return reply
            self.link_stats[why] += 1
            if time.monotonic() >= deadline:
                break
            state = "send"
            if stateful:   # processed (the reply was lost or slow), or never? Ask first.
                answer, reply = self._ask_resend(msg_type, seq, frame, name, deadline)
                if reply is not None:      # processed: only the reply was late or lost
                    self._took(time.monotonic() - t0, clean=why == "timeouts")
                    return reply
                state = "send" if answer == "not processed" else "wait"
                if answer == "not processed":
                    self._adapt(False)
            elif why == "corrupt":
                self._adapt(False)
        if not retry:
            raise DeviceTimeout(f"{self.name}: no reply to {name} within {timeout:.1f} s" + self._hint())
        raise DeviceTimeout(f"{self.name}: no good reply to {name} after {sends} sends in "
                            f"{timeout:.0f} s: the link loses or corrupts too much (check the "
                            "cable, the baud rate, a proxy's --loss/--flip) or the device hangs"
                            + self._hint())

    def replays(self) -> bool:
        """The firmware answers a repeated stateful frame with its stored reply (INFO)."""
        return self._info is not None and self._info.get("replay") == "1"

    @staticmethod
    def _reply_to(msg_type: int, seq: int):
        return lambda f: f if f.seq == seq and f.type == (msg_type | protocol.REPLY_BIT) else None

    def _ask_resend(self, msg_type: int, seq: int, frame: bytes, name: str, deadline: float):
        """RESEND for a stateful frame: ("replied", reply) if the device processed it (its
        stored reply comes back), ("not processed", None), or ("unknown", None)."""
        ask = self.next_seq()
        body = bytes([msg_type, seq]) + frame[-2:]       # type, seq, the frame's CRC
        self.send_raw(protocol.encode(protocol.MSG["RESEND"], ask, body))
        want = protocol.MSG["RESEND"] | protocol.REPLY_BIT

        def accept(f):
            if f.seq == seq and f.type == (msg_type | protocol.REPLY_BIT):
                return f
            if f.seq == ask and f.type == want:
                return f
            return None

        reply, _ = self._await(accept, seq, name, deadline, True)
        if reply is None:
            return "unknown", None
        if reply.type == want:
            return "not processed", None
        return "replied", reply

    def _await(self, accept, seq: int, name: str, deadline: float, retry: bool, size: int = 0):
        """(reply, None), or (None, "timeouts"|"corrupt") when the request should be repeated:
        no reply within the attempt's wait, or a sign that a frame was damaged (an ERROR
        saying so, a reply the parser rejected, a partial reply that stopped arriving) and
        no reply GRACE seconds later. `accept(frame)` returns the reply or None; an ERROR
        with the request's seq raises DeviceError."""
        now = time.monotonic()
        # a lost frame shows as silence: wait a few usual round trips (the first time, and
        # for requests slower than usual, longer), then ask again; asking early only costs
        # a duplicate reply, which the seq check skips
        wait = ATTEMPT_WAIT if self.rtt is None else \
            min(ATTEMPT_WAIT, max(0.25, 3 * self.rtt) + size / LINK_BYTES_PER_S)
        wait_until = min(deadline, now + wait) if retry else deadline
        errors = self.parser.n_errors
        why, stalled, seen = "timeouts", 0.0, 0
        while True:
            now = time.monotonic()
            if retry and self.parser.n_errors > errors:     # a damaged frame came back
                errors, why = self.parser.n_errors, "corrupt"
                wait_until = min(wait_until, now + GRACE)
            if retry and len(self.parser.buf) > 1:             # part of a frame...
                if len(self.parser.buf) != seen:
                    seen, stalled = len(self.parser.buf), now
                elif now - stalled > GRACE:                    # ...that stopped arriving
                    self.pending.extend(self.parser.drop_partial())
                    errors += 1
                    why, seen = "corrupt", 0
                    wait_until = min(wait_until, now + GRACE)
            if now >= wait_until:
                return None, why
            try:
                frame = self.read_frame(min(0.1, wait_until - now) if retry else wait_until - now)
            except DeviceTimeout:
                continue
            if frame.is_error and frame.payload[:1] and frame.payload[0] in LINK_ERRORS:
                if retry:   # maybe our request was damaged: resend soon if no reply comes
                    why = "corrupt"
                    wait_until = min(wait_until, time.monotonic() + GRACE)
                continue
            got = accept(frame)
            if got is not None:
                return got, None
            if frame.is_error and frame.seq == seq:
                code, _, detail = frame.error()
                raise DeviceError(f"{self.name}: {name} refused: {code} (detail {detail})")

    def _took(self, seconds: float, clean: bool) -> None:
        """A reply came `seconds` after the request's first send: the round-trip estimate
        (how long to wait before asking again) and the payload budget learn from it."""
        self.rtt = seconds if self.rtt is None else 0.9 * self.rtt + 0.1 * seconds
        self._adapt(clean)

    def _adapt(self, clean: bool) -> None:
        """Payload budget for chunked messages: halved after a request needed resending (a
        smaller frame survives a noisy link more often), doubled back after 16 clean ones."""
        if clean:
            self.clean_streak += 1
            if self.clean_streak >= 16 and self.payload_budget < protocol.FIRMWARE_MAX_PAYLOAD:
                self.payload_budget = min(2 * self.payload_budget, protocol.FIRMWARE_MAX_PAYLOAD)
                self.clean_streak = 0
        else:
            self.clean_streak = 0
            self.payload_budget = max(self.payload_budget // 2, MIN_PAYLOAD_BUDGET)

    def _hint(self) -> str:
        if self.link_stats["requests"] > 1 or "://" not in self.name:
            return ""
        if self.link_stats["corrupt"] or self.parser.n_errors:   # bytes came: a noisy link
            return ""
        return ("; if this is an emulator, another client may be connected to it (QEMU serves "
                "one at a time), or the port runs no micromel firmware")

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
        self.link_stats["resyncs"] += 1
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
            # a damaged LEN above the device's limit is rejected at once, not waited for
            self.parser.max_payload = int(self._info.get("max_payload", protocol.PROTOCOL_MAX_PAYLOAD))
        return dict(self._info)

    def stats(self) -> dict[str, int]:
        payload = self.request(protocol.MSG["STATS"]).payload
        names = ["frames", "bad_header", "too_long", "bad_crc", "truncated", "skipped_bytes",
                 "replayed",      # since firmware with replay=1 (older ones send six)
                 "stack_used"]    # stack high-water mark in bytes (0: the port cannot tell)
        return dict(zip(names, struct.unpack(f"<{len(payload) // 4}I", payload[:4 * (len(payload) // 4)])))


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
    board 'labgrid:PLACE'. ('native', the firmware built for this computer, needs its model:
    model_device.open_model_device.)"""
    if spec == "emulate" or spec.startswith("emulate:"):
        return open_emulated(emulated_env(spec), **kwargs)
    if farm.is_farm_spec(spec):
        return open_farm_device(spec, kwargs.get("elf"))
    if spec.startswith("socket://"):
        socket_address(spec)           # a malformed URL is named before pyserial reads it
    try:
        if "://" in spec:
            link = serial.serial_for_url(spec, timeout=0.1)
        else:
            if not Path(spec).exists():
                raise MicromelError(f"--device {spec}: no such port; use 'emulate', a tty such as "
                                    "/dev/ttyACM0, or a URL such as socket://127.0.0.1:4000"
                                    + ("; 'native' needs a model folder" if spec == "native" else ""))
            link = serial.Serial(spec, BAUD, timeout=0.1)
    except serial.SerialException as e:
        if "://" in spec:
            raise MicromelError(f"--device {spec}: cannot connect ({str(e).split(': ')[-1]}); is "
                                "the emulator or bridge running? ('micromel flash MODEL --board "
                                "emulate' prints its URL)") from None
        raise MicromelError(f"--device {spec}: cannot open: {e}") from None
    return Device(link, spec)
