"""Builder of the offline Cortex-M platform: system arm-none-eabi tools,
bare metal, board startup and linker script from boards/<micromel_dir>/
(plus the shared folders the board lists in build.micromel_shared)."""
import sys
from glob import glob
from os.path import dirname, isdir, join

from SCons.Script import AlwaysBuild, Builder, Default, DefaultEnvironment

env = DefaultEnvironment()
board = env.BoardConfig()
boards_root = dirname(dirname(env.PioPlatform().get_dir()))
board_dir = join(boards_root, board.get("build.micromel_dir"))

env.Replace(
    AR="arm-none-eabi-gcc-ar",
    AS="arm-none-eabi-gcc",
    CC="arm-none-eabi-gcc",
    CXX="arm-none-eabi-g++",
    OBJCOPY="arm-none-eabi-objcopy",
    RANLIB="arm-none-eabi-gcc-ranlib",
    SIZETOOL="arm-none-eabi-size",
    PROGSUFFIX=".elf",
    SIZEPROGREGEXP=r"^(?:\.text|\.data|\.rodata|\.ARM\.exidx)\s+(\d+).*",
    SIZEDATAREGEXP=r"^(?:\.data|\.bss)\s+(\d+).*",
    SIZECHECKCMD="$SIZETOOL -A -d $SOURCES",
    SIZEPRINTCMD="$SIZETOOL -B -d $SOURCES",
    LDSCRIPT_PATH=join(board_dir, board.get("build.ldscript", "linker.ld")),
)

machine = ["-mthumb", "-mcpu=%s" % board.get("build.cpu")]
if board.get("build.fpu", ""):
    machine += ["-mfpu=%s" % board.get("build.fpu"), "-mfloat-abi=hard"]
else:
    machine += ["-mfloat-abi=soft"]

env.Append(
    ASFLAGS=machine + ["-x", "assembler-with-cpp"],
    CCFLAGS=machine + ["-O2", "-ffunction-sections", "-fdata-sections", "-Wall", "-Wextra"],
    CFLAGS=["-std=c99"],
    CPPDEFINES=board.get("build.defines", []),
    LINKFLAGS=machine + ["--specs=nano.specs", "--specs=nosys.specs", "-Wl,--gc-sections",
                         "-Wl,-Map,${BUILD_DIR}/firmware.map"],
    LIBS=["m"],
    BUILDERS=dict(
        ElfToBin=Builder(action=env.VerboseAction(
            "$OBJCOPY -O binary $SOURCES $TARGET", "Building $TARGET"), suffix=".bin"),
    ),
)

# Board facts the C code needs come from the board definition, never a
# constant typed in C: the SysTick clock, and on an emulated board the
# SysTick-tick -> instruction ratio of QEMU's -icount mode, the core clock.
sys.path.insert(0, join(dirname(boards_root), "python"))
from micromel.boards import board_cpp_defines  # noqa: E402

env.Append(CPPDEFINES=board_cpp_defines(board.get("micromel", {}), board.get("build.defines", []),
                                        board.get("build.f_cpu", "")))

# The board port includes the app and library headers; it is compiled before
# the library builder sets their paths, so give them here.
libs = [d for d in glob(join(env.subst("$PROJECT_DIR"), "lib", "*")) if isdir(d)]
env.Append(CPPPATH=["$PROJECT_INCLUDE_DIR"] + sorted(libs))
env.BuildSources(join("$BUILD_DIR", "board"), board_dir)
# Shared board code (startup, UART ports, common linker sections): built like
# the board folder; on the linker search path for the board's INCLUDE.
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
