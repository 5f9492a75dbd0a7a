"""STREAM with segmentation on the device: every window result and every event
of the firmware (host build, and the emulated board) equals the twin's
(segment.run.host_window_results -> segment.machine.segment_windows)."""
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from micromel import codegen
from micromel.audio import load_audio
from micromel.data import debpkg
from micromel.errors import MicromelError
from micromel.hil.stream_check import check_against_twin
from micromel.link import host as native
from micromel.link.stream import DeviceWindowResults
from micromel.modeldir import ModelDir

SPEECH = Path(__file__).resolve().parents[2] / "models" / "speech"
pytestmark = pytest.mark.skipif(not (SPEECH / "model.tflite").exists(), reason="models/speech missing")


# the second smooths by the mean and suppresses events for 1.5 s after each one
VARIANTS = {"median": {}, "mean-suppress": {"smoothing": "mean", "suppress": 1.5}}


def with_segment(m: ModelDir, variant: str) -> ModelDir:
    """m with a segment config that makes events of both classes, calibrates its gate on the
    first second, splits long events and refines boundaries by the frames' energies."""
    return m.replace(segment=m.segment.replace(background_labels=[], calibrate_seconds=1.0,
                                               max_duration=1.5, min_duration=0.2, refine=True,
                                               **VARIANTS[variant]))


@pytest.fixture(scope="module", params=list(VARIANTS))
def model(request, tmp_path_factory):
    """A copy of the speech model with_segment(variant), saved."""
    d = tmp_path_factory.mktemp("m") / "speech_any"
    shutil.copytree(SPEECH, d)
    return with_segment(ModelDir.open(d), request.param).save()


def test_suppression_drops_events_of_this_stream(stream_wav):
    """The stream exercises the suppressing variant: with 1.5 s of suppression its events
    differ, and no event opens within that time of the previous one's end (a split piece or a
    class taking over, which open at once, excepted)."""
    from micromel.audio import open_audio
    from micromel.segment import run
    from micromel.segment.machine import segment_windows

    m = with_segment(ModelDir.open(SPEECH), "mean-suppress")
    p = m.segment_params()
    results = list(run.host_window_results(open_audio(stream_wav, p.sample_rate).chunks(),
                                           m, p, run.Scorer(m)))
    free = m.segment_params(m.segment.replace(suppress=0.0))
    events, unsuppressed = segment_windows(results, p), segment_windows(results, free)
    assert len(events) >= 3 and p.suppress == 16 and events != unsuppressed
    assert all(b.start - a.end >= p.suppress for a, b in zip(events, events[1:])
               if b.start > a.end)
    assert any(b.start - a.end < p.suppress for a, b in zip(unsuppressed, unsuppressed[1:])
               if b.start > a.end)


@pytest.fixture(scope="module")
def stream_wav(tmp_path_factory):
    """30 s: quiet noise bed, real drum hits and voiced-like harmonic bursts."""
    sr, rng = 16000, np.random.default_rng(11)
    x = rng.standard_normal(30 * sr) * 60
    root = debpkg.fetch("hydrogen-data") / "usr/share/hydrogen/data/drumkits"
    hits = sorted(p for p in root.rglob("*") if p.suffix.lower() in (".wav", ".flac"))[:12]
    for i, h in enumerate(hits):
        pcm = load_audio(h, sr)[: sr].astype(float)
        at = int((1.5 + 2.3 * i) * sr)
        x[at:at + len(pcm)] += pcm[: len(x) - at]
    t = np.arange(int(0.8 * sr)) / sr
    voiced = sum(np.sin(2 * np.pi * 130 * k * t) / k for k in range(1, 20)) * np.sin(np.pi * t / 0.8)
    for at in (4.0, 11.0, 19.5, 26.0):
        a = int(at * sr)
        x[a:a + len(t)] += 6000 * voiced
    x[int(14 * sr):int(16 * sr)] = 0  # digital silence
    path = tmp_path_factory.mktemp("s") / "stream.wav"
    sf.write(path, np.clip(x, -32768, 32767).astype(np.int16), sr, subtype="PCM_16")
    return path


def test_host_build_stream_events_equal_twin(model, stream_wav, tmp_path):
    gen = tmp_path / "gen"
    codegen.export(model, gen)
    dev = native.host_device(gen, model.path)
    t = check_against_twin(model, [stream_wav], dev, progress=False)
    assert t["windows"] > 200 and t["window_mismatches"] == 0
    assert t["events_twin"] >= 3 and t["event_mismatch_files"] == 0


def test_short_stream_is_padded_like_the_twin(model, tmp_path):
    wav = tmp_path / "short.wav"
    sf.write(wav, (np.random.default_rng(2).standard_normal(3000) * 4000).astype(np.int16), 16000,
             subtype="PCM_16")
    gen = tmp_path / "gen"
    codegen.export(model, gen)
    t = check_against_twin(model, [wav], native.host_device(gen, model.path), progress=False)
    assert t["windows"] == 1 and t["window_mismatches"] == 0 and t["event_mismatch_files"] == 0


@pytest.mark.emulator
def test_emulated_board_stream_events_equal_twin(model, stream_wav):
    t = check_against_twin(model, [stream_wav], "emulate", seconds=12.0, progress=False)
    assert t["windows"] > 100 and t["window_mismatches"] == 0
    assert t["events_twin"] >= 1 and t["event_mismatch_files"] == 0


def test_segmentation_options_that_differ_from_the_build_are_refused(model):
    p = model.segment_params()
    other = model.segment_params(model.segment.replace(median=model.segment.median + 2))
    assert other != p
    with pytest.raises(MicromelError, match="segmentation options differ"):
        DeviceWindowResults("emulate", model, other)
