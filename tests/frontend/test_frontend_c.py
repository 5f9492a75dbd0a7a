"""The C front end (host build of the firmware's own sources, portable path) against the
numpy twin: the same integers at every stage, on test signals, random input and 100+ real
recordings."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from micromel.frontend import FrontendConfig, StreamingFrontend, features, twin
from micromel.frontend.native import CFrontend
from micromel.frontend.signals import test_signals as make_signals

CFG = FrontendConfig()


@pytest.fixture(scope="module")
def cfe():
    return CFrontend(CFG)


def _stream_of_signals():
    return np.concatenate(list(make_signals().values()))


def test_every_stage_matches_the_twin(cfe):
    x = _stream_of_signals()
    s = twin.run_stages(x, CFG)
    frames = twin.frames_of(x, CFG)
    for f in range(0, len(frames), 7):
        c = cfe.stages(frames[f])
        assert c["shift"] == s["shift"][f]
        np.testing.assert_array_equal(c["fft_re"], s["fft_re"][f])
        np.testing.assert_array_equal(c["fft_im"], s["fft_im"][f])
        np.testing.assert_array_equal(c["power"][1:], s["power"][f][1:CFG.n_fft // 2])
        np.testing.assert_array_equal(c["mel"], s["mel"][f])
        np.testing.assert_array_equal(c["features"], s["features"][f])


@pytest.mark.parametrize("name", sorted(make_signals()))
def test_test_signals(cfe, name):
    x = make_signals()[name]
    np.testing.assert_array_equal(cfe.features(x), features(x, CFG))


def test_chunked_equals_whole(cfe):
    x = _stream_of_signals()
    whole = cfe.features(x)
    np.testing.assert_array_equal(whole, features(x, CFG))
    rng = np.random.default_rng(5)
    cfe.reset()
    parts, pos = [], 0
    while pos < len(x):
        n = int(rng.integers(1, 1500))
        parts.append(cfe.process(x[pos:pos + n]))
        pos += n
    np.testing.assert_array_equal(np.concatenate(parts), whole)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(0, 15), st.integers(0, 3000))
def test_random_int16(cfe, seed, bits, extra):
    """Random int16 at every magnitude (bits = 0 gives -1/0 only, 15 full scale)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-(1 << bits), 1 << bits, size=CFG.n_fft + extra).clip(-32768, 32767)
    x = x.astype(np.int16)
    np.testing.assert_array_equal(cfe.features(x), features(x, CFG))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(-32768, 32767), min_size=512, max_size=2000),
       st.lists(st.integers(1, 700), min_size=1, max_size=6))
def test_random_samples_streamed(cfe, samples, chunks):
    x = np.array(samples, dtype=np.int16)
    cfe.reset()
    twin_stream = StreamingFrontend(CFG)
    pos = 0
    for n in chunks + [len(x)]:
        c = cfe.process(x[pos:pos + n])
        t = twin_stream.process(x[pos:pos + n])
        np.testing.assert_array_equal(c, t)
        assert cfe.pending == twin_stream.pending
        pos += n


def test_real_recordings(cfe, real_recordings):
    assert len(real_recordings) >= 100
    frames = 0
    for name, pcm in real_recordings:
        q = features(pcm, CFG)
        np.testing.assert_array_equal(cfe.features(pcm), q, err_msg=name)
        frames += len(q)
    assert frames > 3000


def test_state_and_scratch_sizes(cfe):
    sizes = cfe.sizes()
    assert sizes["state_bytes"] >= 2 * CFG.n_fft
    assert sizes["scratch_bytes"] < 4096


@pytest.mark.slow
def test_another_config_bit_exact():
    """A non-default config (another FFT size, hop, band count, window) builds from its own
    generated header and still matches the twin."""
    cfg = FrontendConfig(n_fft=128, hop_length=64, n_mels=16, fmin=50.0, fmax=7000.0,
                         window="hamming", out_step_db=0.75, out_zero_db=-40.0)
    c = CFrontend(cfg)
    x = np.concatenate([_stream_of_signals()[:20000],
                        np.random.default_rng(1).integers(-32768, 32768, 5000).astype(np.int16)])
    np.testing.assert_array_equal(c.features(x), features(x, cfg))
