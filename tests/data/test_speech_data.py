"""Rules of the speech/non-speech data and the stream generator (no download needed)."""
from pathlib import Path

import numpy as np

from micromel.data import speech as D
from micromel.data import streams


def test_spoken_language_rules():
    f = D.spoken_language
    assert f("animals/birds/duck_desc_fr.ogg") == "fr"
    assert f("animals/birds/duck_desc_da.ogg.ogg") == "da"
    assert f("animals/birds/duck_desc.ogg") == "en"
    assert f("symbols/math/7_en_GB.ogg") == "en_GB"
    assert f("symbols/math/7.ogg") == "en"
    assert f("symbols/alphabets/german/filled/uppercase/O_with_umlaut_filled.ogg") == "de"
    assert f("animals/birds/duck.ogg") is None              # the duck's quack
    assert f("household/Washing-machine.ogg") is None
    assert D.lang_split("ro") == "test" and D.lang_split("da") == "val"
    assert D.lang_split("en_GB") == "train"


def test_active_span_trims_silence():
    x = np.zeros(16000)
    x[4000:9000] = 0.5 * np.sin(np.arange(5000) * 0.1)
    a, b = D.active_span(x)
    assert abs(a - 4000) <= 160 and abs(b - 9000) <= 160


class FakePool:
    """Stands for a Pool: every draw is a 0.5 s tone of one group."""

    def draw(self, rng, group=None):
        src = D.Source(Path("w.ogg"), "speech", group or "xx", "test")
        return 0.3 * np.sin(np.arange(8000) * 0.2), src


def test_stream_ground_truth_is_where_the_sounds_are():
    pools = {"speech": FakePool(), "effect": FakePool(), "drum": FakePool()}
    pcm, truth = streams.make_stream(30.0, pools, np.random.default_rng(1))
    assert pcm.dtype == np.int16 and len(pcm) == 30 * 16000
    assert len(truth) >= 5
    ends = [0.0]
    for on, off, label, _ in truth:
        assert label in ("speech", "nonspeech")
        assert on >= ends[-1] + D.STREAM_GAP_S[0] - 1e-6 and off <= 30.0
        ends.append(off)
        # louder inside an event than in the gap before it
        seg = pcm[int(on * 16000): int(off * 16000)].astype(float)
        assert D.rms(seg) > 0


def test_training_clip_labels_follow_coverage():
    pools = {"speech": FakePool(), "effect": FakePool(), "drum": FakePool()}
    rng = np.random.default_rng(0)
    n = D.window_samples(32)
    assert n == 8448
    kinds = [D.make_clip(k, pools, rng, n)[1] for k in ("speech", "nonspeech") * 20]
    assert kinds == ["speech", "nonspeech"] * 20
