"""The numpy twin of the front end on its own: config, tables, integer stages against
float maths, streaming, overflow bounds, fidelity to librosa on real recordings."""
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from micromel.errors import MicromelError
from micromel.frontend import FrontendConfig, StreamingFrontend, features
from micromel.frontend import header, reference, tables, twin
from micromel.frontend.signals import test_signals as make_signals
from micromel.modeldir import ModelDir, load_frontend_config

CFG = FrontendConfig()
T = tables.tables_for(CFG)


def test_config_round_trip_and_hash(tmp_path):
    d = CFG.to_dict()
    assert FrontendConfig.from_dict(json.loads(json.dumps(d))) == CFG
    assert FrontendConfig.from_dict(d).hash() == CFG.hash()
    assert FrontendConfig(n_mels=32).hash() != CFG.hash()
    (tmp_path / "m").mkdir()
    fe = {k: v for k, v in d.items() if k != "window_frames"}   # a model stores its window once
    (tmp_path / "m" / "config.json").write_text(json.dumps(
        {"frontend": fe, "window": {"frames": CFG.window_frames}, "labels": ["a"]}))
    assert ModelDir.open(tmp_path / "m").frontend == CFG
    assert load_frontend_config(tmp_path / "m" / "config.json") == CFG
    (tmp_path / "fe.json").write_text(json.dumps(d))
    assert load_frontend_config(tmp_path / "fe.json") == CFG


@pytest.mark.parametrize("bad", [{"n_fft": 500}, {"n_fft": 256}, {"hop_length": 1000},
                                 {"fmax": 9000.0}, {"window": "kaiser"}, {"bogus": 1},
                                 {"n_mels": "forty"}, {"algorithm": 99}])
def test_config_rejects_bad_values(bad):
    with pytest.raises(MicromelError):
        FrontendConfig.from_dict({**CFG.to_dict(), **bad})


def test_tables_are_consistent():
    assert T.window_q15.max() == 32767 and T.seg_win_bits.max() == 15
    assert sorted(T.fft_perm) == list(range(T.fft_n))
    np.testing.assert_array_equal(T.fft_perm[T.fft_perm], np.arange(T.fft_n))  # an involution
    assert T.bin_lo >= 1 and T.bin_hi <= T.fft_n
    melq = np.round(tables.mel_float(CFG) * 2.0 ** T.mel_shift)
    np.testing.assert_array_equal(T.mel_matrix(), melq)
    assert (T.input_bound / (T.fft_n // 2)) ** 2 < 2 ** 32


def test_header_carries_the_tables():
    h = header.c_header(CFG)
    assert f'#define MM_FE_HASH "{CFG.hash()}"' in h
    assert f"#define MM_FE_LOG_OFFSET ({T.log_offset})" in h
    assert f"mm_fe_twiddle[{3 * T.fft_n // 4}]" in h
    assert f"0x{(int(T.twiddle_re[1]) & 0xFFFF) | ((int(T.twiddle_im[1]) & 0xFFFF) << 16):08X}u" in h


def test_fft_and_power_match_float():
    rng = np.random.default_rng(3)
    y = rng.integers(-16384, 16385, size=(4, CFG.n_fft))
    zr, zi = twin.fft_radix4(y[:, 0::2], y[:, 1::2], T)
    ref = np.fft.fft(y[:, 0::2] + 1j * y[:, 1::2], axis=1) / (T.fft_n // 4)
    err = np.abs(zr + 1j * zi - ref)
    assert err.max() < 0.002 * np.abs(ref).max()
    p = twin.split_power(zr, zi, T).astype(np.float64)
    pf = np.abs(np.fft.rfft(y, axis=1) / (T.fft_n // 2)) ** 2
    k = slice(1, T.fft_n)
    assert np.abs(p[:, k] - pf[:, k]).max() < 0.005 * pf[:, k].max()


def test_frame_count_and_shapes():
    for n in (0, 100, 511, 512, 767, 768, 16000):
        q = features(np.zeros(n, dtype=np.int16), CFG)
        assert q.shape == (CFG.n_frames(n), CFG.n_mels) and q.dtype == np.int8
    assert CFG.n_frames(16000) == 1 + (16000 - 512) // 256


def test_silence_is_the_floor_and_levels_order():
    sig = make_signals()
    assert (features(sig["silence"], CFG) == -128).all()
    loud = features(sig["noise_0dBFS"], CFG).astype(int).mean()
    quiet = features(sig["noise_40dBFS"], CFG).astype(int).mean()
    assert loud - quiet == pytest.approx(80, abs=3)  # 40 dB at 0.5 dB per step


def test_full_scale_inputs_stay_within_the_bounds():
    """Square waves, clipping, DC and alternating full scale: every intermediate within the
    ranges the C types hold (int16 pairs, 32-bit spectrum, uint32 power, 53-bit mel)."""
    for name, x in make_signals().items():
        s = twin.run_stages(x, CFG)
        assert np.abs(s["windowed"]).max() <= 2 ** 14, name
        assert 1 <= s["shift"].min() and s["shift"].max() <= 16, name
        assert np.abs(s["fft_re"]).max() < 2 ** 31 and np.abs(s["fft_im"]).max() < 2 ** 31, name
        assert s["power"].dtype == np.uint32
        assert s["mel"].max() < 2 ** 53, name
        # the float spectrum of the same windowed ints says power did not wrap: errors are
        # rounding noise (a few LSB on |X|), not multiples of 2^32
        pf = np.abs(np.fft.rfft(s["windowed"], axis=1) / (T.fft_n // 2)) ** 2
        k = slice(1, T.fft_n)
        err = np.abs(s["power"][:, k] - pf[:, k])
        assert (err <= 0.01 * pf[:, k].max() + 8 * np.sqrt(pf[:, k]) + 64).all(), name


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1), st.lists(st.integers(1, 900), min_size=1, max_size=12))
def test_chunked_stream_equals_whole_clip(seed, chunks):
    rng = np.random.default_rng(seed)
    x = rng.integers(-32768, 32768, size=sum(chunks) + 600).astype(np.int16)
    s = StreamingFrontend(CFG)
    parts, pos = [], 0
    for c in chunks + [len(x) - sum(chunks)]:
        parts.append(s.process(x[pos:pos + c]))
        pos += c
    np.testing.assert_array_equal(np.concatenate(parts), features(x, CFG))


def test_twin_rejects_non_pcm():
    with pytest.raises(ValueError):
        features(np.zeros((2, 600), dtype=np.int16), CFG)
    with pytest.raises(ValueError):
        features(np.full(600, 40000), CFG)


@pytest.mark.parametrize("cfg", [CFG, FrontendConfig(mel_htk=True)], ids=["slaney", "htk"])
def test_fidelity_to_librosa_on_real_recordings(real_clips, cfg):
    """>= 99 % of bins within one output step of librosa, with Slaney bands (the default) and
    HTK bands (the training default, models/drums: docs/training.md)."""
    ok = total = 0
    for pcm in real_clips:
        a, b = reference.fidelity(features(pcm, cfg), reference.logmel_db(pcm, cfg), cfg)
        ok += a
        total += b
    assert total > 50_000
    assert ok / total >= 0.99, f"{100 * ok / total:.3f}% within one step"
