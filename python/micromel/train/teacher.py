"""Knowledge distillation (`micromel train ... --teacher DIR`): a trained model, typically an
ensemble too large for the board (docs/training.md, "A larger product of experts (S4), and a
two-network student of it"), gives soft targets for training a smaller one. Each training
window's target becomes

    (1 - a) x its label + a x the teacher's probabilities softened by T

(a = `distill`, T = `distill_temperature`: the probabilities p as p^(1/T), renormalised,
which is the softmax of the teacher's logits / T), before the label smoothing every model
gets. The teacher runs as its float .tflite (evaluate.predict_float, as `micromel evaluate
--impl float` runs it) on the student's own training windows, augmented copies included, in
one pass before the first epoch (fit.EpochSampler.use_teacher); the student still stops
early on the validation split's hard labels.

A teacher must have been trained on the same view of the same data (the dataset digest its
config.json records covers the file list, labels, splits and so a held-out source): then
it never saw a clip the student is tested on, and the student's test numbers stay held-out
numbers."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ..engine import tflite
from ..errors import MicromelError
from ..modeldir import FLOAT_TFLITE, ModelDir


def resolve(path: str, out: Path) -> Path:
    """The teacher's folder, absolute (a name of a shipped model too, as ModelDir.open
    takes it); not the folder the student is written to."""
    try:
        folder = ModelDir.open(path).path.resolve()
    except MicromelError as e:
        raise MicromelError(f"--teacher: {e}") from None
    if folder == Path(out).resolve():
        raise MicromelError(f"--teacher {path}: is the --out folder; the student would overwrite "
                            "its teacher")
    return folder


def check(folder: Path, ds, fcfg, window) -> None:
    """One-line errors, before any long work: no float model or one that does not take this
    training's windows and give its classes, other labels, front end or window, or another
    view of the data."""
    model = ModelDir.open(folder)
    if list(model.labels) != list(ds.labels):
        raise MicromelError(f"--teacher {folder}: its labels {list(model.labels)} differ from the "
                            f"data's {list(ds.labels)}")
    if model.frontend.to_dict() != fcfg.to_dict() or model.window.frames != window.frames:
        raise MicromelError(f"--teacher {folder}: its front end or window differs from this "
                            "training's; train the teacher with the same --frontend and "
                            "--window-frames")
    tflite.check_io(tflite.parse(model.float_tflite_bytes(), model.path / FLOAT_TFLITE),
                    window.frames * fcfg.n_mels, len(ds.labels), kind="float32")
    recorded, here = (model.dataset or {}).get("digest"), ds.digest()
    if recorded != here:
        raise MicromelError(f"--teacher {folder}: was trained on another view of the data (dataset "
                            f"digest {recorded}, here {here}: another dataset, split or "
                            "--hold-out-source, or its files were moved or changed since); a "
                            "teacher must never have seen this run's test clips")


def fingerprint(folder: Path) -> str:
    """SHA-256 of the teacher's float model (the record of which teacher trained a model)."""
    return hashlib.sha256(ModelDir.open(folder).float_tflite_bytes()).hexdigest()


def soften(p: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities (n, classes) -> softmax(log p / T), row by row."""
    z = np.log(np.clip(p.astype(np.float64), 1e-12, 1.0)) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def targets(onehot: np.ndarray, soft: np.ndarray, distill: float) -> np.ndarray:
    """(1 - a) x label + a x soft targets."""
    return ((1.0 - distill) * onehot + distill * soft).astype(np.float32)
