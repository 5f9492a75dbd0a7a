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
    made = (tmp_path / "m" / "model.tflite").read_bytes()
    committed = (ROOT / "firmware/fuzz/model/model.tflite").read_bytes()
    if made == committed:
        return
    # the converter measures activation ranges with float math whose last bits follow the
    # CPU's vector code (AVX-512 or not): scales a few float32 steps apart are the machine,
    # anything else (a weight or bias, an op, a shape, a zero point) is the stack
    apart, made_rest, committed_rest = _scales_apart(made, committed)
    assert made_rest == committed_rest, \
        "the stack converts to other bytes: a changed TensorFlow/Keras/numpy (see constraints.txt)"
    assert apart <= SCALE_ROUND_OFF, \
        f"scales {apart:.2g} apart (relative): a changed TensorFlow/Keras/numpy (see constraints.txt)"


# float32 has 24 bits: 6e-8 is one step; a different CPU was measured 5e-7 (8 steps) apart
SCALE_ROUND_OFF = 2e-6


def test_scales_apart_sees_every_other_change(tmp_path):
    """The comparison above: the same model with one scale a few float32 steps off is the
    machine; a scale further off, or one int8 weight changed, is not."""
    from micromel.engine.tflite import model_bytes, model_object
    from micromel.engine.zoo import edit_quantization
    committed = ROOT / "firmware/fuzz/model"
    data = committed.joinpath("model.tflite").read_bytes()
    assert _scales_apart(data, data)[0] == 0.0

    def nudged(factor):
        out = tmp_path / f"m{factor}"
        return edit_quantization(committed, out, {0: factor}).joinpath("model.tflite").read_bytes()
    apart, a, b = _scales_apart(nudged(1 + 3e-7), data)
    assert a == b and 0 < apart <= SCALE_ROUND_OFF
    assert _scales_apart(nudged(1.001), data)[0] > SCALE_ROUND_OFF
    m = model_object(data)
    weights = next(t for t in m.subgraphs[0].tensors if t.type == 9 and m.buffers[t.buffer].data is not None)
    w = m.buffers[weights.buffer].data.copy()
    w[0] ^= 1
    m.buffers[weights.buffer].data = w
    _, a, b = _scales_apart(model_bytes(m), data)
    assert a != b


def _scales_apart(a: bytes, b: bytes) -> tuple:
    """(largest relative difference of two models' quantization scales, each model packed
    again without its scales): equal packings and a small difference are the same model."""
    import numpy as np
    from micromel.engine.tflite import model_bytes, model_object

    def take_scales(q):             # the scales, removed from the tree
        s = np.asarray(q.scale if q is not None and q.scale is not None else [], np.float64)
        if q is not None:
            q.scale = None
        return s

    ma, mb = model_object(a), model_object(b)
    apart = 0.0
    for ga, gb in zip(ma.subgraphs, mb.subgraphs):
        for ta, tb in zip(ga.tensors, gb.tensors):
            sa, sb = take_scales(ta.quantization), take_scales(tb.quantization)
            if sa.shape != sb.shape:
                return float("inf"), a, b
            if sa.size:
                apart = max(apart, float(np.max(np.abs(sa - sb) / np.maximum(np.abs(sb), 1e-30))))
    return apart, model_bytes(ma), model_bytes(mb)
