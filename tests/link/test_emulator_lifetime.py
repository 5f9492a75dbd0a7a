"""Emulators die with the process that started them, however it ends (issue 17, defect 5):
QEMU is forked with PR_SET_PDEATHSIG by a spawner thread that lives as long as the process,
so a device opened from a worker thread that has since ended stays up, and SIGTERM or
SIGKILL of the parent (verify, flash) leaves no QEMU behind holding its port and memory."""
import os
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
