"""Every emulated core of the catalogue (QEMU mps2-an386 M4F, mps2-an500 M7,
mps2-an505 M33, mps3-an547 M55, riscv32 virt) boots the firmware and answers
over its UART, and its cost counter counts instructions at the right ratio."""
import socket
import subprocess
import sys

import pytest

from micromel.boards import catalogue, firmware

from micromel.hil import cores

from micromel.link import protocol
from micromel import codegen
from micromel.link.device import open_device
from micromel.link.emulator import Emulator
from micromel.modeldir import ModelDir
from micromel.paths import BOARDS_DIR, MODELS_DIR

pytestmark = pytest.mark.emulator

EMULATED = [b for b in catalogue.load_catalogue() if b.emulated]


def _pio_board(board):
    return firmware.board_json(firmware.env_board(board.offline_env))


@pytest.mark.parametrize("board", EMULATED, ids=lambda b: b.offline_env)
def test_core_boots_and_answers(board):
    with open_device(f"emulate:{board.offline_env}") as dev:
        payload = bytes(range(256)) * 8
        assert dev.request(protocol.MSG["PING"], payload).payload == payload
        info = dev.info()
        assert info["target"] == board.offline_env
        assert info["core"] == board.core
        assert info["counter_unit"] == "instructions"
        mm = _pio_board(board)["micromel"]
        ratio = catalogue.icount_ratio(mm.get("systick_hz") or mm["mtime_hz"])
        assert (int(info["counter_num"]), int(info["counter_den"])) == ratio
        stats = dev.stats()
        assert stats["frames"] >= 3
        assert stats["bad_crc"] == stats["bad_header"] == stats["truncated"] == 0


def test_every_emulated_port_prints_the_cost_selftest():
    """The counted-loop check below runs on every emulated board: each port calls
    mm_cost_selftest (firmware/lib/mm_cost/mm_cost_selftest.c) when built with it."""
    for board in EMULATED:
        build = _pio_board(board)["build"]
        dirs = [build["micromel_dir"]] + build.get("micromel_shared", [])
        assert any("mm_cost_selftest(" in f.read_text()
                   for d in dirs for f in (BOARDS_DIR / d).glob("*.c")), board.offline_env


SELFTEST = EMULATED


@pytest.mark.parametrize("board", SELFTEST, ids=lambda b: b.offline_env)
def test_cost_counter_counts_instructions(board, tmp_path):
    """A loop of 2,000,000 instructions (built in with MM_BOARD_COST_SELFTEST)
    reads as 2,000,000 on the cost counter, give or take the counter reads:
    a wrong SysTick clock or ratio in the board JSON is off by 20% or more."""
    build = tmp_path / "build"
    env = firmware.pio_environ({"PLATFORMIO_BUILD_DIR": str(build),
                                "PLATFORMIO_BUILD_FLAGS": "-DMM_BOARD_COST_SELFTEST"})
    proc = subprocess.run([sys.executable, "-m", "platformio", "run", "-d", str(firmware.FIRMWARE_DIR),
                           "-e", board.offline_env], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    mm = _pio_board(board)["micromel"]
    emu = Emulator(build / board.offline_env / "program.elf", board.qemu_machine,
                   extra_args=mm.get("qemu_args"), system=mm.get("qemu_system", "qemu-system-arm"))
    port = emu.start()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
            line = b""
            while not line.endswith(b"\n"):
                chunk = s.recv(1)
                assert chunk, "the emulator closed the UART"
                line += chunk
    finally:
        emu.stop()
    fields = dict(kv.split("=") for kv in line.decode().split()[1:])
    expected, counted = int(fields["loop_instructions"]), int(fields["counted"])
    assert expected == 2_000_000
    assert 0 <= counted - expected <= 64, line


@pytest.fixture(scope="module")
def a_model(tmp_path_factory):
    """A committed model (its builds are shared with test_boards_build), else
    a drums-shaped int8 CNN of the engine's zoo; and its exported headers."""
    committed = sorted(p.parent for p in MODELS_DIR.glob("*/model.tflite"))
    if committed:
        model_dir = committed[0]
    else:
        zoo = pytest.importorskip("micromel.engine.zoo")
        model_dir = zoo.make("drums", tmp_path_factory.mktemp("models") / "drums", seed=3)
    model = ModelDir.open(model_dir)
    gen = codegen.default_gen_dir(model, "export")
    codegen.export(model, gen)
    return model, gen


@pytest.mark.slow
@pytest.mark.parametrize("board", EMULATED, ids=lambda b: b.offline_env)
def test_front_end_and_model_are_bit_exact_on_every_core(board, a_model):
    """The same firmware on each core: front-end frames equal the numpy twin,
    every layer of the model equals tflite_micro, and BENCH counts the cost."""
    model, gen_dir = a_model
    r = cores.run_core(board, model, gen_dir, inputs=4)
    assert r.frontend is not None, r.missing
    assert r.frontend["bit_exact"] and r.frontend["frames"] > 0
    assert r.model["bit_exact"] and r.model["inputs"] == 4
    assert r.info["kernels"] == ("dsp" if board.dsp else "portable")
    assert r.frontend["per_frame"] > 0 and r.model["per_inference"] > 0
