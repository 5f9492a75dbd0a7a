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


def stream_vote(ref: Reference, chunks: Iterable[np.ndarray]) -> tuple[int, np.ndarray, int]:
    """(answer, int32 vote sums, non-silent windows) of a clip given in chunks: exactly what
    ref.clip(whole clip) computes (clip.rules: padding to one window, windows every
    hop_frames, the gate on each window's samples, the soft vote, the model's rejection rule:
    class, -1 silence or -2 unknown), in bounded memory."""
    cut = WindowCutter(ref.fe, ref.wcfg.frames, ref.wcfg.hop_frames)
    threshold = rules.gate_threshold(ref.wcfg, ref.framing)
    acc = np.zeros(ref.n_classes, np.int32)
    nonsilent = 0

    def add(windows) -> None:
        nonlocal acc, nonsilent
        for feats, energy, _ in windows:
            if energy >= threshold:
                acc = acc + (ref.scores(feats).astype(np.int32) + 128)
                nonsilent += 1

    for chunk in chunks:
        add(cut.push(chunk))
    add(cut.finish())
    if not nonsilent:
        return rules.SILENCE, np.zeros(ref.n_classes, np.int32), 0
    return reject.decide(acc, nonsilent, ref.reject), acc, nonsilent


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
