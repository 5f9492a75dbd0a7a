"""The external tools micromel's commands run, each with what needs it and how to install it.
Standard library only, so `scripts/setup.sh` can ask it which Debian packages are missing
before any virtual environment exists:

    python3 -m micromel.boards.toolchain --apt      # missing Debian packages, one line
    python3 -m micromel.boards.toolchain --apt --optional   # the optional tools' too
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Tool:
    name: str            # what is checked
    needed_for: str      # the commands that need it
    apt: str             # the Debian/Ubuntu package that provides it
    elsewhere: str       # what to do on other systems
    optional: bool = False

    def present(self) -> bool:
        return CHECKS[self.name]()


def _which(cmd: str):
    return lambda: shutil.which(cmd) is not None


def _gcc_file(gcc: str, name: str, flags=()):
    """A library the cross compiler finds (newlib, picolibc)."""
    def check() -> bool:
        if shutil.which(gcc) is None:
            return False
        try:
            out = subprocess.run([gcc, *flags, f"-print-file-name={name}"], capture_output=True,
                                 text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return False
        return os.path.isabs(out) and Path(out).is_file()
    return check


def _libfuzzer() -> bool:
    """clang and its libFuzzer runtime (Debian ships it apart: libclang-rt-dev)."""
    if shutil.which("clang") is None:
        return False
    try:
        res = subprocess.run(["clang", "-print-resource-dir"], capture_output=True, text=True,
                             timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return False
    return any(Path(res, "lib").rglob("libclang_rt.fuzzer*.a"))


def _picolibc_riscv() -> bool:
    return any(Path(p).is_file() for p in ("/usr/lib/picolibc/riscv64-unknown-elf/picolibc.specs",
                                            "/usr/lib/picolibc/riscv64-unknown-elf/lib/picolibc.specs"))


# name | needed for | Debian/Ubuntu package | what to do elsewhere (one tool per line)
_TABLE = """
gcc | host builds (--impl c, bit-exactness tests) | gcc | any C99 compiler named gcc on PATH
arm-none-eabi-gcc | Cortex-M builds (build, flash, verify/segment/bench on emulate) | gcc-arm-none-eabi | Arm GNU Toolchain from developer.arm.com, bin/ on PATH
newlib (arm-none-eabi) | Cortex-M builds | libnewlib-arm-none-eabi | comes with the Arm GNU Toolchain
qemu-system-arm | emulated Cortex-M boards (--device emulate) | qemu-system-arm | QEMU 7.2 or newer from qemu.org or the system's packages
riscv64-unknown-elf-gcc | RISC-V builds (esp32c3, emulate_rv32) | gcc-riscv64-unknown-elf | a riscv64-unknown-elf GCC on PATH
picolibc (riscv64-unknown-elf) | RISC-V builds | picolibc-riscv64-unknown-elf | picolibc for riscv64-unknown-elf
qemu-system-riscv32 | the emulated RISC-V board (emulate:emulate_rv32) | qemu-system-misc | QEMU with the riscv32 system emulator
fluidsynth | `micromel dataset drums` (renders the GM soundfonts' drum kits) | fluidsynth | FluidSynth 2.x on PATH (or `micromel dataset drums --sources hydrogen,samples`)
"""
OPTIONAL = {"clang (libFuzzer)": ("fuzzing the C parsers (scripts/fuzz.sh, tests/test_fuzz.py)",
                                  "clang libclang-rt-dev",
                                  "clang 14 or newer with its compiler-rt (libFuzzer, sanitizers)")}
TOOLS = tuple(Tool(*(c.strip() for c in line.split("|"))) for line in _TABLE.strip().splitlines()) + \
    tuple(Tool(name, *rest, optional=True) for name, rest in OPTIONAL.items())

CHECKS = {
    "gcc": _which("gcc"),
    "arm-none-eabi-gcc": _which("arm-none-eabi-gcc"),
    "newlib (arm-none-eabi)": _gcc_file("arm-none-eabi-gcc", "libc_nano.a",
                                        ("-mthumb", "-mcpu=cortex-m4")),
    "qemu-system-arm": _which("qemu-system-arm"),
    "riscv64-unknown-elf-gcc": _which("riscv64-unknown-elf-gcc"),
    "picolibc (riscv64-unknown-elf)": _picolibc_riscv,
    "qemu-system-riscv32": _which("qemu-system-riscv32"),
    "fluidsynth": _which("fluidsynth"),
    "clang (libFuzzer)": _libfuzzer,
}


def check() -> list[tuple[Tool, bool]]:
    return [(t, t.present()) for t in TOOLS]


def missing_apt(results=None, optional: bool = False) -> list[str]:
    """Debian packages of the missing tools (the optional ones too if asked)."""
    results = results if results is not None else check()
    return list(dict.fromkeys(t.apt for t, ok in results if not ok and (optional or not t.optional)))


def install_hint(packages: list[str]) -> str:
    sudo = "" if hasattr(os, "geteuid") and os.geteuid() == 0 else "sudo "
    return f"{sudo}apt-get install -y {' '.join(packages)}"


def missing_tool_hint(command: str) -> str:
    """What to do when `command` (a tool of TOOLS) is not found: its package's install
    line and `micromel doctor` (an installed micromel has no scripts/setup.sh)."""
    apt = [t.apt for t in TOOLS if t.name == command]
    return (f"install it ({install_hint(apt)}), " if apt else "") + \
        "then `micromel doctor` checks every tool"


if __name__ == "__main__":
    if sys.argv[1:2] == ["--apt"]:
        print(" ".join(missing_apt(optional="--optional" in sys.argv[2:])))
    else:
        for tool, ok in check():
            print(f"{'ok' if ok else 'MISSING':<8} {tool.name}")
