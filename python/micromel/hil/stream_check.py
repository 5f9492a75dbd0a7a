"""`micromel stream-check`: the device's STREAM mode against the twin, window by window and
event by event, on real recordings."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..audio import open_audio
from ..link.stream import DeviceWindowResults
from .progress import bar as progress_bar
from ..segment.machine import segment_windows
from ..segment.run import host_window_results


def check_against_twin(model, paths: list[Path], device: str = "emulate",
                       seconds: float | None = None, progress: bool = True) -> dict:
    """Stream each file through a device and through the twin (a ModelDir's segmenter);
    compare every window's result and every event. Returns counts and the files that
    differ (`mismatch_files`); raises nothing on a mismatch (the caller decides)."""
    p = model.segment_params()
    totals = {"files": 0, "seconds": 0.0, "windows": 0, "window_mismatches": 0,
              "events_device": 0, "events_twin": 0, "event_mismatch_files": 0,
              "mismatch_files": []}
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

        twin = list(host_window_results(chunks(), model, p))
        bar = progress_bar(len(twin), Path(path).name, "windows") if progress else None
        got = []
        try:
            with DeviceWindowResults(device, model, p) as dev:
                for r in dev(chunks()):
                    got.append(r)
                    if bar:
                        bar.update(1)
        finally:        # closed before an error is printed, which went onto the bar's line
            if bar:
                bar.close()
        mism = sum(1 for (ts, tq, _), (ds, dq, _) in zip(twin, got)
                   if tq != dq or (ts is None) != (ds is None) or (ts is not None and not np.array_equal(ts, ds)))
        mism += abs(len(twin) - len(got))
        # the device sends each event's onset and offset frames (segment/machine.py, step 5)
        twin_events = [(e.onset, e.offset, e.label, e.confidence) for e in segment_windows(twin, p)]
        dev_events = [tuple(int(v) for v in e) for e in dev.device_events]
        totals["files"] += 1
        # the audio streamed: --seconds caps it, a shorter file is all of itself
        totals["seconds"] += min(limit or audio.n_samples, audio.n_samples) / p.sample_rate
        totals["windows"] += len(twin)
        totals["window_mismatches"] += mism
        totals["events_device"] += len(dev_events)
        totals["events_twin"] += len(twin_events)
        totals["event_mismatch_files"] += dev_events != twin_events
        if mism or dev_events != twin_events:
            totals["mismatch_files"].append(str(path))
    return totals
