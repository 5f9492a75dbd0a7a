"""A device in STREAM mode as the source of per-window results for segmentation
(`micromel segment --device`): PCM chunks go to the device, its (scores or None, silent)
per window come back, and the events the device's own segmenter closed are kept in
`.device_events` so they can be checked against the twin's
(`segment.machine.segment_windows` over the same window results).

One object serves any number of files in turn (each call is one STREAM from START); the
device stays open until `close()` (or the end of a `with` block)."""
from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np

from ..errors import MicromelError
from . import audio
from .model_device import check_device_runs, open_model_device


class DeviceWindowResults:
    def __init__(self, device, model, p):
        """device: a spec ('emulate', tty, URL) or an open device.Device; model: a ModelDir;
        p: the segmentation parameters the caller wants (they must be the model's: the
        firmware was built with them)."""
        if p != model.segment_params():
            raise MicromelError("--device: the segmentation options differ from the model's "
                                "config.json['segment'] that the firmware was built with; drop the "
                                "options or write them into the model (evaluate-segments --tune --write)")
        self.model = model
        if isinstance(device, str):
            self.dev = open_model_device(device, model)
        else:
            self.dev = device
            try:
                check_device_runs(self.dev, model)
            except BaseException:
                self.dev.close()
                raise
        self.device_events: list[tuple[int, int, int, int]] = []
        self.windows = 0

    def __enter__(self) -> "DeviceWindowResults":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.dev.close()

    def __call__(self, chunks: Iterable[np.ndarray]) -> Iterator[tuple]:
        """One stream (a file): its window results in order; `device_events` and the window
        count start anew."""
        self.device_events, self.windows = [], 0
        st = audio.Stream(self.dev, self.model.n_mels, self.model.n_classes)
        for chunk in chunks:
            yield from self._results(st.send(chunk))
        yield from self._results(st.finish())

    def _results(self, r: audio.AudioResult) -> Iterator[tuple]:
        for w in r.windows:
            if w.index != self.windows:
                raise MicromelError(f"{self.dev.name}: window {w.index} arrived, {self.windows} expected")
            self.windows += 1
            yield (None if w.silent else w.scores), w.silent
        self.device_events += r.events
