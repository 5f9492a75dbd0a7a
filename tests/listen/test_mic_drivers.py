"""Every board with a microphone driver links it into its offline image (so CI compiles it at
the part's real registers), and the emulated boards with an audio timer wire its interrupt.
None of the drivers has run on silicon (docs/boards.md, "Microphones")."""
import shutil
import subprocess

import pytest

from micromel.boards import catalogue, firmware

pytestmark = pytest.mark.slow

DRIVERS = {"nrf52840": "mic_pdm", "stm32l476": "mic_dfsdm", "rp2040": "mic_pio_i2s",
           "esp32c3": "mic_i2s"}


def _symbols(elf, riscv: bool) -> dict[str, str]:
    nm = shutil.which("riscv64-unknown-elf-nm" if riscv else "arm-none-eabi-nm")
    out = subprocess.run([nm, str(elf)], capture_output=True, text=True, check=True).stdout
    return {parts[2]: parts[1] for parts in (line.split() for line in out.splitlines()) if len(parts) == 3}


@pytest.mark.parametrize("name", sorted(DRIVERS))
def test_driver_is_linked(name):
    board = next(b for b in catalogue.load_catalogue() if b.name == name)
    pio = firmware.board_json(firmware.env_board(board.offline_env))
    assert "MM_AUDIO_MIC" in pio["build"]["defines"]
    elf = firmware.build(board.offline_env)
    syms = _symbols(elf, riscv="march" in pio["build"])
    assert syms.get("mm_port_mic_start") == "T", f"{name}: {DRIVERS[name]}.c is not linked"
    if any(d.startswith("MM_AUDIO_IRQ=") for d in pio["build"]["defines"]):
        assert syms.get("mm_board_audio_irq") == "T"
    else:   # polled: the ESP32-C3's offline port takes no interrupts
        assert syms.get("mm_port_mic_poll") == "T"


def test_emulated_timer_boards_wire_the_audio_interrupt():
    for env in ("emulate", "emulate_m7"):
        syms = _symbols(firmware.build(env), riscv=False)
        assert syms.get("mm_port_audio_timer_start") == "T" and syms.get("mm_port_file_open") == "T"
