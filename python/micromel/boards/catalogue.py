"""The board catalogue: boards/catalogue.json lists every board micromel ships on (its core,
clock, memory and the budget the micromel application -- front end, model, engine, protocol
-- may take on it), the offline environment that cross-compiles it here with the Debian
toolchains, and the PlatformIO environment users flash with. The board JSON of each
environment (boards/pio/) is the one place for the core, clock and memory of the part; the
facts C needs from it reach the build as defines (board_cpp_defines)."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from ..errors import MicromelError
from ..paths import BOARDS_DIR, FIRMWARE_DIR
from . import firmware

CATALOGUE = BOARDS_DIR / "catalogue.json"
# QEMU icount shift: each instruction advances the virtual clock by 2^6 ns, so SysTick counts
# instructions exactly (see mm_cost.c); the emulator runs with it and the build gets the ratio.
ICOUNT_SHIFT = 6


# --- the catalogue ----------------------------------------------------------
@dataclass(frozen=True)
class Board:
    """A catalogue entry joined with its offline board JSON (boards/pio/),
    which is the one place for the core, clock and memory of the part."""
    name: str
    title: str
    kind: str              # "real" (a board users flash) or "emulated" (a QEMU machine)
    offline_env: str       # cross-compiles here, no PlatformIO registry
    real_env: str | None   # flashes a real board (needs PlatformIO's registry)
    flash_budget: int      # what the micromel application may use
    ram_budget: int
    budget_note: str = ""
    notes: str = ""
    # from the board JSON:
    core: str = ""         # e.g. "cortex-m4f", "rv32imc"
    clock_hz: int = 0
    flash_bytes: int = 0   # the part's memory
    ram_bytes: int = 0
    dsp: bool = False      # DSP/SIMD instructions: the engine's fast kernels
    qemu_machine: str | None = None

    @property
    def emulated(self) -> bool:
        return self.qemu_machine is not None

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["emulated"] = self.emulated
        return d


def load_catalogue(path: Path = CATALOGUE) -> list[Board]:
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise MicromelError(f"board catalogue {path} is missing") from None
    except json.JSONDecodeError as e:
        raise MicromelError(f"board catalogue {path}: invalid JSON ({e})") from None
    boards = []
    for entry in data["boards"]:
        pio = _pio_board(entry["offline_env"])
        build, upload, mm = pio.get("build", {}), pio.get("upload", {}), pio.get("micromel", {})
        boards.append(Board(
            **entry,
            core=build.get("core_name", build.get("cpu", "")),
            clock_hz=int(str(build.get("f_cpu", "0")).rstrip("LlUu")),
            flash_bytes=int(upload.get("maximum_size", 0)),
            ram_bytes=int(upload.get("maximum_ram_size", 0)),
            dsp=bool(mm.get("dsp", False)),
            qemu_machine=mm.get("qemu_machine"),
        ))
    return boards


def find_boards(spec: str, catalogue: list[Board] | None = None) -> list[Board]:
    """'all', a board name, or an environment name (offline or real)."""
    catalogue = catalogue if catalogue is not None else load_catalogue()
    if spec == "all":
        return catalogue
    picked = []
    for name in spec.split(","):
        match = [b for b in catalogue if name in (b.name, b.offline_env, b.real_env)]
        if not match:
            names = ", ".join(b.name for b in catalogue)
            raise MicromelError(f"--board {name}: not in {CATALOGUE.relative_to(BOARDS_DIR.parent)} "
                                f"(boards: {names}; or 'all')")
        picked.extend(m for m in match if m not in picked)
    return picked


def find_board(name: str) -> Board:
    """One board of the catalogue, by name or environment."""
    found = find_boards(name)
    if len(found) != 1:
        raise MicromelError(f"--board {name}: names {len(found)} boards; give one")
    return found[0]


def _pio_board(env_name: str) -> dict:
    return firmware.board_json(firmware.env_board(env_name))


# --- facts the board definition hands to C ----------------------------------
def icount_ratio(systick_hz: int, shift: int | None = None) -> tuple[int, int]:
    """SysTick ticks -> instructions under QEMU's -icount shift=N: each
    instruction advances the virtual clock by 2^N ns, SysTick counts at
    systick_hz, so instructions = ticks * 1e9 / (systick_hz * 2^N)."""
    if shift is None:
        shift = ICOUNT_SHIFT
    ratio = Fraction(10**9, int(systick_hz) << shift)
    return ratio.numerator, ratio.denominator


def board_cpp_defines(micromel: dict, build_defines: list[str], f_cpu: str = "") -> list:
    """Preprocessor definitions the builders add from a board JSON: the core
    clock, the SysTick clock, and the icount ratio on an emulated board."""
    defines = []
    if f_cpu:
        defines.append(("MM_BOARD_CLOCK_HZ", int(str(f_cpu).rstrip("LlUu"))))
    # The timer the cost counter reads on an emulated board: SysTick (Arm) or
    # the machine timer mtime (RISC-V).
    timers = {"MM_COST_QEMU_ICOUNT": "systick_hz", "MM_COST_QEMU_MTIME": "mtime_hz"}
    for key, name in (("systick_hz", "MM_BOARD_SYSTICK_HZ"), ("mtime_hz", "MM_BOARD_MTIME_HZ")):
        if micromel.get(key):
            defines.append((name, int(micromel[key])))
    for define, key in timers.items():
        if define in build_defines:
            hz = int(micromel.get(key, 0) or 0)
            if not hz:
                raise MicromelError(f"a board with {define} needs \"micromel\": {{\"{key}\": ...}} "
                                    "in its board JSON")
            num, den = icount_ratio(hz)
            defines += [("MM_COST_ICOUNT_NUM", num), ("MM_COST_ICOUNT_DEN", den)]
    return defines


def emulated_envs() -> list[str]:
    """The environments that run in QEMU, one per emulated core (for tests
    and verify runs that go over every core: open_device(f"emulate:{env}"))."""
    return [b.offline_env for b in load_catalogue() if b.emulated]


def offline_envs() -> list[str]:
    """Every env of the catalogue that builds offline, in catalogue order."""
    return [b.offline_env for b in load_catalogue()]


def platformio_envs() -> set[str]:
    names = set()
    for line in (FIRMWARE_DIR / "platformio.ini").read_text().splitlines():
        m = re.match(r"^\[env:([^\]]+)\]", line.strip())
        if m:
            names.add(m.group(1))
    return names
