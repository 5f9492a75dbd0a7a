"""PlatformIO pre-script of every firmware environment.

Generates the headers that carry Python-side constants into C (protocol ids,
firmware version; later the front-end and model headers) so that no constant
is typed twice, and names the build target and core for INFO.

Generated headers go to $MICROMEL_GEN_DIR when micromel drives the build (a
model export), else to <build dir>/micromel_gen with the defaults."""
import os
import sys
from os.path import abspath, dirname, join

Import("env")  # noqa: F821  (SCons)

repo = abspath(join(env.subst("$PROJECT_DIR"), ".."))  # noqa: F821
sys.path.insert(0, join(repo, "python"))
from micromel import codegen  # noqa: E402

gen_dir = os.environ.get("MICROMEL_GEN_DIR") or join(env.subst("$BUILD_DIR"), "micromel_gen")  # noqa: F821
codegen.write_build_headers(gen_dir, model_dir=os.environ.get("MICROMEL_MODEL_DIR") or None)

board = env.BoardConfig()  # noqa: F821
core = board.get("build.core_name", board.get("build.cpu", "unknown"))
env.Append(  # noqa: F821
    CPPPATH=[gen_dir],
    CPPDEFINES=[
        ("MM_TARGET_NAME", env.StringifyMacro(env["PIOENV"])),  # noqa: F821
        ("MM_CORE_NAME", env.StringifyMacro(core)),  # noqa: F821
    ],
)
