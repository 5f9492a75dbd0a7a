"""What the linker made: a GNU ld map file (memory regions, output sections, every input
section with its size and origin) and the allocated sections of the ELF."""
from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path

from ..errors import MicromelError


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
