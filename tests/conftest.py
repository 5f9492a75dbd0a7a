import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))
# Keep PlatformIO from phoning home in tests.
os.environ.setdefault("PLATFORMIO_SETTING_ENABLE_TELEMETRY", "No")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def real_recordings():
    """(name, int16 PCM at 16 kHz) of the 100+ real drum recordings in Debian's
    hydrogen-data (wav and flac, various rates and channel counts)."""
    from micromel.data import debpkg
    from micromel.audio import load_audio

    root = debpkg.fetch("hydrogen-data", quiet=True) / "usr/share/hydrogen/data"
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in (".wav", ".flac"))
    return [(str(p.relative_to(root)), load_audio(p, 16000)) for p in files]


@pytest.fixture(scope="session")
def real_clips(real_recordings):
    return [pcm for _, pcm in real_recordings]


@pytest.fixture(scope="module")
def emulated_device():
    """The emulated board with the firmware's defaults (no model), one per test module."""
    from micromel.link.device import open_device

    d = open_device("emulate")
    yield d
    d.close()
