"""PlatformIO pre-script of every firmware environment.

Generates the headers that carry Python-side constants into C (protocol ids,
firmware version; later the front-end and model headers) so that no constant
is typed twice, and names the build target and core for INFO.

Generated headers come from $MICROMEL_GEN_DIR when micromel drives the build
(written by a model export), else they are generated with the defaults (no
model) into <build dir>/micromel_gen."""
import os
import sys
from os.path import abspath, join

Import("env")  # noqa: F821  (SCons)

repo = abspath(join(env.subst("$PROJECT_DIR"), ".."))  # noqa: F821
sys.path.insert(0, join(repo, "python"))
from micromel import codegen  # noqa: E402

# With MICROMEL_GEN_DIR, `micromel export` (or a test) has written the headers:
# compile them as they are. Without it, generate the defaults (no model).
gen_dir = os.environ.get("MICROMEL_GEN_DIR")
if gen_dir:
    if not os.path.isfile(join(gen_dir, "mm_proto_ids.h")):
        sys.stderr.write("micromel: MICROMEL_GEN_DIR=%s holds no generated headers; run "
                         "'micromel export MODEL_DIR --out %s' first\n" % (gen_dir, gen_dir))
        env.Exit(1)  # noqa: F821
else:
    gen_dir = join(env.subst("$BUILD_DIR"), "micromel_gen")  # noqa: F821
    codegen.write_build_headers(gen_dir)

board = env.BoardConfig()  # noqa: F821
core = board.get("build.core_name", board.get("build.cpu", "unknown"))
env.Append(  # noqa: F821
    CPPPATH=[gen_dir],
    CPPDEFINES=[
        ("MM_TARGET_NAME", env.StringifyMacro(env["PIOENV"])),  # noqa: F821
        ("MM_CORE_NAME", env.StringifyMacro(core)),  # noqa: F821
    ],
)
