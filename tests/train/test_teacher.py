"""Knowledge distillation (train/teacher.py): soft targets, the sampler's use of them, and the
checks that keep a teacher from having seen the student's test clips. The end-to-end run of
a student is in test_train_e2e.py (it reuses that file's trained model as its teacher)."""
from __future__ import annotations

import numpy as np
import pytest

from micromel.clip import rules as win
from micromel.errors import MicromelError
from micromel.modeldir import FLOAT_TFLITE
from micromel.train import teacher
from micromel.train.features import ClipFeatures
from micromel.train.fit import EpochSampler


def test_soften_is_a_softmax_of_log_probabilities_over_t():
    p = np.array([[0.7, 0.2, 0.1], [0.98, 0.01, 0.01]], dtype=np.float32)
    assert np.allclose(teacher.soften(p, 1.0), p, atol=1e-6)
    s = teacher.soften(p, 2.0)
    q = np.sqrt(p) / np.sqrt(p).sum(axis=1, keepdims=True)
    assert np.allclose(s, q, atol=1e-6)
    assert np.allclose(s.sum(axis=1), 1.0) and (s.argmax(1) == p.argmax(1)).all()
    assert s[1, 0] < p[1, 0]                          # flatter
    assert np.isfinite(teacher.soften(np.array([[1.0, 0.0]]), 2.0)).all()


def test_targets_mix_label_and_teacher():
    y = np.eye(3, dtype=np.float32)[[0, 2]]
    soft = np.array([[0.2, 0.8, 0.0], [0.1, 0.1, 0.8]], dtype=np.float32)
    t = teacher.targets(y, soft, 0.25)
    assert np.allclose(t, 0.75 * y + 0.25 * soft) and np.allclose(t.sum(1), 1.0)


def _fixed_teacher(windows):
    """Gives window w the probabilities (w's first value, ...) as a row: lets the test know
    which window's target the sampler used."""
    out = np.zeros((len(windows), 2), dtype=np.float32)
    out[:, 0] = (windows[:, 0, 0].astype(np.float32) + 128.0) / 256.0
    out[:, 1] = 1.0 - out[:, 0]
    return out


def test_sampler_targets_are_each_drawn_windows_teacher_row():
    fr = win.Framing(hop_samples=256, frame_samples=512)
    w = win.WindowConfig(frames=4, hop_frames=2, silence_rms_dbfs=-90.0)
    rng = np.random.default_rng(0)
    feats, energy = [], []
    for c in range(6):
        f = np.zeros((10, 3), dtype=np.int8)
        f[:, 0] = rng.integers(-128, 127, size=10)      # window s starts with f[s, 0]
        feats.append(f)
        energy.append(np.full(7, 10 ** 12, dtype=np.int64))
    cf = ClipFeatures(feats, energy, np.array([0, 1, 0, 1, 0, 1]), np.arange(6), np.zeros(6, int))
    s = EpochSampler(cf, w, fr, 2)
    plain_x, plain_y = s.sample(40, np.random.default_rng(7))
    s.use_teacher(_fixed_teacher, temperature=2.0, distill=0.3)
    x, y = s.sample(40, np.random.default_rng(7))
    assert (x == plain_x).all()                          # the same draws as without a teacher
    first = (x[:, 0, 0].astype(np.float32) + 128.0) / 256.0
    soft = teacher.soften(np.stack([first, 1.0 - first], axis=1), 2.0)
    assert np.allclose(y, 0.7 * plain_y + 0.3 * soft, atol=1e-6)
    assert not np.allclose(y, 0.7 * plain_y + 0.3 * np.stack([first, 1.0 - first], axis=1))


def test_resolve_refuses_a_missing_folder_and_the_out_folder(tmp_path):
    with pytest.raises(MicromelError, match="^--teacher: .*no such folder"):
        teacher.resolve(str(tmp_path / "none"), tmp_path / "out")
    # a shipped model's name works as for every MODEL_DIR argument
    drums = teacher.resolve("drums", tmp_path / "out")
    assert (drums / FLOAT_TFLITE).is_file()
    with pytest.raises(MicromelError, match="is the --out folder"):
        teacher.resolve(str(drums), drums)
