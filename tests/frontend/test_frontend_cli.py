"""`micromel features` and `micromel bench frontend`, and audio loading: any soundfile
format and rate, stereo, and one-line errors for bad input."""
import contextlib
import io
import json
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

from micromel.errors import MicromelError
from micromel.audio import load_audio
from micromel.frontend import FrontendConfig, features

CFG = FrontendConfig()


def run_cli(*args):
    """The CLI in-process (fast); test_cli_subprocess runs the real command once."""
    from micromel.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in args])
    return SimpleNamespace(returncode=rc, stdout=out.getvalue(), stderr=err.getvalue())


def test_cli_subprocess(clip, tmp_path):
    d, x = clip
    r = subprocess.run([sys.executable, "-m", "micromel", "features", str(d / "mono16k.wav"),
                        "--out", str(tmp_path / "s.npy")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "s.npy"), features(x, CFG))
    r = subprocess.run([sys.executable, "-m", "micromel", "features", str(tmp_path / "none.wav"),
                        "--out", str(tmp_path / "s.npy")], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    d = tmp_path_factory.mktemp("audio")
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(12000) * 3000).astype(np.int16)
    sf.write(d / "mono16k.wav", x, 16000, subtype="PCM_16")
    stereo = np.stack([x, (x // 2)], axis=1)
    sf.write(d / "stereo44k.flac", np.repeat(stereo, 2, axis=0), 32000, subtype="PCM_16")
    return d, x


def test_load_audio_formats(clip):
    d, x = clip
    np.testing.assert_array_equal(load_audio(d / "mono16k.wav", 16000), x)  # bit for bit
    notes = []
    y = load_audio(d / "stereo44k.flac", 16000, notes)
    assert y.dtype == np.int16 and abs(len(y) - len(x)) <= 2
    assert any("downmixed" in n for n in notes) and any("resampled" in n for n in notes)


@pytest.mark.parametrize("content", [b"", b"RIFF\x00\x00\x00\x00WAVEjunk", b"hello, not audio\n" * 50])
def test_load_audio_bad_files(tmp_path, content):
    f = tmp_path / "bad.wav"
    f.write_bytes(content)
    with pytest.raises(MicromelError, match="bad.wav"):
        load_audio(f, 16000)


def test_load_audio_empty_audio(tmp_path):
    f = tmp_path / "empty.wav"
    sf.write(f, np.zeros(0, dtype=np.int16), 16000, subtype="PCM_16")
    with pytest.raises(MicromelError, match="no samples"):
        load_audio(f, 16000)


def test_features_twin_c_librosa(clip, tmp_path):
    d, x = clip
    for impl in ("twin", "c", "librosa"):
        r = run_cli("features", d / "mono16k.wav", "--impl", impl, "--out", tmp_path / f"{impl}.npy")
        assert r.returncode == 0, r.stderr
    twin = np.load(tmp_path / "twin.npy")
    np.testing.assert_array_equal(twin, features(x, CFG))
    np.testing.assert_array_equal(np.load(tmp_path / "c.npy"), twin)
    ref = np.load(tmp_path / "librosa.npy")
    assert ref.dtype == np.float32 and ref.shape == twin.shape
    assert np.mean(np.abs(CFG.dequantize(twin) - ref) <= CFG.out_step_db) > 0.99


def test_features_batch_config_and_plot(clip, tmp_path):
    d, _ = clip
    cfg = FrontendConfig(n_mels=32)
    (tmp_path / "fe.json").write_text(json.dumps(cfg.to_dict()))
    r = run_cli("features", d / "mono16k.wav", d / "stereo44k.flac", "--config", tmp_path / "fe.json",
                "--out", tmp_path / "b.npy", "--plot", tmp_path / "p.png")
    assert r.returncode == 0, r.stderr
    assert "resampled from 32000 Hz" in r.stderr and "downmixed" in r.stderr
    b = np.load(tmp_path / "b.npy")
    assert b.shape[0] == 2 and b.shape[2] == 32 and b.dtype == np.int8
    assert (tmp_path / "p.png").stat().st_size > 10_000


def test_features_model_config(clip, tmp_path):
    d, x = clip
    model = tmp_path / "model"
    model.mkdir()
    cfg = FrontendConfig(out_step_db=1.0)
    fe = {k: v for k, v in cfg.to_dict().items() if k != "window_frames"}
    (model / "config.json").write_text(json.dumps(
        {"frontend": fe, "window": {"frames": cfg.window_frames}, "labels": ["a"]}))
    r = run_cli("features", d / "mono16k.wav", "--model", model, "--out", tmp_path / "m.npy")
    assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "m.npy"), features(x, cfg))


@pytest.mark.parametrize("args, message", [
    (["missing.wav"], "no such file"),
    (["{bad}"], "not a readable audio file"),
    (["{good}", "--out-ext"], "give a .npy"),
    (["{good}", "--config", "nope.json"], "no such file"),
    (["{good}", "--model", "."], "not a model folder (no config.json)"),
])
def test_features_errors_are_one_line(clip, tmp_path, args, message):
    d, _ = clip
    (tmp_path / "bad.wav").write_text("not audio")
    subst = {"{bad}": tmp_path / "bad.wav", "{good}": d / "mono16k.wav"}
    argv = [subst.get(a, a) for a in args if a != "--out-ext"]
    out = tmp_path / ("x.txt" if "--out-ext" in args else "x.npy")
    r = run_cli("features", *argv, "--out", out)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len([ln for ln in lines if "error" in ln]) == 1 and "Traceback" not in r.stderr
    assert message in r.stderr


@pytest.mark.emulator
def test_bench_frontend_json():
    r = run_cli("bench", "frontend", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["unit"] == "instructions" and data["config_hash"] == CFG.hash()
    assert set(data["per_second_stages"]) == {"normalise", "window", "fft", "power", "filterbank", "log"}
    assert data["code_bytes"] > 0 and data["table_bytes"] > 0
    assert data["state_bytes"] > 0 and data["scratch_bytes"] > 0
