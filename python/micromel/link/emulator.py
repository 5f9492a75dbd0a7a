"""An emulated board: QEMU running one firmware ELF, its UART on a TCP port (loopback unless a
farm board binds another address), its cost counter exact under -icount
(boards.catalogue.ICOUNT_SHIFT)."""
from __future__ import annotations

import atexit
import re
import socket
import subprocess
import threading
import time
from pathlib import Path

from ..boards import firmware
from ..boards.catalogue import ICOUNT_SHIFT
from ..errors import DeviceError, MicromelError


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    """Does a socket on this host LISTEN on TCP `port`? Read from /proc (Linux), because
    connecting to find out would take the QEMU chardev's only client slot for a moment."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            f = row.split()
            if int(f[1].rsplit(":", 1)[1], 16) == port and f[3] == "0A":   # 0A: TCP_LISTEN
                return True
    return False


def qemu_config(env_name: str) -> dict:
    """Emulator arguments (machine, extra_args, system) of a firmware environment, from its
    board JSON; refuses an environment that is not an emulated board."""
    mm = firmware.board_json(firmware.env_board(env_name)).get("micromel", {})
    if not mm.get("qemu_machine"):
        raise MicromelError(f"--device: environment '{env_name}' is not an emulated board")
    return {"machine": mm["qemu_machine"], "extra_args": mm.get("qemu_args"),
            "system": mm.get("qemu_system", "qemu-system-arm")}


class Emulator:
    """A QEMU process running one firmware ELF, its UART on a loopback port."""

    def __init__(self, elf: Path, machine: str, extra_args: list[str] | None = None,
                 wait: bool = True, system: str = "qemu-system-arm", host: str = "127.0.0.1",
                 port: int | None = None, realtime: bool = False):
        self.elf = Path(elf)
        self.host = host  # a farm board listens where the clients can reach it
        self.fixed_port = port  # wait=False only: None picks a free one
        self.system = system  # the QEMU binary: the board JSON's micromel.qemu_system
        self.wait = wait  # wait=True: the core starts when the first client connects
        self.machine = machine
        self.extra_args = extra_args or []
        # realtime: hold the virtual clock to the host's (align=on), so a listening board runs
        # in real time; the instruction counts do not change (the core spins, never sleeps)
        self.realtime = realtime
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.stderr_lines: list[str] = []

    def start(self, timeout: float = 20.0) -> int:
        cmd = [
            self.system, "-M", self.machine, "-nographic", "-monitor", "none",
            "-kernel", str(self.elf),
            "-serial", f"tcp:{self.host}:{0 if self.wait else self.fixed_port or _free_port()},server=on,"
                       f"wait={'on' if self.wait else 'off'}",
            "-semihosting-config", "enable=on,target=native",
            "-icount", f"shift={ICOUNT_SHIFT}" + (",align=on" if self.realtime else ""),
        ] + self.extra_args
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE, text=True)
        except FileNotFoundError:
            raise DeviceError(f"{self.system} not found: run scripts/setup.sh") from None
        atexit.register(self.stop)
        found = threading.Event()

        def pump():
            for line in self.proc.stderr:
                self.stderr_lines.append(line.rstrip())
                m = re.search(r"(?:waiting for connection on|listening on): disconnected:tcp:[^:]+:(\d+)", line)
                if m and self.port is None:
                    self.port = int(m.group(1))
                    found.set()
            found.set()

        threading.Thread(target=pump, daemon=True).start()
        if not self.wait:
            # QEMU announces nothing when it does not wait; the port is the one we chose.
            self.port = int(cmd[cmd.index("-serial") + 1].split(":")[2].split(",")[0])
            deadline = time.monotonic() + timeout
            while not listening(self.port):
                if not self.alive():
                    raise DeviceError("QEMU exited at start: " + " | ".join(self.stderr_lines[-3:]))
                if time.monotonic() > deadline:
                    self.stop()
                    raise DeviceError(f"QEMU did not open its serial port {self.port}")
                time.sleep(0.01)
            return self.port
        if not found.wait(timeout) or self.port is None:
            self.stop()
            raise DeviceError("QEMU did not open its serial port: " + " | ".join(self.stderr_lines[-3:]))
        return self.port

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
