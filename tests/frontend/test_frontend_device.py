"""The front end on the emulated Cortex-M4 (DSP path, arm-none-eabi-gcc, QEMU mps2-an386)
over the serial protocol: FEATURES frames equal the twin's bit for bit."""
import struct

import numpy as np
import pytest

from micromel.link import protocol
from micromel.errors import DeviceError
from micromel.link.device import open_device
from micromel.frontend import FrontendConfig, StreamingFrontend, features, link
from micromel.frontend.signals import test_signals as make_signals

pytestmark = pytest.mark.emulator

CFG = FrontendConfig()


@pytest.fixture(scope="module")
def dev(emulated_device):
    return emulated_device


def test_info_reports_the_front_end(dev):
    info = dev.info(refresh=True)
    assert info["fe_hash"] == CFG.hash()
    assert int(info["fe_n_mels"]) == CFG.n_mels and int(info["fe_hop"]) == CFG.hop_length
    assert info["fe_dsp"] == "1"  # the Cortex-M4 build takes the DSP path


def test_test_signals_bit_exact(dev):
    """All test signals in one stream (frames straddle the signal boundaries too)."""
    sig = make_signals(seconds=0.1)
    x = np.concatenate(list(sig.values()))
    np.testing.assert_array_equal(link.features(dev, x, CFG.n_mels), features(x, CFG))


def test_streaming_in_odd_messages(dev):
    rng = np.random.default_rng(9)
    x = (rng.standard_normal(6000) * 5000).astype(np.int16)
    link.reset(dev)
    twin = StreamingFrontend(CFG)
    pos = 0
    for n in (1, 511, 2, 700, 256, 1999, 3):
        got = link.process(dev, x[pos:pos + n], CFG.n_mels)
        np.testing.assert_array_equal(got, twin.process(x[pos:pos + n]))
        pos += n
    reply = dev.request(protocol.MSG["FEATURES"], b"")
    n_frames, used, pending, mels = struct.unpack("<HHHB", reply.payload[:7])
    assert (n_frames, used, pending, mels) == (0, 0, twin.pending, CFG.n_mels)


def test_reset_restarts_the_stream(dev):
    x = (np.random.default_rng(2).standard_normal(1500) * 3000).astype(np.int16)
    link.process(dev, x[:700], CFG.n_mels)
    np.testing.assert_array_equal(link.features(dev, x, CFG.n_mels), features(x, CFG))


def test_odd_payload_is_refused(dev):
    with pytest.raises(DeviceError, match="BAD_PAYLOAD"):
        dev.request(protocol.MSG["FEATURES"], b"\x01\x02\x03")


def test_real_recordings_subset(dev, real_recordings):
    """A subset (the UART moves ~10-40 kB/s): every 13th recording, at most 0.4 s each;
    all of them go through the host build and the twin in test_frontend_c.py."""
    subset = real_recordings[::13]
    assert len(subset) >= 8
    for name, pcm in subset:
        x = pcm[:6400]
        np.testing.assert_array_equal(link.features(dev, x, CFG.n_mels), features(x, CFG),
                                      err_msg=name)


def test_bench_reply(dev):
    r = link.bench(dev, "square")
    assert r["frames"] == CFG.n_frames(r["samples"])
    assert set(r["per_frame_stages"]) == set(link.BENCH_STAGES)
    assert all(v > 0 for v in r["per_frame_stages"].values()) and r["raw_total"] > 0
    # BENCH resets the stream: FEATURES starts afresh
    x = (np.random.default_rng(4).standard_normal(1200) * 3000).astype(np.int16)
    np.testing.assert_array_equal(link.process(dev, x, CFG.n_mels), features(x, CFG))



@pytest.mark.parametrize("cfg", [
    # another FFT size and band count, the ring buffer, Hamming, steps whose bias is not a
    # whole number of steps (the log stage's SMLAL path)
    FrontendConfig(n_fft=128, hop_length=64, n_mels=16, fmin=50.0, fmax=7000.0,
                   window="hamming", out_step_db=0.75, out_zero_db=-40.0),
    # a hop of a quarter frame: the shifting buffer instead of the ring
    FrontendConfig(hop_length=128, n_mels=32),
    # the largest FFT: the C FFT stages, the assembly window at its largest offsets
    FrontendConfig(n_fft=2048, hop_length=1024, n_mels=64),
], ids=["n128-hamming-0.75dB", "hop128", "n2048"])
def test_other_configs_bit_exact(cfg):
    """The assembly stages read their sizes from the generated header: other configs, built
    from their own header, equal the twin on the device too (odd message sizes)."""
    from micromel.frontend.native import _gen_dir_for
    from micromel.frontend.signals import test_signals as signals

    x = np.concatenate(list(signals(seconds=0.05).values()))[:12000]
    x = np.concatenate([x, np.random.default_rng(3).integers(-32768, 32768, 4000).astype(np.int16)])
    with open_device("emulate", gen_dir=_gen_dir_for(cfg)) as d:
        assert d.info(refresh=True)["fe_hash"] == cfg.hash()
        twin = StreamingFrontend(cfg)
        pos, sizes = 0, [1, 777, 64, 3001, 2, 4096]
        link.reset(d)
        for i in range(100):
            n = sizes[i % len(sizes)]
            if pos >= len(x):
                break
            got = link.process(d, x[pos:pos + n], cfg.n_mels)
            np.testing.assert_array_equal(got, twin.process(x[pos:pos + n]))
            pos += n
