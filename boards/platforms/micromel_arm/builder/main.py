"""Builder of the offline Cortex-M platform: system arm-none-eabi tools, newlib-nano, bare
metal, board startup and linker script from boards/<micromel_dir>/ (plus the shared folders
the board lists in build.micromel_shared). The build itself: boards/scripts/bare_metal_build.py."""
import sys
from os.path import dirname, join

from SCons.Script import DefaultEnvironment

env = DefaultEnvironment()
board = env.BoardConfig()
sys.path.insert(0, join(dirname(dirname(env.PioPlatform().get_dir())), "scripts"))
import bare_metal_build  # noqa: E402

machine = ["-mthumb", "-mcpu=%s" % board.get("build.cpu")]
if board.get("build.fpu", ""):
    machine += ["-mfpu=%s" % board.get("build.fpu"), "-mfloat-abi=hard"]
else:
    machine += ["-mfloat-abi=soft"]

bare_metal_build.build(
    env, "arm-none-eabi-", machine, libc_cflags=[],
    link_flags=["--specs=nano.specs", "--specs=nosys.specs"],
    prog_sections=[".text", ".data", ".rodata", ".ARM.exidx"],
    data_sections=[".data", ".bss"])
