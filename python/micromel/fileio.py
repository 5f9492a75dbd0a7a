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
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    except OSError as e:
        raise named(e, path) from None
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        if e.filename is not None and str(e.filename).startswith(tmp):
            raise named(e, path) from None
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def named(e: OSError, path) -> OSError:
    """The same error naming the path the user gave, not the temp file written on its way
    (micromel's one-line error shows the name: `.out.json.x1y2: Read-only file system`
    named a file the user never heard of)."""
    return OSError(e.errno, e.strerror, str(path))   # OSError picks the errno's subclass


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
