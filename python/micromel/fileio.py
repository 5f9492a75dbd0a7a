"""Files written whole or not at all: through a temp file in the same folder and a rename,
so an interrupted run never leaves a half-written output. Outputs are ordinary files (0644),
not mkstemp's private 0600."""
from __future__ import annotations

import fcntl
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
    tmp = temp_beside(path, suffix)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        raise_as_users(e, tmp, path)


def temp_beside(path: Path, suffix: str = "", folder: bool = False) -> Path:
    """A new temp file (or folder) beside `path`, to be renamed onto it: `.NAME.XXXX` (a
    folder: `.NAME.tmp-XXXX`). A place the system refuses is named as `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if folder:
            return Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp-"))
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    except OSError as e:
        raise OSError(e.errno, e.strerror, str(path)) from None
    os.close(fd)
    return Path(tmp)


def raise_as_users(e: BaseException, tmp: Path, path: Path):
    """Re-raise `e`, raised while writing the temp `tmp` that becomes `path`: an OSError
    naming `tmp` (or a file in it) names `path` (or that file in it) instead, the path the
    user gave (`.out.json.x1y2: Read-only file system` named a file the user never heard
    of); any other error as it is. Call it from an except block."""
    name = getattr(e, "filename", None)
    if isinstance(e, OSError) and name is not None and Path(os.fsdecode(name)).is_relative_to(tmp):
        raise OSError(e.errno, e.strerror,      # OSError picks the errno's subclass
                      str(path / Path(os.fsdecode(name)).relative_to(tmp))) from None
    raise e


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


@contextmanager
def locked(path: Path):
    """An exclusive lock on the file `path` (made if missing) while the block runs: processes
    that make the same thing (two test workers, two builds) take turns."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
