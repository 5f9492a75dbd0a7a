"""The real-time budget of listening (`micromel build MODEL --check`): for each board, the
instructions per second of audio the front end (one frame per hop) and the model (one window
per segment hop, every window through the model: the worst case) need, against the board's
clock.

The instructions are measured, not estimated: on the emulated core that runs the same code
as the board (the same -mcpu or -march and the same kernel path: DSP or portable), with the
firmware's BENCH messages under QEMU's exact instruction counting. The RP2040's ARMv6-M
code runs on the emulated Cortex-M4 machine for this (env emulate_m0plus: Thumb-1 is a
subset of the M4's instruction set). An instruction is not a cycle: at one cycle per
instruction the load is a lower bound on silicon (flash wait states, multi-cycle loads and
branches add to it), hence the warning above 70 %. The emulated boards' clocks are the rates
their audio is paced at (docs/boards.md)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..engine.runner import DeviceModel
from ..errors import MicromelError
from ..frontend import link as fe_link
from ..link.device import open_emulated
from . import firmware
from .catalogue import Board, load_catalogue

WARN = 0.70
FAIL = 1.00
# Emulated environments outside the catalogue that measure a board's code.
MEASURE_ONLY_ENVS = ("emulate_m0plus",)


@dataclass(frozen=True)
class Cost:
    """What one emulated core measured for a model."""
    env: str
    frontend_per_second: float   # instructions per second of audio
    model_per_inference: float   # instructions


@dataclass(frozen=True)
class Budget:
    board: Board
    cost: Cost | None            # None: no emulated core runs this board's code
    windows_per_second: float

    @property
    def per_second(self) -> float | None:
        if self.cost is None:
            return None
        return self.cost.frontend_per_second + self.cost.model_per_inference * self.windows_per_second

    @property
    def load(self) -> float | None:
        ps = self.per_second
        return ps / self.board.clock_hz if ps is not None and self.board.clock_hz else None

    @property
    def verdict(self) -> str:
        load = self.load
        if load is None:
            return "unknown"
        return "FAIL" if load > FAIL else "warn" if load > WARN else "ok"

    @property
    def fails(self) -> bool:
        """Only real boards fail the check: an emulated board's clock is its pacing rate."""
        return self.verdict == "FAIL" and not self.board.emulated

    def to_dict(self) -> dict:
        return {"board": self.board.name, "clock_hz": self.board.clock_hz,
                "measured_on": self.cost.env if self.cost else None,
                "frontend_per_second": self.cost.frontend_per_second if self.cost else None,
                "model_per_inference": self.cost.model_per_inference if self.cost else None,
                "windows_per_second": self.windows_per_second, "per_second": self.per_second,
                "load": self.load, "verdict": self.verdict,
                # an emulated core's clock is no real board's: its FAIL never fails --check
                "emulated": self.board.emulated, "fails": self.fails}


def _code(build: dict, mm: dict) -> tuple:
    """What decides a board's instruction stream: the core (or ISA) and the kernel path."""
    return (build.get("cpu") or build.get("march"), bool(mm.get("dsp", False)))


def measuring_env(board: Board) -> str | None:
    """The emulated environment whose code is the board's."""
    def key(env):
        pio = firmware.board_json(firmware.env_board(env))
        return _code(pio.get("build", {}), pio.get("micromel", {}))

    if board.emulated:
        return board.offline_env
    want = key(board.offline_env)
    envs = [b.offline_env for b in load_catalogue() if b.emulated] + list(MEASURE_ONLY_ENVS)
    return next((e for e in envs if key(e) == want), None)


def measure(env: str, model, plan, gen_dir: Path) -> Cost:
    """Boot the model's firmware on one emulated core and read its costs (BENCH 1 and 2)."""
    elf = firmware.build(env, gen_dir=gen_dir, model_dir=Path(model.path).resolve())
    with open_emulated(env, elf=elf) as dev:
        if dev.info(refresh=True).get("model_hash") != model.hash:
            raise MicromelError(f"{env}: the firmware does not run {model.path}")
        fe = fe_link.bench(dev, "noise")
        nn = DeviceModel(plan, dev).bench()
    if fe["unit"] != "instructions" or nn["unit"] != "instructions":
        raise MicromelError(f"{env}: the cost counter counts {fe['unit']}, not instructions")
    return Cost(env, float(fe["per_second_total"]), float(nn["total"]))


def budgets(boards: list[Board], model, plan, gen_dir: Path, progress=None) -> list[Budget]:
    """The budget of every board; each emulated core is measured once."""
    p = model.segment_params()
    wps = p.sample_rate / p.hop_samples
    costs: dict[str, Cost] = {}
    out = []
    for b in boards:
        env = measuring_env(b)
        if env is not None and env not in costs:
            costs[env] = measure(env, model, plan, gen_dir)
            if progress:
                progress(costs[env])
        out.append(Budget(b, costs.get(env), wps))
    return out


def _mi(v: float | None) -> str:
    return f"{v / 1e6:.2f}" if v is not None else "-"


def table_rows(items: list[Budget]) -> list[list[str]]:
    head = ["board", "core", "MHz", "measured on", "front end M/s", "model M/inference",
            "windows/s", "total M/s", "CPU", "real time"]
    rows = [head]
    for r in items:
        load = r.load
        rows.append([r.board.name, r.board.core, f"{r.board.clock_hz / 1e6:g}",
                     r.cost.env if r.cost else "-",
                     _mi(r.cost.frontend_per_second if r.cost else None),
                     _mi(r.cost.model_per_inference if r.cost else None),
                     f"{r.windows_per_second:.2f}", _mi(r.per_second),
                     f"{100 * load:.1f}%" if load is not None else "-",
                     r.verdict + (" (emulated)" if r.board.emulated and r.verdict == "FAIL" else "")])
    return rows


def format_text(items: list[Budget]) -> str:
    rows = table_rows(items)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out = ["REAL TIME (listening: instructions per second of audio at one per cycle)"]
    for k, row in enumerate(rows):
        out.append("  ".join(c.ljust(w) if i in (0, 1, 3, 9) else c.rjust(w)
                             for i, (c, w) in enumerate(zip(row, widths))).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out) + "\n"


def format_markdown(items: list[Budget]) -> str:
    rows = table_rows(items)
    out = ["### Real time", "",
           "Listening: instructions per second of audio for the front end (one frame per hop) "
           "and the model (every window of the segment hop), measured on the emulated core "
           f"that runs the board's code, against its clock; warn above {WARN:.0%}, fail above "
           f"{FAIL:.0%} (real boards).", "",
           "| " + " | ".join(rows[0]) + " |",
           "|" + "|".join("---" if i in (0, 1, 3, 9) else "---:" for i in range(len(rows[0]))) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return "\n".join(out) + "\n"
