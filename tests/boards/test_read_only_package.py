"""micromel installed where users cannot write (a system-wide or shared venv) still builds
firmware: PlatformIO refuses a project folder it cannot write, so the build goes through a
folder of links in the build directory (boards/firmware.project_dir). A read-only bind mount
of the firmware and boards folders, in a user and mount namespace, makes the package
read-only for real (as root, file modes alone would not)."""
import os
import subprocess
import sys

import pytest

from micromel.paths import BOARDS_DIR, FIRMWARE_DIR


def _read_only(*folders) -> str:
    return " && ".join(f"mount --bind {f} {f} && mount -o remount,bind,ro {f}" for f in folders)


def test_firmware_builds_from_a_read_only_package(tmp_path):
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", _read_only(tmp_path)], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("unshare -rm with a read-only bind mount is not available here")
    env = {**os.environ, "MICROMEL_BUILD_DIR": str(tmp_path / "build")}
    script = (_read_only(FIRMWARE_DIR, BOARDS_DIR)
              + f" && test ! -w {FIRMWARE_DIR} && exec {sys.executable} -m micromel build none "
              "--board emulate")
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", script], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    project = tmp_path / "build" / "pio" / "project"
    assert (project / "boards").resolve() == BOARDS_DIR.resolve()
    assert sorted(p.name for p in (project / "firmware").iterdir()) == sorted(
        p.name for p in FIRMWARE_DIR.iterdir())
    assert list((tmp_path / "build" / "pio").rglob("program.elf"))
