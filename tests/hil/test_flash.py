"""`micromel flash --board B`: which PlatformIO environment it flashes. A real board's
environment has no board file in boards/pio/ (PlatformIO's registry holds it), and the lookup
through one made every real board fail before PlatformIO ran."""
from pathlib import Path

import pytest

from micromel.errors import MicromelError
from micromel.hil import flash as flash_mod
from micromel.modeldir import ModelDir

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("board, env", [
    ("stm32l476", ("nucleo_l476rg", False)),        # a catalogue name
    ("nucleo_l476rg", ("nucleo_l476rg", False)),    # its real environment
    ("nrf52840", ("nano33ble", False)),
    ("mps2-an386", ("emulate", True)),              # an emulated board, by name or environment
    ("emulate", ("emulate", True)),
    ("emulate_m7", ("emulate_m7", True)),
])
def test_the_environment_flashed(board, env):
    assert flash_mod.flash_env(board) == env


@pytest.mark.parametrize("board, says", [
    ("xc_stm32l476", "uploads nowhere; flash with --board stm32l476 (environment nucleo_l476rg)"),
    ("nosuch", "--board nosuch: not in"),
])
def test_boards_it_cannot_flash_are_named(board, says):
    with pytest.raises(MicromelError) as e:
        flash_mod.flash_env(board)
    assert says in str(e.value)


def test_a_real_board_is_uploaded_through_platformio(monkeypatch):
    """The command PlatformIO gets (not run here: no board, no registry)."""
    seen = {}

    def run(cmd, env):
        seen["cmd"], seen["env"] = cmd, env
        return type("R", (), {"returncode": 0})()

    monkeypatch.setattr(flash_mod.subprocess, "run", run)
    rc = flash_mod.flash(ModelDir.open(ROOT / "models" / "speech"), "stm32l476", "/dev/ttyACM7",
                         say=lambda _: None)
    cmd = seen["cmd"]
    assert rc == 0 and cmd[cmd.index("-e") + 1] == "nucleo_l476rg"
    assert cmd[cmd.index("-t") + 1] == "upload" and cmd[-2:] == ["--upload-port", "/dev/ttyACM7"]
    assert seen["env"]["MICROMEL_GEN_DIR"]


@pytest.mark.parametrize("board, extra, says", [
    ("emulate", ["--listen-at-boot", "mic"],
     "--listen-at-boot mic: an emulated board has no microphone driver"),
    ("stm32l476", ["--listen-at-boot", "file"], "--listen-at-boot file: the emulated microphone's"),
    ("emulate", ["--port", "/dev/ttyACM0"], "--port /dev/ttyACM0: a real board's upload port"),
])
def test_what_the_board_cannot_take_is_refused(board, extra, says, capsys, monkeypatch):
    from micromel.cli import main
    monkeypatch.setattr(flash_mod.firmware, "build", lambda *a, **k: pytest.fail("built"))
    assert main(["flash", str(ROOT / "models" / "speech"), "--board", board, *extra]) == 2
    err = capsys.readouterr().err
    assert says in err and len(err.strip().splitlines()) == 1, err
