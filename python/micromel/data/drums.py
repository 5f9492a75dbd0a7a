"""The drums dataset (`micromel dataset drums`).

Real drum one-shots (kick, snare, hihat, tom, cymbal) from pinned Debian packages, in source
FAMILIES (drum_sources.py): hydrogen (this module), generaluser, fluid, gmsmall (GM
soundfonts' drum kits rendered note by note) and samples (packaged sample folders). The
manifest's source column is FAMILY/kit/file, so `micromel train --hold-out-source FAMILY`
leaves one family out. Families are built in that order; a one-shot that nearly duplicates
one kept from an earlier family (any label) or from its own family (same label) is dropped
(oneshot.py), so no sound is in two families. Hydrogen keeps its split by kit (below); the
other families send one one-shot in ten to validation (a hash of its source) and the rest
to training: their test is leaving them out.

Hydrogen: the kits of `hydrogen-drumkits` and `hydrogen-data` (fetched with `micromel.debpkg.fetch`: `apt-get download` + `dpkg-deb -x`, cached and
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
every other kit is training. Output: `<out>/<label>/<kit>__<file>.wav` (Hydrogen),
`<out>/<label>/<family>__<kit>__<name>.wav` (the others), `manifest.csv` with columns path
(relative to the manifest), label, split, source (family/kit/file) and `excluded.txt`
(what was left out and why).
"""
from __future__ import annotations

import csv
import hashlib
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import cliargs
from ..audio import load_audio, write_wav
from ..errors import MicromelError
from ..fileio import write_text_atomic
from . import debpkg, oneshot, soundfont
from .datasets import SPLITS, summary_table, write_manifest
from .drum_sources import (FAMILIES, HYDROGEN_DEBS, SAMPLE_FOLDERS, SOUNDFONTS, family_debs,
                           family_oneshots)
from .soundfont import GM_DRUM_KEYS

SAMPLE_RATE = oneshot.SAMPLE_RATE
MAX_SECONDS = oneshot.MAX_SECONDS
DRUM_CLASSES = ("kick", "snare", "hihat", "tom", "cymbal")
KITS_DIR = "usr/share/hydrogen/data/drumkits"
TEST_KITS = ("ColomboAcousticDrumkit", "HardElectro1", "Millo_MultiLayered3", "rumpf_kit_z01_h2")
VAL_KITS = ("Audiophob", "Millo-Drums_v.1", "VariBreaks")

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
    """int16 mono 16 kHz samples of any file soundfile reads (one-line error otherwise), cut
    to max_seconds."""
    x = load_audio(path, SAMPLE_RATE)
    return x if max_seconds is None else x[: int(round(max_seconds * SAMPLE_RATE))]


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")


def build_drums(out_dir: Path, sources=FAMILIES, quiet: bool = False) -> Path:
    """Build (or reuse) the drums dataset of the given source families (drum_sources.FAMILIES,
    all by default) in out_dir; return the manifest path."""
    from tqdm import tqdm    # lazy: only when building

    out_dir = cliargs.out_folder(out_dir, "--out", "for the dataset")    # before any download
    manifest = out_dir / "manifest.csv"
    sources = check_sources(sources)
    debs = [d for f in sources for d in family_debs(f)]
    roots = {d.package: debpkg.fetch(d.package, quiet=quiet, sha256=d.sha256) for d in debs}
    stamp = ("".join(f"{d.package} {d.version} {d.sha256}\n" for d in debs)
             + f"sources {','.join(sources)}\nmax_seconds {MAX_SECONDS}\nrules {_rules_digest()}\n"
             + (f"renderer {soundfont.fluidsynth_version()}\n" if any(f.family in sources for f in SOUNDFONTS) else ""))
    stamp_file = out_dir / ".micromel-dataset"
    if manifest.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
        if not quiet:
            print(f"[dataset] {manifest} is up to date")
        return manifest
    before = {r["path"] for r in _manifest_rows(manifest)}
    rows, notes = [], []
    earlier = oneshot.NearDuplicates()     # every kept one-shot of the families before
    for family in sources:
        if family == "hydrogen":
            found = _hydrogen_rows(out_dir, roots, notes, quiet)
        else:
            oneshots = tqdm(family_oneshots(family, roots, notes), desc=f"drums: {family}",
                            unit="one-shot", disable=quiet)
            found = _family_rows(out_dir, oneshots, earlier, notes)
        for row, fp in found:
            earlier.add(fp, row["path"])
        rows += [row for row, _ in found]
    rows.sort(key=lambda r: r["path"])
    write_manifest(manifest, rows)
    write_text_atomic(out_dir / "excluded.txt", "".join(n + "\n" for n in notes))
    for rel in sorted(before - {r["path"] for r in rows}):     # from an earlier build
        (out_dir / rel).unlink(missing_ok=True)
    stamp_file.write_text(stamp)
    if not quiet:
        print(summary_table(rows))
        print(f"[dataset] wrote {len(rows)} files and {manifest}")
    return manifest


def check_sources(names) -> list[str]:
    """Source families by name, in FAMILIES order (which decides who keeps a shared sound)."""
    names = [n.strip() for n in names if n.strip()]
    unknown = [n for n in names if n not in FAMILIES]
    if unknown or not names:
        raise MicromelError(f"--sources {','.join(names)}: choose among {', '.join(FAMILIES)} "
                            "(comma-separated) or all")
    return [f for f in FAMILIES if f in names]


def _hydrogen_rows(out_dir: Path, roots: dict, notes: list, quiet: bool):
    """(manifest row, fingerprint) of every kept Hydrogen file."""
    from tqdm import tqdm    # lazy: only when building

    files, found_notes = drum_files({d.package: roots[d.package] for d in HYDROGEN_DEBS})
    notes += found_notes
    out, seen = [], {}
    # test kits first, so that a sound shared by a test kit and a training kit stays in test
    order = sorted(files, key=lambda f: (SPLITS.index(f.split) * -1, f.kit, str(f.source_path)))
    for f in tqdm(order, desc="drums: hydrogen", unit="file", disable=quiet):
        pcm = decode_16k_mono(f.source_path)
        digest = hashlib.sha256(pcm.tobytes()).hexdigest()
        if digest in seen:
            notes.append(f"{f.kit}/{f.source_path.name}: same audio as {seen[digest]}; dropped")
            continue
        rel = Path(f.label) / f"{_safe(f.kit)}__{_safe(f.source_path.stem)}.wav"
        seen[digest] = f"{f.kit}/{f.source_path.name}"
        write_wav(out_dir / rel, pcm)
        out.append(({"path": rel.as_posix(), "label": f.label, "split": f.split,
                     "source": f"hydrogen/{f.kit}/{f.source_path.name}"}, oneshot.fingerprint(pcm)))
    return out


def _family_rows(out_dir: Path, oneshots, earlier, notes: list):
    """(manifest row, fingerprint) of the one-shots of one family that nearly duplicate
    neither a kept one-shot of an earlier family (any label) nor one of this family (same
    label). Split: one in ten to validation, by a hash of its source; the rest trains (a
    family's own test is leaving it out: micromel train --hold-out-source)."""
    out, own = [], oneshot.NearDuplicates()
    for s in oneshots:
        fp = oneshot.fingerprint(s.pcm)
        name = f"{s.kit}/{s.name}"
        dup = earlier.find(fp) or own.find(fp, s.label)
        if dup:
            notes.append(f"{s.family}/{name}: near-duplicate of {dup}; dropped")
            continue
        rel = Path(s.label) / f"{s.family}__{_safe(s.kit)}__{_safe(s.name)}.wav"
        own.add(fp, rel.as_posix(), s.label)
        write_wav(out_dir / rel, s.pcm)
        source = f"{s.family}/{name}"
        split = "val" if int(hashlib.sha256(source.encode()).hexdigest()[:8], 16) % 10 == 0 else "train"
        out.append(({"path": rel.as_posix(), "label": s.label, "split": split, "source": source}, fp))
    return out


def _manifest_rows(manifest: Path) -> list[dict]:
    if not manifest.is_file():
        return []
    with open(manifest, newline="") as f:
        return list(csv.DictReader(f))


def _rules_digest() -> str:
    text = repr((EXCLUDED_WORDS, CLASS_WORDS, TEST_KITS, VAL_KITS, SAMPLE_RATE, SOUNDFONTS,
                 SAMPLE_FOLDERS, GM_DRUM_KEYS, soundfont.VELOCITIES,
                 (soundfont.NON_GM_PRESET.pattern, soundfont.GS_ORCHESTRA_PROGRAM),
                 (soundfont.STEP_S, soundfont.NOTE_S, soundfont.CUT_S, soundfont.RENDER_RATE),
                 (oneshot.ONSET_DB, oneshot.TAIL_DB, oneshot.PEAK_DBFS, oneshot.SIMILAR)))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
