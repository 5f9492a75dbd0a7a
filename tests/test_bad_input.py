"""Bad input, tried as a new user would (issue 17's probe): each case is one line on stderr
naming the file or option, exit code 2, no traceback, and nothing written before the check.
Device cases are in tests/hil and tests/link; these need no emulator."""
import contextlib
import io
import json
import os
import shutil
import stat
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

from micromel.audio import AUDIO_EXTENSIONS, find_audio, load_audio, open_audio
from micromel.cli import main
from micromel.data.datasets import load_dataset

ROOT = Path(__file__).resolve().parents[1]
DRUMS = ROOT / "models" / "drums"


def cli(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main([str(a) for a in args])
        except SystemExit as e:     # argparse refusals
            rc = e.code
    return SimpleNamespace(returncode=rc, stdout=out.getvalue(), stderr=err.getvalue())


def one_line_error(r, *words):
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = [line for line in r.stderr.splitlines() if line.startswith("micromel")]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def wav(tmp_path_factory):
    d = tmp_path_factory.mktemp("audio")
    x = (np.random.default_rng(0).standard_normal(24000) * 3000).astype(np.int16)
    sf.write(d / "hit.wav", x, 16000, subtype="PCM_16")
    return d / "hit.wav"


def _must_not_run(why: str):
    """A stand-in for a command's long work: calling it fails the test with `why`."""
    def work(*_, **__):
        raise AssertionError(why)
    return work


def _model_copy(tmp_path, name, tflite: bytes | None = None, labels=None, config=None):
    d = tmp_path / name
    shutil.copytree(DRUMS, d)
    if tflite is not None:
        (d / "model.tflite").write_bytes(tflite)
    if labels is not None or config is not None:
        doc = json.loads((d / "config.json").read_text()) if config is None else config
        if labels is not None:
            doc["labels"] = labels
        (d / "config.json").write_text(json.dumps(doc))
    return d


@pytest.mark.parametrize("command", ["classify", "segment", "evaluate"])
def test_damaged_model_is_one_line(tmp_path, wav, command):
    bad = _model_copy(tmp_path, "bad", tflite=os.urandom(3000))
    args = [command, bad, wav.parent if command == "evaluate" else wav]
    one_line_error(cli(*args), "model.tflite", "not a TFLite model")


@pytest.mark.parametrize("command", ["classify", "segment"])
def test_float_model_is_one_line(tmp_path, wav, command):
    flt = _model_copy(tmp_path, "flt", tflite=(DRUMS / "model_float.tflite").read_bytes())
    one_line_error(cli(command, flt, wav), "float", "int8")


def test_fewer_labels_than_outputs_is_one_line(tmp_path, wav):
    few = _model_copy(tmp_path, "few", labels=["cymbal", "hihat", "kick", "snare"])
    one_line_error(cli("classify", few, wav), "5 outputs but 4 labels")


def test_empty_config_is_one_line(tmp_path, wav):
    empty = _model_copy(tmp_path, "empty", config={})
    one_line_error(cli("classify", empty, wav), "config.json")


@pytest.mark.parametrize("argv", [
    ["segment", "models/drums", "{wav}", "--out", "{file}"],
    ["verify", "models/drums", "{dir}", "--report", "{file}"],
    ["export", "models/drums", "--out", "{file}"],
    ["train", "{dir}", "--out", "{file}"],
])
def test_output_naming_an_existing_file_is_refused_before_work(tmp_path, wav, argv):
    existing = tmp_path / "existing"
    existing.write_text("keep me")
    args = [a.format(wav=wav, file=existing, dir=wav.parent) for a in argv]
    args = [str(ROOT / a) if a.startswith("models/") else a for a in args]
    one_line_error(cli(*args), str(existing), "is a file")
    assert existing.read_text() == "keep me"


@pytest.mark.parametrize("argv", [
    ["segment", "models/drums", "{wav}", "--out", "{file}/out"],
    ["verify", "models/drums", "{dir}", "--report", "{file}/reports/x"],
    ["export", "models/drums", "--out", "{file}/gen"],
    ["export", "models/drums", "--lib", "{file}/lib"],
    ["train", "{dir}", "--out", "{file}/model"],
    ["dataset", "streams", "--out", "{file}/streams", "--seconds", "5"],
    ["record", "--out", "{file}/data/dog", "--device", "emulate", "--seconds", "1"],
    ["init", "{file}/project"],
    ["dataset", "drums", "--out", "{file}/drums"],
    ["dataset", "speech", "--out", "{file}/speech"],
    ["dataset", "beds", "--out", "{file}/beds"],
    ["dataset", "from-labels", "{dir}", "--out", "{file}/mine"],
    ["dataset", "add-other", "{dir}", "--from", "{dir}", "--out", "{file}/other"],
])
def test_an_output_under_a_file_is_refused_before_work(tmp_path, wav, argv):
    """The folders on an output's way are made at the end: a file standing where one must
    be is refused by name first (cliargs.out_folder), not when the output is written."""
    existing = tmp_path / "existing"
    existing.write_text("keep me")
    args = [a.format(wav=wav, file=existing, dir=wav.parent) for a in argv]
    args = [str(ROOT / a) if a.startswith("models/") else a for a in args]
    one_line_error(cli(*args), f"{existing} is a file, not a folder")
    assert existing.read_text() == "keep me"


def test_segment_outputs_that_would_collide_are_refused(tmp_path, wav):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    shutil.copy(wav, tmp_path / "a" / "x.wav")
    shutil.copy(wav, tmp_path / "b" / "x.wav")
    data, rate = sf.read(wav, dtype="int16")
    sf.write(tmp_path / "x.flac", data, rate)
    for pair in ([tmp_path / "a" / "x.wav", tmp_path / "b" / "x.wav"],
                 [tmp_path / "a" / "x.wav", tmp_path / "x.flac"]):
        out = tmp_path / "out"
        one_line_error(cli("segment", ROOT / "models/speech", *pair, "--out", out), "both would write")
        assert not out.exists()


@pytest.mark.parametrize("argv", [
    ["verify", "models/drums", "{dir}", "--limit", "-3"],
    ["verify", "models/drums", "{dir}", "--limit", "0"],
    ["classify", "models/drums", "{wav}", "--top", "0"],
    ["classify", "models/drums", "{wav}", "--top", "-2"],
    ["device", "ping", "--size", "-1"],
    ["device", "proxy", "--loss", "-0.1"],
])
def test_numeric_options_are_validated(wav, argv):
    args = [a.format(wav=wav, dir=wav.parent) for a in argv]
    args = [str(ROOT / a) if a.startswith("models/") else a for a in args]
    r = cli(*args)
    assert r.returncode == 2 and "must be at least" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("argv,says", [
    (["segment", "models/drums", "{wav}", "--min-duration", "nan"], "give a finite number"),
    (["segment", "--activity-only", "{wav}", "--threshold-db", "inf"], "give a finite number"),
    (["evaluate-segments", "models/speech", "{dir}", "--resolution", "0"], "must be more than"),
    (["evaluate-segments", "models/speech", "{dir}", "--collar", "nan"], "give a finite number"),
    (["dataset", "streams", "--out", "{new}", "--seconds", "0"], "must be more than"),
    (["train", "{dir}", "--out", "{new}", "--silence-dbfs", "nan"], "give a finite number"),
    (["tune", "models/speech", "{dir}", "--target-fa-per-hour", "nan"], "give a finite number"),
    (["train", "{dir}", "--out", "{new}", "--augment", "eq_p=NaN"], "NaN is not a number"),
    (["train", "{dir}", "--out", "{new}", "--augment", "bed_p=2"], "bed_p=2.0: give a probability"),
    (["train", "{dir}", "--out", "{new}", "--augment", "bed_snr_db=[15,0]"], "low <= high"),
    (["train", "{dir}", "--out", "{new}", "--augment", "variants=-1"], "give a count >= 0"),
    (["listen", "models/speech", "--amplitude", "40000"], "must be at most 32767"),
    (["record", "--out", "{new}/dog", "--clip-seconds", "0.001"], "must be 0 (no split) or at least 0.1"),
    (["listen", "models/speech", "--tone-hz", "70000"], "must be at most 65535"),
    (["listen", "models/speech", "--seconds", "1e6"], "must be at most 86400"),
    (["listen", "models/speech", "--seconds", "0"], "must be more than 0"),
    (["record", "--out", "{new}/dog", "--seconds", "0"], "must be more than 0"),
])
def test_non_finite_and_zero_numbers_are_refused(tmp_path, wav, argv, says):
    """float() reads nan and inf, and nan passes every range check: the option types refuse
    them (cliargs.at_least), and a length of 0 where one is needed."""
    args = [a.format(wav=wav, dir=wav.parent, new=tmp_path / "new") for a in argv]
    args = [str(ROOT / a) if a.startswith("models/") else a for a in args]
    r = cli(*args)
    assert r.returncode == 2 and says in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("argv,says", [
    (["listen", "models/speech", "--device", "emulate", "--mic", "{wav}", "--source", "tone"],
     "the microphone plays the file only with --source file"),
    (["record", "--out", "{new}/dog", "--seconds", "1", "--device", "emulate", "--mic", "{wav}",
      "--source", "noise"], "the microphone plays the file only with --source file"),
    (["listen", "models/speech", "--device", "emulate", "--source", "tone", "--tone-hz", "9000"],
     "--tone-hz 9000: at or above half the sample rate (16000 Hz)"),
    # the clips were written as /-<time>.wav, labelled ''
    (["record", "--out", "/", "--seconds", "1", "--device", "emulate", "--source", "noise"],
     "--out /: its folder name is the clips' label"),
    # each of these was ignored without a word
    (["listen", "models/speech", "--device", "emulate", "--source", "noise", "--tone-hz", "440"],
     "--tone-hz 440: the frequency of --source tone, not of noise"),
    (["listen", "models/speech", "--device", "emulate", "--mic", "{wav}", "--amplitude", "100"],
     "--amplitude 100: the level of --source tone|noise, not of file"),
    (["record", "--out", "{new}/quiet", "--seconds", "1", "--device", "emulate", "--source",
      "silence", "--amplitude", "5"], "--amplitude 5: the level of --source tone|noise"),
    (["listen", "models/speech", "--device", "socket://127.0.0.1:9", "--realtime"],
     "--realtime: paces an emulator micromel starts (--device emulate or emulate:ENV); --device "
     "socket://127.0.0.1:9 is not one"),
    (["listen", "models/speech", "--device", "emulate", "--source", "noise", "--format", "json"],
     "--format: chooses the files written into --out"),
    (["listen", "models/speech", "--device", "emulate", "--mic", "{wav}", "--uncertain", "3"],
     "--uncertain 3: counts the windows --save-uncertain DIR writes"),
    (["segment", "models/speech", "{wav}", "--uncertain", "3"],
     "--uncertain 3: counts the windows --save-uncertain DIR writes"),
    (["cores", "none", "--inputs", "3"], "--inputs 3: random inputs of a model"),
    (["segment", "models/speech", "{wav}", "--threshold-db", "-40"],
     "--threshold-db -40: the threshold of --activity-only"),
    (["build", "models/drums", "--board", "nrf52840,mps2-an386", "--listen-at-boot", "mic"],
     "--listen-at-boot mic: an emulated board has no microphone driver; give file, tone, noise "
     "or silence (--board nrf52840,mps2-an386 holds mps2-an386)"),
    (["build", "models/drums", "--board", "nrf52840", "--listen-at-boot", "file"],
     "--listen-at-boot file: the emulated microphone's file"),
])
def test_input_options_that_would_be_ignored_are_refused(tmp_path, wav, argv, says, monkeypatch):
    """Checked before any board is opened or built."""
    from micromel.boards import firmware
    monkeypatch.setattr(firmware, "build", _must_not_run("built firmware before the options "
                                                         "were checked"))
    args = [a.format(wav=wav, new=tmp_path / "new") for a in argv]
    args = [str(ROOT / a) if a.startswith("models/") else a for a in args]
    one_line_error(cli(*args), says)
    assert not (tmp_path / "new").exists()


def test_errors_name_the_option_and_the_files_the_user_gave(tmp_path, wav, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(wav, tmp_path / "s.wav")
    assert cli("segment", "--activity-only", "s.wav", "--plot", "--quiet").returncode == 0
    one_line_error(cli("segment", "--activity-only", "s.wav", "--plot", "--quiet"),
                   "--plot s.segments.png: exists")
    for c in ("cymbal", "kick"):            # a dataset of the model's classes
        (tmp_path / "ds" / c).mkdir(parents=True)
        shutil.copy(wav, tmp_path / "ds" / c / "1.wav")
    one_line_error(cli("reject", DRUMS, tmp_path / "ds", "--unknown", tmp_path / "nope.wav"),
                   f"--unknown {tmp_path / 'nope.wav'}: no such file or folder")
    with monkeypatch.context() as m:        # each refused before its command's work
        from micromel import codegen
        from micromel.engine import bench
        from micromel.train import reject as reject_run, run as train_run
        for mod, name in ((reject_run, "calibrate"), (train_run, "run"), (codegen, "export"),
                          (bench, "run")):
            m.setattr(mod, name, _must_not_run(f"{name} ran before the options were checked"))
        one_line_error(cli("reject", DRUMS, tmp_path / "ds", "--force"), "--force goes with --save")
        one_line_error(cli("reject", DRUMS, tmp_path / "ds", "--save"),   # it holds a rule
                       f"{DRUMS}: already has a rejection rule", "add --force to replace it")
        one_line_error(cli("reject", DRUMS, tmp_path / "ds", "--unknown-limit", "3"),
                       "--unknown-limit 3: limits the --unknown recordings")
        one_line_error(cli("train", tmp_path / "ds", "--out", "m", "--specialist-networks", "2"),
                       "--specialist-networks 2: needs --specialist NAME")
        one_line_error(cli("train", tmp_path / "ds", "--out", "m", "--background", "beds"),
                       "--background beds: no such file or folder")
        (tmp_path / "beds").mkdir()
        one_line_error(cli("train", tmp_path / "ds", "--out", "m", "--background", "beds"),
                       "--background beds: no audio files")
        for cmd in (("export", DRUMS, "--out", "gen"), ("bench", "model", DRUMS)):
            one_line_error(cli(*cmd, "--kernels", "portable", "--weights", "int16"),
                           "--weights int16: a layout of DSP builds")
        one_line_error(cli("bench", "model", DRUMS, "--device", "native"),
                       "--device native: the firmware built for this computer counts no")
        for opt in (["--kernels", "portable"], ["--weights", "int8"]):   # a flashed board's own
            one_line_error(cli("bench", "model", DRUMS, "--device", "socket://127.0.0.1:9", *opt),
                           "--kernels/--weights: choose how micromel builds the firmware")
    assert not any((tmp_path / d).exists() for d in ("m", "gen"))
    r = cli("export", DRUMS, "--out", "gen", "--kernels", "portable")   # what it prints instead
    assert r.returncode == 0 and "bytes (portable)" in r.stdout and "DSP" not in r.stdout, r.stdout
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        shutil.copy(wav, tmp_path / d / "x.wav")
        (tmp_path / d / "x.txt").write_text("0.1\t0.9\tdog\n")
    one_line_error(cli("dataset", "from-labels", tmp_path / "a", tmp_path / "b", "--out", "o"),
                   f"{tmp_path / 'a' / 'x.wav'} and {tmp_path / 'b' / 'x.wav'}: two recordings of one name")
    (tmp_path / "a" / "x.tsv").write_text("0.1\t0.9\tdog\n")
    for track in ("x.txt", "x.tsv"):        # x.tsv has x.txt beside it: still no recording
        one_line_error(cli("dataset", "from-labels", tmp_path / "a" / track, "--out", "o"),
                       f"{tmp_path / 'a' / track}: not a recording", "its label track beside it")
    assert not (tmp_path / "o").exists()


def test_a_build_folder_that_is_a_file_is_named_as_build_dir(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("keep")
    one_line_error(cli("--build-dir", notes, "export", DRUMS), f"--build-dir {notes}: is a file")
    assert notes.read_text() == "keep"


@pytest.mark.parametrize("env", ["nano33ble", "nosuch"])
def test_an_emulated_board_that_is_none_is_named(wav, env, monkeypatch):
    """A real board's environment, or no environment at all: refused by name before a build."""
    from micromel.boards import firmware
    monkeypatch.setattr(firmware, "build", _must_not_run("built firmware for no emulated board"))
    for argv in (["classify", DRUMS, wav], ["device", "info"]):
        one_line_error(cli(*argv, "--device", f"emulate:{env}"),
                       f"--device emulate:{env}: '{env}' is not an emulated board", "emulate_m33")


@pytest.mark.parametrize("argv,says", [
    (["segment", "--activity-only", "{wav}", "--format", "json"], "--format: chooses the files written into --out"),
    (["evaluate-segments", "models/speech", "{dir}", "--save"], "--save (or --write): saves what --tune chose"),
    (["evaluate-segments", "models/speech", "{dir}", "--write"], "--save (or --write): saves what --tune chose"),
    (["evaluate-segments", "models/speech", "{dir}", "--class", "nonspeech"],
     "--class nonspeech: a background label of the model, which makes no events; give one of speech"),
    (["export", "models/drums", "--lib", "{new}", "--name", ""], "--name '': use a letter"),
    (["export", "models/drums", "--out", "{new}", "--name", "x"], "--name, --zip and --with-protocol go with --lib"),
])
def test_options_that_would_be_ignored_are_refused(tmp_path, wav, argv, says):
    args = [a.format(wav=wav, dir=wav.parent, new=tmp_path / "new") for a in argv]
    args = [str(ROOT / a) if a.startswith("models/") else a for a in args]
    one_line_error(cli(*args), says)
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("argv,says", [
    # it said "no such folder"
    (["classify", "{wav}", "{wav}"], "not a model folder (a file, not a folder)"),
    # it said "cannot read manifest ('utf-8' codec can't decode ...)"
    (["evaluate", "models/drums", "{wav}"], "a recording, not a dataset; give a folder with one "
     "sub-folder per class, or a CSV/TSV manifest"),
    (["verify", "models/drums", "{wav}", "--device", "native"], "a recording, not a dataset"),
])
def test_a_file_of_the_wrong_kind_is_named_as_such(wav, argv, says):
    args = [str(ROOT / a) if a.startswith("models/") else a.format(wav=wav) for a in argv]
    one_line_error(cli(*args), wav.name, says)


def test_nan_in_config_json_is_one_line(tmp_path, wav):
    doc = json.loads((DRUMS / "config.json").read_text())
    doc["window"]["silence_rms_dbfs"] = float("nan")       # json.dumps writes NaN
    nan = _model_copy(tmp_path, "nan", config=doc)
    assert "NaN" in (nan / "config.json").read_text()
    one_line_error(cli("classify", nan, wav), "config.json", "NaN")


@pytest.mark.parametrize("key,value,says", [("window", {"hop_frames": 0}, "hop_frames=0"),
                                            ("segment", {"enter": 5.0}, "enter=5.0")])
def test_a_setting_out_of_range_names_the_config_file(tmp_path, wav, key, value, says):
    doc = json.loads((DRUMS / "config.json").read_text())
    doc[key] = {**(doc.get(key) or {}), **value}
    model = _model_copy(tmp_path, "model", config=doc)
    one_line_error(cli("classify", model, wav), f"{model / 'config.json'}: ", says)


def test_a_training_record_from_before_the_range_checks_still_opens(tmp_path):
    """--augment bed_p=2 was accepted before training checked ranges: such a model stays usable
    (the record is only read), while training with it is refused (above)."""
    from micromel.modeldir import ModelDir

    doc = json.loads((DRUMS / "config.json").read_text())
    doc["train"]["augment"]["bed_p"] = 2.0
    model = _model_copy(tmp_path, "model", config=doc)
    assert ModelDir.open(model).train["augment"]["bed_p"] == 2.0


def test_an_output_the_system_refuses_is_one_line(tmp_path, monkeypatch):
    """A path no check before the work foresaw ends in one line naming it, not in a
    traceback (main()'s OSError fallback): here `init`'s work writes under a file, as a
    path the checks missed would (every output folder is checked first now)."""
    import micromel.data.cli as data_cli

    plain = tmp_path / "plain"
    plain.write_text("keep me")
    monkeypatch.setattr(data_cli, "init_project",
                        lambda folder, examples: (plain / "x").write_text("lost"))
    one_line_error(cli("init", tmp_path / "project"), str(plain / "x"), "choose another path")
    assert plain.read_text() == "keep me"


def test_a_place_the_system_refuses_is_named_as_the_user_knows_it(tmp_path, monkeypatch):
    """The temp file written on the way to an output (fileio.atomic_path, the library
    export's folder) is named by the output the user gave, not as `.x.json.abc` or
    `.lib.tmp-xyz`; a place in the build folder says how to move that."""
    import errno
    import tempfile

    import micromel.data.cli as data_cli
    import micromel.library.export as export_mod
    from micromel.fileio import atomic_path

    full = (errno.ENOSPC, "No space left on device")
    with pytest.raises(OSError) as e:
        with atomic_path(tmp_path / "out.json") as tmp:
            raise OSError(*full, str(tmp))
    assert e.value.errno == errno.ENOSPC and e.value.filename == str(tmp_path / "out.json")
    assert list(tmp_path.iterdir()) == []       # the temp file is gone

    def made_in_read_only(dir, prefix, **kw):
        raise OSError(errno.EROFS, "Read-only file system", str(Path(dir) / f"{prefix}x1y2"))

    monkeypatch.setattr(tempfile, "mkstemp", made_in_read_only)
    with pytest.raises(OSError) as e:
        with atomic_path(tmp_path / "out.json"):
            pass
    assert e.value.errno == errno.EROFS and e.value.filename == str(tmp_path / "out.json")
    monkeypatch.setattr(tempfile, "mkdtemp", made_in_read_only)
    lib = tmp_path / "ro" / "lib"
    line = one_line_error(cli("export", DRUMS, "--lib", lib), f"error: {lib}: Read-only file system")
    assert ".tmp-" not in line and "build folder" not in line
    monkeypatch.undo()

    def disk_full(folder):
        raise OSError(*full, str(folder / "src" / "mm_api.h"))

    monkeypatch.setattr(export_mod, "write_file_list", disk_full)
    one_line_error(cli("export", DRUMS, "--lib", lib), f"error: {lib / 'src' / 'mm_api.h'}: No space")
    assert not lib.exists() and list(lib.parent.iterdir()) == []

    def refused(path):
        def work(folder, examples):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return work

    monkeypatch.setenv("MICROMEL_BUILD_DIR", str(tmp_path / "b"))
    monkeypatch.setattr(data_cli, "init_project", refused(tmp_path / "b" / "gen" / "x.h"))
    one_line_error(cli("init", tmp_path / "project"), str(tmp_path / "b" / "gen" / "x.h"),
                   "that place is read-only; choose another (it is in the build folder: "
                   "`micromel --build-dir DIR COMMAND` or MICROMEL_BUILD_DIR moves it)")


def test_an_output_under_a_file_is_refused_before_the_work(tmp_path, wav, monkeypatch):
    """cliargs.new_file: a file standing where a folder on the output's way must be is
    refused by option name before the work, not when the output is written at the end."""
    import micromel.segment.tune as tune

    plain = tmp_path / "plain"
    plain.write_text("keep me")
    monkeypatch.setattr(tune, "labelled_streams", _must_not_run("tune read the streams before "
                                                                "checking --out"))
    for out in (plain / "det.tsv", plain / "deeper" / "det.tsv"):
        one_line_error(cli("tune", ROOT / "models/speech", wav.parent, "--target-fa-per-hour", "1",
                           "--out", out), f"--out {out}: {plain} is a file")
    one_line_error(cli("features", wav, "--out", plain / "f.npy"), f"--out {plain / 'f.npy'}")
    assert plain.read_text() == "keep me"


def test_segment_checks_every_input_before_writing_the_first_outputs(tmp_path, wav):
    out = tmp_path / "out"
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.int16), 16000, subtype="PCM_16")
    for bad, says in ((tmp_path / "nope.wav", "no such file"), (empty, "holds no samples")):
        one_line_error(cli("segment", ROOT / "models/speech", wav, bad, "--out", out, "--quiet"),
                       str(bad), says)
        assert not out.exists()


@pytest.mark.parametrize("command", [["classify", DRUMS], ["segment", DRUMS], ["features"]])
def test_float_audio_with_samples_that_are_not_numbers_is_one_line(tmp_path, wav, command):
    """A damaged float WAV: NaN turned into arbitrary integers (and numpy's warning) before."""
    x = np.random.default_rng(1).uniform(-0.5, 0.5, 24000)
    x[12345] = np.nan
    bad = tmp_path / "nan.wav"
    sf.write(bad, x, 16000, subtype="FLOAT")
    r = cli(*command, bad, *(["--out", tmp_path / "f.npy"] if command == ["features"] else []))
    one_line_error(r, str(bad), "not numbers")
    assert "Warning" not in r.stderr
    x[12345] = np.inf
    sf.write(bad, x, 16000, subtype="FLOAT")
    one_line_error(cli(*command, bad, *(["--out", tmp_path / "f.npy"] if command == ["features"] else [])),
                   str(bad), "not numbers")


def test_a_file_listed_twice_in_a_manifest_is_named(tmp_path, wav):
    """One file under two labels or in two splits (a train/test leak) is refused by line."""
    shutil.copy(wav, tmp_path / "a.wav")
    shutil.copy(wav, tmp_path / "b.wav")
    m = tmp_path / "manifest.csv"
    m.write_text("path,label,split\na.wav,kick,train\nb.wav,snare,train\n./a.wav,snare,test\n")
    one_line_error(cli("dataset", "check", m), f"{m}:4", "./a.wav is listed already (line 2)")
    m.write_text(f"path,label,split\na.wav,kick,train\n{tmp_path}/./a.wav,kick,train\n")
    one_line_error(cli("dataset", "check", m), f"{m}:3", "a.wav is listed already (line 2)")
    m.write_text("path,label,split\na.wav,kick,train\nb.wav,snare,test\n")
    assert cli("dataset", "check", m).returncode == 0


def test_export_does_not_replace_a_users_file(tmp_path):
    """--out may hold an earlier export (generated headers are replaced), never a file of the
    user's with a header's name: refused before anything is written."""
    out = tmp_path / "myproj"
    out.mkdir()
    (out / "mm_model_config.h").write_text("/* my own code */\n")
    (out / "main.c").write_text("int main(void) { return 0; }\n")
    one_line_error(cli("export", DRUMS, "--out", out), f"--out {out}: mm_model_config.h",
                   "not a header micromel generated")
    assert sorted(f.name for f in out.iterdir()) == ["main.c", "mm_model_config.h"]
    (out / "mm_model_config.h").unlink()
    assert cli("export", DRUMS, "--out", out).returncode == 0
    assert cli("export", ROOT / "models/speech", "--out", out).returncode == 0   # over an export
    assert (out / "main.c").read_text() == "int main(void) { return 0; }\n"


def test_train_does_not_replace_a_model_without_force(tmp_path, wav):
    model = _model_copy(tmp_path, "model")
    before = {f.name: f.read_bytes() for f in model.iterdir()}
    r = cli("train", wav.parent, "--out", model)
    one_line_error(r, "holds a model already", "--force")
    assert "note:" not in r.stderr      # no notes about a run that will not happen
    assert {f.name: f.read_bytes() for f in model.iterdir()} == before
    (tmp_path / "one" / "dog").mkdir(parents=True)      # a dataset train refuses
    shutil.copy(wav, tmp_path / "one" / "dog" / "a.wav")
    r = cli("train", tmp_path / "one", "--out", tmp_path / "m2")
    one_line_error(r, "class 'dog' has no files in the train split")
    assert "note:" not in r.stderr


def test_segment_does_not_replace_earlier_outputs_without_force(tmp_path, wav):
    out = tmp_path / "out"
    assert cli("segment", "--activity-only", wav, "--out", out, "--quiet").returncode == 0
    (out / "hit.labels.txt").write_text("edited by hand")
    one_line_error(cli("segment", "--activity-only", wav, "--out", out, "--quiet"),
                   str(out / "hit.events.json"), "exists", "--force")
    assert (out / "hit.labels.txt").read_text() == "edited by hand"
    assert cli("segment", "--activity-only", wav, "--out", out, "--quiet",
               "--force").returncode == 0
    assert (out / "hit.labels.txt").read_text() != "edited by hand"


def test_evaluate_segments_checks_class_json_and_tuned_settings_first(tmp_path, wav):
    speech = ROOT / "models/speech"
    one_line_error(cli("evaluate-segments", speech, wav.parent, "--class", "nope"),
                   "--class nope", "not a label")
    taken = tmp_path / "taken.json"
    taken.write_text("{}")
    one_line_error(cli("evaluate-segments", speech, wav.parent, "--json", taken), "exists")
    tuned = tmp_path / "speech"
    shutil.copytree(speech, tuned)
    before = (tuned / "config.json").read_text()
    for save in ("--save", "--write"):          # --write: the option's first name
        one_line_error(cli("evaluate-segments", tuned, wav.parent, "--tune", save),
                       "own segment settings", "--force")
    # tune --save: the same rule, also before any stream is scored (no labelled stream here)
    one_line_error(cli("tune", tuned, wav.parent, "--target-fa-per-hour", "1", "--save"),
                   "own segment settings", "--force")
    assert (tuned / "config.json").read_text() == before


def test_streams_and_labelled_datasets_do_not_replace_earlier_files(tmp_path, wav):
    streams = tmp_path / "streams"
    streams.mkdir()
    (streams / "streams.csv").write_text("edited by hand\n")
    one_line_error(cli("dataset", "streams", "--out", streams, "--count", "1"),
                   "holds streams already", "--force")
    assert (streams / "streams.csv").read_text() == "edited by hand\n"
    recs = tmp_path / "recs"
    recs.mkdir()
    shutil.copy(wav, recs / "rec.wav")
    (recs / "rec.txt").write_text("0.1\t0.9\tknock\n")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "README.txt").write_text("my notes")
    one_line_error(cli("dataset", "from-labels", recs, "--out", mine), "not an empty folder")
    assert [p.name for p in mine.iterdir()] == ["README.txt"]
    assert (mine / "README.txt").read_text() == "my notes"


@pytest.mark.parametrize("argv", [["build", "none", "--board", "rp2040"],
                                  ["cores", "none", "--board", "mps2-an386"],
                                  ["bench", "library", DRUMS, "--board", "rp2040"]])
@pytest.mark.parametrize("option", ["--md", "--json"])
def test_table_files_are_not_replaced_without_force(tmp_path, monkeypatch, argv, option):
    """Checked before any build: a report of an earlier run stays unless --force."""
    from micromel.boards import sizes as board_sizes
    from micromel.hil import cores
    from micromel.library import sizes as library_sizes

    for mod, name in ((board_sizes, "build_board"), (cores, "run_core"), (library_sizes, "measure")):
        monkeypatch.setattr(mod, name, _must_not_run("the command started its work before "
                                                     "checking its outputs"))
    earlier = tmp_path / "table.txt"
    earlier.write_text("an earlier run's table")
    one_line_error(cli(*argv, option, earlier), option, str(earlier), "exists", "--force")
    assert earlier.read_text() == "an earlier run's table"
    # one name for both tables: the second would replace the first
    one_line_error(cli(*argv, "--md", tmp_path / "t", "--json", tmp_path / "t", "--force"),
                   "--md and --json name one file")
    assert not (tmp_path / "t").exists()


@pytest.mark.parametrize("row,says", [("0.9\t0.2\tspeech", "need 0 <= onset < offset"),
                                      ("0.2\tsoon\tspeech", "expected columns")])
def test_a_bad_ground_truth_row_is_named(tmp_path, monkeypatch, wav, row, says):
    """... before the model runs on any stream (the bad row is in the last one)."""
    from micromel.segment import run

    for name in ("segment_file", "host_window_results"):
        monkeypatch.setattr(run, name, _must_not_run("the model ran before every ground truth "
                                                     "was read"))
    streams = tmp_path / "streams"
    streams.mkdir()
    for name, last in (("s0", "0.5\t0.7\tspeech"), ("s1", row)):
        shutil.copy(wav, streams / f"{name}.wav")
        (streams / f"{name}.events.tsv").write_text("onset\toffset\tevent_label\tsource\n\n"
                                                    "0.1\t0.3\tspeech\tx\n" + last + "\tx\n")
    for argv in (["--peers", ""], ["--tune"]):
        one_line_error(cli("evaluate-segments", ROOT / "models/speech", streams, *argv),
                       f"{streams / 's1.events.tsv'}:4", says)       # line 2 is blank


def test_tune_plot_must_be_a_png(tmp_path, wav):
    one_line_error(cli("tune", ROOT / "models/speech", wav.parent, "--target-fa-per-hour", "1",
                       "--plot", tmp_path / "det.txt"), "--plot", ".png")
    assert not (tmp_path / "det.txt").exists()


def test_tune_outputs_are_checked_as_every_command_checks_them(tmp_path, wav):
    """tune's --out and --plot: a folder, one file named twice, or an existing file without
    --force are refused by name before any stream is scored (cliargs.new_file)."""
    model = ROOT / "models/speech"
    tune = ["tune", model, wav.parent, "--target-fa-per-hour", "1"]
    folder = tmp_path / "folder"
    folder.mkdir()
    one_line_error(cli(*tune, "--out", folder, "--force"), f"--out {folder}", "is a folder")
    one_line_error(cli(*tune, "--out", tmp_path / "det.png", "--plot", tmp_path / "det.png"),
                   "--out and --plot name one file")
    kept = tmp_path / "kept.png"
    kept.write_text("keep me")
    one_line_error(cli(*tune, "--plot", kept), f"--plot {kept}", "exists; add --force")
    assert kept.read_text() == "keep me" and not (tmp_path / "det.png").exists()


def test_class_names_that_would_leave_the_dataset_are_refused(tmp_path, wav):
    recs = tmp_path / "recs"
    recs.mkdir()
    shutil.copy(wav, recs / "rec.wav")
    (recs / "rec.txt").write_text("0.1\t0.9\tknock\n")
    out = tmp_path / "data"
    one_line_error(cli("dataset", "from-labels", recs, "--out", out, "--background-label", ".."),
                   "--background-label", "'..'")
    assert not out.exists()
    (recs / "rec.txt").write_text("0.1\t0.9\t..\n")
    one_line_error(cli("dataset", "from-labels", recs, "--out", out), "rec.txt:1", "'..'")
    assert not out.exists() and not (tmp_path / "rec_0000.wav").exists()


@pytest.mark.parametrize("group,action", [("device", "proxy"), ("bench", "frontend"),
                                          ("dataset", "check")])
def test_a_group_without_action_prints_its_actions(group, action):
    r = cli(group)
    assert r.returncode == 2 and action in r.stdout and "evaluate-segments" not in r.stdout


def test_truncated_wav_is_noted(tmp_path, wav):
    cut = tmp_path / "cut.wav"
    cut.write_bytes(wav.read_bytes()[: 44 + 2 * 10000 + 1])
    notes: list = []
    assert len(load_audio(cut, 16000, notes)) == 10000
    assert any("truncated WAV" in n for n in notes)
    assert any("truncated WAV" in n for n in open_audio(cut, 16000).notes)
    r = cli("classify", ROOT / "models/drums", cut)
    assert r.returncode == 0 and "truncated WAV" in r.stderr
    notes = []
    load_audio(wav, 16000, notes)
    assert notes == []


def test_classify_prints_the_conversion_notes(tmp_path, wav):
    data, _ = sf.read(wav, dtype="int16")
    st = tmp_path / "stereo44.wav"
    sf.write(st, np.stack([data, data], 1), 44100, subtype="PCM_16")
    r = cli("classify", ROOT / "models/drums", st)
    assert r.returncode == 0
    assert "downmixed to mono" in r.stderr and "resampled from 44100" in r.stderr


def test_npy_outputs_are_ordinary_files(tmp_path, wav):
    out = tmp_path / "f.npy"
    assert cli("features", wav, "--out", out).returncode == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


def test_features_does_not_replace_files_without_force(tmp_path, wav):
    out, png = tmp_path / "f.npy", tmp_path / "keep.png"
    out.write_bytes(b"earlier")
    png.write_bytes(b"precious")
    one_line_error(cli("features", wav, "--out", out), str(out), "exists", "--force")
    one_line_error(cli("features", wav, "--out", tmp_path / "g.npy", "--plot", png),
                   str(png), "exists", "--force")
    assert out.read_bytes() == b"earlier" and png.read_bytes() == b"precious"
    assert not (tmp_path / "g.npy").exists()
    assert cli("features", wav, "--out", out, "--force").returncode == 0
    assert np.load(out).ndim == 2


def test_one_list_of_audio_extensions(tmp_path, wav):
    """Every command that looks into a folder finds the same files: features (find_audio)
    and datasets (a folder per class) use audio.AUDIO_EXTENSIONS."""
    data, rate = sf.read(wav, dtype="int16")
    cls = tmp_path / "data" / "kick"
    cls.mkdir(parents=True)
    for ext in (".wav", ".flac", ".ogg", ".aiff", ".au"):
        sf.write(cls / f"x{ext}", data, rate)
    (cls / "notes.txt").write_text("not audio")
    found = find_audio([tmp_path / "data"])
    ds = load_dataset(str(tmp_path / "data"))
    assert sorted(found) == sorted(p for p, _, _ in ds.items)
    assert {p.suffix for p in found} <= set(AUDIO_EXTENSIONS) and len(found) == 5


def test_unreachable_socket_says_cannot_connect():
    one_line_error(cli("device", "info", "--device", "socket://127.0.0.1:9"), "cannot connect")


@pytest.mark.parametrize("kind", ["damaged", "float"])
def test_verify_of_a_bad_model_leaves_no_report(tmp_path, wav, kind):
    """Defect 8: a damaged or float model is refused before the report folder is made (no
    run.json or results.jsonl left behind to --resume)."""
    tflite = os.urandom(3000) if kind == "damaged" else (DRUMS / "model_float.tflite").read_bytes()
    bad = _model_copy(tmp_path, kind, tflite=tflite)
    report = tmp_path / "report"
    one_line_error(cli("verify", bad, wav.parent, "--report", report), "model.tflite")
    assert not report.exists()


@pytest.mark.parametrize("model, calibrate, windows", [
    (None, "2", "30 windows, all of them calibrating the energy gate (--calibrate 2 s: 40"),
    (None, "1", None),                  # 20 of its 30 blocks of 50 ms calibrate
    # 0.53 s windows every 96 ms: 11 windows in 1.5 s, the 11 of 1 s all calibrate, though the
    # file is longer than 1 s; 0.9 s leaves one window to decide
    ("models/speech", "1", "11 windows, all of them calibrating the energy gate (--calibrate 1 s: 11"),
    ("models/speech", "0.9", None),
])
def test_a_file_whose_windows_all_calibrate_the_gate_is_noted(wav, model, calibrate, windows):
    """Its windows all calibrate the gate (silent by design): no events, and a note says why
    rather than leave it to read as a file without sound (1.5 s here)."""
    first = ("--activity-only",) if model is None else (ROOT / model,)
    r = cli("segment", *first, wav, "--calibrate", calibrate, "--quiet")
    assert r.returncode == 0 and not r.stdout.strip(), (r.stdout, r.stderr)
    if windows is None:
        assert "note:" not in r.stderr, r.stderr
    else:
        assert f"note: {wav} (1.5 s) makes {windows} windows)" in r.stderr, r.stderr
        assert "0 events" in r.stderr, r.stderr


def test_a_reader_that_goes_away_ends_the_command_quietly():
    """`micromel boards --json | head`: the reader closes the pipe before micromel writes; no
    BrokenPipeError traceback (there was one), the exit code a shell gives such a writer."""
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}   # buffered, as
    p = subprocess.Popen([sys.executable, "-m", "micromel", "boards", "--json"],  # usually
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={**env, "PYTHONPATH": str(ROOT / "python")})
    p.stdout.close()
    err = p.stderr.read()
    p.wait(timeout=60)
    assert p.returncode == 141 and "Traceback" not in err, err


@pytest.mark.parametrize("argv, says", [
    # pyserial's reasons were "('debug|info|warning|error')" and "('<=' not supported ...)"
    (["device", "info", "--device", "socket://127.0.0.1:99999"], "expected socket://HOST:PORT"),
    (["device", "info", "--device", "socket://127.0.0.1"], "expected socket://HOST:PORT"),
    # tracebacks before: OverflowError from bind(), OSError 99, and QEMU restarted forever
    # on the one port (a port above 65535 had QEMU listen on it modulo 65536)
    (["device", "proxy", "--listen", "70000"], "--listen: 70000: must be at most 65535"),
    (["farm", "board", "--uart-port", "70000", "--ctl-port", "5001"], "must be at most 65535"),
    (["farm", "board", "--uart-port", "5000", "--ctl-port", "5000"],
     "--uart-port and --ctl-port: both 5000"),
    # 192.0.2.1: TEST-NET-1, documentation only, never an address of this host
    (["farm", "board", "--uart-port", "5000", "--ctl-port", "5001", "--bind", "192.0.2.1"],
     "--bind 192.0.2.1: cannot listen there"),
])
def test_ports_and_addresses_are_checked_before_any_work(argv, says, monkeypatch):
    from micromel.boards import firmware
    monkeypatch.setattr(firmware, "build", _must_not_run("built firmware before the check"))
    r = cli(*argv)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert says in r.stderr, r.stderr


def test_a_farm_boards_port_in_use_is_refused_before_any_work(monkeypatch):
    import socket
    from micromel.boards import firmware
    monkeypatch.setattr(firmware, "build", _must_not_run("built firmware before the check"))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        one_line_error(cli("farm", "board", "--uart-port", port, "--ctl-port", port + 1),
                       f"--uart-port {port}: cannot listen on it at 127.0.0.1")


def test_save_uncertain_refuses_a_folder_with_this_recordings_windows_before_the_run(
        tmp_path, wav, monkeypatch):
    """The windows' names depend on where the model was unsure, so a clash was found only
    after the whole run (then nothing was saved, --out not written); windows of another
    recording in the folder are fine."""
    from micromel.segment import run
    shutil.copy(wav, tmp_path / "s.wav")
    saved = tmp_path / "unsure"
    saved.mkdir()
    shutil.copy(wav, saved / "other_00001.000-00001.500.wav")
    shutil.copy(wav, saved / "s_2_00001.000-00001.500.wav")    # a window of s_2, not of s
    shutil.copy(wav, saved / "s_00000.384-00000.912.wav")
    with monkeypatch.context() as m:
        m.setattr(run, "Scorer", _must_not_run("the model ran before the folder was checked"))
        one_line_error(cli("segment", ROOT / "models/speech", tmp_path / "s.wav",
                           "--save-uncertain", saved, "--quiet"),
                       f"--save-uncertain {saved}: holds windows of s already")
    (saved / "s_00000.384-00000.912.wav").unlink()
    r = cli("segment", ROOT / "models/speech", tmp_path / "s.wav", "--save-uncertain", saved,
            "--quiet")
    assert r.returncode == 0, r.stderr


def test_verify_does_not_write_its_report_among_a_users_files(tmp_path, wav, monkeypatch):
    """--report DIR holding files of another kind (no run.json): refused before any device is
    opened; a verify report (run.json) is what verify may write into again."""
    from micromel.hil import verify
    monkeypatch.setattr(verify, "open_devices", _must_not_run("opened a device first"))
    for c in ("cymbal", "kick"):
        (tmp_path / "ds" / c).mkdir(parents=True)
        shutil.copy(wav, tmp_path / "ds" / c / "1.wav")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "report.md").write_text("my notes")
    one_line_error(cli("verify", DRUMS, tmp_path / "ds", "--report", mine),
                   f"--report {mine}: holds files and is not a report of verify")
    assert [p.name for p in mine.iterdir()] == ["report.md"]
    (mine / "run.json").write_text("{}")        # a report of verify: taken (the stand-in runs)
    with pytest.raises(AssertionError, match="opened a device first"):
        cli("verify", DRUMS, tmp_path / "ds", "--report", mine)


def test_a_peer_that_is_not_installed_is_named_with_how_to_install_it(tmp_path, monkeypatch):
    """silero-vad's wheel is installed apart from micromel[peers] (the extra's line alone sent a
    user round twice); named before any stream is read, with the --peers that leaves it out."""
    from micromel.segment import peers
    real = peers.importlib.util.find_spec
    monkeypatch.setattr(peers.importlib.util, "find_spec",
                        lambda name, *a: None if name in ("silero_vad", "onnxruntime")
                        else real(name, *a))
    one_line_error(cli("evaluate-segments", ROOT / "models/speech", tmp_path / "no_streams",
                       "--peers", "auditok,silero"),
                   "--peers: silero is not installed (pip install 'micromel[peers]'; pip install "
                   "--no-deps silero-vad); or leave it out: --peers auditok")


def test_listen_at_boot_with_every_board_builds_the_boards_it_suits(capsys):
    """build's default --board all holds emulated and real boards: --listen-at-boot mic
    builds the real ones and names the others (refused, it could never be used with the
    default); a board named that the source does not suit is refused (above)."""
    from types import SimpleNamespace

    from micromel.boards import catalogue
    from micromel.boards.cli import _boot_source_boards

    every = catalogue.find_boards("all")
    for source, want in (("mic", [b for b in every if not b.emulated]),
                         ("file", [b for b in every if b.emulated]), (None, every)):
        args = SimpleNamespace(board="all", listen_at_boot=source)
        assert _boot_source_boards(args, every) == want
        err = capsys.readouterr().err
        skipped = [b.name for b in every if b not in want]
        assert (f"not built for {', '.join(skipped)}" in err) if skipped else not err, err


def test_no_progress_bar_in_a_log_and_the_error_on_its_own_line(tmp_path, wav):
    """stream-check into a pipe (a CI log): no progress bar (it printed one, and the error
    went onto its end); progress there is plain lines (micromel.progress)."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "micromel", "stream-check", str(DRUMS), str(wav),
                        "--device", "socket://127.0.0.1:9"], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 2
    assert r.stderr.startswith("micromel: error: --device socket://127.0.0.1:9: cannot connect")
    assert r.stderr.count("\n") == 1 and "\r" not in r.stderr and "%|" not in r.stderr, r.stderr
