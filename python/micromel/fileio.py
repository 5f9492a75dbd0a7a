"""Files written whole or not at all: through a temp file in the same folder and a rename,
so an interrupted run never leaves a half-written output. Outputs are ordinary files (0644),
not mkstemp's private 0600."""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np


@contextmanager
def atomic_path(path, suffix: str = ""):
    """Yield a temp path beside `path`; on success it is renamed to `path`, on any error
    it is removed. `suffix` keeps writers that look at the extension happy (.npy, .png)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes_atomic(path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path, text: str) -> bool:
    """Write text to path atomically. Returns False (and leaves the file untouched, mtime
    included, so builds do not redo work) if the content is already there."""
    path = Path(path)
    if path.exists() and path.read_text() == text:
        return False
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return True


def save_npy_atomic(path, array) -> Path:
    with atomic_path(path, suffix=".npy") as tmp:
        np.save(tmp, array)
    return Path(path)
