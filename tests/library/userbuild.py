"""Building a user's project that lives outside firmware/ against an exported library, with
CMake and the host compiler or arm-none-eabi (imported by the library tests)."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from micromel.boards import pio_core
from micromel.paths import BOARDS_DIR

ARM_CPUS = {
    "cortex-m4f": "-mthumb -mcpu=cortex-m4 -mfpu=fpv4-sp-d16 -mfloat-abi=hard",
    "cortex-m0plus": "-mthumb -mcpu=cortex-m0plus -mfloat-abi=soft",
}


def run(cmd, cwd=None, check=True) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def user_project(where: Path, lib: Path, sources: dict, lang: str = "C") -> Path:
    """A user's CMake project in `where` (outside firmware/): its own sources (name -> text)
    and the library through add_subdirectory, as docs/library.md tells users."""
    where.mkdir(parents=True, exist_ok=True)
    for name, text in sources.items():
        (where / name).write_text(text)
    exe_sources = " ".join(sources)
    (where / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.13)\n"
        f"project(user_app {lang})\n"
        f"add_subdirectory({lib} lib)\n"
        f"add_executable(app {exe_sources})\n"
        f"target_link_libraries(app PRIVATE {lib.name})\n")
    return where


def cmake_build(project: Path, build: Path, c_flags: str, toolchain: Path | None = None,
                extra: tuple = ()) -> str:
    """Configure and build; returns the whole build output (compiler and linker messages)."""
    args = ["cmake", "-S", project, "-B", build, "-DCMAKE_BUILD_TYPE=", *extra]
    if toolchain:   # the flags go into the toolchain's, after the CPU's
        args.append(f"-DCMAKE_TOOLCHAIN_FILE={toolchain}")
    else:
        args += [f"-DCMAKE_C_FLAGS={c_flags}", f"-DCMAKE_CXX_FLAGS={c_flags}"]
    run(args)
    out = run(["cmake", "--build", build, "--", "-j2"])
    return out.stdout + out.stderr


def arm_toolchain(path: Path, cpu: str, c_flags: str) -> Path:
    """A CMake toolchain file for bare-metal arm-none-eabi (newlib-nano, no OS)."""
    flags = ARM_CPUS[cpu]
    path.write_text(
        "set(CMAKE_SYSTEM_NAME Generic)\nset(CMAKE_SYSTEM_PROCESSOR arm)\n"
        "set(CMAKE_C_COMPILER arm-none-eabi-gcc)\nset(CMAKE_ASM_COMPILER arm-none-eabi-gcc)\n"
        "set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)\n"
        f'set(CMAKE_C_FLAGS_INIT "{flags} {c_flags} -ffunction-sections -fdata-sections")\n'
        f'set(CMAKE_ASM_FLAGS_INIT "{flags}")\n'
        'set(CMAKE_EXE_LINKER_FLAGS_INIT "--specs=nano.specs --specs=nosys.specs '
        '-Wl,--gc-sections -Wl,-Map,app.map")\n')
    return path


needs_arm = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None,
                               reason="arm-none-eabi-gcc not installed (scripts/setup.sh)")


def pio_ci(tmp: Path, sources: dict, package: Path, board: str):
    """`pio ci` of a user's sources against a packed library with the local platform
    micromel_arm (board_build.micromel_port = no: the board's startup and linker script, the
    user's main). Returns (exit code, output, the ELF it builds)."""
    src = tmp / "src"
    src.mkdir()
    for name, text in sources.items():
        (src / name).write_text(text)
    conf = tmp / "ci.ini"
    conf.write_text(f"[env:user]\nplatform = symlink://{BOARDS_DIR / 'platforms' / 'micromel_arm'}\n"
                    f"board = {board}\nboard_build.micromel_port = no\n"
                    f"lib_deps = file://{package}\n")
    build = tmp / "ci"
    (build / "boards").mkdir(parents=True)   # pio ci reads boards from its project's boards/
    shutil.copy(BOARDS_DIR / "pio" / f"{board}.json", build / "boards")
    proc = subprocess.run([sys.executable, "-m", "platformio", "ci", str(src), "--project-conf",
                           str(conf), "--build-dir", str(build), "--keep-build-dir"],
                          env=pio_core.environ(), capture_output=True, text=True)
    return proc.returncode, proc.stdout + proc.stderr, build / ".pio" / "build" / "user" / "program.elf"
