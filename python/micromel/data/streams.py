"""Evaluation streams for segmentation (`micromel dataset streams`): held-out sounds placed on
beds at known times, with their ground truth (`<stem>.events.tsv`: onset, offset, label)."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from ..audio import write_wav
from ..errors import MicromelError
from ..fileio import write_text_atomic
from .speech import (BED_DBFS, SAMPLE_RATE, SNRS, STREAM_GAP_S, Pool, _mix_at, _to_int16,
                     all_sources, coloured_noise, dbfs, nonspeech_sound, utterance)


def make_stream(seconds: float, pools: dict, rng: np.random.Generator,
                speech_p: float = 0.6) -> tuple[np.ndarray, list[tuple[float, float, str, str]]]:
    """A bed with events placed at known times: (int16 pcm, [(onset, offset, label, source)])."""
    n = int(seconds * SAMPLE_RATE)
    bed_level = rng.uniform(*BED_DBFS)
    # slow level changes of the bed (+-3 dB over seconds), as a room's noise does
    env = np.interp(np.arange(n), np.linspace(0, n, 8), 10 ** (rng.uniform(-3, 3, 8) / 20))
    bed = coloured_noise(n, rng) * dbfs(bed_level) * env
    bed_rms = dbfs(bed_level)
    truth = []
    t = rng.uniform(*STREAM_GAP_S)
    while True:
        if rng.random() < speech_p:
            x, desc = utterance(pools["speech"], rng, 4)
            label = "speech"
        else:
            x, desc = nonspeech_sound(pools["effect"], pools["drum"], rng)
            label = "nonspeech"
        at = int(t * SAMPLE_RATE)
        if at + len(x) > n - SAMPLE_RATE // 2:
            break
        _mix_at(bed, x, at, float(rng.choice(SNRS)), bed_rms)
        truth.append((at / SAMPLE_RATE, (at + len(x)) / SAMPLE_RATE, label, desc))
        t = (at + len(x)) / SAMPLE_RATE + rng.uniform(*STREAM_GAP_S)
    return _to_int16(bed), truth


def write_truth(path: Path, truth: list) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter="\t", lineterminator="\n")
    w.writerow(["onset", "offset", "event_label", "source"])
    for on, off, lab, desc in truth:
        w.writerow([f"{on:.4f}", f"{off:.4f}", lab, desc])
    write_text_atomic(path, buf.getvalue())


def read_truth(path: Path) -> list[tuple[float, float, str]]:
    try:
        rows = list(csv.DictReader(Path(path).read_text().splitlines(), delimiter="\t"))
    except OSError as e:
        raise MicromelError(f"{path}: cannot read ground truth ({e})") from None
    try:
        return [(float(r["onset"]), float(r["offset"]), r["event_label"]) for r in rows]
    except (KeyError, TypeError, ValueError):
        raise MicromelError(f"{path}: expected columns onset, offset, event_label") from None


def build_streams(out_dir: Path, n_streams: int = 10, seconds: float = 60.0, seed: int = 0,
                  split: str = "test", quiet: bool = False) -> list[Path]:
    """Write n_streams streams (wav + events.tsv) from one split; returns the wav paths."""
    from tqdm import tqdm    # lazy: only when building

    src = all_sources(quiet)[split]
    rng = np.random.default_rng([seed, 1000])
    pools = {"speech": Pool(src["speech"], rng, 600), "effect": Pool(src["effect"], rng),
             "drum": Pool(src["drum"], rng, 200)}
    out_dir = Path(out_dir)
    paths = []
    for k in tqdm(range(n_streams), desc="streams", disable=quiet, leave=False):
        pcm, truth = make_stream(seconds, pools, np.random.default_rng([seed, k]))
        wav = out_dir / f"stream_{k:03d}.wav"
        write_wav(wav, pcm)
        write_truth(out_dir / f"stream_{k:03d}.events.tsv", truth)
        paths.append(wav)
    if not quiet:
        n_sp = sum(1 for p in paths for e in read_truth(truth_path(p)) if e[2] == "speech")
        print(f"wrote {len(paths)} streams of {seconds:g} s ({n_sp} speech utterances) to {out_dir}")
    return paths


def truth_path(wav: Path) -> Path:
    wav = Path(wav)
    return wav.with_name(wav.stem + ".events.tsv")
