"""A model compiled for the engine: the .tflite of a model folder read, every layer checked
and lowered with TFLite Micro's integer parameters, the weights laid out for the kernels and
the arena planned. codegen.export compiles a model once and writes its headers from this."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..boards.catalogue import find_board
from ..errors import MicromelError
from ..segment.config import SegmentConfig
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


def stream_hop(model) -> int:
    """The hop (in input rows) the model's windows slide by when streaming: the
    segmenter's (a model with a segment config), else the training windows'."""
    if model.segment != SegmentConfig():
        return model.segment.hop_frames
    return model.window.hop_frames


def compile_model(model, weights: str = "auto", stream: bool = False) -> Compiled:
    """Compile a ModelDir's int8 model (read once, lowered, planned). weights: the DSP
    build's layout of the matrix engine's weights (kernels.choose_weight_layouts). stream:
    keep the rows that windows sliding by the model's hop share (engine/stream.py)."""
    if weights not in WEIGHT_CHOICES:
        raise MicromelError(f"--weights {weights}: choose one of {', '.join(WEIGHT_CHOICES)}")
    graph = tflite.parse(model.tflite_bytes, model.tflite_path)
    plan = planmod.lower(graph)
    n_classes = 1
    for s in plan.output_shape:
        n_classes *= s
    where = model.path / "config.json"
    if len(model.labels) != n_classes:
        raise MicromelError(f"{where}: {len(model.labels)} labels for a model with "
                            f"{n_classes} outputs")
    if tuple(model.input_shape) != tuple(plan.input_shape):
        raise MicromelError(f"{model.path}: window.frames x frontend.n_mels "
                            f"{list(model.input_shape)} differs from the model's input "
                            f"{list(plan.input_shape)}")
    kdata = {lay.index: kernels.prepare(lay) for lay in plan.layers}
    kernels.choose_weight_layouts(kdata, weights)
    sched = schedule.build(plan, kdata)
    sp = None
    if stream:
        hop = stream_hop(model)
        if not 0 < hop < plan.input_shape[0]:
            raise MicromelError(f"{model.path}: --stream needs a hop of 1 to "
                                f"{plan.input_shape[0] - 1} rows (config.json segment.hop_frames)")
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
    meta = {"name": model.name, "labels": list(model.labels), "hash": model.hash,
            "source": f"{model.path.name}/model.tflite"}
    return Compiled(model.path, meta, graph, plan, kdata, sched, sp)


def check_board(c: Compiled, board_name: str) -> None:
    """Refuse a model that does not fit the board's budget for micromel."""
    b = find_board(board_name)
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


def model_headers(c: Compiled | None, weights: str = "auto") -> dict[str, str | None]:
    """The engine's generated headers: file name -> text (None: the file must not exist;
    a firmware without a model has no mm_model_data.h)."""
    if c is None:
        return {"mm_model_config.h": cgen.config_header({}, weights=weights),
                "mm_model_data.h": None}
    return {"mm_model_config.h": cgen.config_header(c.meta, c.plan, c.sched, c.kdata,
                                                    weights=weights, stream=c.stream),
            "mm_model_data.h": cgen.data_header(c.meta, c.plan, c.sched, c.kdata, c.stream)}
