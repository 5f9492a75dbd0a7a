"""`micromel classify`: the top classes of audio files by the soft vote over their windows,
on the host reference or on a device (CLASSIFY_AUDIO). Files are read in blocks, so memory
does not grow with their length (a 3-hour recording is classified like a clip)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np

from ..audio import open_audio
from ..clip import reject, rules
from ..clip.reference import Reference
from ..clip.reject import label_of
from ..link import audio as audio_link
from ..link.model_device import open_model_device
from ..segment.run import WindowCutter


class HostClip:
    """The host reference of one clip given chunk by chunk: exactly what ref.clip(whole clip)
    computes (clip.rules: padding to one window, windows every hop_frames, the gate on each
    window's samples, TFLM's scores, the soft vote, the model's rejection rule), in bounded
    memory. push() and finish() return the windows each completes as (window int8 (F, mels),
    int8 scores or None when the gate calls it silent); on_frames(frames) sees every frame."""

    def __init__(self, ref: Reference, on_frames=None):
        self.ref = ref
        self.cut = WindowCutter(ref.fe, ref.wcfg.frames, ref.wcfg.hop_frames)
        self.cut.on_frames = on_frames
        self.threshold = rules.gate_threshold(ref.wcfg, ref.framing)
        self.acc = np.zeros(ref.n_classes, np.int32)
        self.nonsilent = 0
        self.windows = 0

    def _score(self, windows) -> list:
        out = []
        for window, energy, _ in windows:
            scores = self.ref.scores(window) if energy >= self.threshold else None
            if scores is not None:
                self.acc += scores.astype(np.int32) + 128
                self.nonsilent += 1
            out.append((window, scores))
        self.windows += len(out)
        return out

    def push(self, chunk: np.ndarray) -> list:
        return self._score(self.cut.push(chunk))

    def finish(self) -> list:
        return self._score(self.cut.finish())

    def answer(self) -> int:
        """Class, rules.SILENCE or reject.UNKNOWN (what the device answers)."""
        return reject.decide(self.acc, self.nonsilent, self.ref.reject)


def stream_vote(ref: Reference, chunks: Iterable[np.ndarray]) -> tuple[int, np.ndarray, int]:
    """(answer, int32 vote sums, non-silent windows) of a clip given in chunks (HostClip)."""
    clip = HostClip(ref)
    for chunk in chunks:
        clip.push(chunk)
    clip.finish()
    return clip.answer(), clip.acc, clip.nonsilent


def classify_files(model, paths: list, device: str | None = None, top: int = 3) -> list[dict]:
    """One result per file: label (or "(silence)", or "unknown" when the model's rejection
    rule refuses the vote), the top classes' shares of the vote, the non-silent windows, where
    it ran, and what reading the file changed (notes)."""
    ref = Reference(model)
    dev = open_model_device(device, model) if device else None
    results = []
    try:
        for path in paths:
            audio = open_audio(Path(path), ref.fe.sample_rate)
            if dev:
                r = audio_link.classify_audio(dev, audio.chunks(), ref.n_mels, ref.n_classes,
                                              want_features=False, keep_windows=False)
                vote, acc, nns = r.vote, r.acc, r.n_nonsilent
            else:
                vote, acc, nns = stream_vote(ref, audio.chunks())
            total = max(int(acc.sum()), 1)
            probs = {ref.labels[i]: round(float(acc[i]) / total, 4) for i in np.argsort(-acc)[:top]}
            results.append({"file": str(path), "label": label_of(vote, ref.labels),
                            "top": probs if nns else {}, "windows": nns,
                            "where": dev.name if dev else "host", "notes": audio.notes})
    finally:
        if dev:
            dev.close()
    return results
