"""The host reference of a model: the front-end twin, the window rules and the TFLite Micro
interpreter (the same int8 model the device runs, interpreted by TFLM's reference kernels).
This is what the device is checked against."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..engine import tflite
from ..frontend.twin import features
from . import reject, rules


@dataclass
class ClipReference:
    features: np.ndarray      # int8 (n_frames, n_mels) of the (padded) clip
    nonsilent: np.ndarray     # bool (n_windows,)
    scores: list              # int8 (classes,) per window, None for silent windows
    windows: np.ndarray       # int8 (n_windows, F, n_mels)
    vote: int                 # class, rules.SILENCE or reject.UNKNOWN (the device's answer)
    acc: np.ndarray


def tflm_interpreter(tflite_bytes: bytes):
    """TFLite Micro's Python interpreter (its reference kernels) for one int8 model."""
    from tflite_micro.python.tflite_micro import runtime

    return runtime.Interpreter.from_bytes(tflite_bytes)


def check_model_file(model) -> None:
    """The model folder's model.tflite is an int8 model whose input is one window and whose
    outputs are its labels (one-line errors, before any work)."""
    graph = tflite.parse(model.tflite_bytes, model.tflite_path)
    tflite.check_io(graph, model.window.frames * model.frontend.n_mels, len(model.labels))


class Reference:
    """One model's host reference (micromel.modeldir.ModelDir in). Not thread-safe: give
    each thread its own (the interpreter keeps state)."""

    def __init__(self, model):
        self.model = model
        self.labels = list(model.labels)
        self.fe = model.frontend
        self.wcfg = model.window
        self.framing = model.framing
        check_model_file(model)       # missing, damaged, float or mislabelled: refused now
        self.reject = model.reject
        self._interp = None

    @property
    def n_mels(self) -> int:
        return self.fe.n_mels

    @property
    def n_classes(self) -> int:
        return len(self.labels)

    def interpreter(self):
        if self._interp is None:
            self._interp = tflm_interpreter(self.model.tflite_bytes)
            # asked once: each call of TFLM's get_input_details keeps a few objects alive
            # (~350 bytes a window: the hour-long soak's slow host-memory creep)
            self._input_shape = self._interp.get_input_details(0)["shape"]
        return self._interp

    def scores(self, window: np.ndarray) -> np.ndarray:
        """int8 scores of one (F, n_mels) int8 window by the TFLM interpreter."""
        interp = self.interpreter()
        interp.set_input(np.asarray(window, np.int8).reshape(self._input_shape), 0)
        interp.invoke()
        return np.asarray(interp.get_output(0), np.int8).reshape(-1)

    def features(self, pcm: np.ndarray) -> np.ndarray:
        return features(np.asarray(pcm, np.int16), self.fe)

    def clip(self, pcm: np.ndarray) -> ClipReference:
        padded = rules.pad_clip(pcm, self.wcfg, self.framing)
        feats = self.features(padded)
        wins = rules.cut_windows(feats, self.wcfg)
        mask = rules.nonsilent_mask(padded, len(wins), self.wcfg, self.framing)
        scores = [self.scores(w) if m else None for w, m in zip(wins, mask)]
        if len(wins):
            full = np.stack([s if s is not None else np.zeros(self.n_classes, np.int8)
                             for s in scores])
            _, acc = rules.soft_vote(full, mask)
            vote = reject.decide(acc, int(mask.sum()), self.reject)
        else:
            vote, acc = rules.SILENCE, np.zeros(self.n_classes, np.int32)
        return ClipReference(feats, mask, scores, wins, vote, acc)
