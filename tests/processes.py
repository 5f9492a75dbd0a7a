"""Watching other processes from a test: is a pid still running, and waiting for pids to go
(the workers and emulators that must die with the process that started them)."""
from __future__ import annotations

import os
import signal
import time


def alive(pid: int) -> bool:
    """True while the process runs; a zombie (dead, not yet reaped) counts as gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            # the state follows the command name, which is in parentheses and may hold any
            # character: read it after the last ')'
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def children(pid: int) -> list:
    """The processes whose parent is pid now."""
    found = []
    for d in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{d}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(d))
        except (FileNotFoundError, ProcessLookupError):   # it ended meanwhile
            continue
    return found


def still_running_after(pids, seconds: float = 10.0) -> list:
    """Waits up to `seconds` for every pid to go; returns those still running then (empty:
    all gone)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if alive(p)]


def survivors_of_sigkill(parent, pids) -> list:
    """SIGKILL to the parent (a subprocess.Popen; SIGKILL runs no exit handler), then the pids
    still running 10 s after it is gone: the workers that failed to die with it."""
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=10)
    return still_running_after(pids)
