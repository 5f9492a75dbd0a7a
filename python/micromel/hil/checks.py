"""One clip on a device against the host reference (micromel.clip.reference): in audio mode
the device runs front end, windows, gate, model and vote; in features mode the host's twin
features go in and the device runs the model. A clip whose scores differ gets a per-layer
diff against TFLite Micro's intermediate tensors (for the first such clip of a run)."""
from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..audio import open_audio
from ..clip.reject import decide
from ..clip.reference import Reference
from ..engine.compiler import compile_model
from ..engine.runner import DeviceModel, Tflm, first_difference
from ..errors import MicromelError
from ..link import audio as audio_link
from ..link import protocol
from .classify import HostClip


@dataclass
class Clip:
    id: str
    path: Path
    label: str


# Items one side may be ahead by before the oldest are only counted (a device that drops
# frames or windows must not make a 3-hour clip's check hold all of them): the host reads one
# block (2 s) ahead, far fewer than this.
BACKLOG = 4096


class ClipUnreadable(Exception):
    """The clip cannot be read (at its start or midway), or the host reference fails on it:
    a per-clip error in the report, not a lost device."""


@dataclass
class ClipReader:
    """A clip's samples in blocks (a 3-hour recording is verified in bounded memory)."""
    path: Path
    sample_rate: int

    def chunks(self) -> Iterator[np.ndarray]:
        n = 0
        try:
            for chunk in open_audio(self.path, self.sample_rate).chunks():
                n += len(chunk)
                yield chunk
        except Exception as e:  # noqa: BLE001 - whatever reading raises is the clip's
            raise ClipUnreadable(str(e) if isinstance(e, MicromelError) else
                                 f"{self.path}: cannot read ({type(e).__name__}: {e})") from None
        if not n:
            raise ClipUnreadable(f"{self.path}: the file holds no samples")


class FrameDiff:
    """The host's and the device's feature frames compared by index as each side delivers
    them; keeps only the frames one side is ahead by, at most BACKLOG (older ones are only
    counted). result(): None when equal, else the count of differing values and the first,
    or both frame counts when they differ."""

    def __init__(self, n_mels: int):
        self.host = np.zeros((0, n_mels), np.int8)
        self.dev = np.zeros((0, n_mels), np.int8)
        self.n_host = self.n_dev = self.count = 0
        self.first: dict | None = None

    def add(self, host=None, dev=None) -> None:
        if host is not None and len(host):
            self.host = np.concatenate([self.host, host])
            self.n_host += len(host)
        if dev is not None and len(dev):
            self.dev = np.concatenate([self.dev, dev])
            self.n_dev += len(dev)
        # index of each side's first frame held; frames whose counterpart was dropped go too
        h0, d0 = self.n_host - len(self.host), self.n_dev - len(self.dev)
        start = max(h0, d0)
        self.host, self.dev = self.host[start - h0:], self.dev[start - d0:]
        k = min(len(self.host), len(self.dev))
        a, b = self.host[:k], self.dev[:k]
        idx = np.argwhere(a != b)
        if len(idx) and self.first is None:
            f, m = (int(v) for v in idx[0])
            self.first = {"first_index": [start + f, m], "host": int(a[f, m]),
                          "device": int(b[f, m])}
        self.count += len(idx)
        self.host, self.dev = self.host[k:][-BACKLOG:], self.dev[k:][-BACKLOG:]

    def result(self) -> dict | None:
        if self.n_host != self.n_dev:
            return {"frames_host": self.n_host, "frames_device": self.n_dev}
        return {"count": self.count, **self.first} if self.count else None


class WindowDiff:
    """Window results compared by index as each side delivers them: silent or not and the
    int8 scores; the first three differences are kept, with the host window of the first
    score difference (for the layer diff). At most BACKLOG windows are held per side."""

    def __init__(self):
        self.host: deque = deque()     # (window int8 (F, mels), scores or None if silent)
        self.dev: deque = deque()      # int8 scores, None if silent
        self.n_host = self.n_dev = 0
        self.diffs: list = []
        self.n_diffs = 0
        self.first_score_window: tuple[int, np.ndarray] | None = None

    def add(self, host=(), dev=()) -> None:
        for h in host:
            self.host.append(h)
            self.n_host += 1
        for d in dev:
            self.dev.append(d)
            self.n_dev += 1
        h0, d0 = self.n_host - len(self.host), self.n_dev - len(self.dev)
        for q, first in ((self.host, h0), (self.dev, d0)):
            for _ in range(min(max(h0, d0) - first, len(q))):
                q.popleft()        # its counterpart was dropped: only counted
        w = max(h0, d0)
        while self.host and self.dev:
            (window, hs), ds = self.host.popleft(), self.dev.popleft()
            if (hs is None) != (ds is None):
                diff = {"window": w, "silent_host": hs is None, "silent_device": ds is None}
            elif hs is not None and not np.array_equal(hs, ds):
                diff = {"window": w, "host": hs.tolist(), "device": ds.tolist()}
                if self.first_score_window is None:
                    self.first_score_window = (w, window)
            else:
                diff = None
            w += 1
            if diff:
                self.n_diffs += 1
                if len(self.diffs) < 3:
                    self.diffs.append(diff)
        for q in (self.host, self.dev):
            while len(q) > BACKLOG:
                q.popleft()

    def result(self) -> list:
        if self.n_host != self.n_dev:
            return [{"windows_host": self.n_host, "windows_device": self.n_dev}] + self.diffs[:2]
        return self.diffs


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


def _maybe_layer_diff(dev, ref: Reference, windows: WindowDiff,
                      once: LayerDiffOnce | None) -> dict | None:
    """Only for the first clip with a score mismatch (it costs a layer dump)."""
    if windows.first_score_window is None or once is None or not once.claim():
        return None
    w, window = windows.first_score_window
    try:
        return {"window": w, **layer_diff(dev, ref, window)}
    except Exception as e:  # noqa: BLE001 - the diff is a diagnosis, never fatal
        return {"window": w, "error": str(e)}


def _on_host(clip: Clip, step, *args):
    """A step of the host reference: its failure is this clip's error, not the device's."""
    try:
        return step(*args)
    except Exception as e:  # noqa: BLE001 - reported per clip, the run goes on
        raise ClipUnreadable(f"{clip.path}: the host reference failed ({type(e).__name__}: {e})") from None


def check_clip_audio(dev, ref: Reference, clip: Clip, pcm,
                     once: LayerDiffOnce | None = None) -> dict:
    """Audio mode: the device runs front end + windows + gate + model + vote. The clip (an
    int16 array, or an iterable of chunks: a long file streams) goes to the device and to the
    host reference side by side; frames and windows are compared as they arrive, so memory
    stays bounded however long the clip."""
    frames, windows = FrameDiff(ref.n_mels), WindowDiff()
    host = HostClip(ref, on_frames=lambda f: frames.add(host=f))

    def tee():      # the host computes each chunk just before the device is sent it
        for chunk in audio_link.as_chunks(pcm):
            windows.add(host=_on_host(clip, host.push, chunk))
            yield chunk
        windows.add(host=_on_host(clip, host.finish))

    def on_reply(part) -> None:
        frames.add(dev=part.features(ref.n_mels))
        windows.add(dev=[None if w.silent else w.scores for w in part.windows])

    got = audio_link.classify_audio(dev, tee(), ref.n_mels, ref.n_classes, want_features=True,
                                    on_reply=on_reply)
    score_diffs, feat_diff = windows.result(), frames.result()
    vote = host.answer()
    return {
        "layer_diff": _maybe_layer_diff(dev, ref, windows, once),
        "features_match": feat_diff is None,
        "features_diff": feat_diff,
        "scores_match": not score_diffs and got.vote == vote and np.array_equal(got.acc, host.acc),
        "scores_diff": score_diffs,
        "windows": host.windows,
        "silent_windows": host.windows - host.nonsilent,
        "pred_host": vote,
        "pred_device": got.vote,
    }


def check_clip_features(dev, ref: Reference, clip: Clip, pcm,
                        once: LayerDiffOnce | None = None) -> dict:
    """Features mode: the host's twin features go in, window by window (CLASSIFY_FEATURES),
    and the device runs the model; the vote is taken over the device's scores."""
    windows = WindowDiff()
    host = HostClip(ref)
    acc = np.zeros(ref.n_classes, np.int32)

    def device_scores(items) -> list:
        out = []
        for window, hs in items:
            if hs is None:
                out.append(None)
                continue
            reply = dev.request(protocol.MSG["CLASSIFY_FEATURES"], np.ascontiguousarray(window).tobytes())
            ds = np.frombuffer(reply.payload, np.int8, ref.n_classes).copy()
            acc[:] += ds.astype(np.int32) + 128
            out.append(ds)
        return out

    for chunk in audio_link.as_chunks(pcm):
        items = _on_host(clip, host.push, chunk)
        windows.add(host=items, dev=device_scores(items))
    items = _on_host(clip, host.finish)
    windows.add(host=items, dev=device_scores(items))
    return {
        "layer_diff": _maybe_layer_diff(dev, ref, windows, once),
        "features_match": True,  # the device was given the host's features
        "features_diff": None,
        "scores_match": not windows.result(),
        "scores_diff": windows.result(),
        "windows": host.windows,
        "silent_windows": host.windows - host.nonsilent,
        "pred_host": host.answer(),
        "pred_device": int(decide(acc, host.nonsilent, ref.reject)),
    }
