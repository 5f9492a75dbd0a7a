"""One clip on a device against the host reference (micromel.clip.reference): in audio mode
the device runs front end, windows, gate, model and vote; in features mode the host's twin
features go in and the device runs the model. A clip whose scores differ gets a per-layer
diff against TFLite Micro's intermediate tensors (for the first such clip of a run)."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..clip import rules as win
from ..clip.reject import decide
from ..clip.reference import Reference
from ..engine.compiler import compile_model
from ..engine.runner import DeviceModel, Tflm, first_difference
from ..link import audio as audio_link
from ..link import protocol


@dataclass
class Clip:
    id: str
    path: Path
    label: str


def _first_diff(a: np.ndarray, b: np.ndarray) -> dict | None:
    if a.shape != b.shape:
        return {"shape_host": list(a.shape), "shape_device": list(b.shape)}
    idx = np.argwhere(a != b)
    if not len(idx):
        return None
    i = tuple(int(v) for v in idx[0])
    return {"count": int(len(idx)), "first_index": list(i), "host": int(a[i]), "device": int(b[i])}


class LayerDiffOnce:
    """Per run: the layer dump happens for the first mismatching clip only (it is slow)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.done = False

    def claim(self) -> bool:
        with self.lock:
            if self.done:
                return False
            self.done = True
            return True


def layer_diff(dev, ref: Reference, window: np.ndarray) -> dict:
    """Where a window's scores first differ: every layer of the model on the
    device (fetched in slices) against TFLite Micro's intermediate tensors."""
    plan = compile_model(ref.model).plan
    want = Tflm(plan).run(window)
    got = DeviceModel(plan, dev)
    return first_difference(plan, want, lambda i: got.layer(window, i)) or {"layer": None}


def _maybe_layer_diff(dev, ref: Reference, host, score_diffs: list,
                      once: LayerDiffOnce | None) -> dict | None:
    """Only for the first clip with a score mismatch (it costs a layer dump)."""
    w = next((d["window"] for d in score_diffs if "window" in d and "host" in d), None)
    if w is None or once is None or not once.claim():
        return None
    try:
        return {"window": w, **layer_diff(dev, ref, host.windows[w])}
    except Exception as e:  # noqa: BLE001 - the diff is a diagnosis, never fatal
        return {"window": w, "error": str(e)}


def check_clip_audio(dev, ref: Reference, clip: Clip, pcm: np.ndarray,
                     once: LayerDiffOnce | None = None) -> dict:
    """Audio mode: the device runs front end + windows + gate + model + vote."""
    host = ref.clip(pcm)
    got = audio_link.classify_audio(dev, pcm, ref.n_mels, ref.n_classes, want_features=True)
    dev_feats = got.features(ref.n_mels)
    feat_diff = _first_diff(host.features, dev_feats)
    score_diffs = []
    if len(got.windows) != len(host.scores):
        score_diffs.append({"windows_host": len(host.scores), "windows_device": len(got.windows)})
    else:
        for w, (hs, dw) in enumerate(zip(host.scores, got.windows)):
            if (hs is None) != dw.silent:
                score_diffs.append({"window": w, "silent_host": hs is None, "silent_device": dw.silent})
            elif hs is not None and not np.array_equal(hs, dw.scores):
                score_diffs.append({"window": w, "host": hs.tolist(), "device": dw.scores.tolist()})
    vote_match = got.vote == host.vote and np.array_equal(got.acc, host.acc)
    return {
        "layer_diff": _maybe_layer_diff(dev, ref, host, score_diffs, once),
        "features_match": feat_diff is None,
        "features_diff": feat_diff,
        "scores_match": not score_diffs and vote_match,
        "scores_diff": score_diffs[:3],
        "windows": len(host.scores),
        "silent_windows": int((~host.nonsilent).sum()),
        "pred_host": host.vote,
        "pred_device": got.vote,
    }


def check_clip_features(dev, ref: Reference, clip: Clip, pcm: np.ndarray,
                        once: LayerDiffOnce | None = None) -> dict:
    """Features mode: the host's twin features go in, the device runs the model."""
    host = ref.clip(pcm)
    dev_scores = []
    score_diffs = []
    for w, (window, hs) in enumerate(zip(host.windows, host.scores)):
        if hs is None:
            dev_scores.append(np.zeros(ref.n_classes, np.int8))
            continue
        reply = dev.request(protocol.MSG["CLASSIFY_FEATURES"], np.ascontiguousarray(window).tobytes())
        ds = np.frombuffer(reply.payload, np.int8, ref.n_classes).copy()
        dev_scores.append(ds)
        if not np.array_equal(ds, hs):
            score_diffs.append({"window": w, "host": hs.tolist(), "device": ds.tolist()})
    if dev_scores:
        _, acc = win.soft_vote(np.stack(dev_scores), host.nonsilent)
        vote = decide(acc, int(host.nonsilent.sum()), ref.reject)
    else:
        vote = win.SILENCE
    return {
        "layer_diff": _maybe_layer_diff(dev, ref, host, score_diffs, once),
        "features_match": True,  # the device was given the host's features
        "features_diff": None,
        "scores_match": not score_diffs,
        "scores_diff": score_diffs[:3],
        "windows": len(host.scores),
        "silent_windows": int((~host.nonsilent).sum()),
        "pred_host": host.vote,
        "pred_device": int(vote),
    }


