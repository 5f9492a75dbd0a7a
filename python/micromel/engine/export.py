"""`micromel export`: a model folder in, the generated headers out.

export_model() reads models/NAME/model.tflite and config.json, checks every
layer, plans the arena, checks the board's budget and writes the headers the
firmware compiles (through codegen.write_build_headers, so the folder also
holds the protocol and front-end headers and is complete)."""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
from pathlib import Path

from ..errors import MicromelError
from . import cgen, kernels, plan as planmod, schedule, stream as streammod, tflite

KERNEL_CHOICES = ("auto", "portable", "dsp")
WEIGHT_CHOICES = ("auto", "int8", "int16")


@dataclass
class Compiled:
    """Everything known about one model once compiled."""
    model_dir: Path
    meta: dict
    graph: tflite.Graph
    plan: planmod.Plan
    kdata: dict
    sched: schedule.Schedule
    stream: streammod.StreamPlan | None = None

    @property
    def weight_bytes_portable(self) -> int:
        return sum(kd.weight_bytes_portable for kd in self.kdata.values())

    @property
    def weight_bytes_dsp(self) -> int:
        return sum(kd.weight_bytes_dsp for kd in self.kdata.values())

    @property
    def weight_bytes_model(self) -> int:
        """The model's weights as int8 (what the .tflite holds)."""
        return sum(kd.weight_bytes_model for kd in self.kdata.values())

    @property
    def param_bytes(self) -> int:
        return self.param_bytes_for(dsp=True)

    def param_bytes_for(self, dsp: bool) -> int:
        """Flash of requantization records (in a DSP build, those not inside
        a weight stream), lookup tables, border sums and padding rows."""
        n = sum(16 * len(kd.rq) for kd in self.kdata.values() if kd.rq is not None)
        n += sum(4 * kd.extra[key].size for kd in self.kdata.values()
                 for key in ("lut1", "lut2")
                 if key in kd.extra)
        return n + sum(self.sched.pad_rows.values())


def model_files(model_dir: Path) -> tuple[Path, dict]:
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise MicromelError(f"{model_dir}: no such model folder (expected models/NAME with "
                            "model.tflite and config.json)")
    tfl = model_dir / "model.tflite"
    if not tfl.exists():
        raise MicromelError(f"{model_dir}: no model.tflite; train the model first")
    cfg_path = model_dir / "config.json"
    cfg = {}
    if cfg_path.exists():
        try:
            cfg = json.loads(cfg_path.read_text())
        except json.JSONDecodeError as e:
            raise MicromelError(f"{cfg_path}: not valid JSON ({e})") from None
    return tfl, cfg


def model_hash(model_dir: Path) -> str:
    """The hash INFO reports (micromel.reference.model_hash: the .tflite and
    the config it was exported with)."""
    try:
        from ..reference import model_hash as ref_hash
        if (Path(model_dir) / "config.json").exists():
            return ref_hash(Path(model_dir))
    except ImportError:
        pass
    import hashlib
    return hashlib.sha256((Path(model_dir) / "model.tflite").read_bytes()).hexdigest()[:16]


def stream_hop(cfg: dict) -> int:
    """The hop (in input rows) the model's windows slide by when streaming: the
    segmenter's (config.json segment.hop_frames), else the training windows'."""
    seg = cfg.get("segment") or {}
    if seg.get("hop_frames"):
        return int(seg["hop_frames"])
    return int((cfg.get("window") or {}).get("hop_frames", 0))


def compile_model(model_dir: Path, weights: str = "auto", stream: bool = False) -> Compiled:
    """Read, check, lower and plan a model. weights: the DSP build's layout of the
    matrix engine's weights (kernels.choose_weight_layouts). stream: keep the rows
    that windows sliding by the model's hop share (engine/stream.py)."""
    model_dir = Path(model_dir)
    if weights not in WEIGHT_CHOICES:
        raise MicromelError(f"--weights {weights}: choose one of {', '.join(WEIGHT_CHOICES)}")
    tfl, cfg = model_files(model_dir)
    graph = tflite.read(tfl)
    plan = planmod.lower(graph)
    n_classes = 1
    for s in plan.output_shape:
        n_classes *= s
    labels = [str(x) for x in cfg.get("labels", [])] or [f"class{i}" for i in range(n_classes)]
    if len(labels) != n_classes:
        raise MicromelError(f"{model_dir / 'config.json'}: {len(labels)} labels for a model with "
                            f"{n_classes} outputs")
    for lab in labels:
        if "," in lab or "\n" in lab or '"' in lab:
            raise MicromelError(f"{model_dir / 'config.json'}: label {lab!r} contains a comma, "
                                "quote or newline")
    want = cfg.get("input_shape")
    if want and tuple(int(v) for v in want) != tuple(plan.input_shape):
        raise MicromelError(f"{model_dir}: config.json input_shape {want} differs from the "
                            f"model's {list(plan.input_shape)}")
    kdata = {lay.index: kernels.prepare(lay) for lay in plan.layers}
    kernels.choose_weight_layouts(kdata, weights)
    sched = schedule.build(plan, kdata)
    sp = None
    if stream:
        hop = stream_hop(cfg)
        if not 0 < hop < plan.input_shape[0]:
            raise MicromelError(f"{model_dir}: --stream needs a hop of 1 to {plan.input_shape[0] - 1} "
                                "rows (config.json segment.hop_frames)")
        sp = streammod.plan_stream(plan, sched, hop)
        keep = {f"cache{t}": c.slots * c.row_bytes for t, c in sp.caches.items()}
        if sp.caches:
            rb = int(np.prod(plan.input_shape[1:]))
            keep["history"] = (plan.input_shape[0] - hop) * rb
        # a layer next to a row cache computes one row per call (its rows need not be
        # next to each other in memory)
        near = set()
        for t, ca in sp.caches.items():
            near.add(ca.layer)
            near |= {lay.index for lay in plan.layers if t in lay.inputs}
        sched = schedule.build(plan, kdata, keep, frozenset(near))
        sched.stream = sp
    schedule.check(sched)
    meta = {"name": str(cfg.get("name", model_dir.name)), "labels": labels,
            "hash": model_hash(model_dir), "source": f"{model_dir.name}/model.tflite"}
    return Compiled(model_dir, meta, graph, plan, kdata, sched, sp)


def _board(name: str):
    """A board of the catalogue (micromel.boards), by name or environment."""
    try:
        from .. import boards
    except ImportError:
        raise MicromelError("--board: the board catalogue (micromel.boards) is missing") from None
    found = boards.find_boards(name)
    if len(found) != 1:
        raise MicromelError(f"--board {name}: names {len(found)} boards; give one")
    return found[0]


def check_board(c: Compiled, board_name: str) -> None:
    """Refuse a model that does not fit the board's budget for micromel."""
    b = _board(board_name)
    flash = (c.weight_bytes_dsp if b.dsp else c.weight_bytes_portable) + c.param_bytes_for(b.dsp)
    ram = c.sched.arena_bytes
    problems = []
    if ram > b.ram_budget:
        problems.append(f"arena {ram} bytes > RAM budget {b.ram_budget}")
    if flash > b.flash_budget:
        problems.append(f"weights and parameters {flash} bytes > flash budget {b.flash_budget}")
    if problems:
        raise MicromelError(f"{c.model_dir}: does not fit board '{b.name}': "
                            + "; ".join(problems) + " (choose a smaller architecture or board)")


def write_model_headers(gen_dir: Path, model_dir: Path | None, kernels_choice: str = "auto",
                        weights: str | None = None, stream: bool | None = None) -> Compiled | None:
    """Write mm_model_config.h and mm_model_data.h (the "no model" config when
    model_dir is None). Called by codegen.write_build_headers. weights None: the
    choice the folder was exported with (weights_choice_of)."""
    from ..codegen import write_text_atomic

    gen_dir = Path(gen_dir)
    if kernels_choice not in KERNEL_CHOICES:
        raise MicromelError(f"--kernels {kernels_choice}: choose one of {', '.join(KERNEL_CHOICES)}")
    if weights is None:
        weights = weights_choice_of(gen_dir)
    if stream is None:
        stream = stream_choice_of(gen_dir)
    if model_dir is None:
        write_text_atomic(gen_dir / "mm_model_config.h",
                          cgen.config_header({}, kernels=kernels_choice))
        data = gen_dir / "mm_model_data.h"
        if data.exists():
            data.unlink()
        return None
    c = compile_model(Path(model_dir), weights, stream)
    write_text_atomic(gen_dir / "mm_model_config.h",
                      cgen.config_header(c.meta, c.plan, c.sched, c.kdata, kernels=kernels_choice,
                                         weights=weights, stream=c.stream))
    write_text_atomic(gen_dir / "mm_model_data.h",
                      cgen.data_header(c.meta, c.plan, c.sched, c.kdata, c.stream))
    return c


def kernels_choice_of(gen_dir: Path) -> str:
    """The kernel path an existing generated folder was exported with."""
    cfg = Path(gen_dir) / "mm_model_config.h"
    if cfg.exists():
        text = cfg.read_text()
        if "MM_NN_FORCE_PORTABLE" in text:
            return "portable"
        if "MM_NN_FORCE_DSP" in text:
            return "dsp"
    return "auto"


def stream_choice_of(gen_dir: Path) -> bool:
    """Whether an existing generated folder was exported for streaming."""
    cfg = Path(gen_dir) / "mm_model_config.h"
    return cfg.exists() and "stream=1 " in cfg.read_text()


def weights_choice_of(gen_dir: Path) -> str:
    """The weight layout choice an existing generated folder was exported with."""
    cfg = Path(gen_dir) / "mm_model_config.h"
    if cfg.exists():
        for w in WEIGHT_CHOICES:
            if f"weights={w} " in cfg.read_text():
                return w
    return "auto"


def export_model(model_dir, out_dir, board: str | None = None, kernels: str = "auto",
                 weights: str = "auto", stream: bool = False) -> Path:
    """Write the generated headers of one model into out_dir; returns out_dir."""
    from .. import codegen

    model_dir = Path(model_dir).resolve()
    out_dir = Path(out_dir)
    c = compile_model(model_dir, weights, stream)
    if board:
        check_board(c, board)
    out_dir.mkdir(parents=True, exist_ok=True)
    # The kernel choice rides in the folder: write_build_headers (called again
    # by every firmware build of this folder) keeps it.
    write_model_headers(out_dir, model_dir, kernels, weights, stream)
    codegen.write_build_headers(out_dir, model_dir)
    return out_dir
