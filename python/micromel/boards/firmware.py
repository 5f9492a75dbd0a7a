"""Building the firmware with PlatformIO (offline local platforms).

Every build goes through `build()`: it points PlatformIO at the generated
headers of one model (or the defaults), keeps one build folder per
(environment, generated-headers) pair, and serialises concurrent builds of the
same folder with a file lock so parallel tests and devices do not collide."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from ..errors import MicromelError
from ..fileio import locked
from ..paths import BOARDS_DIR, FIRMWARE_DIR, build_dir, installation_tag
from . import pio_core

OFFLINE_ENVS = ("emulate", "native")


def pio_environ(extra: dict | None = None) -> dict:
    return pio_core.environ(extra)


SKIPPED = (".pio",)     # a checkout's own PlatformIO outputs: never the project's


def _writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK)


def project_dir() -> Path:
    """The folder PlatformIO's `run -d` gets: the firmware project itself, or, where that
    is read-only (an installed package shared by users), a folder in the build directory
    holding links to the project's entries, with `boards` beside it as platformio.ini's
    ../boards expects. PlatformIO refuses a project folder it cannot write although every
    output of micromel's builds goes to the build directory."""
    if _writable(FIRMWARE_DIR):
        return FIRMWARE_DIR
    # one per installation: two micromels sharing a build folder would relink each other's
    root = build_dir() / "pio" / f"project-{installation_tag()}"
    links = {root / "boards": BOARDS_DIR,
             **{root / "firmware" / e.name: e for e in FIRMWARE_DIR.iterdir()
                if e.name not in SKIPPED}}
    (root / "firmware").mkdir(parents=True, exist_ok=True)
    with locked(root / ".lock"):        # parallel builds make the same links
        for old in (root / "firmware").iterdir():
            if old.is_symlink() and old not in links:   # gone from a newer micromel
                old.unlink()
        for link, target in links.items():
            if link.is_symlink() and link.readlink() == target:
                continue
            if link.is_symlink():
                link.unlink()
            link.symlink_to(target, target_is_directory=target.is_dir())
    return root / "firmware"


def board_json(board: str) -> dict:
    path = BOARDS_DIR / "pio" / f"{board}.json"
    if not path.exists():
        raise MicromelError(f"board '{board}': no {path}")
    return json.loads(path.read_text())


def env_board(env_name: str) -> str:
    """The board id of a platformio.ini environment."""
    section, board = None, None
    for line in (FIRMWARE_DIR / "platformio.ini").read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line.strip("[]")
        elif section == f"env:{env_name}" and line.startswith("board") and "=" in line:
            key, val = (s.strip() for s in line.split("=", 1))
            if key == "board":
                board = val
    if board is None:
        raise MicromelError(f"--board {env_name}: no [env:{env_name}] in firmware/platformio.ini")
    return board


def defines_environ(defines: tuple[str, ...]) -> dict:
    """The PlatformIO environment variable that adds build defines (none: empty)."""
    return {"PLATFORMIO_BUILD_FLAGS": " ".join(f"-D{d}" for d in defines)} if defines else {}


def build(env_name: str = "emulate", gen_dir: Path | None = None, model_dir: Path | None = None,
          quiet: bool = True, defines: tuple[str, ...] = ()) -> Path:
    """Build one environment; returns the firmware ELF (or the host .so). `defines`
    (NAME or NAME=VALUE) are build options such as MM_LISTEN_AT_BOOT=5; each set of them
    gets its own build folder."""
    key_src = f"{env_name}|{gen_dir or ''}|{model_dir or ''}" + "".join(f"|{d}" for d in defines)
    key = hashlib.sha1(key_src.encode()).hexdigest()[:10]
    build_root = build_dir() / "pio" / key
    # PlatformIO's whole workspace (builds, library state) goes to the build folder: the
    # firmware project itself may be read-only (inside an installed package)
    extra = {"PLATFORMIO_BUILD_DIR": str(build_root),
             "PLATFORMIO_WORKSPACE_DIR": str(build_root / "workspace")}
    if gen_dir:
        extra["MICROMEL_GEN_DIR"] = str(gen_dir)
    if model_dir:
        extra["MICROMEL_MODEL_DIR"] = str(model_dir)
    extra.update(defines_environ(defines))
    cmd = [sys.executable, "-m", "platformio", "run", "-d", str(project_dir()), "-e", env_name]
    with locked(build_root / f".{env_name}.lock"):
        env = pio_environ(extra)
        env["PLATFORMIO_BUILD_DIR"] = str(build_root)
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        log = build_root / f"{env_name}.log"
        log.write_text(proc.stdout + proc.stderr)
        errors = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "error" in ln.lower()]
        first = errors[0] if errors else "see the log"
        raise MicromelError(f"firmware build of '{env_name}' failed: {first} (full log: {log})")
    if not quiet:
        print(proc.stdout)
    out = build_root / env_name
    artifact = out / ("libmicromel.so" if env_name == "native" else "program.elf")
    if not artifact.exists():
        raise MicromelError(f"firmware build of '{env_name}' produced no {artifact}")
    return artifact
