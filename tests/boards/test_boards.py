"""The board catalogue, the facts board definitions hand to C, and the size
table's attribution of a real link (arm-none-eabi-gcc, GNU ld map)."""
import json
import re
import shutil
import subprocess

import pytest

from micromel import cli

from micromel.boards import catalogue as cat_mod
from micromel.boards import firmware, linkmap, sizes
from micromel.errors import MicromelError
from micromel.paths import BOARDS_DIR


@pytest.fixture(scope="module")
def catalogue():
    return cat_mod.load_catalogue()


def test_catalogue_covers_the_families(catalogue):
    cores = {b.core for b in catalogue}
    assert {"cortex-m0plus", "cortex-m4f", "cortex-m7", "cortex-m33"} <= cores
    assert any(c.startswith("rv32") for c in cores)
    m4f = [b.name for b in catalogue if b.core == "cortex-m4f" and b.kind == "real"]
    assert {"stm32l476", "nrf52840"} <= set(m4f)
    emulated = {b.qemu_machine for b in catalogue if b.emulated}
    assert {"mps2-an386", "mps2-an500", "mps2-an505", "mps3-an547"} <= emulated


def test_catalogue_entries_are_consistent(catalogue):
    envs = cat_mod.platformio_envs()
    names = [b.name for b in catalogue]
    assert len(names) == len(set(names))
    for b in catalogue:
        assert b.offline_env in envs, b.name
        assert b.real_env is None or b.real_env in envs, b.name
        assert (b.kind == "emulated") == b.emulated, b.name
        assert b.real_env or b.emulated, f"{b.name}: neither flashable nor emulated"
        assert 0 < b.flash_budget <= b.flash_bytes, b.name
        assert 0 < b.ram_budget <= b.ram_bytes, b.name
        assert b.clock_hz > 0 and b.core, b.name
        pio = firmware.board_json(firmware.env_board(b.offline_env))
        assert (BOARDS_DIR / pio["build"]["micromel_dir"] / "linker.ld").exists(), b.name
    assert {b.offline_env for b in catalogue} >= {"emulate"}


def _arm_machine_flags(build: dict) -> list[str]:
    flags = ["-mthumb", f"-mcpu={build['cpu']}"]
    flags += [f"-mfpu={build['fpu']}", "-mfloat-abi=hard"] if build.get("fpu") else ["-mfloat-abi=soft"]
    return flags


@pytest.mark.skipif(not shutil.which("arm-none-eabi-gcc"), reason="arm-none-eabi-gcc missing")
def test_dsp_flag_matches_the_compiler(catalogue):
    """The catalogue's DSP column is what selects the engine's kernels:
    it must say what __ARM_FEATURE_DSP says for the board's flags."""
    for b in catalogue:
        build = firmware.board_json(firmware.env_board(b.offline_env))["build"]
        if "cpu" not in build:  # RISC-V: no Arm DSP extension
            assert not b.dsp, b.name
            continue
        out = subprocess.run(["arm-none-eabi-gcc", *_arm_machine_flags(build), "-dM", "-E", "-x", "c",
                              "/dev/null"], capture_output=True, text=True, check=True).stdout
        assert ("__ARM_FEATURE_DSP 1" in out) == b.dsp, b.name


def test_icount_ratio_per_systick_clock():
    # instructions = ticks * 1e9 / (Hz * 2^shift)
    assert cat_mod.icount_ratio(25_000_000, 6) == (5, 8)
    assert cat_mod.icount_ratio(20_000_000, 6) == (25, 32)
    assert cat_mod.icount_ratio(32_000_000, 6) == (125, 256)
    assert cat_mod.icount_ratio(25_000_000, 0) == (40, 1)


def test_board_defines_come_from_the_board_json():
    d = dict(cat_mod.board_cpp_defines({"systick_hz": 20_000_000}, ["MM_COST_QEMU_ICOUNT"], "20000000L"))
    assert d["MM_BOARD_CLOCK_HZ"] == 20_000_000
    assert d["MM_BOARD_SYSTICK_HZ"] == 20_000_000
    assert (d["MM_COST_ICOUNT_NUM"], d["MM_COST_ICOUNT_DEN"]) == cat_mod.icount_ratio(20_000_000)
    assert "MM_COST_ICOUNT_NUM" not in dict(cat_mod.board_cpp_defines({}, ["MM_COST_DWT"]))
    with pytest.raises(MicromelError, match="systick_hz"):
        cat_mod.board_cpp_defines({}, ["MM_COST_QEMU_ICOUNT"])


def test_every_emulated_board_gives_its_systick_clock(catalogue):
    for b in catalogue:
        pio = firmware.board_json(firmware.env_board(b.offline_env))
        if "MM_COST_QEMU_ICOUNT" in pio["build"].get("defines", []):
            assert b.emulated and pio["micromel"]["systick_hz"] > 0, b.name


def test_find_boards(catalogue):
    assert [b.name for b in cat_mod.find_boards("all", catalogue)] == [b.name for b in catalogue]
    assert [b.name for b in cat_mod.find_boards("rp2040,emulate_m7", catalogue)] == ["rp2040", "mps2-an500"]
    assert cat_mod.find_boards("nucleo_l476rg", catalogue)[0].name == "stm32l476"
    with pytest.raises(MicromelError, match="--board nosuch"):
        cat_mod.find_boards("nosuch", catalogue)


# --- attribution on a real link ----------------------------------------------
WEIGHTS = 1000
TABLE = 300  # int16 entries


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def synthetic_link(tmp_path_factory):
    """A small firmware linked the way the builders link: a front-end library
    with a table, an engine library, a generated model header included by an
    app object, newlib-nano, the shared Cortex-M startup and sections."""
    if not shutil.which("arm-none-eabi-gcc"):
        pytest.skip("arm-none-eabi-gcc missing")
    d = tmp_path_factory.mktemp("link")
    gen = d / "gen"
    _write(gen / "mm_model_data.h",
           "#include <stdint.h>\n"
           f"static const int8_t mm_test_model_weights[{WEIGHTS}] __attribute__((aligned(4))) = {{"
           + ",".join(str((i * 7) % 255 - 127) for i in range(WEIGHTS)) + "};\n"
           "static const int32_t mm_test_model_bias[2] = {1, -1};\n")
    _write(d / "lib" / "mm_frontend" / "fe.c",
           "#include <stdint.h>\n"
           f"const int16_t mm_test_fe_table[{TABLE}] = {{" + ",".join(str(i) for i in range(TABLE)) + "};\n"
           "int mm_test_fe(int i) { return mm_test_fe_table[i % 300] * 3; }\n")
    _write(d / "lib" / "mm_nn" / "nn.c",
           "#include <stdint.h>\nstatic int32_t arena[64];\n"
           "int mm_test_nn(const int8_t *w, int n) { int32_t s = 0;"
           " for (int i = 0; i < n; i++) { arena[i & 63] += w[i]; s += arena[i & 63]; } return (int)s; }\n")
    _write(d / "src" / "app_frontend.c",  # a message group's glue: its part's RAM
           "#include <stdint.h>\nint mm_test_fe(int);\nstatic int32_t fe_buf[32];\n"
           "int mm_test_fe_handle(int i) { fe_buf[i & 31] += mm_test_fe(i); return fe_buf[3]; }\n")
    _write(d / "src" / "app.c",
           "#include <stdio.h>\n#include \"mm_model_data.h\"\n"
           "int mm_test_fe_handle(int); int mm_test_nn(const signed char *, int);\n"
           "static char out[64];\n"
           "int main(void) { volatile int k = 1; int a = mm_test_fe_handle(5) + mm_test_nn(mm_test_model_weights, "
           f"{WEIGHTS}) + (int)mm_test_model_bias[k];\n"
           "  return snprintf(out, sizeof out, \"%d\", a); }\n")
    _write(d / "linker.ld", "MEMORY\n{\n  FLASH (rx) : ORIGIN = 0x08000000, LENGTH = 64K\n"
                            "  RAM (rwx) : ORIGIN = 0x20000000, LENGTH = 16K\n}\n"
                            "_stack_size = 2K;\nINCLUDE sections.ld\n")
    cc = ["arm-none-eabi-gcc", "-mthumb", "-mcpu=cortex-m4", "-mfloat-abi=soft", "-O2",
          "-ffunction-sections", "-fdata-sections"]
    run = lambda *a: subprocess.run(list(a), cwd=d, check=True, capture_output=True)  # noqa: E731
    for lib, src in (("mm_frontend", "fe"), ("mm_nn", "nn")):
        run(*cc, "-c", f"lib/{lib}/{src}.c", "-o", f"lib/{lib}/{src}.o")
        run("arm-none-eabi-ar", "rcs", f"lib/lib{lib}.a", f"lib/{lib}/{src}.o")
    run(*cc, f"-I{gen}", "-c", "src/app.c", "-o", "src/app.o")
    run(*cc, "-c", "src/app_frontend.c", "-o", "src/app_frontend.o")
    shared = BOARDS_DIR / "shared" / "cortex-m"
    run(*cc, "-c", str(shared / "startup.c"), "-o", "startup.o")
    run(*cc, "--specs=nano.specs", "--specs=nosys.specs", "-Wl,--gc-sections", f"-L{shared}",
        "-T", "linker.ld", "-Wl,-Map,firmware.map", "-o", "program.elf", "startup.o", "src/app.o", "src/app_frontend.o",
        "lib/libmm_nn.a", "lib/libmm_frontend.a")
    board = cat_mod.Board(name="synthetic", title="t", kind="real", offline_env="x", real_env="y",
                         flash_budget=64 * 1024, ram_budget=16 * 1024)
    return sizes.size_report(board, d / "program.elf", d / "firmware.map", [gen])


def test_map_parser_reads_regions_and_sections(synthetic_link):
    lmap = linkmap.parse_map(synthetic_link.elf.parent / "firmware.map")
    assert lmap.regions["FLASH"][:2] == (0x08000000, 64 * 1024)
    assert "w" in lmap.regions["RAM"][2].lower()
    names = {s.name for s in lmap.inputs}
    assert ".rodata.mm_test_model_weights" in names  # a long name, wrapped onto two lines
    assert ".text.mm_test_nn" in names


def test_parts_are_attributed(synthetic_link):
    r = synthetic_link
    assert r.flash["weights"] == WEIGHTS + 8  # the weights and the bias, nothing else
    assert r.flash["frontend"] >= 2 * TABLE
    assert r.flash["engine"] > 0 and r.ram["engine"] == 64 * 4  # the arena
    assert r.flash["app"] > 0 and r.ram["app"] >= 64
    assert r.flash["libc"] > 500  # snprintf
    assert 2048 <= r.ram["stack"] < 2048 + 8
    assert r.ram["weights"] == 0 and r.ram["frontend"] == 32 * 4  # app_frontend.c's buffer
    assert {s for s, _, _ in r.symbols["weights"]} == {"mm_test_model_weights", "mm_test_model_bias"}
    # where each lives: the weights in flash, the arena in RAM alone, app data in both
    assert {m for _, _, m in r.symbols["weights"]} == {"flash"}
    assert dict((s, m) for s, _, m in r.symbols["engine"])["arena"] == "ram"
    assert r.to_dict()["largest"]["weights"][0].keys() == {"symbol", "bytes", "memory"}


def test_parts_add_up_to_the_elf(synthetic_link):
    r = synthetic_link
    secs = linkmap.elf_sections(r.elf)
    assert r.flash_total == sum(s.size for s in secs if not s.nobits)
    ram = sum(s.size for s in secs if 0x20000000 <= s.address < 0x20000000 + 16 * 1024)
    assert r.ram_total == ram


def test_tables_show_every_part_and_the_verdict(synthetic_link):
    r = synthetic_link
    text = sizes.format_text([r])
    assert re.search(r"synthetic\s+\S*\s+\d+\s+1008\s", text)
    md = sizes.format_markdown([r], "t")
    assert "| front end | weights | engine | app | libc | total | budget |" in md
    assert "| stack |" not in md.split("### RAM")[0]  # stack is RAM only
    small = cat_mod.Board(**{**r.board.__dict__, "flash_budget": 100})
    over = sizes.SizeReport(small, r.elf, r.flash, r.ram)
    assert not over.fits
    assert "| NO |" in sizes.format_markdown([over], "t")
    assert "no (not a target)" in sizes.format_text([over], targets={"other"})


def test_generated_array_names():
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as t:
        Path(t, "a.h").write_text(
            "static const int8_t w0[3][2] = {{1,2},{3,4},{5,6}};\n"
            "const int32_t MM_ALIGNED b1[4] __attribute__((aligned(4))) = {0};\n"
            "extern const int8_t not_a_def[4];\n#define MM_X 3\n"
            "static const uint8_t *const ptrs[2] = {0, 0};\n")
        assert sizes.generated_arrays([Path(t)]) == {"w0", "b1", "ptrs"}


# --- the command ----------------------------------------------------------------
def test_boards_command_shows_an_emulated_budget_as_all(capsys):
    assert cli.main(["boards"]) == 0
    rows = {ln.split()[0]: ln.split() for ln in capsys.readouterr().out.splitlines()[2:]}
    assert rows["mps2-an386"][5] == "all" and rows["rp2040"][5] == "1024/192"


def test_boards_command_lists_json(capsys):
    assert cli.main(["boards", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {d["name"] for d in data} >= {"rp2040", "esp32c3", "mps2-an500"}
    assert all({"core", "clock_hz", "flash_budget", "ram_budget", "offline_env"} <= d.keys() for d in data)


def test_build_check_fails_where_the_image_does_not_fit(monkeypatch, tmp_path, capsys):
    """`--check` exits 1 naming the board when the image exceeds its budget."""
    real = cat_mod.load_catalogue

    def tiny():
        return [cat_mod.Board(**{**b.__dict__, "ram_budget": 1024}) if b.name == "rp2040" else b
                for b in real()]

    monkeypatch.setattr(cat_mod, "load_catalogue", tiny)
    md, js = tmp_path / "sizes.md", tmp_path / "sizes.json"
    assert cli.main(["build", "none", "--board", "rp2040", "--check", "--md", str(md),
                     "--json", str(js)]) == 1
    err = capsys.readouterr().err       # the verdict on stderr, the table on stdout
    assert "micromel: check failed: firmware without a model does not fit rp2040" in err and "RAM" in err
    assert "| rp2040 | cortex-m0plus |" in md.read_text()
    data = json.loads(js.read_text())   # and in the file, for a CI job that reads only it
    assert data["check"]["asked"] and not data["check"]["passed"]
    assert [r["board"] for r in data["reports"] if r["target"]] == ["rp2040"]
    assert len(data["check"]["failures"]) == 1 and "does not fit rp2040" in data["check"]["failures"][0]
    monkeypatch.setattr(cat_mod, "load_catalogue", real)
    assert cli.main(["build", "none", "--board", "rp2040", "--check", "--json", str(js),
                     "--force"]) == 0
    data = json.loads(js.read_text())
    assert data["check"] == {"asked": True, "passed": True, "failures": [], "warnings": []}
    assert cli.main(["build", "none", "--board", "rp2040", "--json", str(js), "--force"]) == 0
    assert json.loads(js.read_text())["check"] == {"asked": False, "passed": None, "failures": [],
                                                   "warnings": []}
    assert "fits every target board: 1 of the 1 built" in capsys.readouterr().out


def test_build_rejects_a_non_model_folder(tmp_path, capsys):
    assert cli.main(["build", str(tmp_path), "--board", "rp2040"]) == 2
    err = capsys.readouterr().err
    assert "not a model folder" in err and "Traceback" not in err


def test_a_region_overflow_is_reported_not_raised(monkeypatch, tmp_path, catalogue):
    """An image too big for a memory region fails to link; the matrix names
    the region and the excess instead of stopping."""
    log = tmp_path / "xc.log"
    log.write_text("ld: program.elf section `.bss' will not fit in region `RAM'\n"
                   "ld: region `RAM' overflowed by 104032 bytes\ncollect2: error: ld returned 1\n")

    def failing_build(env_name, gen_dir=None, model_dir=None, quiet=True, defines=()):
        raise MicromelError(f"firmware build of '{env_name}' failed: collect2: error (full log: {log})")

    monkeypatch.setattr(firmware, "build", failing_build)
    board = cat_mod.find_boards("stm32l476", catalogue)[0]
    r = sizes.build_board(board, None)
    assert isinstance(r, sizes.LinkOverflow) and r.regions == {"RAM": 104032} and not r.fits
    assert "RAM region overflowed by 104032 B" in sizes.format_text([r])
    log.write_text("src/app.c:3: error: expected ';'\n")
    with pytest.raises(MicromelError, match="failed"):
        sizes.build_board(board, None)


def test_build_check_refuses_to_check_no_target_board(tmp_path, capsys, monkeypatch):
    """--check on boards none of which the model is meant for would pass having checked
    nothing: refused in one line before any build."""
    import shutil as sh
    from micromel.modeldir import ModelDir
    from micromel.paths import MODELS_DIR
    model = tmp_path / "drums"
    sh.copytree(MODELS_DIR / "drums", model)
    ModelDir.open(model).replace(boards=("rp2040",)).save()
    # main sets MICROMEL_BUILD_DIR for the builders it runs; monkeypatch puts it back after
    monkeypatch.setenv("MICROMEL_BUILD_DIR", str(tmp_path / "build"))
    assert cli.main(["--build-dir", str(tmp_path / "build"), "build", str(model),
                     "--board", "esp32c3", "--check"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("micromel: error: --check: drums is meant for rp2040") and "\n" not in err
    assert not (tmp_path / "build").exists()      # refused before anything was written
