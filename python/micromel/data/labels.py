"""Datasets from long recordings labelled in Audacity (`micromel dataset from-labels`).

A recording (any format soundfile reads) with a label track beside it: `rec.wav` and
`rec.txt` (Audacity: File > Export > Labels), or `rec.labels.txt` / `rec.tsv` in the same
"start<TAB>end<TAB>label" format (seconds); Audacity's frequency lines (a backslash, then
the low and high frequency, under a label of a spectral selection) are skipped.

Every recording is cut into window-long clips (the model's window: `window_samples` of the
default front end for --window-frames frames) every --hop seconds. A clip gets label L when
L's labels cover at least --min-coverage of it; a clip no label touches is background
(--background-label NAME), or dropped without that option; any other clip (a label's edge,
overlapping labels) is ambiguous and dropped. Splits go by recording: all clips of one
recording are in one split, so no recording is on both sides of a test. A file named as
`segment` / `listen --save-uncertain` name the windows they save, `<recording>_<start>-<end>`
(seconds, `window_names.window_stem`), is a part of <recording> starting at <start>: it goes to
<recording>'s split, and its clips' source and times are <recording>'s.

Output: `DATA/<label>/<file>__<first sample>.wav` and `DATA/manifest.csv` with columns path,
label, split, source (the recording's name, then the clip's start and end in seconds:
--hold-out-source holds out a recording), start, end.
"""
from __future__ import annotations

import hashlib
import math
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import cliargs
from ..audio import AUDIO_EXTENSIONS, open_audio, write_wav
from ..clip.reject import UNKNOWN_LABEL
from ..clip.rules import Framing, WindowConfig, window_samples
from ..errors import MicromelError
from ..fileio import raise_as_users, temp_beside, write_text_atomic
from ..frontend.config import FrontendConfig
from .datasets import SPLITS, write_background_labels, write_manifest
from .window_names import recording_of

LABEL_SUFFIXES = (".txt", ".labels.txt", ".tsv")
EXTRA_COLUMNS = ("start", "end")


@dataclass(frozen=True)
class Label:
    start: float
    end: float
    name: str
    line: int = 0       # where the track says it (errors name it)


def check_class_name(name: str, what: str) -> str:
    """A class name is a folder of the dataset and a manifest field: not empty, no path
    separator, no comma, not '.' or '..' (which would put clips outside the dataset)."""
    if not name:
        raise MicromelError(f"{what}: a class needs a name")
    if any(c in name for c in '/\\,"\n') or name in (".", ".."):
        # a quote: the model's labels reach C strings, and a model folder refuses it
        raise MicromelError(f"{what} {name!r}: a class name cannot contain '/', '\\', ',' or '\"' "
                            "or be '.' or '..'")
    return name


def check_new_class(name: str, what: str) -> str:
    """A class a dataset builder creates: a class name, and not 'unknown', what the rejection
    rule answers for a sound of none of the classes (and the folder add-other fills with
    sounds held out of training). Label tracks that tune reads may say 'unknown' (a corrected
    `segment` output does): they name no class."""
    check_class_name(name, what)
    if name == UNKNOWN_LABEL:
        raise MicromelError(f"{what} {name!r}: 'unknown' is what micromel answers for a sound "
                            "of none of the classes; give the class another name (e.g. 'other')")
    return name


def read_labels(path: Path, points: list | None = None) -> list[Label]:
    """An Audacity label track. A line that is not `start<TAB>end<TAB>label` (or a frequency
    line under one) is a one-line error naming the line. Point labels (start == end, which
    Audacity makes with a click) cover no time: skipped, their line numbers appended to
    `points` when given."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise MicromelError(f"{path}: cannot read the label track ({e})") from None
    out = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("\\"):
            continue          # blank, or Audacity's frequency line of a spectral selection
        # only the line end and outer spaces go: a label with no text keeps its empty column
        parts = re.split(r"\t| {2,}", line.rstrip("\r\n").strip(" "), maxsplit=2)
        if n == 1 and parts[0].lower() in ("start", "onset"):
            continue          # a header line
        try:
            if len(parts) != 3:
                raise ValueError
            start, end, name = float(parts[0]), float(parts[1]), parts[2].strip()
        except ValueError:
            raise MicromelError(f"{path}:{n}: expected start<TAB>end<TAB>label in seconds, "
                                f"found {line.strip()!r}") from None
        if "\t" in name:
            raise MicromelError(f"{path}:{n}: more than three columns; expected "
                                f"start<TAB>end<TAB>label, found {line.strip()!r}")
        if not (math.isfinite(start) and math.isfinite(end)):
            raise MicromelError(f"{path}:{n}: start {start} and end {end} must be finite "
                                "numbers of seconds")
        if 0 <= start == end:
            if points is not None:
                points.append(n)
            continue
        if not (0 <= start < end):
            raise MicromelError(f"{path}:{n}: start {start} and end {end} must satisfy "
                                "0 <= start < end")
        check_class_name(name, f"{path}:{n}: label")
        out.append(Label(start, end, name, n))
    return out


def find_pairs(names, track_of=None, skipped: list | None = None) -> list[tuple[Path, Path]]:
    """(recording, label track) pairs among files and folders (searched recursively). A
    recording without a label track beside it is skipped when found in a folder (appended to
    `skipped` when given, for a note) and an error when named. `track_of(audio) -> Path |
    None` finds the track (default `label_track`)."""
    track_of = track_of or label_track
    pairs = []
    for name in names:
        p = Path(name)
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_EXTENSIONS)
            for f in files:
                if t := track_of(f):
                    pairs.append((f, t))
                elif skipped is not None:
                    skipped.append(f)
        elif not p.exists():
            raise MicromelError(f"{p}: no such file or folder")
        else:
            if p.suffix.lower() not in AUDIO_EXTENSIONS:
                raise MicromelError(f"{p}: not a recording ({', '.join(AUDIO_EXTENSIONS)}); give "
                                    "the recording, its label track beside it")
            t = track_of(p)
            if t is None:
                raise MicromelError(f"{p}: no label track beside it (expected "
                                    + " or ".join(p.stem + s for s in LABEL_SUFFIXES) + ")")
            pairs.append((p, t))
    if not pairs:
        raise MicromelError(f"{' '.join(map(str, names))}: no recordings with label tracks")
    return pairs


def skipped_names(files: list, most: int = 3) -> str:
    names = ", ".join(str(f) for f in files[:most])
    return names + (f" and {len(files) - most} more" if len(files) > most else "")


LATE_S = 1.0        # a label may run this far past its recording's end: Audacity lets a
                    # selection dragged to the end overshoot it (clips stop at the end anyway)


def check_extent(rec: Path, track: Path, labels: list[Label], rate: int) -> float:
    """Every label within its recording (give or take LATE_S at the end): a label past the
    end was made on another recording or with another time unit. Returns its seconds."""
    seconds = open_audio(rec, rate).n_samples / rate
    for lab in labels:
        if lab.start >= seconds or lab.end > seconds + LATE_S:
            raise MicromelError(f"{track}:{lab.line}: label {lab.name!r} ({lab.start:g}-{lab.end:g} "
                                f"s) lies past the end of {rec.name} ({seconds:.3f} s); is the "
                                "track that recording's, in seconds?")
    return seconds


def label_track(audio: Path, also: tuple[Path, ...] = ()) -> Path | None:
    """The one label track beside a recording (its Audacity tracks, and the paths in `also`:
    tune's .events.tsv); two are refused (a `segment --format audacity` output,
    REC.labels.txt, beside a hand-made REC.txt was read instead of it)."""
    candidates = [audio.with_name(audio.stem + s) for s in (".labels.txt", ".txt", ".tsv")]
    found = [t for t in candidates + list(also) if t.is_file() and t != audio]
    if len(found) > 1:
        raise MicromelError(f"{audio}: {len(found)} label tracks beside it ("
                            + ", ".join(t.name for t in found) + "); keep the one to read and "
                            "move the others away")
    return found[0] if found else None


def recording_split(key: str) -> str:
    """80/10/10 by a stable hash of the recording's name: every clip of it, one split."""
    v = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 10
    return "test" if v == 0 else "val" if v == 1 else "train"


def coverage(labels: list[Label], a: float, b: float) -> dict[str, float]:
    """The share of [a, b) each label name covers (overlaps of one name counted once)."""
    out: dict[str, float] = {}
    for name in {lab.name for lab in labels}:
        spans = sorted((max(a, x.start), min(b, x.end)) for x in labels
                       if x.name == name and x.end > a and x.start < b)
        covered, cursor = 0.0, a
        for lo, hi in spans:
            lo = max(lo, cursor)
            if hi > lo:
                covered += hi - lo
                cursor = hi
        if covered > 0:
            out[name] = covered / (b - a)
    return out


def clip_label(cov: dict[str, float], min_coverage: float, background: str | None) -> str | None:
    """The coverage rule: a label covering >= min_coverage (and no other label touching the
    clip); nothing touching it: background (or None); anything else: None (ambiguous)."""
    if not cov:
        return background
    if len(cov) == 1:
        (name, share), = cov.items()
        return name if share >= min_coverage else None
    return None


def build_from_labels(names, out_dir: Path, window_frames: int = 32, hop_s: float | None = None,
                      min_coverage: float = 0.5, background: str | None = None,
                      quiet: bool = False) -> Path:
    """Write the dataset; returns its manifest path."""
    out_dir = Path(out_dir)
    if out_dir.is_dir() and any(out_dir.iterdir()):
        # clips, manifest.csv and README.txt go in: nothing of the user's is replaced
        raise MicromelError(f"--out {out_dir}: exists and is not an empty folder (a dataset "
                            "already?); give a new or empty folder")
    cliargs.out_folder(out_dir, "--out", "for the dataset")
    if not 0 < min_coverage <= 1:
        raise MicromelError(f"--min-coverage {min_coverage}: must be in (0, 1]")
    if background is not None:
        check_new_class(background, "--background-label")
    fe = FrontendConfig()
    n = window_samples(WindowConfig(window_frames, 1), Framing(fe.hop_length, fe.frame_length))
    hop = int(round((hop_s if hop_s else n / 2 / fe.sample_rate) * fe.sample_rate))
    if not 1 <= hop <= n:
        raise MicromelError(f"--hop {hop_s}: must be positive and at most one clip "
                            f"({n / fe.sample_rate:.3f} s)")
    skipped: list = []
    pairs = find_pairs(names, skipped=skipped)
    points: list = []
    plan = [(rec, read_labels(track, points)) for rec, track in pairs]   # every track checked first
    clip_s = n / fe.sample_rate
    short = []          # recordings shorter than one clip give none, whatever the labels
    for (rec, labels), (_, track) in zip(plan, pairs):
        if check_extent(rec, track, labels, fe.sample_rate) < clip_s:
            short.append(str(rec))
        for lab in labels:
            check_new_class(lab.name, f"{track}:{lab.line}: label")
    if skipped and not quiet:
        print(f"from-labels: {len(skipped)} recording(s) without a label track beside "
              f"them skipped ({skipped_names(skipped)}); a track is REC.txt, REC.labels.txt or "
              "REC.tsv beside REC", file=sys.stderr)
    if background and any(background == lab.name for _, labs in plan for lab in labs):
        raise MicromelError(f"--background-label {background}: is also a label in the tracks")
    named: dict[str, Path] = {}
    for rec, _ in plan:
        if rec.stem in named:
            raise MicromelError(f"{named[rec.stem]} and {rec}: two recordings of one name; "
                                "rename one (clips are named after their recording)")
        named[rec.stem] = rec
    # written beside --out and renamed into place: a failure or Ctrl-C leaves no half dataset
    # (`dataset check` and `train` took one for a whole)
    out_dir = out_dir.resolve()      # "--out ." has no name to write beside
    tmp = temp_beside(out_dir, folder=True)
    try:
        _write(plan, tmp, n, hop, fe.sample_rate, min_coverage, background, points, quiet, short)
        os.chmod(tmp, 0o755)
        if out_dir.exists():
            # empty (checked above) and kept: it may be a shell's current folder. Its entries
            # move in, the manifest (what makes the folder a dataset) last
            for entry in sorted(tmp.iterdir(), key=lambda p: p.name == "manifest.csv"):
                entry.rename(out_dir / entry.name)
            tmp.rmdir()
        else:
            tmp.rename(out_dir)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise_as_users(e, tmp, out_dir)
    return out_dir / "manifest.csv"


def _write(plan, out_dir: Path, n: int, hop: int, rate: int, min_coverage: float,
           background: str | None, points: list, quiet: bool, short: list) -> None:
    rows = []
    for rec, labels in plan:
        source, offset = recording_of(rec.stem)
        split = recording_split(source)
        rows += _cut(rec, labels, out_dir, n, hop, rate, min_coverage, background, split,
                     source, offset)
        if not quiet:
            part = f" (part of {source} from {offset:.3f} s)" if source != rec.stem else ""
            print(f"{rec.name}{part}: {split}", flush=True)
    # the notes first: they explain an empty result too
    for note in _notes(plan, rows, points, n / rate, min_coverage, short) + _overlaps(plan):
        print(f"from-labels: {note}", file=sys.stderr)
    if not rows:
        raise MicromelError("no clip met the coverage rule; lower --min-coverage or label more")
    write_manifest(out_dir / "manifest.csv", rows, extra=EXTRA_COLUMNS)
    write_text_atomic(out_dir / "README.txt", f"Built by micromel dataset from-labels from "
                      f"{len(plan)} recordings: clips of {n} samples every {hop} samples, a label "
                      f"when it covers >= {min_coverage:g} of a clip, background "
                      f"{background or '(none)'}; splits by recording ({', '.join(SPLITS)}).\n")
    if background:
        write_background_labels(out_dir, [background])


def _notes(plan, rows, points: list, clip_s: float, min_coverage: float,
           short: list = ()) -> list[str]:
    """What the user would otherwise not see: point labels skipped, labels that named no clip
    (too short for the coverage rule), splits no recording fell in."""
    notes = []
    if short:
        notes.append(f"{len(short)} recording(s) shorter than one clip ({clip_s:.3f} s) give no "
                     f"clip ({skipped_names(short)})")
    empty = [str(rec) for rec, labs in plan if not labs]
    if empty:
        notes.append(f"{len(empty)} recording(s) whose label track holds no labels "
                     f"({skipped_names(empty)})")
    if points:
        notes.append(f"{len(points)} point label(s) skipped (a label with start == end covers "
                     "no time)")
    named = {r["label"] for r in rows}
    for name in sorted({lab.name for _, labs in plan for lab in labs} - named):
        longest = max(lab.end - lab.start for _, labs in plan for lab in labs if lab.name == name)
        if longest < min_coverage * clip_s:
            notes.append(f"label {name!r} named no clip: its longest label is {longest:.3f} s and "
                         f"a clip needs {min_coverage:g} of {clip_s:.3f} s covered; label longer "
                         "spans or lower --min-coverage")
        else:
            notes.append(f"label {name!r} named no clip: every clip it covers enough is touched "
                         "by another label too (ambiguous) or runs past the recording's end")
    empty = [sp for sp in SPLITS if sp not in {r["split"] for r in rows}]
    if empty:
        notes.append(f"no clip in the {' and '.join(empty)} split{'s' if len(empty) > 1 else ''} "
                     "(splits go by recording, 80/10/10 by a hash of its name): with few "
                     "recordings, add more")
    return notes


def _overlaps(plan) -> list[str]:
    """Labels of different classes that overlap: the clips both touch are dropped (ambiguous),
    which the user may not have meant (a typo in a time, a forgotten label's end)."""
    found = []          # the first overlap of each recording is enough for the note
    for rec, labels in plan:
        last = None                      # the label reaching furthest so far
        for lab in sorted(labels, key=lambda x: (x.start, x.end)):
            if last is not None and lab.start < last.end and lab.name != last.name:
                found.append((rec, last, lab))
            if last is None or lab.end > last.end:
                last = lab
    if not found:
        return []
    rec, a, b = found[0]
    return [f"labels of different classes overlap (first: {rec.name}'s {a.name!r} of line "
            f"{a.line} and {b.name!r} of line {b.line}): the clips both touch are ambiguous "
            "and dropped"]


def _cut(rec: Path, labels, out_dir: Path, n: int, hop: int, rate: int, min_coverage: float,
         background: str | None, split: str, source: str, offset: float) -> list[dict]:
    """The clips of one recording (a part of `source` from `offset` seconds), read in blocks
    (memory holds one clip and one block)."""
    audio = open_audio(rec, rate)
    rows, buf, start = [], np.zeros(0, np.int16), 0
    for chunk in audio.chunks():
        buf = np.concatenate([buf, chunk])
        while len(buf) >= n:
            a, b = start / rate, (start + n) / rate
            name = clip_label(coverage(labels, a, b), min_coverage, background)
            if name is not None:
                rel = Path(name) / f"{rec.stem}__{start:09d}.wav"
                write_wav(out_dir / rel, buf[:n], rate)
                at, to = offset + a, offset + b
                rows.append({"path": rel.as_posix(), "label": name, "split": split,
                             "source": f"{source}/{at:.3f}-{to:.3f}", "start": f"{at:.3f}",
                             "end": f"{to:.3f}"})
            buf, start = buf[hop:], start + hop
    return rows
