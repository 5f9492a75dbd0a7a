"""An emulated board: QEMU running one firmware ELF, its UART on a TCP port (loopback unless a
farm board binds another address), its cost counter exact under -icount
(boards.catalogue.ICOUNT_SHIFT).

QEMU dies with the micromel process that started it, however that process ends (an
exception, Ctrl-C, SIGTERM, SIGKILL, the OOM killer): on Linux the emulator is started with
PR_SET_PDEATHSIG = SIGKILL. The kernel sends that signal when the *thread* that forked the
child exits, so every emulator is forked by one long-lived spawner thread (`popen_tied`),
never by a worker thread that may end before the device is closed. The child sets that
signal with util-linux's `setpriv --pdeathsig` and a shell that checks its parent is still
there, not with Python code between fork and exec: in a process with gRPC's threads (a farm
session) the forked child crashed there (SIGSEGV) about one start in three. Its own session
comes from util-linux's `setsid`, not from Popen, so that Popen can use the C library's
posix_spawn, in which nothing of this process runs in the child.
Where setpriv is missing or has no --pdeathsig (util-linux before 2.33, busybox), a preexec_fn
does the same, with that crash back beside gRPC. Elsewhere only the interpreter's exit handler
stops emulators."""
from __future__ import annotations

import atexit
import ctypes
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..boards import firmware
from ..boards.catalogue import ICOUNT_SHIFT, emulated_envs
from ..boards.toolchain import missing_tool_hint
from ..errors import DeviceError, MicromelError


PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
# run by `setpriv --pdeathsig KILL` as `sh -c TIED PARENT_PID COMMAND...`: exec the command
# unless the parent died before the signal was set (then nobody would stop the child)
_TIED = 'test "$PPID" = "$0" && exec "$@"'


def die_with_parent(parent: int):
    """preexec_fn: in the child, before exec: SIGKILL when the parent thread dies (Linux's
    PR_SET_PDEATHSIG; elsewhere nothing); and if the parent is already gone (it died between
    fork and here), die now. Also called first thing in the workers of train.members,
    train.features and segment.gridmap."""
    def run() -> None:
        if _LIBC is not None:
            _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)
    return run


class _Spawner:
    """One daemon thread that forks every tied child and lives as long as the process."""

    def __init__(self):
        self.jobs: queue.Queue = queue.Queue()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def _loop(self) -> None:
        while True:
            args, kwargs, done = self.jobs.get()
            try:
                done.put((True, subprocess.Popen(args, **kwargs)))
            except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
                done.put((False, e))

    def popen(self, args, **kwargs) -> subprocess.Popen:
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._loop, name="micromel-spawner",
                                               daemon=True)
                self.thread.start()
        done: queue.Queue = queue.Queue(maxsize=1)
        if setpriv():
            args = _tied_args(list(args))
            setsid = shutil.which("setsid")
            if kwargs.get("start_new_session") and setsid:
                # util-linux's setsid execs the rest in a new session (it forks only a group
                # leader, which a spawned child is not)
                args = [setsid, *args]
                kwargs = {**kwargs, "start_new_session": False}
            if not kwargs.get("start_new_session"):
                # an absolute program, no new session, descriptors left as they are: Popen
                # takes posix_spawn. QEMU then inherits the descriptors this process holds
                # without close-on-exec (Python makes none such: PEP 446)
                kwargs = {**kwargs, "close_fds": False}
            self.jobs.put((args, kwargs, done))
        else:
            self.jobs.put((args, {**kwargs, "preexec_fn": die_with_parent(os.getpid())}, done))
        ok, value = done.get()
        if not ok:
            raise value
        return value


_SPAWNER = _Spawner()


_setpriv: dict = {}      # setpriv's path -> the probe's clear answer


def setpriv() -> str | None:
    """util-linux's setpriv if it has --pdeathsig (it runs `true` with it), else None. The
    answer is kept per path; a PATH without setpriv is not remembered (a PATH of the moment,
    such as a test's without QEMU, made every later emulator of the process fall back to the
    preexec_fn, which crashed beside a farm session), nor is a probe that could not run (a
    timeout, a failed spawn): meanwhile the preexec_fn serves."""
    path = shutil.which("setpriv") if _LIBC is not None else None
    if path is None:
        return None
    if path not in _setpriv:
        try:
            # close_fds=False: posix_spawn, as for the emulators (this may run beside gRPC)
            rc = subprocess.run([path, "--pdeathsig", "KILL", "--", "true"],
                                capture_output=True, timeout=10, close_fds=False).returncode
        except (OSError, subprocess.SubprocessError):
            return None
        _setpriv[path] = path if rc == 0 else None
    return _setpriv[path]


def _tied_args(args: list) -> list:
    """args wrapped in setpriv and the parent check (no Python runs in the child). A program
    that is not on PATH raises FileNotFoundError here, as Popen would, instead of the shell's
    exit 127."""
    if shutil.which(args[0]) is None:
        raise FileNotFoundError(2, "No such file or directory", args[0])
    return [setpriv(), "--pdeathsig", "KILL", "--", "sh", "-c", _TIED, str(os.getpid()), *args]


def popen_tied(args, **kwargs) -> subprocess.Popen:
    """subprocess.Popen of a child that is killed when this process dies (see the module
    doc); a plain Popen where the platform cannot do that."""
    if _LIBC is None:
        return subprocess.Popen(args, **kwargs)
    return _SPAWNER.popen(args, **kwargs)


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


def emulator_of(env_name: str) -> dict | None:
    """qemu_config of an emulated board's environment, None for any other (a real farm
    board's: no local emulator to count its instructions on). qemu_config's refusal is the
    one test of "emulated", as in emulated_env."""
    try:
        return qemu_config(env_name)
    except MicromelError:
        return None


def emulated_env(spec: str) -> str:
    """The firmware environment of 'emulate' or 'emulate:<env>', refused by name unless its
    board JSON names a QEMU machine (the one test of "emulated", qemu_config): not a real
    board's environment, nor a name platformio.ini does not have."""
    env_name = spec.split(":", 1)[1] if ":" in spec else "emulate"
    check_emulated(env_name, f"--device {spec}", "emulate or emulate:ENV, ENV")
    return env_name


def check_emulated(env_name: str, named: str, give: str = "one") -> None:
    """Refuse, in one line naming the option (`named`), an environment that is not an
    emulated board (qemu_config's test)."""
    try:
        qemu_config(env_name)
    except MicromelError:
        raise MicromelError(f"{named}: {env_name!r} is not an emulated board; give {give} such "
                            f"as {', '.join(emulated_envs())}") from None


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
        self._reader: threading.Thread | None = None     # the current run's stderr reader

    def start(self, timeout: float = 20.0) -> int:
        cmd = [
            self.system, "-M", self.machine, "-nographic", "-monitor", "none",
            "-kernel", str(self.elf),
            "-serial", f"tcp:{self.host}:{0 if self.wait else self.fixed_port or _free_port()},server=on,"
                       f"wait={'on' if self.wait else 'off'}",
            "-semihosting-config", "enable=on,target=native",
            "-icount", f"shift={ICOUNT_SHIFT}" + (",align=on" if self.realtime else ""),
        ] + self.extra_args
        if not self.wait and self.fixed_port and listening(self.fixed_port):
            # another program's socket there would pass for QEMU's below (which then exits)
            raise DeviceError(f"QEMU's serial port {self.fixed_port} is in use by another program")
        try:
            # its own session (so its own process group): a terminal's Ctrl-C reaches micromel
            # alone, which stops the device cleanly and still writes what it got (QEMU ended
            # with the group before, and `listen` lost the link instead); it dies with micromel
            # all the same. (Popen's process_group would do, from Python 3.11 only.)
            self.proc = popen_tied(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True, start_new_session=True)
        except FileNotFoundError:
            raise DeviceError(f"{self.system} not found: {missing_tool_hint(self.system)}") from None
        atexit.register(self.stop)
        found = threading.Event()
        # this run's lines only (a farm board restarts QEMU: an old run's "terminating on
        # signal" is no reason for the next one's exit); the old reader keeps its own list
        lines = self.stderr_lines = []
        proc = self.proc

        def pump():
            for line in proc.stderr:
                lines.append(line.rstrip())
                m = re.search(r"(?:waiting for connection on|listening on): disconnected:tcp:[^:]+:(\d+)", line)
                if m and self.port is None:
                    self.port = int(m.group(1))
                    found.set()
            found.set()

        self._reader = threading.Thread(target=pump, daemon=True)
        self._reader.start()
        if not self.wait:
            # QEMU announces nothing when it does not wait; the port is the one we chose.
            self.port = int(cmd[cmd.index("-serial") + 1].split(":")[2].split(",")[0])
            deadline = time.monotonic() + timeout
            while not listening(self.port):
                if not self.alive():
                    raise DeviceError("QEMU exited at start: " + self.said())
                if time.monotonic() > deadline:
                    self.stop()
                    raise DeviceError(f"QEMU did not open its serial port {self.port}")
                time.sleep(0.01)
            return self.port
        if not found.wait(timeout) or self.port is None:
            self.stop()
            raise DeviceError("QEMU did not open its serial port: " + (self.said() or "it wrote nothing"))
        return self.port

    def said(self, wait: float = 0.0) -> str:
        """What QEMU wrote that says why it stopped: its own messages (`qemu: fatal: Lockup
        ...`, `qemu-system-arm: ...`), not the register dump after them nor its `info:` lines
        (`... info: QEMU waiting for connection on: ...`, at every start that waits); else its
        last lines. `wait`: seconds to let the reader take the lines of a QEMU that just exited."""
        if wait and self._reader is not None:
            self._reader.join(wait)
        own = [ln for ln in self.stderr_lines if ln.startswith("qemu") and ": info: " not in ln]
        return " | ".join(own[-3:] or self.stderr_lines[-3:])

    def __enter__(self) -> "Emulator":
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

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
