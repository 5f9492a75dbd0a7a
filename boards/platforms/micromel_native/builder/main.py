"""Builder of the host platform: the same C sources, built with the host gcc into
libmicromel.so with the port of boards/native-host/ and the ctypes interface of each
library (firmware/host/host_<library>.c, what the bit-exactness tests call)."""
from glob import glob
from os.path import dirname, isdir, join

from SCons.Script import Default, DefaultEnvironment

env = DefaultEnvironment()
board = env.BoardConfig()
boards_root = dirname(dirname(env.PioPlatform().get_dir()))
board_dir = join(boards_root, board.get("build.micromel_dir"))

env.Replace(AR="ar", AS="gcc", CC="gcc", CXX="g++", RANLIB="ranlib",
            PROGNAME="libmicromel", PROGSUFFIX=".so")
env.Append(
    CCFLAGS=["-O2", "-fPIC", "-Wall", "-Wextra", "-fvisibility=default"],
    CFLAGS=["-std=c99"],
    CPPDEFINES=board.get("build.defines", []) + [("_POSIX_C_SOURCE", "200809L")],
    LINKFLAGS=["-shared", "-fPIC"],
    LIBS=["m"],
)
# The board port includes the app and library headers; it is compiled before
# the library builder sets their paths, so give them here.
libs = [d for d in glob(join(env.subst("$PROJECT_DIR"), "lib", "*")) if isdir(d)]
env.Append(CPPPATH=["$PROJECT_INCLUDE_DIR"] + sorted(libs))
env.BuildSources(join("$BUILD_DIR", "board"), board_dir)
env.BuildSources(join("$BUILD_DIR", "host"), join("$PROJECT_DIR", "host"))
# The host library carries every firmware library so that tests can call any
# of them; the dependency finder only scans src/, so name them all here.
env.GetProjectConfig().set("env:" + env["PIOENV"], "lib_deps",
                           sorted(d.rsplit("/", 1)[-1] for d in libs))
Default([env.BuildProgram()])
