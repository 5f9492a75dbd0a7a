"""`micromel export MODEL_DIR --lib DIR`: the model as one self-contained library folder that
is at once an Arduino library (library.properties, src/, examples/), a PlatformIO library
(library.json), a CMake project (CMakeLists.txt, add_library) and, with --zip, a zip of it.

    DIR/
      library.properties  library.json  CMakeLists.txt  README.md
      src/      <name>.h (the public header), the C sources of firmware/lib (front end,
                engine, windows, segmenter, cost counter, the API mm_api; the protocol only
                when asked), every generated header of the model (codegen.export)
      examples/ integration (the whole integration, a few lines), wav_events (a host
                program: WAV file -> events), nano33ble_mic (an Arduino sketch)

Nothing is typed twice: the sources are copied from firmware/lib, the headers come from
codegen, the templates from firmware/export/. The folder is written beside DIR and renamed
into place; an existing DIR is replaced only if it is a library micromel exported and holds
nothing but what that export wrote, unchanged (its list of files and their SHA-256,
.micromel-export): a file a user added or edited there is never deleted silently."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .. import __version__, cliargs, codegen
from ..errors import MicromelError
from ..fileio import atomic_path, raise_as_users, temp_beside
from ..paths import FIRMWARE_DIR
from . import header, manifests

# firmware/lib libraries a library carries (mm_proto only with the protocol).
LIBRARIES = ("mm_api", "mm_frontend", "mm_nn", "mm_clip", "mm_segment", "mm_cost")
PROTOCOL_LIBRARY = "mm_proto"
PROTOCOL_HEADER = "mm_proto_ids.h"
SOURCE_SUFFIXES = (".c", ".h", ".S")
TEMPLATE_DIR = FIRMWARE_DIR / "export"
NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,62}")
FILE_LIST = ".micromel-export"    # "<sha256>  <path>" per file written, as sha256sum prints


@dataclass
class LibraryExport:
    path: Path
    name: str
    compiled: object          # engine.compiler.Compiled
    files: int
    replaced: bool
    zip_path: Path | None
    old_zip: Path | None = None     # without --zip: a zip of an earlier export beside it


def default_name(model) -> str:
    """The model folder's name as a C identifier (the header's and CMake target's name)."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", model.path.resolve().name).strip("_") or "model"
    return name if name[0].isalpha() else f"m_{name}"


def check_name(name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise MicromelError(f"--name {name!r}: use a letter then letters, digits or '_' (it names "
                            "the header <name>.h, the CMake target and the Arduino library)")
    if name.lower().startswith("mm_"):
        raise MicromelError(f"--name {name}: names starting with mm_ are micromel's own headers; "
                            "choose another")
    return name


def is_library(path: Path) -> bool:
    """A folder micromel exported as a library (what --lib may replace)."""
    return (path / "library.json").is_file() and (path / "src" / "mm_api.h").is_file()


def _files(root: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every file under root but the file list."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != FILE_LIST}


def write_file_list(root: Path) -> None:
    (root / FILE_LIST).write_text("".join(f"{h}  {rel}\n" for rel, h in _files(root).items()))


def users_files(out: Path, new: set[str] | None = None) -> list[str]:
    """Files of an earlier export that it did not write, or that changed since: by its file
    list, or (an export from before the list) those the new export does not write."""
    have = _files(out)
    listed = out / FILE_LIST
    if listed.is_file():
        wrote = {}
        for line in listed.read_text().splitlines():
            digest, _, rel = line.partition("  ")
            wrote[rel] = digest
        return [rel for rel, h in have.items() if wrote.get(rel) != h]
    return [rel for rel in have if new is not None and rel not in new]


def _refuse_users_files(out: Path, found: list[str], listed: bool = True) -> None:
    if found:
        why = ("which the earlier export did not write or which changed since; a re-export "
               "replaces the whole folder: move your files out first" if listed else
               "which this export would not write (the folder is an export from before "
               f"micromel listed its files in {FILE_LIST}); if nothing in it is yours, remove it")
        raise MicromelError(f"--lib {out}: holds {found[0]}"
                            + (f" (and {len(found) - 1} more)" if len(found) > 1 else "")
                            + f", {why}")


def check_target(out: Path) -> bool:
    """Refuse to replace anything but an earlier export, and one holding files a user added
    or edited; True if an export is there."""
    cliargs.out_folder(out, "--lib", "for the library")
    if out.is_dir() and any(out.iterdir()):
        if not is_library(out):
            raise MicromelError(f"--lib {out}: exists and is not a library micromel exported; "
                                "give a new or empty folder")
        _refuse_users_files(out, users_files(out))
        return True
    return False


def zipped_by_us(zip_path: Path) -> bool:
    """A zip of an earlier export (it holds the library's mm_api.h)."""
    try:
        with zipfile.ZipFile(zip_path) as z:
            return any(n.endswith("/src/mm_api.h") for n in z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def check_zip(zip_path: Path) -> None:
    """--zip replaces only a zip of an earlier export."""
    if zip_path.exists() and not zipped_by_us(zip_path):
        raise MicromelError(f"--zip: {zip_path} exists and is not a library micromel zipped; "
                            "move it away or give another --lib folder")


def copy_sources(src: Path, protocol: bool) -> int:
    """The C sources of the firmware libraries, flat in src/ (their names are prefixed, so
    they cannot collide)."""
    n = 0
    libs = LIBRARIES + ((PROTOCOL_LIBRARY,) if protocol else ())
    for lib in libs:
        for f in sorted((FIRMWARE_DIR / "lib" / lib).iterdir()):
            if f.suffix not in SOURCE_SUFFIXES:
                continue
            if (src / f.name).exists():
                raise MicromelError(f"firmware/lib/{lib}/{f.name}: a file of that name is already "
                                    "in the library (every library's files must be prefixed)")
            shutil.copyfile(f, src / f.name)
            n += 1
    return n


def template(rel: str, name: str) -> str:
    return (TEMPLATE_DIR / rel).read_text().replace("@NAME@", name).replace("@VERSION@", __version__)


def write_folder(root: Path, model, name: str, kernels: str, board: str | None,
                 protocol: bool, weights: str = "auto"):
    """Everything of the library into the empty folder root; returns the compiled model.
    weights: the DSP build's weight layout (export --weights)."""
    src = root / "src"
    compiled = codegen.export(model, src, kernels=kernels, board=board, weights=weights)
    if not protocol:
        (src / PROTOCOL_HEADER).unlink(missing_ok=True)
    copy_sources(src, protocol)
    (src / f"{name}.h").write_text(header.public_header(name, model, compiled, kernels))
    (root / "CMakeLists.txt").write_text(template("CMakeLists.txt.in", name))
    for ex in manifests.EXAMPLES:
        for f in sorted((TEMPLATE_DIR / "examples" / ex).iterdir()):
            (root / "examples" / ex).mkdir(parents=True, exist_ok=True)
            (root / "examples" / ex / f.name).write_text(template(f"examples/{ex}/{f.name}", name))
    integration = template("examples/integration/integration.c", name)
    (root / "library.properties").write_text(manifests.library_properties(name, model))
    (root / "library.json").write_text(manifests.library_json(name, model))
    (root / "README.md").write_text(manifests.readme(name, model, compiled, kernels, protocol,
                                                     integration))
    return compiled


def write_zip(root: Path, name: str, zip_path: Path) -> Path:
    """The folder as <name>/... in a zip (what Arduino's "Add .ZIP Library" takes), with
    fixed timestamps so the same export gives the same bytes."""
    with atomic_path(zip_path) as tmp:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
            for f in sorted(p for p in root.rglob("*") if p.is_file()):
                info = zipfile.ZipInfo(f"{name}/{f.relative_to(root).as_posix()}", (1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, f.read_bytes())
    return zip_path


def export_library(model, out_dir, name: str | None = None, kernels: str = "auto",
                   board: str | None = None, protocol: bool = False,
                   make_zip: bool = False, weights: str = "auto") -> LibraryExport:
    """Write the library of a ModelDir into out_dir (and out_dir + '.zip' with make_zip)."""
    out = Path(out_dir)
    name = check_name(default_name(model) if name is None else name)
    replaced = check_target(out)
    if make_zip:
        check_zip(out.parent / f"{out.name}.zip")
    tmp = temp_beside(out, folder=True)
    try:
        compiled = write_folder(tmp, model, name, kernels, board, protocol, weights)
        write_file_list(tmp)
        os.chmod(tmp, 0o755)
        old = None
        if replaced and not (out / FILE_LIST).is_file():   # from before the list: by name
            _refuse_users_files(out, users_files(out, set(_files(tmp))), listed=False)
        if out.exists():
            old = out.parent / f"{tmp.name}-old"
            out.rename(old)
        tmp.rename(out)
        if old is not None:
            shutil.rmtree(old)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise_as_users(e, tmp, out)
    files = sum(1 for p in out.rglob("*") if p.is_file())
    beside = out.parent / f"{out.name}.zip"
    zip_path = write_zip(out, name, beside) if make_zip else None
    old_zip = beside if not make_zip and beside.is_file() and zipped_by_us(beside) else None
    return LibraryExport(out, name, compiled, files, replaced, zip_path, old_zip)
