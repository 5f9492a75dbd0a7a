"""Putting the model's firmware on a farm board before its UART is opened.

- An emulated board (farm_board.py: the place has a 'ctl' port) says which firmware
  environment it emulates; micromel builds that environment's firmware for the model and
  uploads it, unless the board already runs exactly that ELF.
- A real board whose place has the tag micromel_env=ENV (a firmware environment of
  firmware/platformio.ini) is flashed through labgrid: `labgrid-client -p PLACE bootstrap
  ELF`, which uses the place's flashing driver (an OpenOCDDriver or another BootstrapProtocol
  driver from the labgrid environment file in $LG_ENV, or one labgrid derives from the
  place's USB loader resource).
- Any other board must already run the model: micromel checks the model hash it reports, as
  for a board on a local tty."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ..errors import DeviceError
from . import farm_board
from .farm import FarmBoard
from .labgrid_session import coordinator_address

ENV_TAG = "micromel_env"


def firmware_env(board: FarmBoard) -> str | None:
    """The firmware environment to build for the board, or None if micromel cannot flash it."""
    if board.ctl:
        return farm_board.status(board.ctl)["env"]
    return board.tags.get(ENV_TAG)


def flash(board: FarmBoard, elf: Path) -> None:
    if board.ctl:
        if farm_board.status(board.ctl)["elf"] != farm_board.elf_sha(Path(elf).read_bytes()):
            farm_board.load(board.ctl, elf)
        return
    if ENV_TAG not in board.tags:
        raise DeviceError(f"{board.spec}: micromel cannot flash this place (no '{ENV_TAG}' tag, "
                          "no control port); flash the board yourself")
    cmd = [sys.executable, "-m", "labgrid.remote.client", "-x", coordinator_address(),
           "-p", board.place, "bootstrap", str(elf)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if r.returncode:
        why = (r.stderr.strip() or r.stdout.strip() or f"exit code {r.returncode}").splitlines()[-1]
        raise DeviceError(f"{board.spec}: flashing through labgrid failed (labgrid-client -p "
                          f"{board.place} bootstrap {elf}): {why}")
