"""Labelled audio for training: the built-in drums dataset and any user's folder of sounds.

The drums dataset (`micromel dataset drums`)
--------------------------------------------
Real drum one-shots from two Debian packages, `hydrogen-drumkits` and `hydrogen-data`
(fetched with `micromel.debpkg.fetch`: `apt-get download` + `dpkg-deb -x`, cached and
checksummed). Every kit folder holds a `drumkit.xml` that names its instruments and the
sample files (velocity layers) each instrument plays. The label of a file is derived from
its INSTRUMENT NAME only (never from the file name), with `drum_label()`:

1. Names of things that are not one of the five drums are excluded first, by whole words
   (see EXCLUDED_WORDS): side sticks and rim clicks ("stick", "rim click", "cross stick"),
   rolls, claps and finger snaps, and hand percussion (cowbell, conga, bongo, cajon, djembe,
   tambourine, maraca, shaker, clave, woodblock, agogo, ...), effects ("fx", "zap", "click",
   "whistle"). A snare *rimshot* (stick hits head and rim together) is a snare stroke and is
   kept as snare; a rim *click* is not.
2. Then the first class whose words occur wins, in this order: hihat ("hh", "hat",
   "hi-hat", ...), cymbal ("crash", "ride", "splash", "china", "cymbal", "bell", "cup"),
   kick ("kick", "bass drum", "bd"), snare, tom. Hihat comes before cymbal because a hi-hat
   is a pair of cymbals but a class of its own; "bell" means the ride bell once cowbells
   and the drums' "bells" of West African sets (excluded words) are gone.
3. A name matching none of these (e.g. "Drum 1", "17", "Sample: beats_01-39.flac") is
   excluded: no guessing.

A sample file used by several instruments of one kit is kept once (first instrument that
names it, in drumkit.xml order); if those instruments disagree on the label, the file is
dropped. Files whose decoded audio is identical to an earlier one (same 16 kHz samples) are
dropped too, so no sound is both in training and in test.

Audio: decoded with soundfile, channels averaged to mono, resampled to 16 kHz with soxr
("HQ"), rounded to int16 with clipping, cut to at most MAX_SECONDS (a one-shot's identity
is in its attack and first decay), written as 16-bit PCM WAV.

Split by kit (velocity layers of one hit are near duplicates, so files of one kit never
straddle splits): TEST_KITS are fixed by the task; VAL_KITS (for early stopping and model
selection) were chosen among the remaining kits as small kits covering all five classes;
every other kit is training. Output: `<out>/<label>/<kit>__<file>.wav` and `manifest.csv`
with columns path (relative to the manifest), label, split, source (package/kit/file).

User datasets (`load_dataset`)
------------------------------
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
import os
import re
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import MicromelError

SAMPLE_RATE = 16000
MAX_SECONDS = 2.0
DRUM_CLASSES = ("kick", "snare", "hihat", "tom", "cymbal")
DRUM_PACKAGES = ("hydrogen-drumkits", "hydrogen-data")
KITS_DIR = "usr/share/hydrogen/data/drumkits"
TEST_KITS = ("ColomboAcousticDrumkit", "HardElectro1", "Millo_MultiLayered3", "rumpf_kit_z01_h2")
VAL_KITS = ("Audiophob", "Millo-Drums_v.1", "VariBreaks")
SPLITS = ("train", "val", "test")
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".aif", ".aiff", ".mp3", ".opus")

# Whole-word patterns matched against the lower-cased instrument name.
EXCLUDED_WORDS = (
    r"stick", r"side ?stick", r"cross ?stick", r"rim ?click", r"rim", r"roll",
    r"clap", r"claps", r"snaps?", r"finger ?snaps?",
    r"cowbell", r"conga", r"congas", r"bongo", r"bongos", r"cajon", r"djembe\d*", r"sangban\d*",
    r"dununba\d*", r"kenkeni\d*", r"tambourine", r"maracas?", r"shaker", r"claves?",
    r"wood ?block", r"agogo", r"guiro", r"cabasa", r"triangle", r"timbales?", r"vibraslap",
    r"waterglass\w*", r"whistle", r"fx", r"zap", r"click", r"sample",
)
CLASS_WORDS = (
    ("hihat", (r"hh", r"hat", r"hi ?-?hat", r"hihat", r"hi hat", r"ohh", r"chh")),
    ("cymbal", (r"crash\w*", r"ride\w*", r"splash", r"china", r"cymbal", r"bell", r"cup")),
    ("kick", (r"kick", r"bass ?drum", r"bassdrum", r"bd")),
    ("snare", (r"snare\w*",)),
    ("tom", (r"tom\w*", r"floor ?tom")),
)


def _word_re(patterns) -> re.Pattern:
    # "word" boundaries that also split on digits, so "tomhi2" and "snare1" match
    return re.compile(r"(?<![a-z])(?:" + "|".join(patterns) + r")(?![a-z])")


_EXCLUDED_RE = _word_re(EXCLUDED_WORDS)
_CLASS_RES = tuple((label, _word_re(words)) for label, words in CLASS_WORDS)


def drum_label(instrument_name: str | None) -> str | None:
    """The drums class of a drumkit.xml instrument name, or None if it is excluded."""
    if not instrument_name:
        return None
    name = instrument_name.lower()
    name = re.sub(r"\(.*?\)", " ", name)          # "(Tama Superstar 22")" describes, not names
    name = re.sub(r"[_/]", " ", name)
    # "rimshot" is a snare stroke: keep it from matching the excluded word "rim"
    name = re.sub(r"rim ?shot", " ", name)
    if _EXCLUDED_RE.search(name):
        return None
    for label, rx in _CLASS_RES:
        if rx.search(name):
            return label
    return None


def kit_split(kit: str) -> str:
    if kit in TEST_KITS:
        return "test"
    if kit in VAL_KITS:
        return "val"
    return "train"


def parse_drumkit(xml_path: Path) -> list[tuple[str | None, list[str]]]:
    """(instrument name, [sample file names]) in drumkit.xml order, namespaces ignored."""
    try:
        root = ET.parse(xml_path).getroot()
    except (ET.ParseError, OSError) as e:
        raise MicromelError(f"{xml_path}: cannot parse drumkit.xml ({e})") from None

    def local(tag: str) -> str:
        return tag.rsplit("}", 1)[-1]

    out = []
    for inst in root.iter():
        if local(inst.tag) != "instrument":
            continue
        name = next(((c.text or "").strip() or None for c in inst if local(c.tag) == "name"), None)
        files = [c.text.strip() for c in inst.iter()
                 if local(c.tag) == "filename" and c.text and c.text.strip()]
        out.append((name, files))
    return out


@dataclass(frozen=True)
class DrumFile:
    kit: str
    instrument: str
    label: str
    source_path: Path       # the file inside the extracted package
    package: str

    @property
    def split(self) -> str:
        return kit_split(self.kit)


def drum_files(package_roots: dict[str, Path]) -> tuple[list[DrumFile], list[str]]:
    """Every labelled drum file of the packages, plus notes on what was left out."""
    files: list[DrumFile] = []
    notes: list[str] = []
    for package, root in package_roots.items():
        kits_dir = root / KITS_DIR
        if not kits_dir.is_dir():
            raise MicromelError(f"{kits_dir}: no drumkits folder in package {package}; "
                                f"delete {root} and fetch again")
        for kit_dir in sorted(p for p in kits_dir.iterdir() if (p / "drumkit.xml").is_file()):
            kit = kit_dir.name
            by_path: dict[Path, DrumFile] = {}
            for name, names in parse_drumkit(kit_dir / "drumkit.xml"):
                label = drum_label(name)
                if label is None:
                    continue
                for fname in names:
                    path = kit_dir / fname
                    prev = by_path.get(path)
                    if prev is not None:
                        if prev.label != label and prev.label != "":
                            notes.append(f"{kit}/{fname}: named by '{prev.instrument}' ({prev.label}) "
                                         f"and '{name}' ({label}); dropped")
                            by_path[path] = DrumFile(kit, name, "", path, package)
                        continue
                    if not path.is_file():
                        notes.append(f"{kit}/{fname}: listed in drumkit.xml but missing; skipped")
                        continue
                    by_path[path] = DrumFile(kit, name, label, path, package)
            files.extend(f for f in by_path.values() if f.label)
    return files, notes


def decode_16k_mono(path: Path, max_seconds: float | None = MAX_SECONDS) -> np.ndarray:
    """int16 mono 16 kHz samples of any file soundfile reads (the front end's loader; one-line
    error otherwise), cut to max_seconds."""
    from .frontend.audio import load_audio

    x = load_audio(path, SAMPLE_RATE)
    return x if max_seconds is None else x[: int(round(max_seconds * SAMPLE_RATE))]


def write_wav_atomic(path: Path, pcm: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".wav")
    os.close(fd)
    try:
        sf.write(tmp, pcm, sample_rate, subtype="PCM_16", format="WAV")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")


MANIFEST_COLUMNS = ("path", "label", "split", "source")


def write_manifest(path: Path, rows: list[dict]) -> None:
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(MANIFEST_COLUMNS), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r[k] for k in MANIFEST_COLUMNS})
    from .codegen import write_text_atomic

    write_text_atomic(path, buf.getvalue())


def build_drums(out_dir: Path, quiet: bool = False) -> Path:
    """Build (or reuse) the drums dataset in out_dir; return the manifest path."""
    from tqdm import tqdm

    from . import debpkg

    out_dir = Path(out_dir)
    manifest = out_dir / "manifest.csv"
    roots = {p: debpkg.fetch(p, quiet=quiet) for p in DRUM_PACKAGES}
    stamp = "\n".join(f"{p} {(roots[p] / '.micromel-stamp').read_text().split()[2]}"
                      for p in DRUM_PACKAGES) + f"\nmax_seconds {MAX_SECONDS}\nrules {_rules_digest()}\n"
    stamp_file = out_dir / ".micromel-dataset"
    if manifest.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
        if not quiet:
            print(f"[dataset] {manifest} is up to date")
        return manifest
    files, notes = drum_files(roots)
    rows = []
    seen: dict[str, str] = {}
    # test kits first, so that a sound shared by a test kit and a training kit stays in test
    order = sorted(files, key=lambda f: (SPLITS.index(f.split) * -1, f.kit, str(f.source_path)))
    for f in tqdm(order, desc="drums: decode 16 kHz", unit="file", disable=quiet):
        pcm = decode_16k_mono(f.source_path)
        digest = hashlib.sha256(pcm.tobytes()).hexdigest()
        if digest in seen:
            notes.append(f"{f.kit}/{f.source_path.name}: same audio as {seen[digest]}; dropped")
            continue
        rel = Path(f.label) / f"{_safe(f.kit)}__{_safe(f.source_path.stem)}.wav"
        seen[digest] = f"{f.kit}/{f.source_path.name}"
        write_wav_atomic(out_dir / rel, pcm)
        rows.append({"path": rel.as_posix(), "label": f.label, "split": f.split,
                     "source": f"{f.package}/{f.kit}/{f.source_path.name}", "instrument": f.instrument})
    rows.sort(key=lambda r: r["path"])
    write_manifest(manifest, rows)
    from .codegen import write_text_atomic

    write_text_atomic(out_dir / "excluded.txt", "".join(n + "\n" for n in notes))
    stamp_file.write_text(stamp)
    if not quiet:
        print(summary_table(rows))
        print(f"[dataset] wrote {len(rows)} files and {manifest}")
    return manifest


def _rules_digest() -> str:
    text = repr((EXCLUDED_WORDS, CLASS_WORDS, TEST_KITS, VAL_KITS, SAMPLE_RATE))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def summary_table(rows: list[dict], labels=None) -> str:
    labels = list(labels or sorted({r["label"] for r in rows}))
    lines = [f"{'split':<6} " + " ".join(f"{lab:>7}" for lab in labels) + "   total"]
    for s in SPLITS:
        counts = [sum(1 for r in rows if r["split"] == s and r["label"] == lab) for lab in labels]
        lines.append(f"{s:<6} " + " ".join(f"{c:>7}" for c in counts) + f" {sum(counts):>7}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# User datasets

@dataclass
class Dataset:
    """A labelled list of audio files. `items` are (absolute path, label, split)."""
    root: Path
    labels: list[str]
    items: list[tuple[Path, str, str]]
    source: str                  # the folder or manifest it came from

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


def _read_manifest(path: Path) -> list[tuple[str, str, str | None, int]]:
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
        out.append((rel, label, split, n))
    return out


def check_audio(path: Path) -> None:
    """Raise a one-line MicromelError unless soundfile can open the file and it has samples."""
    import soundfile as sf

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
                entries.append((rel, d.name, None, 0))
        where = lambda n: str(root)  # noqa: E731
    else:
        root = path.parent
        entries = _read_manifest(path)
        where = lambda n: f"{path}:{n}"  # noqa: E731
        if not entries:
            raise MicromelError(f"{path}: the manifest lists no files")

    items = []
    for rel, label, split, n in entries:
        if labels is not None and label not in labels:
            raise MicromelError(f"{where(n)}: {rel}: unknown label {label!r}; the model knows "
                                f"{', '.join(labels)}")
        p = (root / rel).resolve() if not Path(rel).is_absolute() else Path(rel)
        if check_files:
            check_audio(p)
        items.append((p, label, split or hash_split(rel)))

    found = sorted({lab for _, lab, _ in items})
    if labels is None:
        labels_out = found
    else:
        labels_out = list(labels)
    return Dataset(root=root, labels=labels_out, items=items, source=str(path))


def require_classes(ds: Dataset, split: str) -> None:
    """Every class must have files in `split` (training cannot learn a class it never sees)."""
    counts = ds.counts()[split]
    empty = [lab for lab, c in counts.items() if c == 0]
    if empty:
        raise MicromelError(f"{ds.source}: class '{empty[0]}' has no files in the {split} split; "
                            "add some or give the split column explicitly")
