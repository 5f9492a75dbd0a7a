"""The host segmentation pipeline (micromel.segment.run), the writers and the CLI."""
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from micromel.segment.machine import segment_windows
from micromel import audio
from micromel.modeldir import ModelDir
from micromel.segment import run as R
from micromel.clip import rules as W
from micromel.cli import main
from micromel.frontend import FrontendConfig, features

MODEL = Path(__file__).resolve().parents[2] / "models" / "speech"


def test_window_cutter_equals_the_window_rules_for_any_chunking():
    fe = FrontendConfig()
    rng = np.random.default_rng(3)
    pcm = (rng.standard_normal(16000 * 2) * 3000).astype(np.int16)
    wc = W.WindowConfig(frames=32, hop_frames=6)
    fr = W.Framing(fe.hop_length, fe.frame_length)
    want = W.cut_windows(features(pcm, fe), wc)
    want_e = W.window_energies(pcm, len(want), wc, fr)
    for sizes in ([len(pcm)], [1000] * 40, list(rng.integers(1, 5000, size=60))):
        cut = R.WindowCutter(fe, 32, 6)
        got, pos = [], 0
        for n in sizes:
            got += list(cut.push(pcm[pos:pos + n]))
            pos += n
        got += list(cut.push(pcm[pos:])) + list(cut.finish())
        assert len(got) == len(want)
        assert all(np.array_equal(g[0], w) for g, w in zip(got, want))
        assert [g[1] for g in got] == want_e


def test_short_stream_is_padded_to_one_window():
    fe = FrontendConfig()
    cut = R.WindowCutter(fe, 32, 6)
    pcm = np.full(1000, 1000, np.int16)
    got = list(cut.push(pcm)) + list(cut.finish())
    assert len(got) == 1
    padded = W.pad_clip(pcm, W.WindowConfig(frames=32, hop_frames=6), W.Framing(256, 512))
    assert np.array_equal(got[0][0], features(padded, fe)[:32])
    assert got[0][1] == 1000 * 1000 ** 2


def _tone_file(path, sr=16000):
    x = np.zeros(sr * 4, np.int16)
    t = np.arange(sr) / sr
    x[sr: 2 * sr] = (6000 * np.sin(2 * np.pi * 300 * t)).astype(np.int16)
    x[int(2.5 * sr): int(3.1 * sr)] = (6000 * np.sin(2 * np.pi * 500 * t[: int(0.6 * sr)])).astype(np.int16)
    sf.write(path, x, sr, subtype="PCM_16")
    return path


def test_activity_only_cli_writes_json_audacity_and_tsv(tmp_path, capsys):
    wav = _tone_file(tmp_path / "tones.wav")
    out = tmp_path / "out"
    assert main(["segment", "--activity-only", str(wav), "--out", str(out), "--quiet",
                 "--threshold-db", "-40", "--max-gap", "0.1"]) == 0
    doc = json.loads((out / "tones.events.json").read_text())
    spans = [(e["start"], e["end"]) for e in doc["events"]]
    assert spans == [(1.0, 2.0), (2.5, 3.1)]
    assert (out / "tones.labels.txt").read_text().splitlines()[0] == "1.000000\t2.000000\tactivity"
    tsv = (out / "segments_activity.tsv").read_text().splitlines()
    assert tsv[1].split("\t")[1:] == ["activity", "0.4000", "1.000", "2.000", "2.500", "3.100"]


def test_bad_inputs_are_one_line_errors(tmp_path, capsys):
    assert main(["segment", "--activity-only", str(tmp_path / "missing.wav")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.wav: no such file" in err
    assert main(["segment", str(tmp_path), str(tmp_path / "x.wav")]) == 2
    assert "not a model folder" in capsys.readouterr().err
    assert main(["segment", "--activity-only", "--median", "4", str(tmp_path / "x.wav")]) == 2
    assert "median" in capsys.readouterr().err


def test_resampled_stereo_input_is_read_in_blocks(tmp_path):
    sr = 22050
    t = np.arange(sr * 2) / sr
    x = np.stack([0.3 * np.sin(2 * np.pi * 440 * t)] * 2, axis=1)
    sf.write(tmp_path / "s.wav", x, sr, subtype="FLOAT")
    a = audio.open_audio(tmp_path / "s.wav", 16000)
    got = np.concatenate(list(a.chunks(block=3000)))
    want = audio.load_audio(tmp_path / "s.wav", 16000)
    assert abs(len(got) - len(want)) <= 1
    n = min(len(got), len(want))
    assert np.max(np.abs(got[:n].astype(int) - want[:n])) <= 2     # resampler rounding only


@pytest.mark.skipif(not (MODEL / "model.tflite").exists(), reason="models/speech not trained")
def test_streaming_segmentation_equals_whole_clip_reference(tmp_path):
    """segment_file (streaming, chunked) == the state machine over windows cut from the
    whole clip's features, scored by the TFLite Micro reference."""
    from micromel.clip.reference import Reference

    rng = np.random.default_rng(0)
    sr = 16000
    x = (rng.standard_normal(sr * 6) * 300).astype(np.float64)
    t = np.arange(sr) / sr
    x[sr: 2 * sr] += 8000 * np.sin(2 * np.pi * 200 * t) * np.sin(2 * np.pi * 3 * t) ** 2
    pcm = np.clip(x, -32768, 32767).astype(np.int16)
    wav = tmp_path / "s.wav"
    sf.write(wav, pcm, sr, subtype="PCM_16")
    model = ModelDir.open(MODEL)
    # the whole-clip reference has no frame energies: boundaries on the windows' slices
    # (refinement is checked against C in test_segment_c.py and on the board); every class
    # makes events, so that the event lists compared below are not both empty
    p = model.segment_params(model.segment.replace(refine=False, background_labels=()))
    res = R.segment_file(wav, model, p, keep_trace=True)
    assert res.events
    ref = Reference(model)
    wc = W.WindowConfig(frames=p.window_frames, hop_frames=p.hop_frames,
                        silence_rms_dbfs=ref.wcfg.silence_rms_dbfs)
    wins = W.cut_windows(ref.features(pcm), wc)
    mask = W.nonsilent_mask(pcm, len(wins), wc, ref.framing)
    results = [(ref.scores(w) if m else None, not m) for w, m in zip(wins, mask)]
    assert [s is None for s in res.trace.scores] == [r[0] is None for r in results]
    assert all(np.array_equal(a, b) for a, b in zip(res.trace.scores, [r[0] for r in results])
               if a is not None)
    assert [e.raw for e in res.events] == segment_windows(results, p)


@pytest.mark.skipif(not (MODEL / "model.tflite").exists(), reason="models/speech not trained")
def test_segment_cli_with_the_speech_model_and_plot(tmp_path):
    wav = _tone_file(tmp_path / "tones.wav")
    out = tmp_path / "out"
    # thresholds so low that every non-silent stretch is an event: the outputs are not empty
    loose = ["--enter", "0.004", "--exit", "0.004", "--min-duration", "0"]
    assert main(["segment", str(MODEL), str(wav), "--out", str(out), "--plot", "--quiet",
                 *loose]) == 0
    assert (out / "tones.segments.png").stat().st_size > 10000
    doc = json.loads((out / "tones.events.json").read_text())
    assert doc["labels"] == json.loads((MODEL / "config.json").read_text())["labels"]
    model = ModelDir.open(MODEL)
    p = model.segment_params(model.segment.replace(enter=0.004, exit=0.004, min_duration=0.0))
    want = R.segment_file(wav, model, p).events
    assert want and doc["events"] == [e.to_dict() for e in want]
    (line,) = (out / "segments_speech.tsv").read_text().splitlines()[1:]
    speech = [f"{t:.3f}" for e in want if e.label == "speech" for t in (e.start, e.end)]
    assert speech and line.split("\t")[3:] == speech


def test_window_cutter_memory_does_not_grow_with_the_stream():
    fe = FrontendConfig()
    cut = R.WindowCutter(fe, 32, 6)
    rng = np.random.default_rng(0)
    chunk = (rng.standard_normal(4000) * 1000).astype(np.int16)
    sizes = []
    for _ in range(300):                       # 75 s
        for _ in cut.push(chunk):
            pass
        sizes.append((len(cut.pcm), len(cut.frames)))
    assert max(s[0] for s in sizes) <= cut.span + len(chunk)
    assert max(s[1] for s in sizes) <= 32 + len(chunk) // 256 + 1


def test_segment_and_listen_name_rejected_events_unknown(tmp_path):
    """An event is "unknown" when the model's rejection rule rejects it (clip/reject.py
    event_label: voted the other class, or confidence below min_top), in segment's outputs
    and in listen's device events alike."""
    from micromel.clip.reject import RejectConfig, event_label, UNKNOWN
    from micromel.listen.run import timed_events

    wav = _tone_file(tmp_path / "tones.wav")
    model = ModelDir.open(MODEL)
    speech = list(model.labels).index("speech")
    # every non-silent stretch an event: the naming, not the model's opinion, is under test
    p = model.segment_params(model.segment.replace(enter=0.004, exit=0.004, min_duration=0.0))
    plain = R.segment_file(wav, model, p).events
    assert plain and {e.label for e in plain} == {"speech"}
    confs = sorted(e.raw.confidence for e in plain)
    cut = confs[len(confs) // 2] if confs[0] < confs[-1] else confs[0] + 1
    names = {}
    for rule in (RejectConfig(min_top=cut), RejectConfig(other_class=speech),
                 RejectConfig(min_margin=255)):          # a clip-only rule: events unchanged
        ev = R.segment_file(wav, model.replace(reject=rule), p).events
        assert [e.raw for e in ev] == [e.raw for e in plain]
        want = ["unknown" if event_label(e.raw.label, e.raw.confidence, rule) == UNKNOWN
                else "speech" for e in plain]
        assert [e.label for e in ev] == want
        raw = [(0, e.raw.onset, e.raw.offset, e.raw.label, e.raw.confidence) for e in plain]
        assert [e.label for e in timed_events(raw, list(model.labels), p, rule)] == want
        names[rule] = want
    assert "unknown" in names[RejectConfig(min_top=cut)]
    assert set(names[RejectConfig(other_class=speech)]) == {"unknown"}
    assert set(names[RejectConfig(min_margin=255)]) == {"speech"}


def test_evaluate_segments_by_source_counts_the_reference_per_source(tmp_path, capsys):
    streams = tmp_path / "streams"
    streams.mkdir()
    _tone_file(streams / "s0.wav")
    (streams / "s0.events.tsv").write_text("onset\toffset\tevent_label\tsource\n"
                                           "1.0\t2.0\tspeech\tvoices/alice\n"
                                           "2.5\t3.1\tnonspeech\tbells/b1\n")
    (streams / "streams.csv").write_text("name,bed,bed_source,seconds,speech_events,speech_seconds\n"
                                         "s0,noise,hum/low,4,1,1.0\n")
    js = tmp_path / "out.json"
    assert main(["evaluate-segments", str(MODEL), str(streams), "--peers", "", "--by", "source",
                 "--quiet", "--json", str(js)]) == 0
    text = capsys.readouterr().out
    out = json.loads(js.read_text())
    by = out["by_source"]["micromel"]
    # one speech source: its recall is micromel's segment recall over the stream
    assert by["recall"]["voices"] == {"segments": 10,
                                      "rate": out["systems"]["micromel"]["all"]["segment"]["recall"]}
    assert by["false_alarm"]["nonspeech: bells"]["segments"] == 6
    assert by["false_alarm"]["bed: hum (noise)"]["segments"] == 40 - 10 - 6
    assert "recall:" in text and "voices" in text and "bed: hum (noise)" in text
    assert sum(by["misses"]["voices"].values()) == round(10 * (1 - by["recall"]["voices"]["rate"]))
    assert main(["evaluate-segments", str(MODEL), str(streams), "--by", "source", "--tune"]) != 0
    assert "--by source: not with --tune" in capsys.readouterr().err
