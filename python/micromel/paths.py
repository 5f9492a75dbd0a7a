"""Where things are in a micromel checkout."""
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIRMWARE_DIR = REPO / "firmware"
BOARDS_DIR = REPO / "boards"
MODELS_DIR = REPO / "models"
BUILD_DIR = REPO / "build"
PIO_CORE_DIR = REPO / ".pio-core"
