"""One test decides whether a firmware environment is an emulated board: its board JSON names
a QEMU machine (link.emulator.qemu_config). The benches and --device ask it the same way."""

import pytest

from micromel.boards.catalogue import emulated_envs
from micromel.errors import MicromelError
from micromel.link.emulator import emulated_env, emulator_of, qemu_config


@pytest.mark.parametrize("env_name", emulated_envs())
def test_every_emulated_board_has_its_emulator(env_name):
    assert emulator_of(env_name) == qemu_config(env_name)
    assert emulated_env(f"emulate:{env_name}") == env_name


@pytest.mark.parametrize("env_name", ["nucleo_l476rg", "rpipico", "xc_stm32l476"])
def test_a_real_board_has_none(env_name):
    assert emulator_of(env_name) is None
    with pytest.raises(MicromelError, match="not an emulated board"):
        emulated_env(f"emulate:{env_name}")


def test_a_missing_qemu_says_what_installs_it(tmp_path, monkeypatch):
    """An installed micromel has no scripts/setup.sh: the message names the package and
    `micromel doctor`."""
    from micromel.errors import DeviceError
    from micromel.link.emulator import Emulator

    monkeypatch.setenv("PATH", str(tmp_path))       # no qemu-system-* on it
    emu = Emulator(tmp_path / "program.elf", **qemu_config("emulate"), wait=False)
    with pytest.raises(DeviceError) as err:
        emu.start()
    assert str(err.value).startswith("qemu-system-arm not found: install it (")
    assert "apt-get install -y qemu-system-arm" in str(err.value) and "micromel doctor" in str(err.value)
    assert "setup.sh" not in str(err.value)
