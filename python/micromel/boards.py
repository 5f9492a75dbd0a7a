"""The board catalogue and the size table.

boards/catalogue.json lists every board micromel ships on: its core, clock,
memory and the budget (the flash and RAM the micromel application -- front end,
model, engine, protocol -- may take on it), the offline environment that
cross-compiles it here with the Debian toolchains, and the PlatformIO
environment users flash with.

The size table comes from the linker map of a real link: every input section
is attributed to a part (front end, weights, engine, app, libc, stack) by the
object or library it comes from; the model's generated arrays are found by
name in the generated headers. Flash counts every allocated section with
contents (.data counts twice: its image in flash, its copy in RAM); RAM counts
every allocated section placed in a writable memory region."""
from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from .errors import MicromelError
from .paths import BOARDS_DIR, FIRMWARE_DIR

CATALOGUE = BOARDS_DIR / "catalogue.json"

# The parts of a firmware image, in table order.
PARTS = ("frontend", "weights", "engine", "app", "libc", "stack")
PART_TITLES = {
    "frontend": "front end",
    "weights": "weights",
    "engine": "engine",
    "app": "app",
    "libc": "libc",
    "stack": "stack",
}
# Firmware libraries (firmware/lib/<name>) that are parts of their own, and
# the message-group files of firmware/src that serve them (their handlers and
# the state they keep: the front end's buffers, the model's arena); every
# other library, the rest of firmware/src and the board port are the app.
LIBRARY_PARTS = {"mm_frontend": "frontend", "mm_nn": "engine"}
SRC_PARTS = {"app_frontend": "frontend", "app_model": "engine"}
TOOLCHAIN_LIBS = re.compile(r"(^|/)(lib(c|c_nano|g|g_nano|m|gcc|nosys|semihost|dummyhost|"
                            r"picolibc)\.a|crt\w*\.o)(\(|$)")


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


def _pio_board(env_name: str) -> dict:
    from . import firmware

    return firmware.board_json(firmware.env_board(env_name))


# --- facts the board definition hands to C ----------------------------------
def icount_ratio(systick_hz: int, shift: int | None = None) -> tuple[int, int]:
    """SysTick ticks -> instructions under QEMU's -icount shift=N: each
    instruction advances the virtual clock by 2^N ns, SysTick counts at
    systick_hz, so instructions = ticks * 1e9 / (systick_hz * 2^N)."""
    if shift is None:
        from .device import ICOUNT_SHIFT as shift
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


# --- the linker map ---------------------------------------------------------
@dataclass
class InputSection:
    output: str     # output section, e.g. ".text"
    name: str       # input section, e.g. ".rodata.mm_model_w0"
    address: int
    size: int
    origin: str     # object or "archive(member)"


@dataclass
class LinkerMap:
    regions: dict[str, tuple[int, int, str]]      # name -> (origin, length, attributes)
    outputs: dict[str, tuple[int, int]]           # output section -> (address, size)
    inputs: list[InputSection]


_HEX = r"0x[0-9a-fA-F]+"
_OUT_RE = re.compile(rf"^(\.\S+|COMMON)\s+({_HEX})\s+({_HEX})(?:\s+load address\s+{_HEX})?\s*$")
_OUT_NAME_RE = re.compile(r"^(\.\S+)\s*$")
_IN_RE = re.compile(rf"^ (\S+)\s+({_HEX})\s+({_HEX})\s+(\S.*)$")
_IN_NAME_RE = re.compile(r"^ (\S+)\s*$")
_IN_CONT_RE = re.compile(rf"^\s+({_HEX})\s+({_HEX})\s+(\S.*)$")
_FILL_RE = re.compile(rf"^ \*fill\*\s+({_HEX})\s+({_HEX})")
_REGION_RE = re.compile(rf"^(\S+)\s+({_HEX})\s+({_HEX})(?:\s+(\S+))?\s*$")


def parse_map(path: Path) -> LinkerMap:
    """Parse a GNU ld map file (-Wl,-Map): memory regions, output sections,
    and every input section with its size and origin. Fill bytes are kept as
    input sections with origin '*fill*'."""
    text = Path(path).read_text(errors="replace").splitlines()
    regions: dict[str, tuple[int, int, str]] = {}
    outputs: dict[str, tuple[int, int]] = {}
    inputs: list[InputSection] = []
    state = "start"
    current: str | None = None
    pending_out: str | None = None
    pending_in: str | None = None
    for line in text:
        if line.startswith("Memory Configuration"):
            state = "memory"
            continue
        if line.startswith("Linker script and memory map"):
            state = "map"
            continue
        if state == "memory":
            m = _REGION_RE.match(line)
            if m and m.group(1) not in ("Name", "*default*"):
                regions[m.group(1)] = (int(m.group(2), 16), int(m.group(3), 16), m.group(4) or "")
            continue
        if state != "map":
            continue
        if pending_out is not None:
            m = re.match(rf"^\s+({_HEX})\s+({_HEX})", line)
            if m:
                current = pending_out
                outputs[current] = (int(m.group(1), 16), int(m.group(2), 16))
            pending_out = None
            continue
        if pending_in is not None:
            m = _IN_CONT_RE.match(line)
            pending_name, pending_in = pending_in, None
            if m and current:
                inputs.append(InputSection(current, pending_name, int(m.group(1), 16),
                                           int(m.group(2), 16), m.group(3).strip()))
            continue
        if not line.startswith(" "):
            m = _OUT_RE.match(line)
            if m:
                current = m.group(1)
                outputs[current] = (int(m.group(2), 16), int(m.group(3), 16))
                continue
            m = _OUT_NAME_RE.match(line)
            if m:
                pending_out = m.group(1)
                continue
            current = None if line.strip() and not line.startswith("LOAD") else current
            continue
        if current is None:
            continue
        m = _FILL_RE.match(line)
        if m:
            inputs.append(InputSection(current, "*fill*", int(m.group(1), 16), int(m.group(2), 16),
                                       "*fill*"))
            continue
        m = _IN_RE.match(line)
        if m and not m.group(1).startswith("0x"):
            inputs.append(InputSection(current, m.group(1), int(m.group(2), 16), int(m.group(3), 16),
                                       m.group(4).strip()))
            continue
        m = _IN_NAME_RE.match(line)
        if m and not m.group(1).startswith(("*", "0x")) and "(" not in m.group(1):
            pending_in = m.group(1)
    if not outputs:
        raise MicromelError(f"{path}: not a GNU ld map file (no output sections found)")
    return LinkerMap(regions, outputs, inputs)


# --- the ELF's allocated sections --------------------------------------------
@dataclass
class ElfSection:
    name: str
    address: int
    size: int
    nobits: bool


def elf_sections(path: Path) -> list[ElfSection]:
    """Allocated sections of a 32-bit little-endian ELF (ARM, RISC-V)."""
    data = Path(path).read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 1 or data[5] != 1:
        raise MicromelError(f"{path}: not a 32-bit little-endian ELF")
    shoff, = struct.unpack_from("<I", data, 0x20)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x2E)
    heads = [struct.unpack_from("<IIIIIIIIII", data, shoff + i * shentsize) for i in range(shnum)]
    strtab_off = heads[shstrndx][4]

    def name_at(off: int) -> str:
        end = data.index(b"\0", strtab_off + off)
        return data[strtab_off + off:end].decode()

    out = []
    for name_off, sh_type, flags, addr, _off, size, *_ in heads:
        if flags & 0x2 and size:  # SHF_ALLOC
            out.append(ElfSection(name_at(name_off), addr, size, sh_type == 8))  # SHT_NOBITS
    return out


# --- attribution -------------------------------------------------------------
ARRAY_DEF_RE = re.compile(
    r"^[ \t]*(?!extern\b|typedef\b)[A-Za-z_][\w \t*]*?\b([A-Za-z_]\w*)[ \t]*"
    r"(?:\[[^\]\n]*\][ \t]*)+(?:__attribute__[ \t]*\(\(.*?\)\)[ \t]*)?=", re.M)


def generated_arrays(gen_dirs: list[Path]) -> set[str]:
    """Names of the data arrays defined in the generated headers (model
    weights, biases, front-end tables): the linker map knows them by section
    name (.rodata.<name>, with -fdata-sections)."""
    names: set[str] = set()
    for d in gen_dirs:
        if d and Path(d).is_dir():
            for h in sorted(Path(d).glob("*.h")):
                names.update(ARRAY_DEF_RE.findall(h.read_text(errors="replace")))
    return names


def object_part(origin: str) -> str:
    """The part an object or archive member belongs to."""
    m = re.search(r"(?:^|/)lib([\w.+-]+)\.a\(", origin)
    if m and m.group(1) in LIBRARY_PARTS:
        return LIBRARY_PARTS[m.group(1)]
    for lib, part in LIBRARY_PARTS.items():
        if f"/{lib}/" in origin:
            return part
    m = re.search(r"(?:^|/)src/(\w+)\.(?:c|cpp)?\.?o$", origin)
    if m and m.group(1) in SRC_PARTS:
        return SRC_PARTS[m.group(1)]
    if TOOLCHAIN_LIBS.search(origin) or "/usr/lib/" in origin:
        return "libc"
    return "app"


_SECTION_SYMBOL_RE = re.compile(
    r"^\.(?:text|rodata|data|bss|sdata|sbss|srodata|sdata2)\."
    r"(?:rel\.ro\.(?:local\.)?|unlikely\.|hot\.|startup\.|exit\.)?([A-Za-z_][\w$]*)$")


def _symbol_of(section: str) -> str:
    """The symbol an input section holds with -ffunction-sections and
    -fdata-sections (.rodata.mm_model_w0 -> mm_model_w0), else ''."""
    m = _SECTION_SYMBOL_RE.match(section)
    return m.group(1) if m else ""


def _member_of(origin: str) -> str:
    """'.../libc_nano.a(lib_a-memcpy.o)' -> 'memcpy.o'-ish short name."""
    m = re.search(r"\(([^)]+)\)$", origin)
    name = m.group(1) if m else origin.rsplit("/", 1)[-1]
    return re.sub(r"^lib_a-", "", name)


@dataclass
class SizeReport:
    board: Board
    elf: Path
    flash: dict[str, int]
    ram: dict[str, int]
    symbols: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # part -> biggest

    @property
    def flash_total(self) -> int:
        return sum(self.flash.values())

    @property
    def ram_total(self) -> int:
        return sum(self.ram.values())

    @property
    def fits(self) -> bool:
        return self.flash_total <= self.board.flash_budget and self.ram_total <= self.board.ram_budget

    def to_dict(self) -> dict:
        return {
            "board": self.board.name, "core": self.board.core, "env": self.board.offline_env,
            "flash": dict(self.flash), "ram": dict(self.ram),
            "flash_total": self.flash_total, "ram_total": self.ram_total,
            "flash_budget": self.board.flash_budget, "ram_budget": self.board.ram_budget,
            "fits": self.fits,
            "largest": {p: [{"symbol": s, "bytes": n} for s, n in v] for p, v in self.symbols.items()},
        }


def size_report(board: Board, elf: Path, map_path: Path, gen_dirs: list[Path]) -> SizeReport:
    """Flash and RAM per part of one linked firmware."""
    lmap = parse_map(map_path)
    weights = generated_arrays(gen_dirs)
    writable = [(o, o + n) for o, n, attrs in lmap.regions.values() if "w" in attrs.lower()]

    def in_ram(addr: int) -> bool:
        return any(lo <= addr < hi for lo, hi in writable)

    flash = dict.fromkeys(PARTS, 0)
    ram = dict.fromkeys(PARTS, 0)
    per_symbol: dict[tuple[str, str], int] = {}
    by_output: dict[str, list[InputSection]] = {}
    for sec in lmap.inputs:
        by_output.setdefault(sec.output, []).append(sec)
    for es in elf_sections(elf):
        to_flash, to_ram = not es.nobits, in_ram(es.address)
        if not (to_flash or to_ram):
            continue
        counted = 0
        part = "stack" if es.name in (".stack", ".heap") else "app"
        for sec in sorted(by_output.get(es.name, []), key=lambda s: s.address):
            if sec.size == 0 or not (es.address <= sec.address < es.address + es.size):
                continue
            if sec.origin != "*fill*":
                part = object_part(sec.origin)
                sym = _symbol_of(sec.name)
                if sym in weights and part != "frontend":
                    part = "weights"
                key = (part, sym or f"{_member_of(sec.origin)}:{sec.name}")
                per_symbol[key] = per_symbol.get(key, 0) + sec.size
            if to_flash:
                flash[part] += sec.size
            if to_ram:
                ram[part] += sec.size
            counted += sec.size
        rest = es.size - counted  # linker-made bytes (stack reservation, alignment)
        rest_part = "stack" if es.name in (".stack", ".heap") else part
        if rest > 0:
            if to_flash:
                flash[rest_part] += rest
            if to_ram:
                ram[rest_part] += rest
    symbols: dict[str, list[tuple[str, int]]] = {}
    for (part, sym), n in sorted(per_symbol.items(), key=lambda kv: -kv[1]):
        if len(symbols.setdefault(part, [])) < 5:
            symbols[part].append((sym, n))
    return SizeReport(board, Path(elf), flash, ram, symbols)


# --- the table -----------------------------------------------------------------
def _kb(n: int) -> str:
    return f"{n / 1024:.1f}"


def _verdict(ok: bool, board: Board, targets: set[str] | None, why: str = "") -> str:
    if ok:
        return "yes"
    no = "NO" if targets is None or board.name in targets else "no (not a target)"
    return f"{no}: {why}" if why else no


def _table(reports: list, what: str, targets: set[str] | None) -> list[list[str]]:
    parts = [p for p in PARTS if what == "ram" or p != "stack"]
    head = ["board", "core"] + [PART_TITLES[p] for p in parts] + ["total", "budget", "use", "fits"]
    rows = [head]
    for r in reports:
        budget = r.board.flash_budget if what == "flash" else r.board.ram_budget
        if isinstance(r, LinkOverflow):
            why = ", ".join(f"{k} region overflowed by {v} B" for k, v in r.regions.items())
            rows.append([r.board.name, r.board.core] + ["-"] * len(parts)
                        + ["-", str(budget), "-", _verdict(False, r.board, targets, why)])
            continue
        sizes = r.flash if what == "flash" else r.ram
        total = sum(sizes.values())
        rows.append([r.board.name, r.board.core] + [str(sizes[p]) for p in parts]
                    + [str(total), str(budget), f"{100 * total / budget:.1f}%",
                       _verdict(total <= budget, r.board, targets)])
    return rows


def format_text(reports: list, targets: set[str] | None = None) -> str:
    out = []
    for what in ("flash", "ram"):
        rows = _table(reports, what, targets)
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        out.append(f"{what.upper()} (bytes)")
        for k, row in enumerate(rows):
            out.append("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
            if k == 0:
                out.append("  ".join("-" * w for w in widths))
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def format_markdown(reports: list, title: str, targets: set[str] | None = None) -> str:
    out = [f"## Size table: {title}", "",
           "Bytes per part from the linker map of each board's offline build "
           "(`micromel build ... --check`). Budget: what the micromel application may use "
           "on the board (boards/catalogue.json).", ""]
    for what, label in (("flash", "Flash"), ("ram", "RAM")):
        rows = _table(reports, what, targets)
        out.append(f"### {label}")
        out.append("")
        out.append("| " + " | ".join(rows[0]) + " |")
        out.append("|" + "|".join("---" if i < 2 else "---:" for i in range(len(rows[0]))) + "|")
        for row in rows[1:]:
            out.append("| " + " | ".join(row) + " |")
        out.append("")
    return "\n".join(out)


def model_targets(model_dir: Path | None) -> set[str] | None:
    """The boards a model is meant for: config.json "boards" if present, else
    every board in the catalogue (None)."""
    if model_dir is None:
        return None
    cfg_path = Path(model_dir) / "config.json"
    try:
        cfg = json.loads(cfg_path.read_text())
    except FileNotFoundError:
        raise MicromelError(f"{model_dir}: no config.json; is it a model folder (models/NAME)?") from None
    boards = cfg.get("boards")
    return set(boards) if boards else None


# --- building ---------------------------------------------------------------
@dataclass
class LinkOverflow:
    """A board whose link failed because the image does not fit a memory
    region at all (the size table cannot measure it, only say by how much)."""
    board: Board
    regions: dict[str, int]  # region -> bytes over
    log: Path

    fits = False

    def to_dict(self) -> dict:
        return {"board": self.board.name, "core": self.board.core, "env": self.board.offline_env,
                "fits": False, "overflow": dict(self.regions), "log": str(self.log)}


_OVERFLOW_RE = re.compile(r"region [`'\"]?(\w+)['\"]? overflowed by (\d+) bytes")


def build_board(board: Board, model_dir: Path | None, gen_dir: Path | None = None
                ) -> SizeReport | LinkOverflow:
    """Build one board's offline env (with the model's generated headers in
    gen_dir, exported here if not given) and measure the image."""
    from . import firmware

    if model_dir is not None and gen_dir is None:
        gen_dir = export(model_dir)
    try:
        elf = firmware.build(board.offline_env, gen_dir=gen_dir, model_dir=model_dir)
    except MicromelError as e:
        m = re.search(r"full log: (\S+)\)", str(e))
        log = Path(m.group(1)) if m else None
        regions = {}
        if log and log.exists():
            for name, n in _OVERFLOW_RE.findall(log.read_text(errors="replace")):
                regions[name] = max(regions.get(name, 0), int(n))
        if not regions:
            raise
        return LinkOverflow(board, regions, log)
    map_path = elf.parent / "firmware.map"
    if not map_path.exists():
        raise MicromelError(f"build of '{board.offline_env}' wrote no linker map {map_path}")
    gens = [gen_dir] if gen_dir else [elf.parent / "micromel_gen"]
    return size_report(board, elf, map_path, gens)


def export(model_dir: Path) -> Path:
    """The generated headers of one model, in build/export/<model>-<path hash>/: one
    export serves every board (the engine picks its kernels at compile time
    from the core's features; the size table checks each board's budget)."""
    from .paths import BUILD_DIR

    try:
        from .engine.export import export_model
    except ImportError:
        raise MicromelError("model export is not available in this checkout "
                            "(micromel.engine.export); build with MODEL_DIR 'none'") from None
    import hashlib

    src = Path(model_dir).resolve()
    out = BUILD_DIR / "export" / f"{src.name}-{hashlib.sha1(str(src).encode()).hexdigest()[:8]}"
    return Path(export_model(src, out, board=None))


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
