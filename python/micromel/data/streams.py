"""Evaluation streams for segmentation (`micromel dataset streams`): one-minute scenes
(data/scenes.py) of ONE role's sources only (test: the held-out sources; val: the validation
sources, for tuning), with their ground truth.

Per the evaluation protocol (docs/segmentation.md): half of the streams have a music bed and
speech at 0-8 dB SNR over it; the other half an ambience bed (recorded ambience over noise)
or a noise bed, with speech at 5-20 dB; sound effects come between the utterances. Ground
truth per stream, `<name>.events.tsv`: onset, offset (seconds), event_label (speech or
nonspeech), source; a speech event is the words' tight active extent, words less than 0.4 s
apart joined (data/mixing.py). `streams.csv` lists every stream with its bed kind and bed
source (evaluate-segments reports music-bed and ambience/noise-bed streams apart)."""
from __future__ import annotations

import csv
import math
import io
from pathlib import Path

import numpy as np

from .. import cliargs
from ..audio import write_wav
from ..errors import MicromelError
from ..fileio import write_text_atomic
from . import mixing as mx
from .scenes import SR, Library, Recipe, make_scene

# words, not speeches: utterances of 1-3 recordings, a long recording cut to at most 3 s at
# its pauses; an event is an utterance or a sound effect, half and half
_WORDS = {"speech_p": 0.5, "max_words": 3, "word_max_s": 3.0}
RECIPES = {
    "music": Recipe("music", snr_db=(0.0, 8.0), sfx_snr_db=(0.0, 10.0), **_WORDS),
    "ambience": Recipe("ambience", snr_db=(5.0, 20.0), sfx_snr_db=(0.0, 12.0), **_WORDS),
    "noise": Recipe("noise", snr_db=(5.0, 20.0), sfx_snr_db=(0.0, 12.0), **_WORDS),
}
INDEX = "streams.csv"
INDEX_COLUMNS = ("name", "bed", "bed_source", "seconds", "speech_events", "speech_seconds")


def bed_of(k: int) -> str:
    """Stream k's bed: music for even k, ambience and noise in turn for odd k."""
    return "music" if k % 2 == 0 else ("ambience" if k % 4 == 1 else "noise")


def truth_rows(scene) -> list[tuple[float, float, str, str]]:
    """(onset, offset, label, source) in seconds: the speech events (joined words, tagged
    with their first word's source) and the sound effects, in time order."""
    rows = []
    words = sorted((p for p in scene.placed if p.label == "speech"), key=lambda p: p.start)
    for a, b in scene.speech_spans():
        tag = next(p.tag for p in words if a <= p.start < b)
        rows.append((a / SR, b / SR, "speech", tag))
    rows += [(p.start / SR, p.end / SR, p.label, p.tag) for p in scene.placed if p.label != "speech"]
    return sorted(rows)


def write_truth(path: Path, truth: list) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter="\t", lineterminator="\n")
    w.writerow(["onset", "offset", "event_label", "source"])
    for on, off, lab, desc in truth:
        w.writerow([f"{on:.4f}", f"{off:.4f}", lab, desc])
    write_text_atomic(path, buf.getvalue())


def read_truth(path: Path) -> list[tuple[float, float, str]]:
    """(onset, offset, label) of a ground truth file (read_sources without the source)."""
    return [(a, b, lab) for a, b, lab, _ in read_sources(path)]


def read_sources(path: Path) -> list[tuple[float, float, str, str]]:
    """(onset, offset, label, source) of a ground truth file; the source is the first part of
    its `source` column (the manifest's source NAME, before any "/group"), "" without one."""
    try:
        reader = csv.DictReader(Path(path).read_text().splitlines(), delimiter="\t")
        rows = [(reader.line_num, r) for r in reader]     # line numbers of the file (blank lines too)
    except (OSError, UnicodeDecodeError) as e:
        raise MicromelError(f"{path}: cannot read ground truth ({e})") from None
    out = []
    for n, r in rows:
        try:
            on, off, lab = float(r["onset"]), float(r["offset"]), r["event_label"]
        except (KeyError, TypeError, ValueError):
            raise MicromelError(f"{path}:{n}: expected columns onset, offset, event_label "
                                "(seconds, seconds, a label)") from None
        if not (math.isfinite(on) and math.isfinite(off) and 0 <= on < off) or not lab:
            # an event ending before it starts would score as nothing, silently
            raise MicromelError(f"{path}:{n}: onset {on}, offset {off}, label {lab!r}: need "
                                "0 <= onset < offset and a label")
        out.append((on, off, lab, (r.get("source") or "").split("/")[0]))
    return out


def read_index(folder: Path) -> dict[str, dict[str, str]]:
    """{stream file name: {"bed": its bed kind, "bed_source": the bed's source NAME (before
    any "/track")}} from streams.csv, {} without one."""
    p = Path(folder) / INDEX
    if not p.is_file():
        return {}
    try:
        return {f"{r['name']}.wav": {"bed": r["bed"] or "", "bed_source": (r["bed_source"] or "").split("/")[0]}
                for r in csv.DictReader(p.read_text().splitlines())}
    except (KeyError, csv.Error, UnicodeDecodeError):
        raise MicromelError(f"{p}: expected columns {', '.join(INDEX_COLUMNS)}") from None


def build_streams(out_dir: Path, n_streams: int = 24, seconds: float = 60.0, seed: int = 0,
                  split: str = "test", quiet: bool = False, force: bool = False) -> list[Path]:
    """Write n_streams streams (wav + events.tsv) and streams.csv from one role's sources;
    returns the wav paths. Streams already in out_dir (its streams.csv) are replaced only
    with `force`: their ground truth may have been edited by hand."""
    from tqdm import tqdm    # lazy: only when building

    out_dir = cliargs.out_folder(out_dir, "--out", "for the streams")
    if (out_dir / INDEX).exists() and not force:
        raise MicromelError(f"--out {out_dir}: holds streams already ({INDEX}); add --force to "
                            "replace them, or give a new folder")
    lib = Library(split, quiet=quiet)
    paths, index = [], []
    for k in tqdm(range(n_streams), desc=f"streams [{split}]", disable=quiet, leave=False):
        bed = bed_of(k)
        scene = make_scene(lib, np.random.default_rng([seed, k]), seconds, RECIPES[bed])
        name = f"{split}_{k:03d}_{bed}"
        wav = out_dir / f"{name}.wav"
        write_wav(wav, mx.to_int16(scene.pcm))
        rows = truth_rows(scene)
        write_truth(truth_path(wav), rows)
        sp = [r for r in rows if r[2] == "speech"]
        index.append({"name": name, "bed": bed, "bed_source": scene.bed_tag, "seconds": f"{seconds:g}",
                      "speech_events": len(sp), "speech_seconds": f"{sum(b - a for a, b, _, _ in sp):.2f}"})
        paths.append(wav)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(INDEX_COLUMNS), lineterminator="\n")
    w.writeheader()
    w.writerows(index)
    write_text_atomic(out_dir / INDEX, buf.getvalue())
    if not quiet:
        n_sp = sum(r["speech_events"] for r in index)
        share = sum(float(r["speech_seconds"]) for r in index) / (seconds * max(1, n_streams))
        print(f"wrote {len(paths)} streams of {seconds:g} s from the {split} sources to {out_dir}: "
              f"{n_sp} speech events, {100 * share:.0f} % of the time speech")
    return paths


def truth_path(wav: Path) -> Path:
    wav = Path(wav)
    return wav.with_name(wav.stem + ".events.tsv")
