"""Background beds (`micromel dataset beds`): recordings to mix under training clips
(`micromel train --background data/beds`), from pinned Debian packages.

Neither drums nor speech: ambiences (wind, rain, water, forest day and night), a city's
machines and traffic, and loud tonal instruments (guitar strums, pianos, organs, strings,
pads, synth basses), so that a bed never holds a sound of the classes a drums or speech
model learns. Percussive noises (explosions, hammering, building) are left out too. Every
file is decoded to 16 kHz mono WAV under `<out>/<group>/`; `sources.csv` says where each
came from, `excluded.txt` what could not be read.
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

from .. import cliargs
from ..audio import load_audio, write_wav
from ..errors import MicromelError
from ..fileio import write_text_atomic
from . import debpkg
from .drum_sources import Deb

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class BedSource:
    group: str          # sub-folder of the output
    deb: Deb
    take: str           # regex on the path inside the package
    leave: str = ""     # regex of paths left out


BED_SOURCES = (
    BedSource("ambience", Deb("megaglest-data", "3.13.0-3",
                              "ed4783d9fc78e201a548b266f7c30325eb16cfd58a20bf4597dd6e622f84a07e"),
              r"(tilesets/[^/]+/sounds/[^/]+\.ogg|core/water_sounds/[^/]+\.wav)$"),
    BedSource("city", Deb("lincity-ng-data", "2.9~git20150314-5",
                          "8f5e85bd42879abdc7099b035d7a3d7468eceb6b93b52a12270c28f3f3c792f9"),
              r"lincity-ng/sounds/[^/]+\.wav$", r"Raze|Explosion|Build|Blacksmith|Construction"),
    BedSource("tonal", Deb("lmms-common", "1.2.2+dfsg1-6",
                           "7d9aa55dd05f11edc57104203ee1c350e3e41f8936ab3741da2bb1158fd46c37"),
              r"lmms/samples/(basses|instruments|stringsnpads)/[^/]+\.ogg$"),
    BedSource("tonal", Deb("hydrogen-drumkits-effects", "2017.09.19~dfsg-1",
                           "4ca3ff30e89d044952ad8a4ed28c60e8e5e1f8fec0ddcf0e1e7e2c84ce2975c8"),
              r"belofilms_GuitarStrums/[^/]+\.flac$"),
)


def bed_files(source: BedSource, root: Path) -> list[Path]:
    """The files a bed source takes from its extracted package, sorted."""
    take, leave = re.compile(source.take), re.compile(source.leave) if source.leave else None
    out = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and take.search(rel) and not (leave and leave.search(rel)):
            out.append(p)
    return out


def build_beds(out_dir: Path, quiet: bool = False) -> Path:
    """Build (or reuse) the bed folder; return it."""
    out_dir = cliargs.out_folder(out_dir, "--out", "for the beds")    # before any download
    stamp = "".join(f"{s.group} {s.deb.package} {s.deb.version} {s.deb.sha256} {s.take} {s.leave}\n"
                    for s in BED_SOURCES) + f"rate {SAMPLE_RATE}\n"
    stamp_file = out_dir / ".micromel-beds"
    if stamp_file.is_file() and stamp_file.read_text() == stamp:
        if not quiet:
            print(f"[dataset] {out_dir} is up to date")
        return out_dir
    rows, notes = [], []
    for s in BED_SOURCES:
        root = debpkg.fetch(s.deb.package, quiet=quiet, sha256=s.deb.sha256)
        for p in bed_files(s, root):
            rel = p.relative_to(root).as_posix()
            name = re.sub(r"[^A-Za-z0-9._-]+", "_", p.stem)
            tag = hashlib.sha256(rel.encode()).hexdigest()[:6]     # equal stems in two folders
            dest = Path(s.group) / f"{name}_{tag}.wav"
            try:
                pcm = load_audio(p, SAMPLE_RATE)
            except MicromelError as e:      # lmms' harpsichord01.ogg: Vorbis in a WAV header
                notes.append(f"{e}; left out")
                continue
            write_wav(out_dir / dest, pcm, SAMPLE_RATE)
            rows.append((dest.as_posix(), s.group, f"{s.deb.package}:{rel}"))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["path", "group", "origin"])
    w.writerows(rows)
    write_text_atomic(out_dir / "sources.csv", buf.getvalue())
    write_text_atomic(out_dir / "excluded.txt", "".join(n + "\n" for n in notes))
    stamp_file.write_text(stamp)
    if not quiet:
        print(f"[dataset] wrote {len(rows)} bed recordings under {out_dir}")
    return out_dir
