"""`micromel segment --save-uncertain`: the least sure windows as WAV files named by time."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from micromel.errors import MicromelError
from micromel.segment import uncertain


def q(*probs):
    return (np.round(np.array(probs) * 256) - 128).clip(-128, 127).astype(np.int8)


def test_pick_smallest_margins_without_overlap():
    scores = [q(0.9, 0.1), None, q(0.5, 0.5), q(0.55, 0.45), q(0.52, 0.48), q(0.99, 0.01),
              q(0.4, 0.6)]
    # hop 10, span 25: window j overlaps windows j-2 .. j+2. Margins: 2 -> 0, 4 -> 10,
    # 3 -> 26, 6 -> 52, 0 -> 204, 5 -> 250; 4, 3 and 0 overlap 2, and 5 overlaps 6.
    got = uncertain.pick(scores, 3, hop=10, span=25)
    assert [(p.window, p.start, p.end, p.label, p.margin) for p in got] == [
        (2, 20, 45, 0, 0), (6, 60, 85, 1, 52)]
    assert [p.window for p in uncertain.pick(scores, 1, hop=10, span=25)] == [2]
    assert [p.window for p in uncertain.pick(scores, 9, hop=100, span=25)] == [0, 2, 3, 4, 5, 6]


def test_save_writes_the_spans_and_never_replaces(tmp_path):
    pcm = (np.arange(1000) % 300 - 150).astype(np.int16)
    sf.write(tmp_path / "rec.wav", pcm, 1000, subtype="PCM_16")
    picks = [uncertain.Pick(0, 100, 350, 0, 3), uncertain.Pick(1, 900, 1150, 1, 5)]
    out = uncertain.save(tmp_path / "rec.wav", picks, tmp_path / "u", 1000)
    assert [p.name for p in out] == ["rec_00000.100-00000.350.wav", "rec_00000.900-00001.150.wav"]
    a, _ = sf.read(out[0], dtype="int16")
    b, _ = sf.read(out[1], dtype="int16")
    assert np.array_equal(a, pcm[100:350])
    assert np.array_equal(b[:100], pcm[900:]) and not b[100:].any() and len(b) == 250
    with pytest.raises(MicromelError, match="exists"):
        uncertain.save(tmp_path / "rec.wav", picks, tmp_path / "u", 1000)


def test_segment_command_saves_uncertain_windows(tmp_path):
    from micromel.engine import zoo

    mdir = zoo.make("drums", tmp_path / "m", seed=5, input_shape=(32, 40, 1))
    rng = np.random.default_rng(2)
    pcm = (rng.standard_normal(16000 * 4) * 3000).astype(np.int16)
    sf.write(tmp_path / "rec.wav", pcm, 16000, subtype="PCM_16")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "python")}
    r = subprocess.run([sys.executable, "-m", "micromel", "segment", str(mdir), str(tmp_path / "rec.wav"),
                        "--save-uncertain", str(tmp_path / "unsure"), "--uncertain", "3", "--quiet"],
                       capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    files = sorted((tmp_path / "unsure").glob("rec_*.wav"))
    assert len(files) == 3 and "3 least sure windows" in r.stderr
    for f in files:
        start = float(f.stem.split("_")[1].split("-")[0])
        x, rate = sf.read(f, dtype="int16")
        i = round(start * rate)
        assert rate == 16000 and np.array_equal(x, pcm[i: i + len(x)])
