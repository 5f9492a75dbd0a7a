"""The test models are made once per machine (engine/zoo.py `cached`): two pytest workers
that ask for the same model at once must both get it whole (the second maker deleted the
first one's unfinished folder before they took turns)."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAKE = ("import sys; from pathlib import Path; from micromel.engine import zoo; "
        "print(zoo.cached('random', 3, Path(sys.argv[1])))")


def test_two_processes_asking_for_one_model_both_get_it_whole(tmp_path):
    (tmp_path / "random3-0123456789").mkdir()          # an older version of zoo.py's models
    env = {**os.environ, "PYTHONPATH": str(ROOT / "python")}
    procs = [subprocess.Popen([sys.executable, "-c", MAKE, str(tmp_path)], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in outs]
    made = {out.strip() for out, _ in outs}
    assert len(made) == 1, made
    path = Path(made.pop())
    assert (path / "model.tflite").stat().st_size > 0 and (path / "config.json").is_file()
    # the older version is gone, and nothing half-made is left
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == [path.name]
