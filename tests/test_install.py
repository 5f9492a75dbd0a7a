"""micromel as an installed tool, not a checkout: the wheel is built, installed into a folder
put ahead of the checkout on the path, and run from an empty folder elsewhere. It finds its
firmware, boards and example models inside the package, writes builds under the current
folder and caches under the user cache, and writes nothing into the package or the
checkout. `micromel doctor` names a missing tool and the command that installs it."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHIPPED = ("firmware", "boards", "models", "docs", "python")


def snapshot(root: Path) -> dict:
    """Every file under root with its size and modification time (bytecode caches aside:
    Python's, not micromel's)."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(target folder holding the installed package, environment that runs it)."""
    wheels = tmp_path_factory.mktemp("wheel")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels),
                        str(REPO)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = wheels.glob("micromel-*.whl")
    assert wheel.stat().st_size < 2_000_000          # code, C sources, two small models
    target = tmp_path_factory.mktemp("site")
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-compile",
                        "--target", str(target), str(wheel)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    env = {**os.environ, "PYTHONPATH": str(target), "PYTHONDONTWRITEBYTECODE": "1",
           "XDG_CACHE_HOME": str(tmp_path_factory.mktemp("cache"))}
    env.pop("MICROMEL_BUILD_DIR", None)
    return target, env


def test_a_file_left_in_the_build_folder_does_not_ship(tmp_path):
    """setup.py copies the firmware, boards and models afresh: its build folder outlives a
    build, and a file deleted from the checkout since an earlier wheel shipped again."""
    import zipfile

    src = tmp_path / "src"
    src.mkdir()
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    for name in SHIPPED:
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns(".pio", "__pycache__"))
    stale = src / "build" / "lib" / "micromel" / "_data" / "models" / "deleted_since.txt"
    stale.parent.mkdir(parents=True)
    stale.write_text("from an earlier wheel")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                        str(tmp_path / "dist"), str(src)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("micromel-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "micromel/_data/models/drums/config.json" in names
    assert not [n for n in names if n.endswith("deleted_since.txt")]


def micromel(env, cwd, *args, timeout=600):
    return subprocess.run([sys.executable, "-m", "micromel", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.emulator
def test_installed_package_works_from_an_empty_folder(installed, tmp_path):
    target, env = installed
    package_before = snapshot(target)
    checkout_before = {d: snapshot(REPO / d) for d in SHIPPED}
    work = tmp_path / "work"
    work.mkdir()
    r = subprocess.run([sys.executable, "-c", "import micromel.paths as p; print(p.RESOURCES)"],
                       cwd=work, env=env, capture_output=True, text=True)
    assert Path(r.stdout.strip()) == target / "micromel" / "_data", r.stderr
    r = micromel(env, work, "boards")
    assert r.returncode == 0 and "mps2-an386" in r.stdout, r.stderr
    # the docs that messages name (docs/farm.md, docs/training.md ...) come with it
    docs = target / "micromel" / "_data" / "docs"
    assert (docs / "farm.md").read_text() == (REPO / "docs" / "farm.md").read_text()
    r = micromel(env, work, "--help")
    assert f"Thedocs/*.mdthatmessagesname:{docs}" in "".join(r.stdout.split())   # wrapped anywhere
    r = micromel(env, work, "export", "drums", "--out", "gen")
    assert r.returncode == 0 and (work / "gen" / "mm_model_data.h").is_file(), r.stderr
    r = micromel(env, work, "build", "drums", "--board", "emulate")
    assert r.returncode == 0 and "mps2-an386" in r.stdout, r.stderr
    r = micromel(env, work, "device", "info", "--device", "emulate", "--json")
    assert r.returncode == 0 and '"target": "emulate"' in r.stdout, r.stderr
    assert (work / "build").is_dir()                            # builds go under the project
    assert (Path(env["XDG_CACHE_HOME"]) / "micromel" / "platformio").is_dir()   # caches: user's
    assert snapshot(target) == package_before, "the installed package was written to"
    assert {d: snapshot(REPO / d) for d in SHIPPED} == checkout_before, "the checkout was written to"


def test_labgrid_comes_only_with_the_farm_extra(installed):
    """`pip install micromel` stays free of labgrid (and its pyserial fork); `micromel[farm]`
    brings it, and the wheel carries the exporter configuration of docs/farm.md."""
    target, _ = installed
    (meta,) = target.glob("micromel-*.dist-info/METADATA")
    requires = [line.split(":", 1)[1].strip() for line in meta.read_text().splitlines()
                if line.startswith("Requires-Dist:")]
    base = [r for r in requires if "extra ==" not in r]
    assert any(r.startswith("pyserial") for r in base)
    assert not [r for r in base if "labgrid" in r], base
    assert [r for r in requires if r.startswith("labgrid")] == ['labgrid<27,>=25; extra == "farm"']
    assert (target / "micromel" / "_data" / "boards" / "farm" / "exporter.yaml").is_file()


def test_init_makes_a_project_and_shipped_models_stay_read_only(installed, tmp_path):
    target, env = installed
    r = micromel(env, tmp_path, "init", "proj")
    assert r.returncode == 0, r.stderr
    proj = tmp_path / "proj"
    assert (proj / "data").is_dir() and (proj / "README.md").is_file()
    assert (proj / "models" / "drums" / "model.tflite").is_file()
    again = micromel(env, tmp_path, "init", "proj")
    assert again.returncode == 0 and "kept" in again.stdout    # nothing overwritten
    r = subprocess.run([sys.executable, "-c", "from micromel.modeldir import ModelDir; "
                        "ModelDir.open('drums').save()"], cwd=tmp_path, env=env,
                       capture_output=True, text=True)
    assert r.returncode != 0 and "read-only" in r.stderr and "micromel init" in r.stderr


def test_doctor_names_a_missing_tool_and_its_install_command(tmp_path):
    """With qemu-system-arm hidden from PATH (every other tool linked in), doctor says so."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("gcc", "arm-none-eabi-gcc", "riscv64-unknown-elf-gcc", "qemu-system-riscv32"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    env = {**os.environ, "PATH": str(bin_dir), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "PYTHONPATH": str(REPO / "python")}
    r = subprocess.run([sys.executable, "-m", "micromel", "doctor"], env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 1
    assert "MISSING" in r.stdout and "qemu-system-arm" in r.stdout
    assert "apt-get install -y qemu-system-arm" in r.stderr and "Traceback" not in r.stderr
    # with the real PATH, the machine that runs the tests has everything required
    r = subprocess.run([sys.executable, "-m", "micromel", "doctor"], capture_output=True, text=True,
                       env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PlatformIO offline" in r.stdout
