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
