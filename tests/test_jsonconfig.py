"""Settings from JSON objects (micromel.jsonconfig): values take their field's type, and an
unknown key or a wrong type is a one-line error naming the key, for every config that uses it."""
import pytest

from micromel.errors import MicromelError
from micromel.frontend import FrontendConfig
from micromel.segment.config import SegmentConfig


def test_values_take_their_field_types():
    fe = FrontendConfig.from_dict({"n_mels": 32.0, "mel_htk": True, "fmin": 30, "window": "hamming"})
    assert (fe.n_mels, fe.mel_htk, fe.fmin, fe.window) == (32, True, 30.0, "hamming")
    assert isinstance(fe.n_mels, int) and isinstance(fe.fmin, float)
    seg = SegmentConfig.from_dict({"median": 7, "enter": 1, "background_labels": ["nonspeech"]})
    assert (seg.median, seg.enter, seg.background_labels) == (7, 1.0, ("nonspeech",))


@pytest.mark.parametrize("cls, what, d, needle", [
    (FrontendConfig, "front-end config", {"n_mels": 32.5}, "n_mels=32.5"),
    (FrontendConfig, "front-end config", {"n_mels": True}, "n_mels=True"),
    (FrontendConfig, "front-end config", {"mel_htk": "yes"}, "mel_htk='yes'"),
    (FrontendConfig, "front-end config", {"fmin": False}, "fmin=False"),
    (FrontendConfig, "front-end config", {"nmels": 3}, "unknown keys ['nmels']"),
    (FrontendConfig, "front-end config", [1, 2], "expected a JSON object"),
    (SegmentConfig, "segment config", {"median": 2.5}, "median=2.5"),
    (SegmentConfig, "segment config", {"background_labels": "speech"}, "background_labels='speech'"),
    (SegmentConfig, "segment config", {"enter": None}, "enter=None"),
])
def test_bad_values_are_one_line_errors(cls, what, d, needle):
    with pytest.raises(MicromelError) as e:
        cls.from_dict(d)
    msg = str(e.value)
    assert msg.startswith(what + ":") and needle in msg and "\n" not in msg
