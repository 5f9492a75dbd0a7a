"""PlatformIO's core folder for micromel: a per-user folder (micromel.paths.pio_core_dir) that
works with no PlatformIO registry. PlatformIO insists on its core package tool-scons even for
local platforms; a tiny local package that runs the SCons installed with micromel stands in
for it (the .piopm spec must name the owner "platformio" for PlatformIO to accept it).
Created on first use, idempotent, safe when several processes start at once."""
from __future__ import annotations

import json
import os

from ..fileio import write_text_atomic
from ..paths import pio_core_dir

SCONS_VERSION = "4.41101.0"
SHIM = '''# tool-scons shim (micromel): run the SCons installed in PlatformIO's Python environment.
import sys
import SCons.Script
sys.exit(SCons.Script.main())
'''


def shim_ok(core=None) -> bool:
    core = core or pio_core_dir()
    return (core / "packages" / "tool-scons" / ".piopm").is_file()


def ensure_core():
    """The core folder with its offline tool-scons shim; returns its path."""
    core = pio_core_dir()
    pkg = core / "packages" / "tool-scons"
    if not shim_ok(core):
        write_text_atomic(pkg / "scons.py", SHIM)
        write_text_atomic(pkg / "package.json", json.dumps(
            {"name": "tool-scons", "version": SCONS_VERSION,
             "description": "local shim around pip scons (micromel)"}))
        # the .piopm last: its presence means the shim is complete
        write_text_atomic(pkg / ".piopm", json.dumps(
            {"type": "tool", "name": "tool-scons", "version": SCONS_VERSION,
             "spec": {"owner": "platformio", "id": None, "name": "tool-scons",
                      "requirements": None, "uri": None}}))
    return core


def environ(extra: dict | None = None) -> dict:
    """The environment of a PlatformIO run: micromel's core folder, no telemetry, no update
    checks (offline), no bytecode written next to the shipped platform scripts."""
    env = dict(os.environ)
    env["PLATFORMIO_CORE_DIR"] = str(ensure_core())
    env["PLATFORMIO_SETTING_ENABLE_TELEMETRY"] = "No"
    env["PLATFORMIO_SETTING_CHECK_PLATFORMIO_INTERVAL"] = "3650"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PLATFORMIO_BUILD_DIR", None)
    env.update(extra or {})
    return env
