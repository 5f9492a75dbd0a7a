"""The drum sources beyond Hydrogen: which Debian packages, what is taken from each and how
it is labelled. Every package is pinned (version and the .deb's SHA-256, checked by
debpkg.fetch): the dataset is the documented one or it is not built.

A FAMILY is what leave-one-source-out leaves out: libraries that share recordings are one
family (the survey of the packages found TimGM6mb, sf_GMbank and A320U reusing each other's
samples, and MuseScore General's drums being Fluid R3's, so MuseScore is not taken at all).

- Soundfonts (`SOUNDFONTS`): every GM drum kit rendered note by note (data/soundfont.py),
  labelled by GM key: 35/36 kick, 38/40 snare (37 side stick left out), 42/44/46 hihat,
  41/43/45/47/48/50 tom, 49/51/52/53/55/57/59 cymbal.
- Sample folders (`SAMPLE_FOLDERS`): files picked by a glob, labelled by explicit rules on
  the lower-cased file name (first match wins; a rule with label None excludes; a name no
  rule matches is left out, never guessed). freepats' GUS patches carry their GM key in the
  name and are labelled by it.
"""
from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from ..errors import MicromelError
from . import oneshot, soundfont
from .soundfont import GM_DRUM_KEYS


@dataclass(frozen=True)
class Deb:
    """A pinned Debian package: fetched only if the mirror serves exactly this .deb."""
    package: str
    version: str
    sha256: str


@dataclass(frozen=True)
class SoundFontSource:
    family: str
    deb: Deb
    path: str          # the .sf2 inside the package
    name: str          # short name in file names and the source column


@dataclass(frozen=True)
class SampleFolder:
    family: str
    deb: Deb
    pattern: str       # glob inside the package (** recurses)
    rules: tuple       # ((regex on the lower-cased file stem, label or None), ...)
    name: str
    reader: str = "soundfile"      # or "stk-raw", "gus-pat"


HYDROGEN_DEBS = (
    Deb("hydrogen-drumkits", "2017.09.19~dfsg-1",
        "6ea3c6df9a67762e2362f946c695e619859126b19fbccf32a2e8f07dfd03b2f4"),
    Deb("hydrogen-data", "1.2.0~beta1+dfsg-1",
        "d2cc3f281c02efb71f132bd173e95a958d3fede7c5aefcaba6547baf918cff2a"),
)
_MINUET = Deb("minuet-data", "22.12.3-1", "ebcfe09eb16ceeeaea998427b671784ff6a5f0b0e2aecb1e1ad9ef0da6ded5fb")
_FLUID = Deb("fluid-soundfont-gm", "3.1-5.3", "6f531493ac4e4d9772fd96b2488ea1790af81c196135fbdd25997da0781fc60e")
_TIMGM = Deb("timgm6mb-soundfont", "1.3-5", "034abdfb296d9353433513dad5dbdcab46425ee6008fc02fe7039b46e75edc54")
_CSOUND = Deb("csound-soundfont", "1:6.18.1+dfsg-1",
              "0d05bec0cff2486f4537dd0236fece99f3565b62959717f82e975be8e0cf1393")
_DENEMO = Deb("denemo-data", "2.6.18-1", "f9f78742295951f03d626dd1aaace480b70c6e7bf6eceb9607bfb9b275ca21be")
_LMMS = Deb("lmms-common", "1.2.2+dfsg1-6", "7d9aa55dd05f11edc57104203ee1c350e3e41f8936ab3741da2bb1158fd46c37")
_EXADRUMS = Deb("exadrums", "0.7.0-1", "3baa7086554409920046d5b40ab00db9f60bd4740f59f32542559790986f57cc")
_STK = Deb("stk", "4.6.2+dfsg-2", "71c70c87e86151b7bb5ccc84f74ace4172225a272c65ab726eda00da42d0e6ef")
_CHUCK = Deb("chuck-data", "1.4.2.0-1", "30a90d93fb0c02233ae7bbd95ffbc1294baf7a6da96728c712e163864b51465d")
_FREEPATS = Deb("freepats", "20060219-4", "1282628c7ec015f0d39a8b1ee58a2d942220bbad38173d005bbfbaaf36e1d6f1")

SOUNDFONTS = (
    # GeneralUser GS 1.47 (S. Christian Collins) ships inside KDE's minuet-data
    SoundFontSource("generaluser", _MINUET, "usr/share/minuet/soundfonts/GeneralUser-v1.47.sf2",
                    "GeneralUser"),
    SoundFontSource("fluid", _FLUID, "usr/share/sounds/sf2/FluidR3_GM.sf2", "FluidR3"),
    SoundFontSource("gmsmall", _TIMGM, "usr/share/sounds/sf2/TimGM6mb.sf2", "TimGM6mb"),
    SoundFontSource("gmsmall", _CSOUND, "usr/share/sounds/sf2/sf_GMbank.sf2", "sf_GMbank"),
    SoundFontSource("gmsmall", _DENEMO, "usr/share/sounds/sf2/A320U.sf2", "A320U"),
)

# Not drums, whatever else the name says: claps, clavs, rim clicks and side sticks, shakers,
# wood blocks, zaps, cowbells, congas, bongos, tambourines, clicks, effects.
_NOT_DRUMS = (r"clap|clav|rim|stick|shaker|wood|zap|cowbell|conga|bongo|tamb|click|fx", None)
_CYMBALS = (r"crash|ride|china|splash|cymbal", "cymbal")
SAMPLE_FOLDERS = (
    SampleFolder("samples", _LMMS, "usr/share/lmms/samples/drums/*.ogg",
                 (_NOT_DRUMS, (r"nasty_bass", None), (r"hihat", "hihat"), _CYMBALS,
                  (r"kick|bassdrum", "kick"), (r"snare", "snare"), (r"tom", "tom")), "lmms"),
    # the one-shots among the loops of lmms' beats folder
    SampleFolder("samples", _LMMS, "usr/share/lmms/samples/beats/rave_*.ogg",
                 ((r"hihat", "hihat"), (r"kick", "kick"), (r"snare", "snare")), "lmms"),
    SampleFolder("samples", _EXADRUMS, "usr/share/exadrums/*.wav",
                 (_NOT_DRUMS, (r"hihat|^hh", "hihat"), _CYMBALS, (r"^bd|kick", "kick"),
                  (r"^snr|snare", "snare"), (r"tom", "tom")), "exadrums"),
    # STK's rawwaves: also instruments, vowels and test tones, which no rule names
    SampleFolder("samples", _STK, "usr/share/stk/rawwaves/*.raw",
                 ((r"^hihatcym$", "hihat"), (r"^(crashcym|ridecymb)$", "cymbal"),
                  (r"^bassdrum$", "kick"), (r"^snardrum$", "snare"),
                  (r"^tom(hidrm|middr|lowdr)$", "tom")), "stk", reader="stk-raw"),
    SampleFolder("samples", _CHUCK, "usr/share/doc/chuck-data/examples/**/*.wav",
                 (_NOT_DRUMS, (r"^hihat", "hihat"), (r"^kick", "kick"), (r"^snare", "snare")),
                 "chuck"),
    SampleFolder("samples", _FREEPATS, "usr/share/midi/freepats/Drum_000/*.pat", (), "freepats",
                 reader="gus-pat"),
)
FAMILIES = ("hydrogen", "generaluser", "fluid", "gmsmall", "samples")


def family_debs(family: str) -> list[Deb]:
    """The pinned packages a family is built from."""
    if family == "hydrogen":
        return list(HYDROGEN_DEBS)
    debs = [s.deb for s in SOUNDFONTS + SAMPLE_FOLDERS if s.family == family]
    return list(dict.fromkeys(debs))


def name_label(stem: str, rules) -> str | None:
    """The label the first matching rule gives a file stem (lower-cased), None if a rule
    excludes it or none matches."""
    stem = stem.lower()
    for rx, label in rules:
        if re.search(rx, stem):
            return label
    return None


def gm_key_label(stem: str) -> str | None:
    """freepats names a drum patch by its GM key: "038_Snare_1" -> snare, "037_Stick_Rim" -> None."""
    m = re.match(r"(\d{2,3})_", stem)
    return GM_DRUM_KEYS.get(int(m.group(1))) if m else None


def folder_files(folder: SampleFolder, root: Path) -> tuple[list[tuple[Path, str]], list[str]]:
    """(file, label) of a sample folder in an extracted package, and notes on what was left
    out. Files with the same name in several places (chuck's examples copy theirs into
    every chapter) are taken once, the first in path order."""
    files = sorted(p for p in root.glob(folder.pattern) if p.is_file())
    if not files:
        raise MicromelError(f"{root}: no files match {folder.pattern}; delete {root} and fetch again")
    out, notes, seen = [], [], set()
    for p in files:
        label = gm_key_label(p.stem) if folder.reader == "gus-pat" else name_label(p.stem, folder.rules)
        if label is None:
            notes.append(f"{folder.deb.package}: {p.relative_to(root)}: no rule gives a drum class; left out")
        elif p.name.lower() in seen:
            notes.append(f"{folder.deb.package}: {p.relative_to(root)}: same name as one taken; left out")
        else:
            seen.add(p.name.lower())
            out.append((p, label))
    return out, notes


def read_sample(path: Path, reader: str) -> list[tuple[np.ndarray, int]]:
    """(float samples, rate) of a sample file: one for an audio file, one per wave of a GUS
    patch. An unreadable file is a MicromelError."""
    if reader == "stk-raw":          # STK rawwaves: 16-bit big-endian mono at 22050 Hz
        return [(np.fromfile(path, ">i2").astype(np.float64) / 32768.0, 22050)]
    if reader == "gus-pat":
        return read_gus_patch(path)
    try:
        x, rate = sf.read(str(path), dtype="float64")
    except Exception as e:          # soundfile raises several types for a broken file
        raise MicromelError(f"{path}: unreadable audio ({str(e).splitlines()[0] if str(e) else e})") from None
    return [(x, rate)]


def read_gus_patch(path: Path) -> list[tuple[np.ndarray, int]]:
    """The waves of a Gravis UltraSound patch (GF1PATCH110: 129-byte header, 63-byte
    instrument and 47-byte layer headers, then per wave a 96-byte header and its samples)."""
    b = path.read_bytes()
    if b[:8] != b"GF1PATCH" or len(b) < 129 + 63 + 47:
        raise MicromelError(f"{path}: not a GUS patch")
    off = 129 + 63 + 47
    out = []
    for _ in range(b[129 + 63 + 6]):           # the layer's wave count
        if off + 96 > len(b):
            raise MicromelError(f"{path}: truncated GUS patch")
        size, = struct.unpack_from("<I", b, off + 8)
        rate, = struct.unpack_from("<H", b, off + 20)
        modes = b[off + 55]                     # bit 0: 16-bit, bit 1: unsigned
        raw = b[off + 96:off + 96 + size]
        off += 96 + size
        if modes & 1:
            x = np.frombuffer(raw[: len(raw) // 2 * 2], "<u2" if modes & 2 else "<i2").astype(np.float64)
            x = (x - 32768.0 if modes & 2 else x) / 32768.0
        else:
            x = np.frombuffer(raw, "u1" if modes & 2 else "i1").astype(np.float64)
            x = (x - 128.0 if modes & 2 else x) / 128.0
        out.append((x, rate))
    return out


@dataclass(frozen=True)
class OneShot:
    family: str
    label: str
    kit: str            # soundfont kit, or the sample folder's name
    name: str           # note (k<key>_v<velocity>) or file stem (+ _w<wave> for a patch's later waves)
    pcm: np.ndarray     # int16, 16 kHz, cut by oneshot.cut_oneshot
    origin: str         # package:path[#bank128/prog<N>]


def family_oneshots(family: str, roots: dict, notes: list):
    """The one-shots of a family other than hydrogen, in a fixed order (catalogue order;
    kits by program, keys and velocities as listed), silent renders skipped. `roots`: the
    extracted packages by name; what is left out is appended to `notes`."""
    for font in (s for s in SOUNDFONTS if s.family == family):
        sf2 = roots[font.deb.package] / font.path
        if not sf2.is_file():
            raise MicromelError(f"{sf2}: missing from package {font.deb.package}; delete "
                                f"{roots[font.deb.package]} and fetch again")
        notes_played = [(k, v) for k in GM_DRUM_KEYS for v in soundfont.VELOCITIES]
        for program, kit_name in soundfont.drum_presets(sf2):
            kit = f"{font.name}_{re.sub(r'[^A-Za-z0-9]+', '_', kit_name).strip('_')}_p{program}"
            for (key, vel), seg in zip(notes_played, soundfont.render_kit(sf2, program, notes_played)):
                pcm = oneshot.cut_oneshot(oneshot.to_mono_16k(seg, soundfont.RENDER_RATE))
                if pcm is None:
                    notes.append(f"{kit} key {key} velocity {vel}: silent; left out")
                    continue
                yield OneShot(family, GM_DRUM_KEYS[key], kit, f"k{key}_v{vel}", pcm,
                              f"{font.deb.package}:{font.path}#bank128/prog{program}")
    for folder in (s for s in SAMPLE_FOLDERS if s.family == family):
        root = roots[folder.deb.package]
        files, left_out = folder_files(folder, root)
        notes.extend(left_out)
        for path, label in files:
            try:
                waves = read_sample(path, folder.reader)
            except MicromelError as e:      # lmms' kick04.ogg is Vorbis inside a WAV header
                notes.append(f"{folder.deb.package}: {e}; left out")
                continue
            for j, (x, rate) in enumerate(waves):
                pcm = oneshot.cut_oneshot(oneshot.to_mono_16k(x, rate))
                if pcm is None:
                    notes.append(f"{path.relative_to(root)} wave {j}: silent; left out")
                    continue
                yield OneShot(family, label, folder.name, path.stem + (f"_w{j}" if j else ""), pcm,
                              f"{folder.deb.package}:{path.relative_to(root)}")
