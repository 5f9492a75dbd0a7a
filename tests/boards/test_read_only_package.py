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
    (project,) = (tmp_path / "build" / "pio").glob("project-*")
    assert (project / "boards").resolve() == BOARDS_DIR.resolve()
    assert sorted(p.name for p in (project / "firmware").iterdir()) == sorted(
        p.name for p in FIRMWARE_DIR.iterdir() if p.name != ".pio")
    assert list((tmp_path / "build" / "pio").rglob("program.elf"))


def test_the_links_follow_the_package_and_stay_apart_per_installation(tmp_path, monkeypatch):
    """Without a build (and where no namespace is allowed): the links name every entry of
    the firmware project but a checkout's .pio, are made once, and one a newer micromel no
    longer has goes; another installation gets its own folder."""
    from micromel import paths
    from micromel.boards import firmware

    fw = tmp_path / "pkg" / "firmware"
    for name in ("src", "lib", ".pio"):
        (fw / name).mkdir(parents=True)
    (fw / "platformio.ini").write_text("")
    monkeypatch.setattr(firmware, "FIRMWARE_DIR", fw)
    monkeypatch.setattr(firmware, "_writable", lambda folder: False)
    monkeypatch.setenv("MICROMEL_BUILD_DIR", str(tmp_path / "build"))
    project = firmware.project_dir()
    assert project.parent.name == f"project-{paths.installation_tag()}"
    assert sorted(p.name for p in project.iterdir()) == ["lib", "platformio.ini", "src"]
    assert all((project / n).readlink() == fw / n for n in ("lib", "platformio.ini", "src"))
    assert (project.parent / "boards").readlink() == firmware.BOARDS_DIR
    made = {p.name: p.lstat().st_mtime_ns for p in project.iterdir()}
    (fw / "lib").rename(fw / "lib2")        # a newer micromel's project
    assert firmware.project_dir() == project
    assert sorted(p.name for p in project.iterdir()) == ["lib2", "platformio.ini", "src"]
    assert {p.name: p.lstat().st_mtime_ns for p in project.iterdir() if p.name != "lib2"} == \
        {k: v for k, v in made.items() if k != "lib"}       # the others were kept, not remade
    monkeypatch.setattr(paths, "RESOURCES", tmp_path / "other")
    assert firmware.project_dir() != project
