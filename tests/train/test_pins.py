"""Reproducible installs (issue 17): the Python stack is the one constraints.txt pins, and
that stack makes the committed bytes again, so a new TensorFlow, Keras or numpy cannot change
a trained model silently: it fails here first (scripts/update_pins.sh, docs/training.md)."""
import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# the packages whose versions decide trained and converted bytes
DECISIVE = ("tensorflow-cpu", "keras", "numpy", "ai-edge-litert", "tflite-micro", "scikit-learn")


def pins() -> dict[str, str]:
    path = Path(os.environ.get("MICROMEL_PINS", ROOT / "constraints.txt"))
    out = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line)
        if m:
            out[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    return out


def test_installed_stack_is_the_pinned_one():
    p = pins()
    wrong = {}
    for name in DECISIVE:
        assert name in p, f"constraints.txt does not pin {name}"
        have = metadata.version(name)
        if have != p[name]:
            wrong[name] = (have, p[name])
    assert not wrong, (f"installed (have, pinned): {wrong}; run scripts/setup.sh to install the "
                       "pins, or scripts/update_pins.sh to move them (and regenerate the bytes)")


@pytest.mark.slow
def test_pinned_stack_reproduces_committed_model_bytes(tmp_path):
    """firmware/fuzz/model was made by `zoo.make("drums", ..., seed=1, input_shape=(4, 40,
    1))`: Keras initialisation, TensorFlow's int8 converter and numpy, end to end."""
    # in a fresh interpreter: tests before this one in the same process leave TensorFlow's
    # global state changed (another flatbuffer layout came out after the whole suite)
    code = ("import sys; from pathlib import Path; from micromel.engine import zoo; "
            "zoo.make('drums', Path(sys.argv[1]), seed=1, input_shape=(4, 40, 1))")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "python")}
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "m")], env=env, check=True,
                   capture_output=True)
    made = tmp_path / "m"
    assert (made / "model.tflite").read_bytes() == \
        (ROOT / "firmware/fuzz/model/model.tflite").read_bytes(), \
        "the stack converts to other bytes: a changed TensorFlow/Keras/numpy (see constraints.txt)"
