"""Emulators die with the process that started them, however it ends (issue 17, defect 5):
QEMU is forked with PR_SET_PDEATHSIG by a spawner thread that lives as long as the process,
so a device opened from a worker thread that has since ended stays up, and SIGTERM or
SIGKILL of the parent (verify, flash) leaves no QEMU behind holding its port and memory."""
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from processes import alive, still_running_after

pytestmark = [pytest.mark.emulator,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG")]

# Opens the emulated board from a thread that ends at once (as verify's workers do), prints
# QEMU's pid, then waits to be killed.
SCRIPT = """
import sys, threading, time
from micromel.link.device import open_device
box = []
t = threading.Thread(target=lambda: box.append(open_device("emulate")))
t.start(); t.join()
dev = box[0]
time.sleep(1.0)
dev.ping(b"still there", timeout=10)
print(dev.emulator.proc.pid, flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_qemu_dies_with_its_parent(sig):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "python")}
    parent = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = parent.stdout.readline()
        assert line.strip().isdigit(), parent.stderr.read()
        qemu = int(line)
        assert alive(qemu)            # outlived the thread that opened it
        parent.send_signal(sig)
        parent.wait(30)
        assert not still_running_after([qemu]), f"QEMU {qemu} outlived its parent ({sig.name})"
    finally:
        if parent.poll() is None:
            parent.kill()


def test_the_tied_child_runs_only_while_its_parent_is_there(monkeypatch):
    """The wrapper that replaced the preexec_fn (no Python between fork and exec): setpriv sets
    the death signal, then the shell execs the command only if its parent is still the process
    that asked (a parent gone before the signal was set would leave the child to nobody);
    a program not on PATH is FileNotFoundError as from Popen, so `QEMU not found` keeps its hint."""
    from micromel.link import emulator

    if emulator.setpriv() is None:
        pytest.skip("no setpriv with --pdeathsig here: the preexec_fn path is used")
    # the command is exec'ed in place: its parent is this process, not a shell between
    r = subprocess.run(emulator._tied_args(["sh", "-c", 'echo "$PPID" ran']),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stdout.split() == [str(os.getpid()), "ran"], r
    monkeypatch.setattr(emulator.os, "getpid", lambda: 0)     # as if the parent had gone
    r = subprocess.run(emulator._tied_args(["sh", "-c", "echo ran"]), capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1 and "ran" not in r.stdout
    with pytest.raises(FileNotFoundError):
        emulator._tied_args(["qemu-system-none-such"])


def test_qemu_reason_is_its_own_message_not_the_register_dump():
    """A firmware that locks up: QEMU's reason (`qemu: fatal: Lockup ...`) comes before a
    register dump, and the error showed the dump's last three lines instead."""
    from micromel.link.emulator import Emulator

    emu = Emulator(Path("x.elf"), machine="mps2-an386")
    emu.stderr_lines = ["qemu-system-arm: -serial tcp:127.0.0.1:0,server=on,wait=on: info: QEMU "
                        "waiting for connection on: disconnected:tcp:127.0.0.1:41231,server=on",
                        "qemu: fatal: Lockup: can't escalate 3 to HardFault (current priority -1)",
                        "", "R00=00000000 R01=00000000", "s28=00000000 s29=00000000",
                        "FPSCR: 00000000"]
    assert emu.said() == "qemu: fatal: Lockup: can't escalate 3 to HardFault (current priority -1)"
    emu.stderr_lines = ["line 1", "line 2", "line 3", "line 4"]
    assert emu.said() == "line 2 | line 3 | line 4"


def test_setpriv_is_used_where_it_has_pdeathsig_and_not_elsewhere(monkeypatch, tmp_path):
    """The probe: here (util-linux with --pdeathsig) it must find setpriv, so the skip above
    cannot hide a broken probe; a setpriv without the option (util-linux < 2.33, busybox)
    gives None, and emulators fall back to the preexec_fn."""
    from micromel.link import emulator

    real = shutil.which("setpriv")
    has = real and "--pdeathsig" in subprocess.run([real, "--help"], capture_output=True,
                                                   text=True).stdout
    monkeypatch.setattr(emulator, "_setpriv", {})
    assert emulator.setpriv() == (real if has else None)
    fake = tmp_path / "setpriv"
    fake.write_text('#!/bin/sh\necho "setpriv: unrecognized option \'--pdeathsig\'" >&2\nexit 1\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    monkeypatch.setattr(emulator, "_setpriv", {})
    assert emulator.setpriv() is None


@pytest.fixture
def posix_spawned(monkeypatch):
    """The programs Popen starts by posix_spawn from now on, in order (skips where emulators
    cannot be started so: no setpriv with --pdeathsig, no setsid, no posix_spawn)."""
    from micromel.link import emulator

    if emulator.setpriv() is None or shutil.which("setsid") is None or not subprocess._USE_POSIX_SPAWN:
        pytest.skip("no setpriv with --pdeathsig, setsid or posix_spawn here: Popen forks")
    spawned = []
    real = subprocess.Popen._posix_spawn

    def spy(self, args, *rest, **kw):
        spawned.append(args[0])
        return real(self, args, *rest, **kw)
    monkeypatch.setattr(subprocess.Popen, "_posix_spawn", spy)
    return spawned


def test_tied_children_are_posix_spawned_in_their_own_session(posix_spawned):
    """Emulators are started by the C library's posix_spawn (no code of this process runs in
    the child: Popen's fork path crashed beside a farm session's gRPC threads), and still get
    their own session, from util-linux's setsid, with this process as their parent."""
    from micromel.link import emulator

    # the shell's parent and its session (the 6th field of /proc/PID/stat; "sh" has no space),
    # with the arguments Emulator.start gives
    p = emulator.popen_tied(["sh", "-c", 'echo "$PPID $(cut -d" " -f6 /proc/$$/stat)" >&2'],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    _, out = p.communicate(timeout=30)
    assert p.returncode == 0 and posix_spawned == [shutil.which("setsid")], posix_spawned
    assert out.split() == [str(os.getpid()), str(p.pid)], out


def test_a_path_without_setpriv_is_not_remembered(monkeypatch, tmp_path, posix_spawned):
    """A start under a PATH without setpriv (tests/link/test_emulated_or_not.py's missing QEMU)
    left the answer None for the whole process: every later emulator fell back to Popen's fork
    and the preexec_fn, and crashed beside a farm session's gRPC threads (a CI worker that ran
    that test first). Back on the real PATH, emulators are posix_spawned through setpriv."""
    from micromel.errors import DeviceError
    from micromel.link import emulator

    monkeypatch.setattr(emulator, "_setpriv", {})
    with monkeypatch.context() as m:
        m.setenv("PATH", str(tmp_path))
        with pytest.raises(DeviceError, match="not found"):
            emulator.Emulator(tmp_path / "program.elf", **emulator.qemu_config("emulate"),
                              wait=False).start()
    p = emulator.popen_tied(["true"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    p.communicate(timeout=30)
    # the probe of setpriv (asked again), then the child through setsid
    assert posix_spawned[-1] == shutil.which("setsid") and emulator.setpriv() == shutil.which("setpriv")
