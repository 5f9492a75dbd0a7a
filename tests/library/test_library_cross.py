"""An exported library in a user's bare-metal image: arm-none-eabi links it for a Cortex-M4F
and a Cortex-M0+ with no warning at -Wall -Wextra (the DSP kernels on the M4F only), the
packed library builds with PlatformIO offline (`pio ci`, the local platforms), and it adds no
more flash and RAM to the image than the same parts take in the app."""
import pytest

from micromel import __version__
from micromel.boards import catalogue
from micromel.boards.linkmap import parse_map
from micromel.library import sizes
from micromel.modeldir import ModelDir
from userbuild import arm_toolchain, cmake_build, needs_arm, pio_ci, user_project

MAIN = r"""/* A user's bare-metal main around examples/integration: 2 s of noise in blocks of 100. */
#include <stddef.h>
#include <stdint.h>
int recognizer_start(void);
int recognizer_audio(const int16_t *pcm, size_t n);
int main(void) {
  static int16_t pcm[100];
  uint32_t x = 1;
  int rc = recognizer_start();
  for (int b = 0; rc >= 0 && b < 320; b++) {
    for (int i = 0; i < 100; i++) {
      x = x * 1664525u + 1013904223u;
      pcm[i] = (int16_t)(((int32_t)(x >> 16) - 32768) / 64);
    }
    rc = recognizer_audio(pcm, 100);
  }
  return rc < 0;
}
"""


def user_sources(lib):
    """The integration docs/library.md shows, as a user copies it, and a main."""
    return {"integration.c": (lib / "examples" / "integration" / "integration.c").read_text(),
            "main.c": MAIN}


def dsp_bytes(map_path) -> int:
    """Code linked from the engine's Cortex-M DSP assembly (mm_nn_*_m4.S)."""
    return sum(s.size for s in parse_map(map_path).inputs if "_m4.S" in s.origin)


@needs_arm
@pytest.mark.parametrize("cpu", ["cortex-m4f", "cortex-m0plus"])
def test_arm_user_image_links_without_warnings(library, tmp_path, cpu):
    lib = library("speech")
    project = user_project(tmp_path / "app", lib, user_sources(lib))
    flags = "-O2 -Wall -Wextra"
    log = cmake_build(project, tmp_path / "build", flags,
                      toolchain=arm_toolchain(tmp_path / "arm.cmake", cpu, flags))
    assert f"-mcpu={cpu[:9]}" in (tmp_path / "build" / "CMakeCache.txt").read_text()
    assert "warning" not in log.lower(), log
    assert (tmp_path / "build" / "app").is_file()
    used = dsp_bytes(tmp_path / "build" / "app.map")
    assert (used > 0) == (cpu == "cortex-m4f")    # kernels chosen by the target, as in the app


@needs_arm
@pytest.mark.parametrize("board", ["mps2_an386", "rp2040"])
def test_pio_ci_of_the_example_against_the_packed_library(library, tmp_path, board):
    """`pio pkg pack` accepts the library offline; `pio ci` builds a user's sources against
    the archive with the local platform (the emulated M4F board, and an M0+)."""
    lib = library("speech")
    package = sizes.pack(lib, tmp_path / "pack")
    assert package.name == f"{lib.name}-{__version__}.tar.gz"
    rc, out, elf = pio_ci(tmp_path, user_sources(lib), package, board)
    assert rc == 0, out
    assert "warning" not in out.lower() and f"{lib.name} @ {__version__}" in out
    assert elf.is_file()


@needs_arm
@pytest.mark.slow
def test_library_takes_no_more_than_the_same_parts_of_the_app(tmp_path):
    model = ModelDir.open("speech")
    boards = catalogue.find_boards("rp2040,stm32l476")
    rows = sizes.measure(model, boards, work=tmp_path, progress=lambda s: None)
    for r in rows:
        for what in ("flash", "ram"):
            app, lib = r.totals(what)
            assert 0 < lib <= app, (r.board.name, what, r.to_dict())
        assert r.library.flash["weights"] == r.app.flash["weights"] > 20000
        assert r.library.ram["glue"] > 4000        # the user's context is counted
