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
