"""Listening in the host build of the firmware (the same C, driven over the protocol in
process, no emulator): the file and generator sources unpaced, the pipeline's events against
`micromel segment`'s, the generator against its numpy twin, the checksum twin."""
import numpy as np
import pytest

from micromel import codegen
from micromel.audio import load_audio, open_audio, write_wav
from micromel.link import host as native
from micromel.listen import run
from micromel.listen.generator import Generator
from micromel.listen.session import Listener, checksum
from micromel.segment import run as segment_run


_GEN = {}


def _listener(model, tmp_path):
    """A fresh firmware app in process (host build, one per model per session)."""
    if model.path not in _GEN:
        _GEN[model.path] = tmp_path / "gen"
        codegen.export(model, _GEN[model.path])
    return Listener(native.host_device(_GEN[model.path], model.path))


@pytest.mark.parametrize("which", ["drums", "speech_any"])
def test_file_events_equal_segment(which, stream_wav, tmp_path, request):
    model = request.getfixturevalue(which)
    p = model.segment_params()
    host = segment_run.segment_file(stream_wav, model, p)
    mic = run.prepare_mic(stream_wav, p.sample_rate, tmp_path)
    lst = _listener(model, tmp_path)
    res = run.listen(lst, "file", str(mic.pcm), unpaced=True, want_windows=True)
    assert len(host.events) >= 5
    assert run.timed_events(res.raw, model.labels, p, model.reject) == host.events
    st = res.status
    assert (st.samples, st.checksum, st.overruns) == (mic.n_samples, mic.checksum, 0)
    # every window result, too
    twin = list(segment_run.host_window_results(open_audio(stream_wav, 16000).chunks(),
                                                model, p))
    assert len(res.windows) == len(twin) == st.windows
    for (_, idx, silent, scores), (t_scores, t_silent, _) in zip(res.windows, twin):
        assert silent == t_silent and (silent or np.array_equal(scores, t_scores)), idx


def test_short_file_is_padded_like_segment(drums, tmp_path):
    wav = tmp_path / "short.wav"
    pcm = (np.random.default_rng(2).standard_normal(3000) * 4000).astype(np.int16)
    import soundfile as sf
    sf.write(wav, pcm, 16000, subtype="PCM_16")
    p = drums.segment_params()
    host = segment_run.segment_file(wav, drums, p)
    mic = run.prepare_mic(wav, 16000, tmp_path)
    res = run.listen(_listener(drums, tmp_path), "file", str(mic.pcm), unpaced=True)
    assert res.status.windows == 1 and res.status.samples == 3000
    assert run.timed_events(res.raw, drums.labels, p, drums.reject) == host.events


@pytest.mark.parametrize("kind,hz,amp", [("tone", 440, 30000), ("tone", 3000, 8000),
                                         ("noise", 0, 12000), ("silence", 0, 0)])
def test_generator_equals_its_twin(kind, hz, amp, drums, tmp_path):
    lst = _listener(drums, tmp_path)
    pieces, st = run.record(lst, kind, 1.5, tone_hz=hz or 1000, amplitude=amp, unpaced=True)
    want = Generator(kind, 16000, hz or 1000, amp).take(24000)
    assert len(pieces) == 1 and st.overruns == 0
    assert np.array_equal(pieces[0], want)
    assert st.checksum == checksum(want)


def test_checksum_twin():
    x = np.random.default_rng(0).integers(-32768, 32767, 40000).astype(np.int16)
    h = 0
    for v in x[:1000]:
        h = (h * 31 + (int(v) & 0xFFFF)) & 0xFFFFFFFF
    assert checksum(x[:1000]) == h
    assert checksum(x[1000:], checksum(x[:1000])) == checksum(x)


def test_no_file_and_bad_requests(drums, tmp_path):
    from micromel.errors import DeviceError
    lst = _listener(drums, tmp_path)
    with pytest.raises(DeviceError, match="cannot open its file"):
        lst.start("file", str(tmp_path / "missing.pcm"), flags=8)
    with pytest.raises(DeviceError, match="no audio timer"):
        lst.start("tone")          # paced: the host build has no board clock
    assert not lst.status().listening
