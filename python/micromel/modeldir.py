"""A model folder (models/NAME/): the one reader and writer of it.

    model = ModelDir.open("models/drums")
    model.labels, model.frontend, model.window, model.segment     # checked settings
    model.framing, model.window_samples, model.gate_threshold     # derived, never stored
    model.tflite_bytes, model.hash                                # the int8 model and its hash

What a folder holds:
- `config.json`: every setting of the model, each stored once (format 2, below);
- `model.tflite`: the int8 model the device runs; `model_float.tflite`: its float twin;
- `forest.h` (optional), `metrics.json`, `card.md`, `confusion.png`: written by training.

config.json, format 2:

    {"format": 2, "name": ..., "labels": [...],
     "frontend": {FrontendConfig without window_frames},   # the window length is window.frames
     "window": {"frames", "hop_frames", "silence_rms_dbfs"},
     "segment": {SegmentConfig}        (optional: the defaults when absent)
     "reject": {"min_top", "min_margin", "other_class", "class_min_top"} (optional: open-set rejection, off
               when absent)
     "boards": [catalogue names]       (optional: every board when absent)
     "train": {TrainConfig without window and frontend}    (optional: models not trained here)
     "dataset": {"source", "digest"}   (optional)
     "forest": "forest.h" or null}

Format 1 (the folders micromel wrote before) stored the window length four times and derived
numbers (input_shape, gate_threshold, window_samples, member_seeds) beside the settings;
`open` reads it (checking that the copies agree) and `save` writes format 2. The model hash
(what INFO reports and verify checks) covers the .tflite, the labels and the front-end and
window settings exactly as before, so migrating a folder does not change its hash; the
rejection rule and the segmenter's integers join it only where the folder has its own
(ModelDir.hash).
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from pathlib import Path

from .clip.reject import RejectConfig
from .clip.rules import Framing, WindowConfig, gate_threshold, window_samples
from .errors import MicromelError
from .fileio import write_bytes_atomic, write_text_atomic
from .frontend.config import FrontendConfig
from .jsonconfig import from_dict
from .paths import MODELS_DIR, PACKAGE, in_checkout
from .segment.config import SegmentConfig, derive
from .train.config import TrainConfig

FORMAT = 2
CONFIG = "config.json"
TFLITE = "model.tflite"
FLOAT_TFLITE = "model_float.tflite"
# Files of a model folder besides config.json and the two models: what training writes.
OUTPUTS = ("forest.h", "metrics.json", "card.md", "confusion.png")
TOP_KEYS = ("format", "name", "labels", "frontend", "window", "segment", "reject", "boards",
            "train", "dataset", "forest")


def strict_json(text: str):
    """JSON as the standard has it: Python's reader also takes NaN and Infinity, which no
    setting may be (every range check passes NaN, and C gets no such constant)."""
    def refuse(name):
        raise ValueError(f"{name} is not a number JSON allows; give a finite value")

    def number(text):           # 1e999 is valid JSON and reads as inf
        v = float(text)
        return v if math.isfinite(v) else refuse(text)
    return json.loads(text, parse_constant=refuse, parse_float=number)


def not_a_model(path, why: str) -> MicromelError:
    """The one wording of "this is not a model folder"."""
    return MicromelError(f"{path}: not a model folder ({why}); give a folder written by "
                         "'micromel train', e.g. models/drums")


@dataclass(frozen=True)
class ModelDir:
    path: Path
    name: str
    labels: tuple
    frontend: FrontendConfig           # window_frames == window.frames
    window: WindowConfig
    segment: SegmentConfig = field(default_factory=SegmentConfig)
    boards: tuple = ()                 # () = every board of the catalogue
    train: dict | None = None          # the training record (micromel.train.config)
    dataset: dict | None = None        # {"source": path relative to the checkout, "digest"}
    forest: str | None = None          # file name of the forest header, if trained
    reject: RejectConfig = field(default_factory=RejectConfig)  # open-set rule (clip/reject.py)

    # --- reading ---------------------------------------------------------------------
    @classmethod
    def open(cls, path) -> "ModelDir":
        """Read and check a model folder's config.json (not the .tflite: `tflite_bytes`
        reads it when needed). A name that is no folder here but one of the example models
        micromel ships (drums, speech) opens that. Every problem is a one-line MicromelError."""
        path = Path(path)
        if not path.exists() and len(path.parts) == 1 and (MODELS_DIR / path / CONFIG).is_file():
            path = MODELS_DIR / path
        if not path.is_dir():
            raise not_a_model(path, "a file, not a folder" if path.exists() else "no such folder")
        cfg_path = path / CONFIG
        if not cfg_path.is_file():
            raise not_a_model(path, f"no {CONFIG}")
        try:
            doc = strict_json(cfg_path.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise not_a_model(path, f"{CONFIG} is not valid JSON: {e}") from None
        if not isinstance(doc, dict):
            raise not_a_model(path, f"{CONFIG} is not a JSON object")
        return cls.from_config(path, doc)

    @classmethod
    def from_config(cls, path, doc: dict) -> "ModelDir":
        """A model folder from its config.json document; every error names the file (the
        settings' own range checks, "segment config: enter=5.0 must be ...", do not know it)."""
        path = Path(path)
        try:
            return cls._from_config(path, doc)
        except MicromelError as e:
            if str(e).startswith((f"{path}:", f"{path} ", f"{path / CONFIG}:")):
                raise
            raise MicromelError(f"{path / CONFIG}: {e}") from None

    @classmethod
    def _from_config(cls, path: Path, doc: dict) -> "ModelDir":
        fmt = doc.get("format", 1)
        if fmt == 1:
            doc = migrate_format1(path, doc)
        elif fmt != FORMAT:
            raise not_a_model(path, f"{CONFIG} format {fmt!r}; this micromel reads formats 1 "
                                    f"and {FORMAT}")
        where = f"{path / CONFIG}"
        unknown = sorted(set(doc) - set(TOP_KEYS))
        if unknown:
            raise MicromelError(f"{where}: unknown keys {unknown}; known: {sorted(TOP_KEYS)}")
        for key in ("labels", "frontend", "window"):
            if key not in doc:
                raise not_a_model(path, f"{CONFIG} has no '{key}'")
        labels = doc["labels"]
        if (not isinstance(labels, list) or not labels
                or not all(isinstance(x, str) and x for x in labels)):
            raise MicromelError(f"{where}: labels must be a non-empty list of names")
        if len(set(labels)) != len(labels):
            raise MicromelError(f"{where}: labels repeat a name ({labels})")
        for lab in labels:
            if any(ch in lab for ch in ',"\n'):
                raise MicromelError(f"{where}: label {lab!r} contains a comma, quote or newline")
        window = from_dict(WindowConfig, doc["window"], f"{where}: window")
        fe = doc["frontend"]
        if not isinstance(fe, dict):
            raise MicromelError(f"{where}: frontend: expected a JSON object")
        if "window_frames" in fe:
            raise MicromelError(f"{where}: frontend.window_frames: the window length is "
                                "window.frames (stored once); remove it")
        frontend = from_dict(FrontendConfig, {**fe, "window_frames": window.frames},
                             f"{where}: frontend")
        segment = SegmentConfig.from_dict(doc.get("segment"), f"{where}: segment")
        boards = doc.get("boards") or []
        if not isinstance(boards, list) or not all(isinstance(b, str) for b in boards):
            raise MicromelError(f"{where}: boards must be a list of board names")
        train = doc.get("train")
        if train is not None:
            TrainConfig.from_record(train, window, {}, where)   # checked: strict keys, types
        dataset = doc.get("dataset")
        if dataset is not None and not (isinstance(dataset, dict)
                                        and set(dataset) <= {"source", "digest"}):
            raise MicromelError(f"{where}: dataset must be {{\"source\": ..., \"digest\": ...}}")
        forest = doc.get("forest")
        if forest is not None and not isinstance(forest, str):
            raise MicromelError(f"{where}: forest must be a file name or null")
        reject = RejectConfig.from_dict(doc.get("reject") or {}, f"{where}: reject")
        if reject.other_class >= len(labels):
            raise MicromelError(f"{where}: reject other_class={reject.other_class} is not a class "
                                f"index (the model has {len(labels)} labels)")
        if reject.class_min_top and len(reject.class_min_top) != len(labels):
            raise MicromelError(f"{where}: reject class_min_top has {len(reject.class_min_top)} "
                                f"entries; give one per label ({len(labels)})")
        name = doc.get("name") or path.name
        model = cls(path, str(name), tuple(labels), frontend, window, segment, tuple(boards),
                    train, dataset, forest, reject)
        model.segment_params()      # background labels must be labels, etc.
        return model

    # --- derived settings --------------------------------------------------------------
    @property
    def n_classes(self) -> int:
        return len(self.labels)

    @property
    def n_mels(self) -> int:
        return self.frontend.n_mels

    @property
    def framing(self) -> Framing:
        return Framing(hop_samples=self.frontend.hop_length,
                       frame_samples=self.frontend.frame_length)

    @property
    def window_samples(self) -> int:
        return window_samples(self.window, self.framing)

    @property
    def gate_threshold(self) -> int:
        return gate_threshold(self.window, self.framing)

    @property
    def input_shape(self) -> tuple:
        """The model's input tensor without the batch: (frames, n_mels, 1)."""
        return (self.window.frames, self.frontend.n_mels, 1)

    def segment_params(self, cfg: SegmentConfig | None = None, hop_frames: int | None = None):
        """The segmenter's integers (micromel.segment.config.SegParams) for this model, with
        its own segment config or `cfg`."""
        return derive(cfg or self.segment, list(self.labels), sample_rate=self.frontend.sample_rate,
                      frame_hop=self.frontend.hop_length, window_frames=self.window.frames,
                      window_samples=self.window_samples, gate_threshold=self.gate_threshold,
                      hop_frames=hop_frames)

    # --- the models ------------------------------------------------------------------
    @property
    def tflite_path(self) -> Path:
        return self.path / TFLITE

    @cached_property
    def tflite_bytes(self) -> bytes:
        try:
            return self.tflite_path.read_bytes()
        except FileNotFoundError:
            raise not_a_model(self.path, f"no {TFLITE}; train the model first") from None

    def float_tflite_bytes(self) -> bytes:
        path = self.path / FLOAT_TFLITE
        if not path.is_file():
            raise MicromelError(f"{self.path}: no {FLOAT_TFLITE} (the float model); retrain or "
                                "use --impl int8")
        return path.read_bytes()

    @cached_property
    def hash(self) -> str:
        """What a device must run: the .tflite and the settings it was exported with (the
        same bytes format 1 hashed: labels, front end with its window length, window; and
        the rejection rule when there is one, so a folder without one keeps its hash; and
        the segmenter's integers, the ones mm_segment_config.h is built from, when they are
        not the defaults'. After `tune --save` a device with the old ones is refused, not
        found different window by window; a setting the firmware never reads, such as
        --activity-only's, changes nothing)."""
        h = hashlib.sha256()
        h.update(self.tflite_bytes)
        settings = {"labels": list(self.labels), "frontend": self.frontend.to_dict(),
                    "window": self.window.to_dict()}
        if self.reject.active:
            settings["reject"] = self.reject.to_dict()
        params = self.segment_params()
        if params != self.segment_params(SegmentConfig()):
            settings["segment"] = asdict(params)
        h.update(json.dumps(settings, sort_keys=True).encode())
        return h.hexdigest()[:16]

    def metrics(self) -> dict:
        path = self.path / "metrics.json"
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise MicromelError(f"{self.path}: no metrics.json (written by 'micromel train')") from None

    # --- writing -----------------------------------------------------------------------
    def to_config(self) -> dict:
        """The config.json document (format 2): every setting once."""
        fe = self.frontend.to_dict()
        del fe["window_frames"]
        doc = {"format": FORMAT, "name": self.name, "labels": list(self.labels),
               "frontend": fe, "window": self.window.to_dict()}
        if self.segment != SegmentConfig():
            doc["segment"] = self.segment.to_dict()
        if self.reject.active:
            doc["reject"] = self.reject.to_dict()
        if self.boards:
            doc["boards"] = list(self.boards)
        for key in ("train", "dataset"):
            if getattr(self, key) is not None:
                doc[key] = getattr(self, key)
        doc["forest"] = self.forest
        return doc

    def _writable(self) -> None:
        if not in_checkout() and self.path.resolve().is_relative_to(PACKAGE):
            raise MicromelError(f"{self.path}: an example model shipped with micromel is "
                                "read-only; copy it into a project first (micromel init)")

    def save(self) -> "ModelDir":
        """Write config.json (through a temp file and a rename)."""
        self._writable()
        self.path.mkdir(parents=True, exist_ok=True)
        # allow_nan=False: never write what strict_json would refuse to read back
        write_text_atomic(self.path / CONFIG,
                          json.dumps(self.to_config(), indent=2, allow_nan=False) + "\n")
        return self

    def write_output(self, name: str, data: bytes | str) -> Path:
        """Write one of the folder's other files (the models and training's outputs)."""
        if name not in (TFLITE, FLOAT_TFLITE) + OUTPUTS:
            raise ValueError(f"{name} is not a file of a model folder")
        self._writable()
        path = self.path / name
        self.path.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            write_text_atomic(path, data)
        else:
            write_bytes_atomic(path, data)
        if name == TFLITE:
            self.__dict__.pop("tflite_bytes", None)
            self.__dict__.pop("hash", None)
        return path

    def remove_output(self, name: str) -> None:
        """Remove one of training's outputs that a new training did not write: a model trained
        again with --force must not keep the old model's forest.h or confusion.png."""
        if name not in OUTPUTS:
            raise ValueError(f"{name} is not an output of training")
        self._writable()
        (self.path / name).unlink(missing_ok=True)

    def replace(self, **changes) -> "ModelDir":
        return replace(self, **changes)


def open_model(spec, allow_none: bool = False) -> ModelDir | None:
    """A MODEL_DIR argument: a model folder, or 'none' where a command also runs without a
    model (the firmware with its defaults)."""
    if allow_none and str(spec).lower() == "none":
        return None
    return ModelDir.open(spec)


def load_frontend_config(path) -> FrontendConfig:
    """A front-end config from a JSON file (`micromel features --config`): the config itself,
    or a model's config.json (its front end, with the model's window length)."""
    path = Path(path)
    try:
        data = strict_json(path.read_text())
    except FileNotFoundError:
        raise MicromelError(f"--config {path}: no such file") from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise MicromelError(f"--config {path}: not a readable JSON file ({e})") from None
    if isinstance(data, dict) and "frontend" in data:
        return ModelDir.from_config(path.parent, data).frontend
    return FrontendConfig.from_dict(data, f"--config {path}")


def migrate_format1(path: Path, doc: dict) -> dict:
    """A format-1 config.json as a format-2 document. The copies format 1 kept of the window
    length and the derived numbers must agree with the settings, or the folder is refused."""
    where = f"{path / CONFIG}"
    doc = dict(doc)
    window = doc.get("window")
    fe = dict(doc.get("frontend") or {})
    if isinstance(window, dict) and "frames" in window:
        frames = window["frames"]
        if "window_frames" in fe and fe.pop("window_frames") != frames:
            raise MicromelError(f"{where}: frontend.window_frames differs from window.frames; "
                                "retrain the model")
        doc["frontend"] = fe
        shape = doc.pop("input_shape", None)
        if shape is not None and list(shape) != [frames, fe.get("n_mels", 40), 1]:
            raise MicromelError(f"{where}: input_shape {shape} does not match window.frames "
                                f"x frontend.n_mels; retrain the model")
    for derived in ("gate_threshold", "window_samples", "member_seeds"):
        doc.pop(derived, None)      # computed from the settings (checked by the tests)
    train = doc.get("train")
    if isinstance(train, dict):
        train = dict(train)
        for key in ("arch", "seed"):
            top = doc.pop(key, None)
            if top is not None and train.setdefault(key, top) != top:
                raise MicromelError(f"{where}: {key} differs from train.{key}; retrain the model")
        if "window" in train and isinstance(window, dict) and train.pop("window") != window:
            raise MicromelError(f"{where}: train.window differs from window; retrain the model")
        train.pop("frontend", None)     # the overrides: the frontend section has them all
        doc["train"] = train
    else:
        for key in ("arch", "seed"):
            doc.pop(key, None)
    return doc
