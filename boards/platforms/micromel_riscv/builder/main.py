"""Builder of the offline 32-bit RISC-V platform: Debian's riscv64-unknown-elf gcc (multilib,
-march/-mabi from the board) with picolibc as the C library (the Debian toolchain is
freestanding), bare metal, startup and linker script from boards/<micromel_dir>/ and the
shared folders in build.micromel_shared. The build itself: boards/scripts/bare_metal_build.py."""
import sys
from os.path import dirname, join

from SCons.Script import DefaultEnvironment

env = DefaultEnvironment()
board = env.BoardConfig()
sys.path.insert(0, join(dirname(dirname(env.PioPlatform().get_dir())), "scripts"))
import bare_metal_build  # noqa: E402

machine = ["-march=%s" % board.get("build.march"), "-mabi=%s" % board.get("build.mabi")]
# picolibc: integer-only printf (the app prints no floats), like newlib-nano on the Arm
# builds, so the two families' sizes compare.
libc = ["--specs=picolibc.specs", "-DPICOLIBC_INTEGER_PRINTF_SCANF"]

bare_metal_build.build(
    env, "riscv64-unknown-elf-", machine, libc_cflags=libc,
    link_flags=libc + ["-nostartfiles"],
    prog_sections=[".text", ".rodata", ".srodata", ".data", ".sdata"],
    data_sections=[".data", ".sdata", ".bss", ".sbss"])
