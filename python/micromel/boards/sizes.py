"""The size table: flash and RAM per part of a linked firmware, from the linker map of a
real link. Every input section is attributed to a part (front end, weights, engine, app,
libc, stack) by the object or library it comes from; the model's generated arrays are found
by name in the generated headers. Flash counts every allocated section with contents (.data
counts twice: its image in flash, its copy in RAM); RAM counts every allocated section placed
in a writable memory region."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import MicromelError
from . import firmware
from .catalogue import Board
from .linkmap import InputSection, elf_sections, parse_map

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
    # part -> its biggest symbols: (name, bytes, "flash", "ram" or "flash+ram" for data that
    # is copied from flash to RAM at reset)
    symbols: dict[str, list[tuple[str, int, str]]] = field(default_factory=dict)

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
            "largest": {p: [{"symbol": s, "bytes": n, "memory": m} for s, n, m in v]
                        for p, v in self.symbols.items()},
        }


def firmware_part(weights: set[str]):
    """The part of an input section of the firmware (object or archive member, symbol)."""
    def part_of(origin: str, sym: str) -> str:
        part = object_part(origin)
        return "weights" if sym in weights and part != "frontend" else part
    return part_of


def size_report(board: Board, elf: Path, map_path: Path, gen_dirs: list[Path],
                part_of=None, parts: tuple = PARTS) -> SizeReport:
    """Flash and RAM per part of one linked image: by default the firmware's parts (PARTS);
    `part_of(origin, symbol) -> part` and `parts` measure another division of an image."""
    lmap = parse_map(map_path)
    part_of = part_of or firmware_part(generated_arrays(gen_dirs))
    writable = [(o, o + n) for o, n, attrs in lmap.regions.values() if "w" in attrs.lower()]

    def in_ram(addr: int) -> bool:
        return any(lo <= addr < hi for lo, hi in writable)

    flash = dict.fromkeys(parts, 0)
    ram = dict.fromkeys(parts, 0)
    per_symbol: dict[tuple[str, str, str], int] = {}
    by_output: dict[str, list[InputSection]] = {}
    for sec in lmap.inputs:
        by_output.setdefault(sec.output, []).append(sec)
    for es in elf_sections(elf):
        to_flash, to_ram = not es.nobits, in_ram(es.address)
        if not (to_flash or to_ram):
            continue
        memory = "flash+ram" if to_flash and to_ram else "flash" if to_flash else "ram"
        counted = 0
        part = "stack" if es.name in (".stack", ".heap") else "app"
        for sec in sorted(by_output.get(es.name, []), key=lambda s: s.address):
            if sec.size == 0 or not (es.address <= sec.address < es.address + es.size):
                continue
            if sec.origin != "*fill*":
                sym = _symbol_of(sec.name)
                part = part_of(sec.origin, sym)
                key = (part, sym or f"{_member_of(sec.origin)}:{sec.name}", memory)
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
    symbols: dict[str, list[tuple[str, int, str]]] = {}
    for (part, sym, memory), n in sorted(per_symbol.items(), key=lambda kv: -kv[1]):
        if len(symbols.setdefault(part, [])) < 5:
            symbols[part].append((sym, n, memory))
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


def build_board(board: Board, model_dir: Path | None, gen_dir: Path | None = None,
                defines: tuple[str, ...] = ()) -> SizeReport | LinkOverflow:
    """Build one board's offline env (with a model's generated headers in gen_dir, written
    by codegen.export; none: the firmware without a model; `defines`: build options) and
    measure the image."""
    try:
        elf = firmware.build(board.offline_env, gen_dir=gen_dir, model_dir=model_dir,
                             defines=defines)
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
