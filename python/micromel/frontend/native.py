"""The C front end's host build (the firmware's own sources, portable path) through
ctypes: `--impl c` and the bit-exactness tests."""
from __future__ import annotations

import ctypes
from functools import lru_cache
from pathlib import Path

import numpy as np

from .. import codegen
from ..link import host
from ..paths import build_dir
from .config import FrontendConfig
from .tables import tables_for
from .twin import _as_int16


@lru_cache(maxsize=8)
def _gen_dir_for(cfg: FrontendConfig) -> Path | None:
    """Generated headers for a non-default config: the defaults of every other part, this
    front end's header. None for the default config (the default build)."""
    if cfg == FrontendConfig():
        return None
    gen = build_dir() / "frontend" / cfg.hash() / "gen"
    codegen.write_build_headers(gen, frontend=cfg)
    return gen


def load_library(cfg: FrontendConfig | None = None) -> ctypes.CDLL:
    cfg = cfg or FrontendConfig()
    gen = _gen_dir_for(cfg)
    lib = host.load(str(gen) if gen else None)
    lib.mm_host_fe_hash.restype = ctypes.c_char_p
    got = lib.mm_host_fe_hash().decode()
    if got != cfg.hash():
        raise RuntimeError(f"host build has front-end config {got}, expected {cfg.hash()}")
    lib.mm_host_fe_process.restype = ctypes.c_size_t
    lib.mm_host_fe_pending.restype = ctypes.c_size_t
    return lib


class CFrontend:
    """The C streaming front end in-process (one instance per library: it owns the C
    library's static state)."""

    def __init__(self, cfg: FrontendConfig | None = None):
        self.cfg = cfg or FrontendConfig()
        self.lib = load_library(self.cfg)
        self.reset()

    def reset(self) -> None:
        self.lib.mm_host_fe_reset()

    @property
    def pending(self) -> int:
        return int(self.lib.mm_host_fe_pending())

    def sizes(self) -> dict[str, int]:
        out = (ctypes.c_uint32 * 2)()
        self.lib.mm_host_fe_sizes(out)
        return {"state_bytes": int(out[0]), "scratch_bytes": int(out[1])}

    def process(self, chunk) -> np.ndarray:
        pcm = _as_int16(chunk)
        n_mels = self.cfg.n_mels
        max_frames = (self.pending + len(pcm)) // self.cfg.hop_length + 1
        out = np.zeros((max_frames, n_mels), dtype=np.int8)
        used = ctypes.c_size_t(0)
        n = self.lib.mm_host_fe_process(pcm.ctypes.data_as(ctypes.c_void_p), ctypes.c_size_t(len(pcm)),
                                        out.ctypes.data_as(ctypes.c_void_p),
                                        ctypes.c_size_t(max_frames), ctypes.byref(used))
        if used.value != len(pcm):
            raise RuntimeError("C front end did not consume its input")
        return out[:n].copy()

    def features(self, pcm) -> np.ndarray:
        """A whole clip from a reset state (same contract as micromel.frontend.features)."""
        self.reset()
        return self.process(pcm)

    def stages(self, frame) -> dict[str, np.ndarray]:
        """Every intermediate of one frame of n_fft samples."""
        cfg, t = self.cfg, tables_for(self.cfg)
        x = _as_int16(frame)
        if len(x) != cfg.n_fft:
            raise ValueError(f"a frame has {cfg.n_fft} samples")
        m = t.fft_n
        shift = ctypes.c_int32(0)
        spec = np.zeros(2 * m, dtype=np.int32)
        power = np.zeros(m, dtype=np.uint32)
        mel = np.zeros(cfg.n_mels, dtype=np.uint64)
        q = np.zeros(cfg.n_mels, dtype=np.int8)
        p = lambda a: a.ctypes.data_as(ctypes.c_void_p)  # noqa: E731
        self.lib.mm_host_fe_stages(p(x), ctypes.byref(shift), p(spec), p(power), p(mel), p(q))
        return {"shift": int(shift.value), "fft_re": spec[0::2], "fft_im": spec[1::2],
                "power": power, "mel": mel.astype(np.int64), "features": q}
