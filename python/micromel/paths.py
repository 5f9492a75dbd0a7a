"""Where things are. Two kinds of place, never mixed:

Shipped resources, only read: the firmware project (firmware/), board definitions and the
offline PlatformIO platforms (boards/), and the example models (models/). In a checkout they
are the checkout's own folders; in an installed package (a wheel) they are its copies in
micromel/_data/. `RESOURCES` is whichever holds them.

User work, written: generated code, builds and reports go under the project folder, the
current folder (`--build-dir` or $MICROMEL_BUILD_DIR choose another build folder); caches go
under the per-user cache folder ($XDG_CACHE_HOME/micromel, else ~/.cache/micromel): Debian
packages and datasets ($MICROMEL_DATA overrides), the feature cache ($MICROMEL_CACHE
overrides) and PlatformIO's core folder with its offline tool-scons shim
($MICROMEL_PIO_CORE overrides). Nothing is written inside the package or the checkout's
shipped folders.
"""
import hashlib
import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
CHECKOUT = PACKAGE.parents[1]          # python/micromel -> the checkout, in a checkout


def _resources() -> Path:
    installed = PACKAGE / "_data"
    if (installed / "firmware" / "platformio.ini").is_file():
        return installed
    return CHECKOUT


RESOURCES = _resources()
FIRMWARE_DIR = RESOURCES / "firmware"
BOARDS_DIR = RESOURCES / "boards"
MODELS_DIR = RESOURCES / "models"
DOCS_DIR = RESOURCES / "docs"       # the docs/*.md that messages and --help name


def in_checkout() -> bool:
    """True when micromel runs from a git checkout (development), not an installed package."""
    return RESOURCES == CHECKOUT


def build_dir() -> Path:
    """Generated code, builds and reports: ./build of the project folder."""
    return Path(os.environ.get("MICROMEL_BUILD_DIR") or Path.cwd() / "build")


def user_cache() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "micromel"


def feature_cache() -> Path:
    """Front-end features of training clips, keyed by everything that changes them."""
    return Path(os.environ.get("MICROMEL_CACHE") or user_cache()) / "features"


def data_cache() -> Path:
    """Debian packages (debian/<package>/) and the datasets built from them."""
    return Path(os.environ.get("MICROMEL_DATA") or user_cache() / "data")


def pio_core_dir() -> Path:
    """PlatformIO's core folder: its settings, the local platforms it links, tool-scons. One
    per installation (or checkout): PlatformIO records a local platform by its absolute path,
    and two micromels sharing a core folder would replace each other's platforms mid-build."""
    if os.environ.get("MICROMEL_PIO_CORE"):
        return Path(os.environ["MICROMEL_PIO_CORE"])
    return user_cache() / "platformio" / installation_tag()


def installation_tag() -> str:
    """Names what belongs to one installation (or checkout) where several may share a
    folder: its resources' absolute path, hashed."""
    return hashlib.sha1(str(RESOURCES).encode()).hexdigest()[:10]


def recorded_path(path) -> str:
    """A path as a written record (a model's config.json, a card) should hold it: relative
    to the project folder or the checkout when inside one, never an absolute path of the
    machine that wrote it unless it lies elsewhere."""
    p = Path(path).resolve()
    for base in (Path.cwd().resolve(), CHECKOUT):
        try:
            return str(p.relative_to(base))
        except ValueError:
            continue
    return str(path)
