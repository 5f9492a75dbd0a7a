"""micromel's fixed-point log-mel front end (twin of firmware/lib/mm_frontend): the config
(config.py), its integer tables (tables.py) and generated header mm_frontend_config.h
(header.py), the numpy twin (twin.py), the librosa float reference (reference.py), the C
host build through ctypes (native.py), the front end over the serial protocol (link.py,
bench.py), plots, test signals and the commands (cli.py).

    from micromel.audio import load_audio
    from micromel.frontend import FrontendConfig, features
    q = features(load_audio("kick.wav", 16000), FrontendConfig())   # int8 [frames, n_mels]
"""
from .config import ALGORITHM_VERSION, FrontendConfig
from .twin import StreamingFrontend, features

__all__ = ["ALGORITHM_VERSION", "FrontendConfig", "StreamingFrontend", "features"]
