"""A copy of a dataset split as heard in rooms the training never simulated and over beds it
never mixed in (a measuring tool for docs/training.md, not part of `micromel train`):
every clip convolved with one of the impulse responses of a room bank drawn with another
seed than training's, then mixed over an excerpt of recordings given with --bed at a random
SNR in [--snr-min, --snr-max] dB; seeded per clip.

    .venv/bin/python scripts/roomy_copy.py data/drums --split test --bed DIR --out build/roomy
    .venv/bin/micromel evaluate models/drums build/roomy --by source
"""
import argparse
import hashlib
import random
import sys
from pathlib import Path

import numpy as np

from micromel.audio import load_audio, write_wav
from micromel.data.datasets import load_dataset, write_manifest
from micromel.train import banks

ROOM_SEED = 12345          # training's room bank uses seed 0


def main() -> int:
    from audiomentations import AddBackgroundNoise, ApplyImpulseResponse, Compose

    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--split", default="test")
    ap.add_argument("--bed", required=True, action="append")
    ap.add_argument("--out", required=True)
    ap.add_argument("--snr-min", type=float, default=5.0)
    ap.add_argument("--snr-max", type=float, default=20.0)
    a = ap.parse_args()
    ds = load_dataset(a.data)
    rooms = banks.room_bank(16000, (0.3, 0.9), seed=ROOM_SEED)
    beds = banks.bed_bank(a.bed, 16000, seed=ROOM_SEED)
    chain = Compose([ApplyImpulseResponse(ir_path=str(rooms), p=1.0, leave_length_unchanged=False),
                     AddBackgroundNoise(sounds_path=str(beds), min_snr_db=a.snr_min,
                                        max_snr_db=a.snr_max, p=1.0)])
    out, rows = Path(a.out), []
    names = ds.source_names()
    for (path, label, split), src in zip(ds.items, names):
        if split != a.split:
            continue
        h = int(hashlib.sha256(str(path.name).encode()).hexdigest()[:8], 16)
        random.seed(h)
        np.random.seed(h)
        x = load_audio(path, 16000).astype(np.float32) / 32768.0
        y = chain(samples=x, sample_rate=16000)
        y = y / max(1e-9, float(np.max(np.abs(y)))) * float(np.max(np.abs(x)))   # the clip's peak
        rel = Path(label) / path.name
        write_wav(out / rel, np.clip(np.round(y * 32768.0), -32768, 32767).astype(np.int16))
        rows.append({"path": rel.as_posix(), "label": label, "split": "test", "source": src})
    write_manifest(out / "manifest.csv", rows)
    print(f"wrote {len(rows)} clips and {out / 'manifest.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
