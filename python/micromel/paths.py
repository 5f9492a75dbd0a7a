"""Where things are: the firmware project, board definitions and shipped models, and where
micromel writes (builds, caches)."""
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIRMWARE_DIR = REPO / "firmware"
BOARDS_DIR = REPO / "boards"
MODELS_DIR = REPO / "models"
BUILD_DIR = REPO / "build"
PIO_CORE_DIR = REPO / ".pio-core"


def build_dir() -> Path:
    """Generated code, builds and reports."""
    return BUILD_DIR
