"""One test decides whether a firmware environment is an emulated board: its board JSON names
a QEMU machine (link.emulator.qemu_config). The benches (emulator_of) and --device
(emulated_env) ask it the same way, for every environment of platformio.ini: emulate_m0plus
(ARMv6-M code on the M4 machine, not a catalogue board) is emulated too, a real board's
environment and the host's are not."""

import pytest

from micromel.boards.catalogue import emulated_envs, platformio_envs
from micromel.errors import MicromelError
from micromel.link.emulator import emulated_env, emulator_of, qemu_config


def _accepted(env_name: str) -> bool:
    try:
        return emulated_env(f"emulate:{env_name}") == env_name
    except MicromelError as e:
        assert "is not an emulated board" in str(e)
        return False


@pytest.mark.parametrize("env_name", sorted(platformio_envs()))
def test_the_benches_and_device_agree_on_every_environment(env_name):
    assert (emulator_of(env_name) is not None) == _accepted(env_name)
    if _accepted(env_name):
        assert emulator_of(env_name) == qemu_config(env_name)


def test_the_catalogues_emulated_boards_are_among_them():
    assert set(emulated_envs()) | {"emulate_m0plus"} == {e for e in platformio_envs() if _accepted(e)}
    for env_name in ("nucleo_l476rg", "rpipico", "xc_stm32l476", "native"):
        assert emulator_of(env_name) is None


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
