"""train's worker processes (train.members': the ensemble's networks side by side;
train.features': the features) die with the process that started them, however it ends
(here: SIGKILL, which runs no exit handler)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from processes import alive, survivors_of_sigkill

ROOT = Path(__file__).resolve().parents[2]

PARENT = """
import os, sys
from micromel.train import features, members
pool = {POOL}
pids = sorted(set(pool.map(members._worker_pid, range(8))))
print(" ".join(map(str, pids)), flush=True)
sys.stdin.read()          # wait to be killed
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
@pytest.mark.parametrize("pool", ["members._pool(2, 1)", "features._pool(2)"])
def test_workers_die_with_their_parent(pool):
    """The networks' workers and the features' workers alike."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "python")}
    script = PARENT.replace("{POOL}", pool)
    p = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True, env=env)
    try:
        pids = [int(x) for x in p.stdout.readline().split()]
        assert pids and all(alive(q) for q in pids) and p.pid not in pids
        assert not survivors_of_sigkill(p, pids), f"workers {pids} outlived their parent"
    finally:
        p.kill()
        p.wait()


INTERRUPTED = """
import signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)   # as a terminal's shell leaves it
from micromel.train import members
pool = members._pool(2, 1)
first = pool.submit(members._worker_pid).result()   # worker 1 up (a pool starts one per job)
busy = pool.submit(time.sleep, 600)                  # worker 1 takes it: no worker is idle,
second = pool.submit(members._worker_pid).result()   # so this starts worker 2, then it waits
assert first != second
try:                        # Ctrl-C may come as soon as the line is out
    print(first, second, flush=True)
    busy.result()
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(130)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process groups, /proc")
def test_ctrl_c_ends_the_networks_workers_without_a_traceback_each():
    """Ctrl-C to the process group while a network trains: every worker ends at once and
    quietly (an idle one printed "Process SpawnProcess-1: Traceback ... KeyboardInterrupt"),
    and the parent, which says "interrupted", is not kept waiting for the busy one."""
    import signal
    import time

    env = {**os.environ, "PYTHONPATH": str(ROOT / "python")}
    p = subprocess.Popen([sys.executable, "-c", INTERRUPTED], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env, start_new_session=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        pids = [int(x) for x in p.stdout.readline().split()]
        assert len(pids) == 2 and all(alive(q) for q in pids), pids
        os.killpg(p.pid, signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130 and "interrupted" in out, (out, err)
    assert "Traceback" not in err, err
    assert not any(alive(q) for q in pids)
