"""The board matrix: the firmware without a model and every committed model
(models/*/) build for every offline target of the catalogue with the Debian
toolchains, and fit the budget of every board they are meant for."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from micromel import codegen
from micromel.modeldir import ModelDir
from micromel.boards import catalogue, linkmap, sizes, firmware
from micromel.paths import FIRMWARE_DIR, MODELS_DIR

pytestmark = pytest.mark.slow

CATALOGUE = catalogue.load_catalogue()
MODELS = sorted(p.parent for p in Path(MODELS_DIR).glob("*/config.json")
                if (p.parent / "model.tflite").exists())


def _check(report):
    assert isinstance(report, sizes.SizeReport), sizes.format_text([report])
    secs = linkmap.elf_sections(report.elf)
    assert report.flash_total == sum(s.size for s in secs if not s.nobits)
    assert report.ram["stack"] > 0 and report.flash["app"] > 0 and report.flash["libc"] > 0


@pytest.mark.parametrize("board", CATALOGUE, ids=lambda b: b.offline_env)
def test_firmware_without_a_model_builds_and_fits(board):
    r = sizes.build_board(board, None)
    _check(r)
    assert r.flash["weights"] == 0
    assert r.fits, sizes.format_text([r])


@pytest.mark.parametrize("model_dir", MODELS, ids=lambda p: p.name)
def test_every_committed_model_builds_for_every_target(model_dir):
    model = ModelDir.open(model_dir)
    targets = set(model.boards) or None
    gen_dir = codegen.default_gen_dir(model, "export")
    codegen.export(model, gen_dir)
    reports = [sizes.build_board(b, model_dir, gen_dir) for b in CATALOGUE]
    table = sizes.format_text(reports, targets)
    for r in reports:
        if isinstance(r, sizes.LinkOverflow) and targets is not None and r.board.name not in targets:
            continue  # too big for a board it is not meant for: allowed
        _check(r)
        assert r.flash["weights"] > 0, f"{r.board.name}: no model arrays found in the image\n{table}"
        assert r.flash["engine"] > 0, f"{r.board.name}: no engine code in the image\n{table}"
        if targets is None or r.board.name in targets:
            assert r.fits, f"{model_dir.name} does not fit {r.board.name}\n{table}"


# One offline target per local platform, built in a network namespace with
# only a down loopback: no PlatformIO registry, no download of any kind.
@pytest.mark.parametrize("env_name", ["xc_rp2040", "xc_esp32c3"])
def test_offline_targets_build_without_network(env_name, tmp_path):
    if not (shutil.which("unshare") and subprocess.run(["unshare", "-rn", "true"]).returncode == 0):
        pytest.skip("unshare -rn (network namespaces) not available here")
    env = firmware.pio_environ({"PLATFORMIO_BUILD_DIR": str(tmp_path / "build")})
    cmd = ["unshare", "-rn", sys.executable, "-m", "platformio", "run", "-d", str(FIRMWARE_DIR),
           "-e", env_name]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (tmp_path / "build" / env_name / "firmware.map").stat().st_size > 0
