"""`micromel flash`: build a model's firmware and upload it to a real board (PlatformIO), or
boot it on an emulated board and keep it running for other commands to connect to."""
from __future__ import annotations

import subprocess
import sys
import time
from typing import Callable

from .. import codegen
from ..boards import firmware
from ..boards.catalogue import find_board
from ..errors import MicromelError
from ..link.emulator import Emulator, qemu_config
from ..listen import config as listen_config


def flash_env(board: str) -> tuple[str, bool]:
    """(the PlatformIO environment to flash, whether it is an emulated board) for --board: a
    board of boards/catalogue.json by name, its real environment, or an emulated board's
    environment. A real board's JSON comes from PlatformIO's registry, not boards/pio/, so the
    catalogue, not a local board file, says which is which."""
    b = find_board(board)               # the catalogue's one-line error for an unknown name
    if b.emulated:
        return b.offline_env, True
    if board == b.offline_env:
        raise MicromelError(f"--board {board}: an environment that builds without the PlatformIO "
                            f"registry and uploads nowhere; flash with --board {b.name} "
                            f"(environment {b.real_env})")
    if not b.real_env:
        raise MicromelError(f"--board {board}: no environment to flash it with in "
                            "boards/catalogue.json")
    return b.real_env, False


def flash(model, board: str, port: str | None = None, say: Callable[[str], None] = print,
          listen_at_boot: str | None = None) -> int:
    """listen_at_boot: the source the firmware listens to from power-up (--listen-at-boot),
    checked against the board before any build."""
    env, emulated = flash_env(board)
    listen_config.check_boot_source(listen_at_boot, emulated)
    if emulated and port:
        raise MicromelError(f"--port {port}: a real board's upload port; the emulated board "
                            "boots here (drop --port)")
    defines = listen_config.boot_defines(listen_at_boot)
    gen = codegen.default_gen_dir(model)
    codegen.export(model, gen, board=board)
    if emulated:
        machine = qemu_config(env)["machine"]
        elf = firmware.build(env, gen_dir=gen, model_dir=model.path.resolve(), defines=defines)
        emu = Emulator(elf, machine, wait=False)
        port_no = emu.start()
        say(f"booted {elf} on QEMU {machine}; connect with --device socket://127.0.0.1:{port_no}")
        say("Ctrl-C stops the emulator.")
        try:
            while emu.alive():
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            emu.stop()
        return 0
    cmd = [sys.executable, "-m", "platformio", "run", "-d", str(firmware.project_dir()),
           "-e", env, "-t", "upload"]
    if port:
        cmd += ["--upload-port", port]
    environ = firmware.pio_environ({"MICROMEL_GEN_DIR": str(gen),
                                    "MICROMEL_MODEL_DIR": str(model.path.resolve()),
                                    **firmware.defines_environ(defines)})
    return subprocess.run(cmd, env=environ).returncode
