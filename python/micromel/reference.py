"""The host reference of a model folder: the front-end twin, the window rules and
the TFLite Micro interpreter (the same int8 model the device runs, interpreted
by TFLM's reference kernels). This is what the device is checked against."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import windows as win
from .errors import MicromelError


def load_model_config(model_dir: Path) -> dict:
    path = Path(model_dir) / "config.json"
    if not path.exists():
        raise MicromelError(f"{model_dir}: no config.json; pass a model folder written by "
                            "'micromel train' (e.g. models/drums)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise MicromelError(f"{path}: not valid JSON ({e})") from None


@dataclass
class ClipReference:
    features: np.ndarray      # int8 (n_frames, n_mels) of the (padded) clip
    nonsilent: np.ndarray     # bool (n_windows,)
    scores: list              # int8 (classes,) per window, None for silent windows
    windows: np.ndarray       # int8 (n_windows, F, n_mels)
    vote: int
    acc: np.ndarray


class Reference:
    def __init__(self, model_dir: Path):
        from .frontend import FrontendConfig

        self.model_dir = Path(model_dir)
        self.config = load_model_config(self.model_dir)
        self.labels = list(self.config["labels"])
        self.fe = FrontendConfig.from_dict(self.config["frontend"])
        self.wcfg = win.WindowConfig.from_dict(self.config["window"])
        self.framing = win.Framing(hop_samples=self.fe.hop_length, frame_samples=self.fe.n_fft)
        tflite = self.model_dir / "model.tflite"
        if not tflite.exists():
            raise MicromelError(f"{self.model_dir}: no model.tflite")
        self._tflite = tflite
        self._interp = None

    @property
    def n_mels(self) -> int:
        return self.fe.n_mels

    @property
    def n_classes(self) -> int:
        return len(self.labels)

    def interpreter(self):
        if self._interp is None:
            from tflite_micro.python.tflite_micro import runtime

            self._interp = runtime.Interpreter.from_file(str(self._tflite))
        return self._interp

    def scores(self, window: np.ndarray) -> np.ndarray:
        """int8 scores of one (F, n_mels) int8 window by the TFLM interpreter."""
        interp = self.interpreter()
        shape = interp.get_input_details(0)["shape"]
        interp.set_input(np.asarray(window, np.int8).reshape(shape), 0)
        interp.invoke()
        return np.asarray(interp.get_output(0), np.int8).reshape(-1)

    def features(self, pcm: np.ndarray) -> np.ndarray:
        from .frontend import features

        return features(np.asarray(pcm, np.int16), self.fe)

    def clip(self, pcm: np.ndarray) -> ClipReference:
        padded = win.pad_clip(pcm, self.wcfg, self.framing)
        feats = self.features(padded)
        wins = win.cut_windows(feats, self.wcfg)
        mask = win.nonsilent_mask(padded, len(wins), self.wcfg, self.framing)
        scores = [self.scores(w) if m else None for w, m in zip(wins, mask)]
        if len(wins):
            full = np.stack([s if s is not None else np.zeros(self.n_classes, np.int8)
                             for s in scores])
            vote, acc = win.soft_vote(full, mask)
        else:
            vote, acc = win.SILENCE, np.zeros(self.n_classes, np.int32)
        return ClipReference(feats, mask, scores, wins, vote, acc)


def model_hash(model_dir: Path) -> str:
    """Identifies what a device must run: the .tflite and the config it was exported with."""
    model_dir = Path(model_dir)
    h = hashlib.sha256()
    h.update((model_dir / "model.tflite").read_bytes())
    cfg = load_model_config(model_dir)
    h.update(json.dumps({k: cfg[k] for k in ("labels", "frontend", "window") if k in cfg},
                        sort_keys=True).encode())
    return h.hexdigest()[:16]
