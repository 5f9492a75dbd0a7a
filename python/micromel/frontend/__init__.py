"""micromel's fixed-point log-mel front end: the config, the numpy twin of the C front end
(firmware/lib/mm_frontend), its generated tables and header, a librosa float reference and
audio loading.

    from micromel.frontend import FrontendConfig, features, StreamingFrontend, load_audio
    q = features(load_audio("kick.wav", 16000), FrontendConfig())   # int8 [frames, n_mels]
"""
from .config import ALGORITHM_VERSION, FrontendConfig, config_from_model, load_config
from .twin import StreamingFrontend, features

__all__ = ["ALGORITHM_VERSION", "FrontendConfig", "StreamingFrontend", "config_from_model",
           "features", "load_audio", "load_config"]


def load_audio(path, sample_rate: int = 16000, notes: list | None = None):
    """int16 mono PCM of any audio file soundfile reads, downmixed and resampled to
    sample_rate (what was changed is appended to notes); bad input raises a one-line
    MicromelError."""
    from .audio import load_audio as _load

    return _load(path, sample_rate, notes)
