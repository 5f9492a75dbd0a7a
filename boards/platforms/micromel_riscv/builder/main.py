"""Builder of the offline 32-bit RISC-V platform: Debian's riscv64-unknown-elf
gcc (multilib, -march/-mabi from the board) with picolibc as the C library
(the Debian toolchain is freestanding), bare metal, startup and linker script
from boards/<micromel_dir>/ and the shared folders in build.micromel_shared."""
import sys
from glob import glob
from os.path import dirname, isdir, join

from SCons.Script import AlwaysBuild, Builder, Default, DefaultEnvironment

env = DefaultEnvironment()
board = env.BoardConfig()
boards_root = dirname(dirname(env.PioPlatform().get_dir()))
board_dir = join(boards_root, board.get("build.micromel_dir"))

env.Replace(
    AR="riscv64-unknown-elf-gcc-ar",
    AS="riscv64-unknown-elf-gcc",
    CC="riscv64-unknown-elf-gcc",
    CXX="riscv64-unknown-elf-g++",
    OBJCOPY="riscv64-unknown-elf-objcopy",
    RANLIB="riscv64-unknown-elf-gcc-ranlib",
    SIZETOOL="riscv64-unknown-elf-size",
    PROGSUFFIX=".elf",
    SIZEPROGREGEXP=r"^(?:\.text|\.rodata|\.srodata|\.data|\.sdata)\s+(\d+).*",
    SIZEDATAREGEXP=r"^(?:\.data|\.sdata|\.bss|\.sbss)\s+(\d+).*",
    SIZECHECKCMD="$SIZETOOL -A -d $SOURCES",
    SIZEPRINTCMD="$SIZETOOL -B -d $SOURCES",
    LDSCRIPT_PATH=join(board_dir, board.get("build.ldscript", "linker.ld")),
)

machine = ["-march=%s" % board.get("build.march"), "-mabi=%s" % board.get("build.mabi")]
# picolibc: integer-only printf (the app prints no floats), like newlib-nano
# on the Arm builds, so the two families' sizes compare.
libc = ["--specs=picolibc.specs", "-DPICOLIBC_INTEGER_PRINTF_SCANF"]

env.Append(
    ASFLAGS=machine + ["-x", "assembler-with-cpp"],
    CCFLAGS=machine + libc + ["-O2", "-ffunction-sections", "-fdata-sections", "-Wall", "-Wextra"],
    CFLAGS=["-std=c99"],
    CPPDEFINES=board.get("build.defines", []),
    LINKFLAGS=machine + libc + ["-nostartfiles", "-Wl,--gc-sections",
                                "-Wl,-Map,${BUILD_DIR}/firmware.map"],
    LIBS=["m"],
    BUILDERS=dict(
        ElfToBin=Builder(action=env.VerboseAction(
            "$OBJCOPY -O binary $SOURCES $TARGET", "Building $TARGET"), suffix=".bin"),
    ),
)

# Board facts the C code needs come from the board definition.
sys.path.insert(0, join(dirname(boards_root), "python"))
from micromel.boards import board_cpp_defines  # noqa: E402

env.Append(CPPDEFINES=board_cpp_defines(board.get("micromel", {}), board.get("build.defines", []),
                                        board.get("build.f_cpu", "")))

# The board port includes the app and library headers; it is compiled before
# the library builder sets their paths, so give them here.
libs = [d for d in glob(join(env.subst("$PROJECT_DIR"), "lib", "*")) if isdir(d)]
env.Append(CPPPATH=["$PROJECT_INCLUDE_DIR"] + sorted(libs))
env.BuildSources(join("$BUILD_DIR", "board"), board_dir)
for shared in board.get("build.micromel_shared", []):
    env.BuildSources(join("$BUILD_DIR", shared.replace("/", "_")), join(boards_root, shared))
    env.Append(LIBPATH=[join(boards_root, shared)])
elf = env.BuildProgram()
# The board's linker script INCLUDEs shared ones: relink when they change.
env.Depends(elf, [f for shared in board.get("build.micromel_shared", [])
                  for f in glob(join(boards_root, shared, "*.ld"))])
binary = env.ElfToBin(join("$BUILD_DIR", "${PROGNAME}"), elf)
AlwaysBuild(env.Alias("size", elf, env.VerboseAction("$SIZEPRINTCMD", "Calculating size $SOURCE")))
Default([binary])
