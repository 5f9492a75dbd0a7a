"""`micromel flash`: build a model's firmware and upload it to a real board (PlatformIO), or
boot it on an emulated board and keep it running for other commands to connect to."""
from __future__ import annotations

import subprocess
import sys
import time
from typing import Callable

from .. import codegen
from ..boards import firmware
from ..link.emulator import Emulator


def flash(model, board: str, port: str | None = None, say: Callable[[str], None] = print,
          defines: tuple[str, ...] = ()) -> int:
    """`defines`: build options such as listening at boot (listen.config.boot_defines)."""
    gen = codegen.default_gen_dir(model)
    codegen.export(model, gen, board=board)
    board_json = firmware.board_json(firmware.env_board(board))
    machine = board_json.get("micromel", {}).get("qemu_machine")
    if machine:
        elf = firmware.build(board, gen_dir=gen, model_dir=model.path.resolve(), defines=defines)
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
    cmd = [sys.executable, "-m", "platformio", "run", "-d", str(firmware.FIRMWARE_DIR),
           "-e", board, "-t", "upload"]
    if port:
        cmd += ["--upload-port", port]
    env = firmware.pio_environ({"MICROMEL_GEN_DIR": str(gen),
                                "MICROMEL_MODEL_DIR": str(model.path.resolve()),
                                **firmware.defines_environ(defines)})
    return subprocess.run(cmd, env=env).returncode
