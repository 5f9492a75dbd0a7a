"""A device in STREAM mode as the source of per-window results for
segmentation (`micromel segment --device`): PCM chunks go to the device, its
(scores or None, silent) per window come back, and the events the device's own
segmenter closed are kept in `.device_events` so they can be checked against
the twin's (`segment.segment_windows` over the same window results)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from . import audio_link
from .errors import MicromelError


class DeviceWindowResults:
    def __init__(self, device, model_dir: Path, p):
        """device: a spec ('emulate', tty, URL) or an open device.Device."""
        from . import segment as S
        from .reference import Reference, model_hash
        from .verify import _check_device_model, _open

        compiled = S.params_from_model(model_dir)
        if p != compiled:
            raise MicromelError("--device: the segmentation options differ from the model's "
                                "config.json['segment'] that the firmware was built with; drop the "
                                "options or write them into the model (evaluate-segments --tune --write)")
        self.model_dir = Path(model_dir)
        self.ref = Reference(self.model_dir)
        self.dev = _open(device, self.model_dir) if isinstance(device, str) else device
        try:
            _check_device_model(self.dev, self.ref, model_hash(self.model_dir))
        except BaseException:
            self.dev.close()
            raise
        self.device_events: list[tuple[int, int, int, int]] = []
        self.windows = 0

    def __call__(self, chunks: Iterable[np.ndarray]) -> Iterator[tuple]:
        st = audio_link.Stream(self.dev, self.ref.n_mels, self.ref.n_classes)
        try:
            for chunk in chunks:
                yield from self._results(st.send(chunk))
            yield from self._results(st.finish())
        finally:
            self.dev.close()

    def _results(self, r: audio_link.AudioResult) -> Iterator[tuple]:
        for w in r.windows:
            if w.index != self.windows:
                raise MicromelError(f"{self.dev.name}: window {w.index} arrived, {self.windows} expected")
            self.windows += 1
            yield (None if w.silent else w.scores), w.silent
        self.device_events += r.events


def window_results_factory(device: str, model_dir: Path, p) -> DeviceWindowResults:
    return DeviceWindowResults(device, Path(model_dir), p)


def check_against_twin(model_dir: Path, paths: list[Path], device: str = "emulate",
                       seconds: float | None = None, progress: bool = True) -> dict:
    """Stream each file through a device and through the twin; compare every
    window's result and every event. Returns counts; raises nothing on a
    mismatch (the caller decides)."""
    from . import segment as S
    from .segment_run import host_window_results, open_audio

    p = S.params_from_model(model_dir)
    totals = {"files": 0, "seconds": 0.0, "windows": 0, "window_mismatches": 0,
              "events_device": 0, "events_twin": 0, "event_mismatch_files": 0}
    for path in paths:
        audio = open_audio(path, p.sample_rate)
        limit = int(seconds * p.sample_rate) if seconds else None

        def chunks():
            n = 0
            for c in audio.chunks():
                if limit is not None and n >= limit:
                    return
                c = c if limit is None else c[: limit - n]
                n += len(c)
                yield c

        twin = list(host_window_results(chunks(), model_dir, p))
        dev = DeviceWindowResults(device, model_dir, p)
        bar = None
        if progress:
            from tqdm import tqdm
            bar = tqdm(total=len(twin), unit="win", desc=Path(path).name, dynamic_ncols=True)
        got = []
        for r in dev(chunks()):
            got.append(r)
            if bar:
                bar.update(1)
        if bar:
            bar.close()
        mism = sum(1 for (ts, tq), (ds, dq) in zip(twin, got)
                   if tq != dq or (ts is None) != (ds is None) or (ts is not None and not np.array_equal(ts, ds)))
        mism += abs(len(twin) - len(got))
        twin_events = [(e.start, e.end, e.label, e.confidence) for e in S.segment_windows(twin, p)]
        dev_events = [tuple(int(v) for v in e) for e in dev.device_events]
        totals["files"] += 1
        totals["seconds"] += (limit or audio.n_samples) / p.sample_rate
        totals["windows"] += len(twin)
        totals["window_mismatches"] += mism
        totals["events_device"] += len(dev_events)
        totals["events_twin"] += len(twin_events)
        totals["event_mismatch_files"] += dev_events != twin_events
    return totals
