"""Real audio from Debian packages: `apt-get download` + `dpkg-deb -x`, no root.

Packages are cached under the user's data cache, debian/<package>/ (micromel.paths):
the .deb is kept until extraction succeeds, then deleted; a stamp file records
the .deb's SHA-256 and size so a cached tree is known to come from an intact
download. Extraction goes to a temp folder renamed into place, so an
interrupted fetch leaves nothing half-written."""
from __future__ import annotations

import fnmatch
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import MicromelError
from ..paths import data_cache


# Packages reserved for an independent evaluation of micromel's models: never downloaded,
# trained, tuned or tested on (docs/training.md). fetch() refuses them; a test checks that no
# dataset builder names one.
RESERVED = ("ktuberling-data", "klettres-data", "asterisk-core-sounds-*", "asterisk-moh-opsound-*",
            "wesnoth-*", "openttd-opensfx", "minetest-data", "freeciv-data",
            "sound-theme-freedesktop", "avldrums.lv2-soundfont", "sonic-pi-samples",
            "supersonic-scsynth-samples")


def reserved(package: str) -> bool:
    return any(fnmatch.fnmatchcase(package, pattern) for pattern in RESERVED)


def data_root() -> Path:
    return data_cache()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _apt_sha256(package: str) -> str | None:
    """The SHA-256 the apt index records for the candidate version."""
    try:
        out = subprocess.run(["apt-cache", "show", "--no-all-versions", package],
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    for line in out.splitlines():
        if line.startswith("SHA256:"):
            return line.split(":", 1)[1].strip()
    return None


def stamp_sha256(root: Path) -> str | None:
    """The SHA-256 of the .deb a cached tree was extracted from."""
    try:
        for line in (root / ".micromel-stamp").read_text().splitlines():
            if line.startswith("sha256 "):
                return line.split()[1]
    except OSError:
        return None
    return None


def fetch(package: str, quiet: bool = False, sha256: str | None = None) -> Path:
    """Return the extracted root of a Debian package, downloading it once. With `sha256`
    (a dataset builder pins the exact .deb it was made from), a cached tree or a download
    of any other .deb is refused: the dataset would not be the documented one."""
    if reserved(package):
        raise MicromelError(f"Debian package {package}: reserved for independent evaluation; "
                            "micromel never downloads it")
    root = data_root() / "debian" / package
    stamp = root / ".micromel-stamp"
    if stamp.exists():
        have = stamp_sha256(root)
        if sha256 and have != sha256:
            raise MicromelError(f"Debian package {package}: the cached tree {root} comes from a "
                                f".deb with SHA-256 {str(have)[:12]}..., not the pinned "
                                f"{sha256[:12]}...; delete it to fetch the pinned version")
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root.parent, prefix=f".{package}.") as tmp:
        tmp = Path(tmp)
        if not quiet:
            print(f"[debian] downloading {package} (apt-get download)", flush=True)
        proc = subprocess.run(["apt-get", "download", package], cwd=tmp, capture_output=True, text=True)
        if proc.returncode != 0:
            # the package index may be missing on a fresh machine
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
            proc = subprocess.run(["apt-get", "download", package], cwd=tmp, capture_output=True,
                                  text=True)
        debs = list(tmp.glob("*.deb"))
        if proc.returncode != 0 or not debs:
            msg = (proc.stderr.strip().splitlines() or ["no .deb"])[-1]
            raise MicromelError(f"Debian package {package}: download failed ({msg}); "
                                "check that apt can reach a Debian mirror")
        deb = debs[0]
        digest = _sha256(deb)
        if sha256 and digest != sha256:
            raise MicromelError(f"Debian package {package}: the mirror serves a .deb with SHA-256 "
                                f"{digest[:12]}..., not the pinned {sha256[:12]}... (a newer "
                                "version?); the dataset's source list must be updated to it")
        expected = _apt_sha256(package)
        if expected and expected != digest:
            raise MicromelError(f"Debian package {package}: SHA-256 {digest[:12]}... does not match "
                                f"the apt index ({expected[:12]}...); delete {root} and retry")
        out = tmp / "tree"
        proc = subprocess.run(["dpkg-deb", "-x", str(deb), str(out)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise MicromelError(f"Debian package {package}: dpkg-deb -x failed: {proc.stderr.strip()}")
        (out / ".micromel-stamp").write_text(f"{deb.name}\nsha256 {digest}\nsize {deb.stat().st_size}\n")
        if root.exists():
            shutil.rmtree(root)
        os.replace(out, root)
    return root
