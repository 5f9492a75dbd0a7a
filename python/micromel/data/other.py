"""`micromel dataset add-other`: a copy of a dataset with one more class, `other`, of sounds
that are none of its classes, taken from another dataset with a source column (e.g.
`micromel dataset speech`'s speech, music, ambience and effects), so that a model can answer
"none of these" (`micromel reject --other-class other`: clip/reject.py) instead of forcing a
class onto a sound it was never meant to know.

Splits follow the other dataset's sources: its train sources give `other` training clips,
its val sources validation clips, and its test sources are kept out of the manifest
altogether: a sample of them goes to `unknown/` (sources with train or val clips too are
left out of it), sounds of no known class from sources the model never heard, for `micromel reject ... --unknown DATA/unknown`. Every source gives at
most `per_source` clips per split (seeded draw), so no single source (or the other dataset's
size) decides what `other` sounds like."""
from __future__ import annotations

import random
import shutil
from collections import defaultdict
from pathlib import Path

from .. import cliargs
from ..errors import MicromelError
from ..fileio import write_text_atomic
from .datasets import background_labels, load_dataset, write_background_labels, write_manifest
from .labels import check_new_class

UNKNOWN_DIR = "unknown"


def add_other(data, other, out: Path, label: str = "other", per_source: int = 8,
              unknown_per_source: int = 12, seed: int = 0) -> dict:
    """Write the dataset to `out` (a new folder); returns the counts written."""
    out = Path(out)
    if out.exists():
        raise MicromelError(f"--out {out}: exists; give a new folder")
    cliargs.out_folder(out, "--out", "for the dataset")
    if per_source < 1 or unknown_per_source < 0:
        raise MicromelError("--per-source must be >= 1 and --unknown-per-source >= 0")
    check_new_class(label, "--label")
    base = load_dataset(data)
    if label in base.labels:
        raise MicromelError(f"{data}: has a class '{label}' already; pick another --label")
    if not base.has_splits:
        raise MicromelError(f"{data}: its manifest names no splits; add-other keeps a dataset's "
                            "splits (give one with a split column)")
    extra = load_dataset(other)
    names = extra.source_names()
    if not any(names):
        raise MicromelError(f"{other}: no source column; the other class is split by source")
    groups = defaultdict(list)         # (split, source) -> items, in manifest order
    for item, name in zip(extra.items, names):
        groups[(item[2], name)].append(item)
    # a source with clips in train or val as well as test (e.g. generated noise) is not held
    # out: its test clips are left out of unknown/
    seen = {n for (s, n) in groups if s != "test"}
    for key in [k for k in groups if k[0] == "test" and k[1] in seen]:
        del groups[key]

    if not any(s == "train" for s, _ in groups) or not any(s == "val" for s, _ in groups):
        raise MicromelError(f"{other}: needs sources in its train and val splits")
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        raise MicromelError(f"{tmp}: exists (left by an interrupted run?); remove it first")
    try:
        counts = _write(base, groups, tmp, label, per_source, unknown_per_source, seed)
        # a sound of no known class is nothing to report: the segmenter makes no event of it
        write_background_labels(tmp, background_labels(base.root) + (label,))
        held = sorted({n for (s, n) in groups if s == "test"})
        write_text_atomic(tmp / "README.txt",
                          f"Built by micromel dataset add-other: {data} plus the class '{label}' "
                          f"from {other} (at most {per_source} clips per source and split, seed "
                          f"{seed}); {UNKNOWN_DIR}/ holds {counts['unknown']} clips of its test "
                          f"sources ({', '.join(held) or 'none'}), in no split: sounds of no known "
                          "class the model never heard, for `micromel reject --unknown`.\n")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)     # nothing half-written stays behind
        raise
    tmp.rename(out)
    return dict(counts)


def _write(base, groups, tmp: Path, label: str, per_source: int, unknown_per_source: int,
           seed: int) -> dict:
    """The dataset's clips and manifest into the temporary folder; returns the counts."""
    rows = []
    for (p, lab, split), src in zip(base.items, base.sources or [""] * len(base.items)):
        rel = Path(p).relative_to(base.root) if Path(p).is_relative_to(base.root) else Path(lab) / Path(p).name
        _copy(p, tmp / rel)
        rows.append({"path": rel.as_posix(), "label": lab, "split": split, "source": src})
    rng = random.Random(seed)
    counts = defaultdict(int)
    for (split, name), items in sorted(groups.items()):
        k = unknown_per_source if split == "test" else per_source
        for p, _, _ in rng.sample(items, min(k, len(items))):
            fname = f"{name}__{Path(p).name}"
            if split == "test":
                _copy(p, tmp / UNKNOWN_DIR / fname)
                counts["unknown"] += 1
                continue
            rel = Path(label) / fname
            _copy(p, tmp / rel)
            rows.append({"path": rel.as_posix(), "label": label, "split": split,
                         "source": f"{name}/{Path(p).name}"})
            counts[split] += 1
    write_manifest(tmp / "manifest.csv", rows)
    return counts


def _copy(src, dst: Path) -> None:
    if dst.exists():
        raise MicromelError(f"{src}: two clips would be {dst.name}; rename one")
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
