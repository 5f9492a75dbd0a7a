"""An emulated micromel board for a labgrid farm, run on the exporter host next to
labgrid-exporter (`micromel farm board`, docs/farm.md):

    QEMU running the micromel firmware, its UART on a raw TCP port (-serial tcp:BIND:PORT,
    server=on,wait=off: the board boots without a client, like a real one), exported by
    labgrid as a NetworkSerialPort (protocol raw) named 'uart';
    a control port, exported as a second NetworkSerialPort named 'ctl' in the same resource
    group, that "flashes" the board: a client uploads the ELF of the model under test and
    QEMU restarts with it on the same UART port. QEMU is restarted when it exits by itself
    (a semihosting exit, a crash), as a real board reboots.

Control protocol, one command per connection, one ASCII reply line ("OK ..." or "ERR text"):
    LOAD <n>\\n<n bytes of ELF>  -> OK <elf sha>      (QEMU restarted with that ELF)
    RESET\\n                     -> OK <elf sha>      (QEMU restarted)
    STATUS\\n                    -> OK env=<firmware environment> elf=<sha> machine=<m> restarts=<n>
The port is unauthenticated: keep it on the farm network."""
from __future__ import annotations

import hashlib
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

from ..errors import DeviceError, MicromelError
from .emulator import Emulator, qemu_config

MAX_ELF = 64 << 20


def is_elf(head: bytes) -> bool:
    """An ELF file's first bytes (what LOAD and `farm board --elf` accept)."""
    return head[:4] == b"\x7fELF"


def elf_sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


RESTART_TRIES = 5


class EmulatedFarmBoard:
    def __init__(self, env_name: str, elf: Path, uart_port: int, bind: str = "127.0.0.1"):
        self.env_name = env_name
        self.emu = Emulator(Path(elf), **qemu_config(env_name), wait=False, host=bind, port=uart_port)
        self.sha = elf_sha(Path(elf).read_bytes())
        self.lock = threading.RLock()
        self.restarts = 0
        self.stopping = False
        self.failed: str | None = None    # why the watchdog gave up (serve then ends with it)
        self.workdir = Path(tempfile.mkdtemp(prefix="micromel-farm-board-"))
        self.say = lambda text: None      # serve's, once it serves

    def start(self) -> None:
        with self.lock:
            self.emu.stop()
            self.emu.start()

    def load(self, data: bytes) -> None:
        if not is_elf(data):
            raise ValueError("not an ELF file")
        sha = elf_sha(data)
        path = self.workdir / f"{sha}.elf"
        path.write_bytes(data)
        with self.lock:
            before = self.emu.elf, self.sha
            self.emu.elf, self.sha = path, sha
            try:
                self.start()
            except MicromelError:
                self.emu.elf, self.sha = before   # a firmware that does not boot: back to the last one
                self.start()
                raise

    def watchdog(self, say) -> None:
        """Restart QEMU when it exits; after RESTART_TRIES failed restarts in a row (its UART
        port taken meanwhile, say) give up: serve ends with the reason (it retried forever)."""
        failures = 0
        while not self.stopping:
            time.sleep(0.2)
            with self.lock:
                if self.stopping or self.emu.alive():
                    continue
                said = self.emu.said(wait=1.0)
                say(f"QEMU exited ({self.emu.proc.returncode if self.emu.proc else '?'}"
                    f"{': ' + said if said else ''}); restarting")
                self.restarts += 1
                try:
                    self.start()
                    failures = 0
                except MicromelError as e:
                    failures += 1
                    say(f"restart failed: {e}")
                    if failures >= RESTART_TRIES:
                        self.failed = (f"QEMU did not restart in {failures} tries (last: {e}); "
                                       "the board is down")
                        return

    def handle(self, conn: socket.socket) -> None:
        f = conn.makefile("rwb")
        verb = ""       # a client that hangs up before its first line is still answered and logged
        try:
            verb, _, arg = f.readline(200).decode(errors="replace").strip().partition(" ")
            if verb == "LOAD":
                n = int(arg)
                if not 0 < n <= MAX_ELF:
                    raise ValueError(f"size {n} out of range")
                data = f.read(n)
                if len(data) != n:
                    raise ValueError("upload cut short")
                self.load(data)
                reply = f"OK {self.sha}"
            elif verb == "RESET":
                self.start()
                reply = f"OK {self.sha}"
            elif verb == "STATUS":
                reply = (f"OK env={self.env_name} elf={self.sha} machine={self.emu.machine} "
                         f"restarts={self.restarts}")
            else:
                reply = f"ERR unknown command {verb!r}"
        except (ValueError, OSError, MicromelError) as e:
            reply = f"ERR {e}"
        if verb != "STATUS":      # the board's log says who changed or reset it, and the refusals
            try:
                peer = "%s:%s" % conn.getpeername()[:2]
            except OSError:
                peer = "?"
            self.say(f"control {verb or '(empty)'} from {peer}: {reply}")
        try:
            f.write(reply.encode() + b"\n")
            f.flush()
        except OSError:
            pass
        finally:
            f.close()
            conn.close()

    def serve(self, ctl_port: int, bind: str, say) -> None:
        """Boot, then answer the control port until interrupted; QEMU stops with us."""
        self.say = say
        srv = socket.create_server((bind, ctl_port))
        try:
            self.start()
            threading.Thread(target=self.watchdog, args=(say,), daemon=True).start()
            say(f"{self.env_name} board up: UART {bind}:{self.emu.port} (raw TCP), control "
                f"{bind}:{ctl_port}, firmware {self.sha}")
            srv.settimeout(0.5)       # to notice a watchdog that gave up
            while self.failed is None:
                try:
                    conn, _ = srv.accept()
                except TimeoutError:
                    continue
                conn.settimeout(None)
                threading.Thread(target=self.handle, args=(conn,), daemon=True).start()
            raise MicromelError(f"{self.env_name} board on UART port {self.emu.port}: {self.failed}")
        finally:
            self.stopping = True
            srv.close()
            with self.lock:
                self.emu.stop()
            shutil.rmtree(self.workdir, ignore_errors=True)


# -- the client side: what farm_flash.py uses -------------------------------------------------
def _request(addr: tuple[str, int], head: bytes, body: bytes = b"", timeout: float = 60.0) -> str:
    try:
        with socket.create_connection(addr, timeout=timeout) as c:
            c.sendall(head + body)
            reply = c.makefile("rb").readline(500).decode(errors="replace").strip()
    except OSError as e:
        raise DeviceError(f"farm board control port {addr[0]}:{addr[1]}: {e}") from None
    if not reply.startswith("OK"):
        raise DeviceError(f"farm board control port {addr[0]}:{addr[1]}: {reply or 'no reply'}")
    return reply[2:].strip()


def status(addr: tuple[str, int]) -> dict[str, str]:
    return dict(kv.split("=", 1) for kv in _request(addr, b"STATUS\n", timeout=10.0).split())


def load(addr: tuple[str, int], elf: Path) -> str:
    """Boot `elf` on the board; returns its sha once QEMU runs it."""
    data = Path(elf).read_bytes()
    got = _request(addr, b"LOAD %d\n" % len(data), data)
    if got != elf_sha(data):
        raise DeviceError(f"farm board control port {addr[0]}:{addr[1]}: booted {got}, "
                          f"not {elf_sha(data)}")
    return got
