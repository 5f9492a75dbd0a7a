"""`micromel classify`: the top classes of audio files by the soft vote over their windows,
on the host reference or on a device (CLASSIFY_AUDIO)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..audio import load_audio
from ..clip.reference import Reference
from ..clip.reject import label_of
from ..link import audio as audio_link
from ..link.model_device import open_model_device


def classify_files(model, paths: list, device: str | None = None, top: int = 3) -> list[dict]:
    """One result per file: label (or "(silence)", or "unknown" when the model's rejection
    rule refuses the vote), the top classes' shares of the vote, the non-silent windows, and
    where it ran."""
    ref = Reference(model)
    dev = open_model_device(device, model) if device else None
    results = []
    try:
        for path in paths:
            pcm = load_audio(Path(path), ref.fe.sample_rate)
            if dev:
                r = audio_link.classify_audio(dev, pcm, ref.n_mels, ref.n_classes, want_features=False)
                vote, acc, nns = r.vote, r.acc, r.n_nonsilent
            else:
                c = ref.clip(pcm)
                vote, acc, nns = c.vote, c.acc, int(c.nonsilent.sum())
            total = max(int(acc.sum()), 1)
            probs = {ref.labels[i]: round(float(acc[i]) / total, 4) for i in np.argsort(-acc)[:top]}
            results.append({"file": str(path), "label": label_of(vote, ref.labels),
                            "top": probs if nns else {}, "windows": nns,
                            "where": dev.name if dev else "host"})
    finally:
        if dev:
            dev.close()
    return results
