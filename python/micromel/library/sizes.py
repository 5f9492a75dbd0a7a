"""`micromel bench library`: what an exported library adds to a user's image, next to what the
same parts take in the micromel app, per board, from the linker maps of real links.

Both images are built by the same offline PlatformIO platform with the same flags (-O2,
function and data sections, --gc-sections): the app as `micromel build` builds it, the user's
image as a user project against the library packed by `pio pkg pack`: firmware/export/
user_image.c, a program using the whole API with one context (a stream with its events, a
clip with its vote, one window of features), as the app uses the same parts. Every input section goes to a part by the object it
comes from (the same file names in both: the library's sources are the firmware's):

    frontend  mm_fe_*, mm_frontend*          engine   mm_nn_*, mm_cost* (arena included)
    weights   the model's generated arrays   windows  mm_clip*, mm_seg* (windows, segmenter)
    glue      what runs them per hop block and keeps their state: the app's app_audio.c and
              its front-end scratch (app_fe_scratch); the library's mm_api*.c and the user's
              context (mm_api_ctx)
    app       everything else (the app's protocol and port, the user's code, libc, startup)
"""
from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .. import codegen
from ..boards import firmware, pio_core
from ..boards.sizes import generated_arrays, size_report
from ..errors import MicromelError
from ..fileio import write_text_atomic
from ..paths import BOARDS_DIR, FIRMWARE_DIR
from .export import export_library, template

PARTS = ("frontend", "engine", "weights", "windows", "glue", "app", "stack")
LIBRARY_PARTS = PARTS[:5]
TITLES = {"frontend": "front end", "engine": "engine", "weights": "weights",
          "windows": "windows + segmenter", "glue": "glue + state"}
PREFIXES = (("mm_fe_", "frontend"), ("mm_frontend", "frontend"), ("mm_nn_", "engine"),
            ("mm_cost", "engine"), ("mm_clip", "windows"), ("mm_seg", "windows"),
            ("mm_api", "glue"), ("app_audio.", "glue"))
APP_STATE = {"app_fe_scratch"}
USER_STATE = {"rec"}          # the context of the user's program
USER_PROGRAM = "user_image.c"


def object_name(origin: str) -> str:
    """'.../libspeech.a(mm_fe_fft.o)' or '.../mm_frontend/mm_fe_fft.c.o' -> 'mm_fe_fft...'."""
    m = re.search(r"\(([^)]+)\)$", origin)
    return m.group(1) if m else origin.rsplit("/", 1)[-1]


def part_of(weights: set[str], state: set[str]):
    def part(origin: str, sym: str) -> str:
        if sym in state:
            return "glue"
        obj = object_name(origin)
        found = next((p for prefix, p in PREFIXES if obj.startswith(prefix)), "app")
        return "weights" if sym in weights and found != "frontend" else found
    return part


@dataclass
class BoardSizes:
    board: object             # boards.catalogue.Board
    app: object               # boards.sizes.SizeReport (PARTS)
    library: object

    def totals(self, what: str) -> tuple[int, int]:
        a, b = getattr(self.app, what), getattr(self.library, what)
        return sum(a[p] for p in LIBRARY_PARTS), sum(b[p] for p in LIBRARY_PARTS)

    def to_dict(self) -> dict:
        out = {"board": self.board.name, "core": self.board.core}
        for what in ("flash", "ram"):
            app, lib = self.totals(what)
            out[what] = {"app": {p: getattr(self.app, what)[p] for p in LIBRARY_PARTS},
                         "library": {p: getattr(self.library, what)[p] for p in LIBRARY_PARTS},
                         "app_total": app, "library_total": lib}
        return out


def env_platform(env_name: str) -> str:
    """The platform (a local folder) of an offline environment of firmware/platformio.ini."""
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(FIRMWARE_DIR / "platformio.ini")
    spec = ini.get(f"env:{env_name}", "platform", fallback="")
    if not spec.startswith("symlink://"):
        raise MicromelError(f"environment {env_name}: not an offline platform ({spec or 'none'})")
    return str((FIRMWARE_DIR / spec[len("symlink://"):]).resolve())


def user_project(root: Path, name: str, package: Path, boards: list) -> Path:
    """A user's PlatformIO project: a bare-metal program using the whole API of the library
    `name` (firmware/export/user_image.c), one environment per board, the packed library
    as its dependency."""
    src = root / "src"
    # a build folder: only this program in it, and the library installed anew (PlatformIO
    # keeps an installed file:// dependency of the same name and version as it is)
    for stale in (src, root / ".pio" / "libdeps"):
        shutil.rmtree(stale, ignore_errors=True)
    src.mkdir(parents=True)
    write_text_atomic(src / USER_PROGRAM, template(USER_PROGRAM, name))
    ini = ["[platformio]", f"boards_dir = {BOARDS_DIR / 'pio'}", ""]
    for b in boards:
        ini += [f"[env:{b.name}]", f"platform = symlink://{env_platform(b.offline_env)}",
                f"board = {firmware.env_board(b.offline_env)}", "board_build.micromel_port = no",
                f"lib_deps = file://{package}", ""]
    write_text_atomic(root / "platformio.ini", "\n".join(ini))
    return root


def pio(args: list[str], what: str, log: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "platformio", *args], env=pio_core.environ(),
                          capture_output=True, text=True)
    if proc.returncode != 0:
        write_text_atomic(log, proc.stdout + proc.stderr)
        raise MicromelError(f"{what} failed (full log: {log})")


def pack(lib_dir: Path, out_dir: Path) -> Path:
    """`pio pkg pack` of a library folder: the archive a user's lib_deps can name."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.tar.gz"):
        old.unlink()
    pio(["pkg", "pack", str(lib_dir), "-o", str(out_dir)], "pio pkg pack", out_dir / "pack.log")
    found = sorted(out_dir.glob("*.tar.gz"))
    if len(found) != 1:
        raise MicromelError(f"pio pkg pack wrote {len(found)} archives in {out_dir}")
    return found[0]


def measure(model, boards: list, work: Path | None = None, progress=print) -> list[BoardSizes]:
    """Build the app and a user's image with the library for every board; sizes per part."""
    work = work or codegen.default_gen_dir(model, "library-sizes")
    lib = export_library(model, work / "lib" / "model")
    package = pack(lib.path, work / "pack")
    project = user_project(work / "user", lib.name, package, boards)
    pio(["run", "-d", str(project)], "build of the user project", work / "user.log")
    gen_dir = codegen.default_gen_dir(model, "export")
    codegen.export(model, gen_dir)
    lib_weights = generated_arrays([lib.path / "src"])
    out = []
    for b in boards:
        elf = firmware.build(b.offline_env, gen_dir=gen_dir, model_dir=model.path.resolve())
        app = size_report(b, elf, elf.parent / "firmware.map", [], part_of(
            generated_arrays([gen_dir]), APP_STATE), PARTS)
        ubuild = project / ".pio" / "build" / b.name
        user = size_report(b, ubuild / "program.elf", ubuild / "firmware.map", [],
                           part_of(lib_weights, USER_STATE), PARTS)
        out.append(BoardSizes(b, app, user))
        progress(f"measured {b.name}")
    return out


def format_markdown(rows: list[BoardSizes], title: str) -> str:
    """Per board: flash and RAM of each part in the app and in the user's image."""
    out = [f"Model {title}. Bytes per part, app / library (the library's sources are the "
           "app's; glue: app_audio.c and its scratch / mm_api and the user's context).", ""]
    head = ["board", "core", "what"] + [TITLES[p] for p in LIBRARY_PARTS] + ["total", "library <= app"]
    out += ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 3 + ["---:"] * 7) + "|"]
    for r in rows:
        for what in ("flash", "ram"):
            a, b = getattr(r.app, what), getattr(r.library, what)
            app_t, lib_t = r.totals(what)
            cells = [f"{a[p]} / {b[p]}" for p in LIBRARY_PARTS]
            out.append("| " + " | ".join([r.board.name, r.board.core, what.upper() if what == "ram"
                                          else what] + cells + [f"{app_t} / {lib_t}",
                                                                "yes" if lib_t <= app_t else "NO"])
                       + " |")
    return "\n".join(out) + "\n"
