"""Where a model's segmentation misses speech, by source: of the reference's speech segments
(100 ms, metrics.segment_activity) that the system leaves inactive, how many lie inside a
reference event between two segments the system found (a pause the system opened), before
its first found segment (a late onset), after its last (an early offset), or in events the
system found nothing of (docs/segmentation.md, "By source").

    PYTHONPATH=python python scripts/segment_misses.py models/speech data/streams_test"""
from __future__ import annotations

import collections
import sys
from pathlib import Path

import numpy as np

from micromel.data.streams import read_sources, truth_path
from micromel.modeldir import ModelDir
from micromel.segment import evaluate as E, run
from micromel.segment.metrics import segment_activity


def main(model_dir: str, streams: str, label: str = "speech") -> None:
    model = ModelDir.open(model_dir)
    p = model.segment_params()
    scorer = run.Scorer(model)
    # source: [missed, inside, before (onset), after (offset), whole events]
    stat: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0, 0, 0, 0])
    for wav in E.streams_in(Path(streams)):
        res = run.segment_file(wav, model, p, scorer)
        found = segment_activity([(e.start, e.end) for e in res.events if e.label == label], res.duration)
        for a, b, lab, src in read_sources(truth_path(wav)):
            if lab != label:
                continue
            ref = segment_activity([(a, b)], res.duration)
            missed, hit = np.flatnonzero(ref & ~found), np.flatnonzero(ref & found)
            st = stat[src or "(no source)"]
            st[0] += len(missed)
            if len(hit):
                st[1] += int(np.sum((missed > hit[0]) & (missed < hit[-1])))
                st[2] += int(np.sum(missed < hit[0]))
                st[3] += int(np.sum(missed > hit[-1]))
            else:
                st[4] += len(missed)
    print(f"{'source':<24} {'missed':>7} {'inside':>13} {'onset side':>13} {'offset side':>13} "
          f"{'whole events':>13}")
    for src, (m, inside, before, after, whole) in sorted(stat.items()):
        def part(n):
            return f"{n:>6} ({n / max(m, 1):4.0%})"
        print(f"{src:<24} {m:>7} {part(inside)} {part(before)} {part(after)} {part(whole)}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: segment_misses.py MODEL_DIR STREAMS")
    main(sys.argv[1], sys.argv[2])
