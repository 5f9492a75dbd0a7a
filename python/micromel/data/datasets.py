"""Labelled audio for training and evaluation: any user's folder of sounds or manifest.

Either a folder with one sub-folder per class (label = folder name, any audio format
soundfile reads; a `manifest.csv` inside the folder takes precedence), or a CSV/TSV manifest
with columns path, label and optionally split (train/val/test). Paths are relative to the
manifest. Without a split column, files are split by a stable hash of their path (80/10/10),
so the split never changes when files are added. Every problem is one line naming the file:
unreadable or missing audio, a label not in the model's labels, a class with no files.
"""
from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import soundfile as sf

from ..audio import AUDIO_EXTENSIONS
from ..errors import MicromelError
from ..fileio import write_text_atomic

SPLITS = ("train", "val", "test")
MANIFEST_COLUMNS = ("path", "label", "split", "source")


BACKGROUND_FILE = "background_labels.txt"


def write_background_labels(root: Path, labels) -> None:
    """The dataset's classes of "nothing to report" (from-labels --background-label), one per
    line: `train` gives them to the model's segmenter, which makes no events of them."""
    write_text_atomic(Path(root) / BACKGROUND_FILE, "".join(f"{lab}\n" for lab in labels))


def background_labels(root: Path) -> tuple:
    path = Path(root) / BACKGROUND_FILE
    return tuple(line.strip() for line in path.read_text().splitlines() if line.strip()) \
        if path.is_file() else ()


def write_manifest(path: Path, rows: list[dict], extra: tuple = ()) -> None:
    """manifest.csv: path, label, split, source (and `extra` columns of the rows)."""
    columns = list(MANIFEST_COLUMNS) + list(extra)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r[k] for k in columns})
    write_text_atomic(path, buf.getvalue())


def summary_table(rows: list[dict], labels=None) -> str:
    labels = list(labels or sorted({r["label"] for r in rows}))
    lines = [f"{'split':<6} " + " ".join(f"{lab:>7}" for lab in labels) + "   total"]
    for s in SPLITS:
        counts = [sum(1 for r in rows if r["split"] == s and r["label"] == lab) for lab in labels]
        lines.append(f"{s:<6} " + " ".join(f"{c:>7}" for c in counts) + f" {sum(counts):>7}")
    return "\n".join(lines)


@dataclass
class Dataset:
    """A labelled list of audio files. `items` are (absolute path, label, split)."""
    root: Path
    labels: list[str]
    items: list[tuple[Path, str, str]]
    source: str                  # the folder or manifest it came from
    has_splits: bool = False     # the manifest names each file's split (else: hash split)
    sources: list = field(default_factory=list)   # per item: where it came from, or ""

    @property
    def default_split(self) -> str:
        """What evaluation and verification take when no split is asked for: the test split
        of a dataset that names its splits, else every clip (a plain folder of recordings
        was not trained on by definition of the user who gives it)."""
        return "test" if self.has_splits else "all"

    def select(self, split: str) -> list[tuple[Path, str, str]]:
        """The items of a split, or every item for 'all'."""
        return list(self.items) if split == "all" else self.split(split)

    def source_names(self, items=None) -> list[str]:
        """The source of each item (of `items`, default all): the manifest's source column up
        to its first '/' ("hydrogen/GMRockKit/kick.flac" -> "hydrogen"), "" without one."""
        by_path = {p: src for (p, _, _), src in zip(self.items, self.sources or [""] * len(self.items))}
        return [by_path.get(p, "").split("/", 1)[0] for p, _, _ in (self.items if items is None else items)]

    def hold_out(self, source: str) -> "Dataset":
        """Leave one source out: every clip of `source` is the test split (whatever split the
        manifest gave it), the other sources keep their train and val clips and lose their
        test clips. What a model trained on the result scores on test was never seen."""
        names = self.source_names()
        known = sorted(set(names) - {""})
        if source not in known:
            raise MicromelError(f"--hold-out-source {source}: not a source of {self.source} "
                                f"(its sources: {', '.join(known) or 'none: no source column'})")
        items, sources = [], []
        for (p, lab, split), src, name in zip(self.items, self.sources or [""] * len(self.items), names):
            if name == source:
                items.append((p, lab, "test"))
            elif split != "test":
                items.append((p, lab, split))
            else:
                continue
            sources.append(src)
        return Dataset(self.root, self.labels, items, f"{self.source} (held out: {source})",
                       has_splits=True, sources=sources)

    def train_only(self, source: str) -> "Dataset":
        """The same dataset with only `source`'s training clips left in the train split
        (validation and test unchanged): what a specialist network of an ensemble trains on
        (TrainConfig.specialist)."""
        names = self.source_names()
        keep = [k for k, ((_, _, split), name) in enumerate(zip(self.items, names))
                if split != "train" or name == source]
        if not any(self.items[k][2] == "train" for k in keep):
            raise MicromelError(f"--specialist {source}: no training clips of that source in "
                                f"{self.source} (its training sources: "
                                f"{', '.join(sorted(set(self.source_names(self.split('train'))) - {''})) or 'none'})")
        srcs = self.sources or [""] * len(self.items)
        return Dataset(self.root, self.labels, [self.items[k] for k in keep],
                       f"{self.source} (training clips of {source} only)",
                       has_splits=self.has_splits, sources=[srcs[k] for k in keep])

    def split(self, name: str) -> list[tuple[Path, str, str]]:
        return [it for it in self.items if it[2] == name]

    def counts(self) -> dict[str, dict[str, int]]:
        return {s: {lab: sum(1 for it in self.items if it[2] == s and it[1] == lab)
                    for lab in self.labels} for s in SPLITS}

    def digest(self) -> str:
        """Identifies the file list, labels, splits and file contents (size + mtime)."""
        h = hashlib.sha256()
        for p, lab, s in self.items:
            st = p.stat()
            h.update(f"{p}|{lab}|{s}|{st.st_size}|{st.st_mtime_ns}\n".encode())
        return h.hexdigest()[:16]


def hash_split(rel_path: str) -> str:
    """80/10/10 train/val/test from a stable hash of the path (for data with no split)."""
    v = int(hashlib.sha256(rel_path.encode()).hexdigest()[:8], 16) % 10
    return "test" if v == 0 else "val" if v == 1 else "train"


def _read_manifest(path: Path) -> list[tuple[str, str, str | None, int, str]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise MicromelError(f"{path}: cannot read manifest ({e})") from None
    delim = "\t" if path.suffix.lower() == ".tsv" or ("\t" in text.split("\n", 1)[0]) else ","
    reader = csv.reader(text.splitlines(), delimiter=delim)
    rows = [r for r in reader]
    if not rows:
        raise MicromelError(f"{path}: the manifest is empty; expected a header 'path,label[,split]'")
    header = [h.strip().lower() for h in rows[0]]
    if "path" not in header or "label" not in header:
        raise MicromelError(f"{path}: the first line must name the columns path and label "
                            f"(and optionally split); found {','.join(rows[0])!r}")
    ip, il = header.index("path"), header.index("label")
    isp = header.index("split") if "split" in header else None
    isrc = header.index("source") if "source" in header else None
    out = []
    for n, r in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in r):
            continue
        if len(r) < len(header):
            raise MicromelError(f"{path}:{n}: expected {len(header)} columns, found {len(r)}")
        rel, label = r[ip].strip(), r[il].strip()
        split = r[isp].strip().lower() if isp is not None else None
        if not rel or not label:
            raise MicromelError(f"{path}:{n}: empty path or label")
        if split is not None and split not in SPLITS:
            raise MicromelError(f"{path}:{n}: split {split!r} is not one of train, val, test")
        out.append((rel, label, split, n, r[isrc].strip() if isrc is not None else ""))
    return out


def check_audio(path: Path) -> None:
    """Raise a one-line MicromelError unless soundfile can open the file and it has samples."""
    if not path.is_file():
        raise MicromelError(f"{path}: file not found")
    try:
        info = sf.info(str(path))
    except Exception as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise MicromelError(f"{path}: unreadable audio ({first}); convert it to WAV or FLAC") from None
    if info.frames == 0:
        raise MicromelError(f"{path}: the audio file is empty (0 samples)")


def load_dataset(path: str | Path, labels: list[str] | None = None,
                 check_files: bool = True) -> Dataset:
    """Load a dataset folder or manifest. With `labels` (a model's), every label must be
    one of them (unknown labels are an error) and the label order is the model's."""
    path = Path(path)
    if not path.exists():
        raise MicromelError(f"{path}: no such dataset folder or manifest")
    path = path.resolve()
    if path.is_dir() and (path / "manifest.csv").is_file():
        path = path / "manifest.csv"
    if path.is_dir():
        root = path
        class_dirs = sorted(d for d in path.iterdir() if d.is_dir() and not d.name.startswith("."))
        if not class_dirs:
            raise MicromelError(f"{path}: no class folders; make one sub-folder per class with its "
                                "audio files, or pass a CSV/TSV manifest (path,label[,split])")
        entries = []
        for d in class_dirs:
            audio = sorted(p for p in d.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
            if not audio:
                raise MicromelError(f"{d}: class '{d.name}' has no audio files "
                                    f"({', '.join(AUDIO_EXTENSIONS)}); add some or remove the folder")
            for p in audio:
                rel = p.relative_to(root).as_posix()
                entries.append((rel, d.name, None, 0, ""))
        where = lambda n: str(root)  # noqa: E731
    else:
        if path.suffix.lower() in AUDIO_EXTENSIONS:
            raise MicromelError(f"{path}: a recording, not a dataset; give a folder with one "
                                "sub-folder per class, or a CSV/TSV manifest (path,label[,split])")
        root = path.parent
        entries = _read_manifest(path)
        where = lambda n: f"{path}:{n}"  # noqa: E731
        if not entries:
            raise MicromelError(f"{path}: the manifest lists no files")

    items, sources = [], []
    has_splits = bool(entries) and all(split is not None for _, _, split, _, _ in entries)
    first_line: dict[Path, int] = {}
    for rel, label, split, n, src in entries:
        if labels is not None and label not in labels:
            raise MicromelError(f"{where(n)}: {rel}: unknown label {label!r}; the model knows "
                                f"{', '.join(labels)}")
        p = (root / rel).resolve() if not Path(rel).is_absolute() else Path(rel)
        if n and p.resolve() in first_line:     # a manifest's: one file in two classes or
            # splits is a leak, or counts twice (a folder dataset lists each file once)
            raise MicromelError(f"{where(n)}: {rel} is listed already (line "
                                f"{first_line[p.resolve()]}); a file is one clip of one class "
                                "in one split: remove one line")
        first_line[p.resolve()] = n
        if check_files:
            check_audio(p)
        items.append((p, label, split or hash_split(rel)))
        sources.append(src)

    found = sorted({lab for _, lab, _ in items})
    if labels is None:
        labels_out = found
    else:
        labels_out = list(labels)
    return Dataset(root=root, labels=labels_out, items=items, source=str(path),
                   has_splits=has_splits, sources=sources)


def require_classes(ds: Dataset, split: str) -> None:
    """Every class must have files in `split` (training cannot learn a class it never sees)."""
    counts = ds.counts()[split]
    empty = [lab for lab, c in counts.items() if c == 0]
    if empty:
        raise MicromelError(f"{ds.source}: class '{empty[0]}' has no files in the {split} split; "
                            "add some or give the split column explicitly")
