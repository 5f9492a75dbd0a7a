"""`micromel segment --save-uncertain DIR`: the windows the model was least sure about, as
WAV files named by their time in the stream, ready to label in Audacity and add back with
`micromel dataset from-labels` (active learning).

Sureness of a non-silent window = the margin between its two largest int8 scores (q + 128,
in 1/256 of a probability; the quantity the open-set rule of micromel.clip.reject uses).
The N windows of smallest margin are picked greedily, smallest first, skipping any window
whose samples overlap one already picked (earlier window first among equal margins).
Window j covers samples [j * hop, j * hop + span) of the stream (micromel.segment.run)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import cliargs
from ..audio import open_audio, write_wav
from ..data.window_names import cut_from, window_stem
from ..errors import MicromelError


@dataclass(frozen=True)
class Pick:
    window: int
    start: int           # first sample
    end: int             # one past the last sample
    label: int           # the top class
    margin: int          # top minus second score, 1/256


def margin_of(scores) -> tuple[int, int]:
    """(top class, top - second) of one window's int8 scores."""
    q = np.asarray(scores, np.int32) + 128
    order = np.argsort(-q, kind="stable")
    second = int(q[order[1]]) if len(q) > 1 else 0
    return int(order[0]), int(q[order[0]]) - second


def pick(scores: list, n: int, hop: int, span: int) -> list[Pick]:
    """The n least sure non-overlapping windows (scores: int8 array or None per window)."""
    cands = []
    for j, s in enumerate(scores):
        if s is not None:
            lab, m = margin_of(s)
            cands.append((m, j, lab))
    out: list[Pick] = []
    for m, j, lab in sorted(cands):
        if len(out) >= n:
            break
        a = j * hop
        if any(a < p.end and p.start < a + span for p in out):
            continue
        out.append(Pick(j, a, a + span, lab, m))
    return sorted(out, key=lambda p: p.start)


def file_name(stem: str, p: Pick, rate: int) -> str:
    # the name from-labels reads back as a part of the recording (one split, its times)
    return window_stem(stem, p.start / rate, p.end / rate) + ".wav"


def save(path: Path, picks: list[Pick], out_dir: Path, rate: int) -> list[Path]:
    """Write the picked spans of `path` (read again in blocks: memory bounded by the picks)
    into out_dir. Refuses, before writing anything, to replace a file already there."""
    out_dir = Path(out_dir)
    if not out_dir.parent.is_dir():
        raise MicromelError(f"--save-uncertain {out_dir}: folder {out_dir.parent} does not exist")
    targets = [out_dir / file_name(Path(path).stem, p, rate) for p in picks]
    taken = [t for t in targets if t.exists()]
    if taken:
        raise MicromelError(f"--save-uncertain: {taken[0]} exists; give an empty folder")
    out_dir.mkdir(exist_ok=True)
    bufs = [[] for _ in picks]
    pos = 0
    for chunk in open_audio(path, rate).chunks():
        for k, p in enumerate(picks):
            a, b = max(p.start, pos), min(p.end, pos + len(chunk))
            if a < b:
                bufs[k].append(chunk[a - pos: b - pos])
        pos += len(chunk)
    written = []
    for t, p, parts in zip(targets, picks, bufs):
        pcm = np.concatenate(parts) if parts else np.zeros(0, np.int16)
        pcm = np.concatenate([pcm, np.zeros(p.end - p.start - len(pcm), np.int16)])  # stream end
        written.append(write_wav(t, pcm, rate))
    return written


PER_FILE = 10      # windows saved per file unless --uncertain says otherwise


def add_options(parser) -> None:
    """--save-uncertain DIR and --uncertain N, for `segment` and `listen` alike."""
    parser.add_argument("--save-uncertain", metavar="DIR",
                        help="also write the windows the model was least sure about (smallest "
                             "margin between its two top classes) as WAV files named by time, to "
                             "label in Audacity and add with 'micromel dataset from-labels'")
    parser.add_argument("--uncertain", type=cliargs.positive_int,
                        help=f"with --save-uncertain: windows per file (default {PER_FILE})")


def check_options(args, stems=()) -> int:
    """--uncertain and --save-uncertain DIR, before any work: --uncertain alone would be
    ignored; the folder is checked (check_dir). Returns the windows to save per file."""
    per_file = cliargs.needs(args, "uncertain", bool(args.save_uncertain), "counts the windows "
                             "--save-uncertain DIR writes; add --save-uncertain DIR (or drop "
                             "--uncertain)", default=PER_FILE)
    check_dir(args.save_uncertain, stems)
    return per_file


def check_dir(out_dir, stems=()) -> None:
    """Refuse, before any work, a --save-uncertain folder whose parent does not exist, or that
    holds windows of one of these recordings (file stems) already: their names could meet
    the new ones, which `save` refuses only after the run. Windows of other recordings are
    fine (one folder can gather the windows of many recordings to label)."""
    if not out_dir:
        return
    d = Path(out_dir)
    if not d.resolve().parent.is_dir():
        raise MicromelError(f"--save-uncertain {out_dir}: its parent folder does not exist")
    for f in sorted(d.glob("*.wav")) if d.is_dir() else ():
        stem = cut_from(f.stem)
        if stem is not None and stem in stems:
            raise MicromelError(f"--save-uncertain {out_dir}: holds windows of {stem} already "
                                f"({f.name}); give another folder, or move them out")


class Tap:
    """Records the per-window scores of a device's STREAM results as they pass."""

    def __init__(self, window_results):
        self.window_results = window_results
        self.scores: list = []

    def __call__(self, chunks):
        self.scores = []
        for r in self.window_results(chunks):   # (scores, silent[, frame energies])
            scores, silent = r[0], r[1]
            self.scores.append(None if silent or scores is None else np.asarray(scores, np.int8))
            yield r
