"""The emulated board listens through its emulated microphone (a file read through Arm
semihosting, one half-buffer per period of the board's timer, at 25 M instructions per
second of audio), in real time: the events equal `micromel segment`'s on the same file, with
no overrun; an overloaded board reports its overruns and keeps answering; recording and
listening at boot. (The 10-minute run is a documented command: docs/hil.md.)"""
import socket
import subprocess
import sys

import numpy as np
import pytest

from micromel import codegen
from micromel.audio import load_audio, open_audio, write_wav
from micromel.boards import firmware
from micromel.link.emulator import Emulator
from micromel.link.model_device import open_model_device
from micromel.listen import run
from micromel.listen.generator import Generator
from micromel.listen.session import Listener
from micromel.paths import MODELS_DIR
from micromel.segment import run as segment_run
from processes import children, still_running_after

pytestmark = pytest.mark.emulator


def _cli(*argv, cwd):
    return subprocess.run([sys.executable, "-m", "micromel", *map(str, argv)], cwd=cwd,
                          capture_output=True, text=True, timeout=900)


def test_listen_30s_equals_segment_in_real_time(stream_wav, tmp_path):
    """The CI version of the 10-minute measure, through the commands themselves."""
    listen = _cli("listen", MODELS_DIR / "drums", "--device", "emulate", "--mic", stream_wav,
                  "--out", tmp_path / "listen", "--save-uncertain", tmp_path / "unsure_l",
                  "--uncertain", 5, cwd=tmp_path)
    assert listen.returncode == 0, listen.stderr[-2000:]
    seg = _cli("segment", MODELS_DIR / "drums", stream_wav, "--out", tmp_path / "segment",
               "--quiet", "--save-uncertain", tmp_path / "unsure_s", "--uncertain", 5, cwd=tmp_path)
    assert seg.returncode == 0, seg.stderr[-2000:]
    for name in ("stream30.events.json", "stream30.labels.txt", "segments_cymbal.tsv"):
        assert (tmp_path / "listen" / name).read_text() == (tmp_path / "segment" / name).read_text()
    # the least sure windows by the device's scores while listening == by segment's twin
    unsure = sorted(p.name for p in (tmp_path / "unsure_l").iterdir())
    assert len(unsure) == 5 and unsure == sorted(p.name for p in (tmp_path / "unsure_s").iterdir())
    assert all((tmp_path / "unsure_l" / n).read_bytes() == (tmp_path / "unsure_s" / n).read_bytes()
               for n in unsure)
    assert (tmp_path / "listen" / "stream30.labels.txt").read_text().count("\n") >= 20
    # the status line, then "wrote ..." and the least sure windows' line
    status = [line for line in listen.stderr.splitlines() if "latency max" in line][-1]
    assert "overruns 0," in status and "30.00 s" in status


def test_listen_status_measures(speech_any, stream_wav, tmp_path):
    p = speech_any.segment_params()
    host = segment_run.segment_file(stream_wav, speech_any, p)
    mic = run.prepare_mic(stream_wav, p.sample_rate, tmp_path)
    with open_model_device("emulate", speech_any) as dev:
        lst = Listener(dev)
        statuses = []
        res = run.listen(lst, "file", str(mic.pcm), on_status=statuses.append)
        assert dev.ping(b"after") > 0
    st = res.status
    assert run.timed_events(res.raw, speech_any.labels, p, speech_any.reject) == host.events and host.events
    assert (st.samples, st.checksum, st.overruns, st.dropped) == (mic.n_samples, mic.checksum, 0, 0)
    assert st.windows == len(list(segment_run.host_window_results(
        open_audio(stream_wav, 16000).chunks(), speech_any, p)))
    assert 0 < st.inferences <= st.windows
    # one status per second of audio, then the end
    assert len(statuses) == 31 and [s.samples for s in statuses[:3]] == [16128, 32000, 48128]
    # paced at the board's clock: 25 M instructions per second of audio, elapsed included
    assert st.unit == "instructions" and st.clock_hz == 25_000_000
    assert abs(st.elapsed * st.num / st.den - 30 * 25e6) < 1e6
    assert 0.2 < st.cpu_load() < 0.9 and 0 < st.latency() < 0.2
    assert 0 < st.stack_used < st.stack_size and 0 < st.fill_max <= 12 * 256


def test_overload_reports_overruns_and_keeps_running(stream_wav, tmp_path):
    """A hop the board cannot keep up with: one window per front-end frame (62.5 inferences
    per second of ~1.4 M instructions each, far over 25 M)."""
    import shutil
    from micromel.modeldir import ModelDir
    d = tmp_path / "overload"
    shutil.copytree(MODELS_DIR / "speech", d)
    m = ModelDir.open(d)
    m.replace(segment=m.segment.replace(hop_frames=1)).save()
    r = _cli("listen", d, "--device", "emulate", "--mic", stream_wav, "--seconds", "8", "--quiet",
             cwd=tmp_path)
    assert r.returncode == 1, r.stderr[-2000:]
    assert "could not keep up: it dropped" in r.stderr and "s of 8.00 s of audio" in r.stderr
    assert "with a window every 0.016 s it needs" in r.stderr
    with open_model_device("emulate", ModelDir.open(d)) as dev:
        lst = Listener(dev)
        mic = run.prepare_mic(stream_wav, 16000, tmp_path, seconds=8)
        res = run.listen(lst, "file", str(mic.pcm))
        st = res.status
        assert st.overruns > 10 and st.dropped == 256 * st.overruns
        assert st.samples + st.dropped == 8 * 16000           # nothing lost silently
        # the gaps restart the pipeline, whose first window waits 0.5 s for its frames: busy
        # well over half the time, and at one window per frame it needs over 3x its clock
        assert st.utilisation() > 0.5 and st.inferences > 0
        assert st.steady_load(16000 / 256) > 3
        assert dev.ping(b"still here") > 0 and not lst.status().listening
        # runs restart after each gap: events carry their run's start
        assert all(run_start % 256 == 0 for run_start, *_ in res.raw)


def test_record_generator_and_file(stream_wav, tmp_path):
    out = tmp_path / "data" / "tone"
    r = _cli("record", "--device", "emulate", "--source", "tone", "--tone-hz", "440",
             "--seconds", "2", "--clip-seconds", "1", "--out", out, "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    files = sorted(out.glob("tone-*.wav"))
    assert len(files) == 2
    got = np.concatenate([load_audio(f, 16000) for f in files])
    assert np.array_equal(got, Generator("tone", 16000, 440, 8000).take(32000))
    out2 = tmp_path / "data" / "stream"
    r = _cli("record", "--device", "emulate", "--mic", stream_wav, "--seconds", "3", "--out", out2,
             "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    (f,) = out2.glob("*.wav")
    assert np.array_equal(load_audio(f, 16000), load_audio(stream_wav, 16000)[:48000])


def test_listen_at_boot_prints_text_lines(drums, tmp_path):
    """Built with MM_LISTEN_AT_BOOT (the noise generator, 3 s): no host message at all, the
    UART carries event lines and the end line, the events `micromel segment` finds in the
    generator's twin."""
    gen = tmp_path / "gen"
    codegen.export(drums, gen)
    elf = firmware.build("emulate", gen_dir=gen, model_dir=drums.path,
                         defines=("MM_LISTEN_AT_BOOT=4", "MM_LISTEN_BOOT_SAMPLES=48000u"))
    emu = Emulator(elf, "mps2-an386")
    port = emu.start()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
            text = b""
            while b"# end" not in text or not text.endswith(b"\n"):
                chunk = s.recv(4096)
                assert chunk, "the emulator closed the UART"
                text += chunk
    finally:
        emu.stop()
    lines = text.decode().splitlines()
    wav = tmp_path / "noise.wav"
    write_wav(wav, Generator("noise", 16000).take(48000))
    p = drums.segment_params()
    want = [run.event_line(e) for e in segment_run.segment_file(wav, drums, p).events]
    assert lines[:-1] == want and want
    assert lines[-1].startswith("# end 48000 samples") and "overruns 0" in lines[-1]


def test_ctrl_c_stops_listening_and_keeps_the_outputs(stream_wav, tmp_path):
    """Ctrl-C as a terminal sends it, to the whole foreground process group, once the first
    event is out: the device stops cleanly and --out is written (QEMU was in micromel's group
    and died with the signal: "link lost", nothing written); the emulator is gone after."""
    import json
    import os
    import signal

    p = subprocess.Popen([sys.executable, "-m", "micromel", "listen", str(MODELS_DIR / "drums"),
                          "--device", "emulate", "--mic", str(stream_wav), "--out",
                          str(tmp_path / "out")], cwd=tmp_path, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        first = p.stdout.readline()          # the first event, printed live
        qemu = children(p.pid)
        os.killpg(p.pid, signal.SIGINT)
        rest, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    assert first and p.returncode == 0 and "link lost" not in err, (first, err[-2000:])
    doc = json.loads((tmp_path / "out" / "stream30.events.json").read_text())
    assert doc["events"] and doc["duration"] < 29.0, doc      # stopped before the file's end
    assert (tmp_path / "out" / "stream30.labels.txt").exists()
    assert qemu and not still_running_after(qemu)

