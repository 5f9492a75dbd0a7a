"""The `--background` folder models/speech was trained with: links to the music files of the
TRAINING sources of the speech catalogue (data/speech_sources.py; role train, kind music or
ambience), one sub-folder per source. Held-out and validation sources never appear.

    PYTHONPATH=python python scripts/speech_beds.py build/beds_train

lmms_instruments is left out: its single-note samples are no bed, and some of its .ogg files
are WAV files with a malformed header that the bed bank's reader refuses."""
from __future__ import annotations

import sys
from pathlib import Path

from micromel.data import speech_sources as S

SKIP = {"lmms_instruments"}


def main(out: str) -> None:
    root = Path(out)
    n = 0
    for s in S.SOURCES:
        if s.role != "train" or s.kind not in ("music", "ambience") or s.name in SKIP:
            continue
        for f in S.source_files(s):
            if S.role_of(f) != "train":
                continue
            link = root / s.name / (f.group.replace("/", "_") + "__" + f.path.name)
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.exists():
                link.symlink_to(f.path.resolve())
            n += 1
    print(f"{root}: {n} files")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "build/beds_train")
