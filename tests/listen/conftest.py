"""Shared fixtures of the listening tests: a 30-second stream of real recordings (drum hits
from Debian's hydrogen-data on a quiet noise bed, voiced bursts, a stretch of digital
silence), and a speech model whose segmenter makes events of both classes."""
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from micromel.audio import load_audio
from micromel.data import debpkg
from micromel.modeldir import ModelDir
from micromel.paths import MODELS_DIR

SR = 16000


def make_stream(path: Path, seconds: int = 30, seed: int = 11) -> Path:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(seconds * SR) * 60
    root = debpkg.fetch("hydrogen-data") / "usr/share/hydrogen/data/drumkits"
    hits = sorted(p for p in root.rglob("*") if p.suffix.lower() in (".wav", ".flac"))
    for i, at in enumerate(np.arange(1.5, seconds - 1.0, 2.3)):
        pcm = load_audio(hits[i % len(hits)], SR)[: SR].astype(float)
        a = int(at * SR)
        x[a:a + len(pcm)] += pcm[: len(x) - a]
    t = np.arange(int(0.8 * SR)) / SR
    voiced = sum(np.sin(2 * np.pi * 130 * k * t) / k for k in range(1, 20)) * np.sin(np.pi * t / 0.8)
    for at in np.arange(4.0, seconds - 1.0, 7.3):
        a = int(at * SR)
        x[a:a + len(t)] += 6000 * voiced
    x[int(0.45 * seconds * SR):int(0.52 * seconds * SR)] = 0   # digital silence
    sf.write(path, np.clip(x, -32768, 32767).astype(np.int16), SR, subtype="PCM_16")
    return path


@pytest.fixture(scope="session")
def stream_wav(tmp_path_factory):
    return make_stream(tmp_path_factory.mktemp("stream") / "stream30.wav")


@pytest.fixture(scope="session")
def drums():
    return ModelDir.open(Path(MODELS_DIR) / "drums")


@pytest.fixture(scope="session")
def speech_any(tmp_path_factory):
    """models/speech with events of both classes, a calibrated gate and split events."""
    d = tmp_path_factory.mktemp("m") / "speech_any"
    shutil.copytree(Path(MODELS_DIR) / "speech", d)
    m = ModelDir.open(d)
    seg = m.segment.replace(background_labels=[], calibrate_seconds=1.0, max_duration=1.5,
                            min_duration=0.2)
    return m.replace(segment=seg).save()
