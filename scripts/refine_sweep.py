"""Sweep of the boundary refinement's constants (segment/refine.py: ONSET_EIGHTHS,
ONSET_AHEAD, OFFSET_EIGHTHS, OFFSET_BACK) with a model's segment config on (validation)
streams: the model runs once per stream, the twin's state machine once per setting
(docs/segmentation.md).

    PYTHONPATH=python python scripts/refine_sweep.py models/speech data/streams_val

Prints per setting: segment F1, event F1, median |onset| and |offset| errors, median signed
onset and offset errors (negative = early)."""
from __future__ import annotations

import itertools
import sys
from pathlib import Path

from micromel.modeldir import ModelDir
from micromel.segment import evaluate as E, refine as RF


def main(model_dir: str, streams: str) -> None:
    m = ModelDir.open(model_dir)
    cached = E.cached_results(m, m.segment_params(), Path(streams), "speech")
    print("onset/8 ahead offset/8 back  seg F1  ev F1  |onset| |offset|  onset bias  offset bias")
    for on, ahead, off, back in itertools.product((3, 4, 5), (1, 2, 3), (2, 3, 4), (4, 6, 8)):
        RF.ONSET_EIGHTHS, RF.ONSET_AHEAD, RF.OFFSET_EIGHTHS, RF.OFFSET_BACK = on, ahead, off, back
        s = E.score_config(m, m.segment, cached, "speech", 0.1, 0.2).summary()
        print(f"{on:8d} {ahead:5d} {off:8d} {back:4d}  {s['segment']['f_measure']:.4f} {s['event']['f_measure']:.4f}"
              f"  {1000 * s['onset_error']:5.0f}ms {1000 * s['offset_error']:5.0f}ms"
              f"  {1000 * s['onset_bias']:8.0f}ms {1000 * s['offset_bias']:9.0f}ms", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
