"""`micromel export MODEL_DIR --lib DIR`: what the folder holds, what it refuses, the zip, and
the integration docs/library.md shows."""
import json
import re
import zipfile
from pathlib import Path

import pytest

from micromel import __version__
from micromel.cli import main
from micromel.paths import FIRMWARE_DIR

DOCS = Path(__file__).resolve().parents[2] / "docs" / "library.md"


def export(capsys, *args) -> tuple[int, str, str]:
    rc = main(["export", *map(str, args)])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_the_folder_is_an_arduino_platformio_and_cmake_library(tmp_path, capsys):
    rc, out, _ = export(capsys, "drums", "--lib", tmp_path / "drums", "--zip")
    lib = tmp_path / "drums"
    assert rc == 0 and "#include \"drums.h\"" in out
    props = dict(line.split("=", 1) for line in (lib / "library.properties").read_text().splitlines())
    assert props["name"] == "drums" and props["includes"] == "drums.h" and props["version"] == __version__
    manifest = json.loads((lib / "library.json").read_text())
    assert manifest["name"] == "drums" and manifest["build"]["srcDir"] == "src"
    assert "add_library(drums STATIC" in (lib / "CMakeLists.txt").read_text()
    src = {p.name for p in (lib / "src").iterdir()}
    # every firmware source the library needs, copied as is; the generated headers; no app
    for sub in ("mm_api", "mm_frontend", "mm_nn", "mm_clip", "mm_segment", "mm_cost"):
        for f in (FIRMWARE_DIR / "lib" / sub).iterdir():
            assert (lib / "src" / f.name).read_bytes() == f.read_bytes()
    assert {"drums.h", "mm_model_data.h", "mm_kernels.h", "mm_api_config.h"} <= src
    assert not any(n.startswith(("mm_proto", "app")) for n in src)
    assert '#include "drums.h"' in (lib / "examples" / "nano33ble_mic" / "nano33ble_mic.ino").read_text()
    assert "@NAME@" not in "".join(p.read_text() for p in lib.rglob("*") if p.is_file())
    # the README names the model by its name and hash, not by the path given to export
    from micromel.modeldir import ModelDir
    drums = ModelDir.open("drums")
    assert f"from the model `drums` (hash\n{drums.hash})" in (lib / "README.md").read_text()
    with zipfile.ZipFile(tmp_path / "drums.zip") as z:
        names = sorted(z.namelist())
        assert names == sorted(f"drums/{p.relative_to(lib).as_posix()}"
                               for p in lib.rglob("*") if p.is_file())
        assert z.read("drums/src/drums.h") == (lib / "src" / "drums.h").read_bytes()


def test_name_protocol_and_replacing_an_earlier_export(tmp_path, capsys):
    out_dir = tmp_path / "mylib"
    rc, _, _ = export(capsys, "speech", "--lib", out_dir, "--name", "voice", "--with-protocol")
    assert rc == 0 and (out_dir / "src" / "voice.h").is_file()
    assert (out_dir / "src" / "mm_proto.h").is_file() and (out_dir / "src" / "mm_proto_ids.h").is_file()
    rc, out, _ = export(capsys, "speech", "--lib", out_dir, "--name", "voice")
    assert rc == 0 and "replaced" in out
    assert not (out_dir / "src" / "mm_proto.h").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["mylib"]     # no temp folder left


def test_a_re_export_keeps_files_a_user_added_or_edited(tmp_path, capsys):
    """A re-export replaces the whole folder: refused while it holds a file the earlier export
    did not write, or one edited since; an export from before the file list is checked
    against the new export's files."""
    lib = tmp_path / "lib"
    assert export(capsys, "drums", "--lib", lib)[0] == 0
    (lib / "examples" / "mine.c").write_text("my sketch")
    readme = (lib / "README.md").read_text()
    for step in ("added", "edited", "before the file list"):
        if step == "edited":
            (lib / "examples" / "mine.c").unlink()
            (lib / "README.md").write_text(readme + "my notes\n")
        if step == "before the file list":
            (lib / "README.md").write_text(readme)
            (lib / ".micromel-export").unlink()
            (lib / "src" / "my_driver.c").write_text("my driver")
        rc, _, err = export(capsys, "drums", "--lib", lib)
        which = {"added": "examples/mine.c, which the earlier export did not write",
                 "edited": "README.md, which the earlier export did not write",
                 "before the file list": "src/my_driver.c, which this export would not write (the "
                                         "folder is an export from before micromel listed"}[step]
        assert rc == 2 and f"holds {which}" in err, (step, err)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["lib"]   # no temp folder left
    assert (lib / "src" / "my_driver.c").read_text() == "my driver"
    (lib / "src" / "my_driver.c").unlink()
    rc, out, err = export(capsys, "drums", "--lib", lib)      # only its own files: replaced
    assert rc == 0 and "replaced" in out, err


@pytest.mark.parametrize("weights", ["int8", "int16"])
def test_the_weight_layout_reaches_the_library(tmp_path, capsys, weights):
    """export --lib --weights: the library's DSP build holds the layout asked for."""
    rc, _, _ = export(capsys, "drums", "--lib", tmp_path / "lib", "--weights", weights)
    config = (tmp_path / "lib" / "src" / "mm_model_config.h").read_text()
    assert rc == 0 and f"weights={weights} " in config
    other = {"int8": "16", "int16": "8"}[weights]
    assert f"#define MM_MODEL_USES_MM_W{other} 0" in config


@pytest.mark.parametrize("args, says", [
    (["--name", "9lives"], "--name '9lives'"),
    (["--name", "mm_x"], "micromel's own headers"),
    (["--out", "x"], "--out and --lib"),
    (["--stream"], "--stream: not offered for a library"),
])
def test_bad_options_are_one_line_errors(tmp_path, capsys, args, says):
    rc, _, err = export(capsys, "drums", "--lib", tmp_path / "lib", *args)
    assert rc == 2 and says in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "lib").exists()


def test_never_overwrites_a_folder_it_did_not_write(tmp_path, capsys):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    rc, _, err = export(capsys, "drums", "--lib", tmp_path / "mine")
    assert rc == 2 and "not a library micromel exported" in err
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    rc, _, err = export(capsys, "drums", "--zip")
    assert rc == 2 and "go with --lib" in err
    (tmp_path / "lib.zip").write_bytes(b"my own archive")     # a zip it did not write: kept
    rc, _, err = export(capsys, "drums", "--lib", tmp_path / "lib", "--zip")
    assert rc == 2 and "lib.zip exists and is not a library micromel zipped" in err
    assert (tmp_path / "lib.zip").read_bytes() == b"my own archive"
    assert not (tmp_path / "lib").exists()
    (tmp_path / "lib.zip").unlink()         # its own zip, from an earlier export: replaced
    for _ in range(2):
        rc, _, err = export(capsys, "drums", "--lib", tmp_path / "lib", "--zip")
        assert rc == 0, err
        assert "note:" not in err
    # a re-export without --zip leaves that zip as it was, and says it is the earlier one
    before = (tmp_path / "lib.zip").read_bytes()
    rc, _, err = export(capsys, "speech", "--lib", tmp_path / "lib")
    assert rc == 0 and (tmp_path / "lib.zip").read_bytes() == before
    assert err == (f"note: {tmp_path / 'lib.zip'} is the zip of an earlier export, not of this one; "
                   "add --zip to replace it, or delete it\n")


def test_docs_show_the_integration_in_under_20_lines():
    """docs/library.md shows examples/integration/integration.c (what the cross tests link)."""
    example = (FIRMWARE_DIR / "export" / "examples" / "integration" / "integration.c").read_text()
    blocks = re.findall(r"```c\n(.*?)```", DOCS.read_text(), re.S)
    shown = [b for b in blocks if b == example.replace("@NAME@", "drums")]
    assert shown and len(shown[0].strip().splitlines()) < 20
