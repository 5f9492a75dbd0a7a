"""The bare-metal build the offline cross platforms share (micromel_arm, micromel_riscv):
system GNU tools by prefix, C99, the board facts as defines, the board folder and the shared
folders it lists in build.micromel_shared, ELF -> BIN. A platform's builder/main.py gives only
what differs: the tool prefix, the machine flags, the C library flags and the size sections."""
import sys
from glob import glob
from os.path import dirname, isdir, isfile, join

from SCons.Script import AlwaysBuild, Builder, Default


def build(env, prefix, machine, libc_cflags, link_flags, prog_sections, data_sections):
    board = env.BoardConfig()
    boards_root = dirname(dirname(env.PioPlatform().get_dir()))
    board_dir = join(boards_root, board.get("build.micromel_dir"))

    def sections(names):
        return r"^(?:%s)\s+(\d+).*" % "|".join(n.replace(".", r"\.") for n in names)

    env.Replace(
        AR=prefix + "gcc-ar",
        AS=prefix + "gcc",
        CC=prefix + "gcc",
        CXX=prefix + "g++",
        OBJCOPY=prefix + "objcopy",
        RANLIB=prefix + "gcc-ranlib",
        SIZETOOL=prefix + "size",
        PROGSUFFIX=".elf",
        SIZEPROGREGEXP=sections(prog_sections),
        SIZEDATAREGEXP=sections(data_sections),
        SIZECHECKCMD="$SIZETOOL -A -d $SOURCES",
        SIZEPRINTCMD="$SIZETOOL -B -d $SOURCES",
        LDSCRIPT_PATH=join(board_dir, board.get("build.ldscript", "linker.ld")),
    )
    env.Append(
        ASFLAGS=machine + ["-x", "assembler-with-cpp"],
        CCFLAGS=machine + libc_cflags + ["-O2", "-ffunction-sections", "-fdata-sections",
                                         "-Wall", "-Wextra"],
        CFLAGS=["-std=c99"],
        CPPDEFINES=board.get("build.defines", []),
        LINKFLAGS=machine + link_flags + ["-Wl,--gc-sections", "-Wl,-Map,${BUILD_DIR}/firmware.map"],
        LIBS=["m"],
        BUILDERS=dict(
            ElfToBin=Builder(action=env.VerboseAction(
                "$OBJCOPY -O binary $SOURCES $TARGET", "Building $TARGET"), suffix=".bin"),
        ),
    )

    # Board facts the C code needs come from the board definition, never a constant typed
    # in C: the SysTick clock, and on an emulated board the SysTick-tick -> instruction
    # ratio of QEMU's -icount mode, the core clock.
    sys.path.insert(0, join(dirname(boards_root), "python"))
    from micromel.boards.catalogue import board_cpp_defines

    env.Append(CPPDEFINES=board_cpp_defines(board.get("micromel", {}), board.get("build.defines", []),
                                            board.get("build.f_cpu", "")))

    # The board port includes the app and library headers; it is compiled before the
    # library builder sets their paths, so give them here.
    libs = [d for d in glob(join(env.subst("$PROJECT_DIR"), "lib", "*")) if isdir(d)]
    env.Append(CPPPATH=["$PROJECT_INCLUDE_DIR"] + sorted(libs))
    # A user's own program (e.g. against a library of `micromel export --lib`) brings its own
    # main: with `board_build.micromel_port = no` only the board's startup code and linker
    # script are built, not micromel's port (its UART link and main loop).
    port = str(board.get("build.micromel_port", "yes")).lower() not in ("no", "false", "0")
    if port:
        env.BuildSources(join("$BUILD_DIR", "board"), board_dir)
    # Shared board code (startup, UART ports, common linker sections): built like the board
    # folder; on the linker search path for the board's INCLUDE.
    shared_dirs = board.get("build.micromel_shared", [])
    for shared in shared_dirs:
        if port or isfile(join(boards_root, shared, "startup.c")):
            env.BuildSources(join("$BUILD_DIR", shared.replace("/", "_")), join(boards_root, shared))
        env.Append(LIBPATH=[join(boards_root, shared)])
    elf = env.BuildProgram()
    # The board's linker script INCLUDEs shared ones: relink when they change.
    env.Depends(elf, [f for shared in shared_dirs for f in glob(join(boards_root, shared, "*.ld"))])
    binary = env.ElfToBin(join("$BUILD_DIR", "${PROGNAME}"), elf)
    AlwaysBuild(env.Alias("size", elf, env.VerboseAction("$SIZEPRINTCMD", "Calculating size $SOURCE")))
    Default([binary])
