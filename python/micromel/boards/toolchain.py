"""The external tools micromel's commands run, each with what needs it and how to install it.
Standard library only, so `scripts/setup.sh` can ask it which Debian packages are missing
before any virtual environment exists:

    python3 -m micromel.boards.toolchain --apt      # missing Debian packages, one line
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


def _picolibc_riscv() -> bool:
    return any(Path(p).is_file() for p in ("/usr/lib/picolibc/riscv64-unknown-elf/picolibc.specs",
                                            "/usr/lib/picolibc/riscv64-unknown-elf/lib/picolibc.specs"))


TOOLS = (
    Tool("gcc", "host builds (--impl c, bit-exactness tests)", "gcc",
         "any C99 compiler named gcc on PATH"),
    Tool("arm-none-eabi-gcc", "Cortex-M builds (build, flash, verify/segment/bench on emulate)",
         "gcc-arm-none-eabi", "Arm GNU Toolchain from developer.arm.com, bin/ on PATH"),
    Tool("newlib (arm-none-eabi)", "Cortex-M builds", "libnewlib-arm-none-eabi",
         "comes with the Arm GNU Toolchain"),
    Tool("qemu-system-arm", "emulated Cortex-M boards (--device emulate)", "qemu-system-arm",
         "QEMU 7.2 or newer from qemu.org or the system's packages"),
    Tool("riscv64-unknown-elf-gcc", "RISC-V builds (esp32c3, emulate_rv32)",
         "gcc-riscv64-unknown-elf", "a riscv64-unknown-elf GCC on PATH"),
    Tool("picolibc (riscv64-unknown-elf)", "RISC-V builds", "picolibc-riscv64-unknown-elf",
         "picolibc for riscv64-unknown-elf"),
    Tool("qemu-system-riscv32", "the emulated RISC-V board (emulate:emulate_rv32)", "qemu-system-misc",
         "QEMU with the riscv32 system emulator"),
    Tool("fluidsynth", "`micromel dataset drums` (renders the GM soundfonts' drum kits)", "fluidsynth",
         "FluidSynth 2.x on PATH (or `micromel dataset drums --sources hydrogen,samples`)"),
    Tool("clang", "fuzzing the C parsers (scripts/fuzz.sh)", "clang",
         "clang 14 or newer with libFuzzer", optional=True),
)

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
    "clang": _which("clang"),
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


if __name__ == "__main__":
    if sys.argv[1:] == ["--apt"]:
        print(" ".join(missing_apt()))
    else:
        for tool, ok in check():
            print(f"{'ok' if ok else 'MISSING':<8} {tool.name}")
