"""The firmware on every emulated core: the same checks and measurements on
each QEMU machine of the board catalogue (Cortex-M4F, M7, M33, M55, RV32).

For one core, `run_core` builds the firmware (with a model's exported headers
or without a model), boots it, and
- checks the link (PING of a full frame, INFO names the target and core);
- runs the front end on one second of noise and compares it bit for bit with
  the numpy twin (micromel.frontend.features), and reads its cost (BENCH 1);
- with a model: runs random inputs generated on the device through it and
  compares every layer's CRC with the tflite_micro reference, and reads the
  instructions per inference (BENCH 2).

This is the per-core smoke check and the cost report; the full verify over a
data set (micromel verify --device emulate:<env>) runs per core the same way.
Every part that is not in this checkout yet is reported as missing, not
faked."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..boards import firmware
from ..boards.catalogue import Board
from ..engine.compiler import compile_model
from ..engine.runner import DeviceModel, Tflm
from ..errors import MicromelError
from ..frontend import link as fe_link
from ..frontend.config import FrontendConfig
from ..frontend.twin import features
from ..link import protocol
from ..link.device import open_emulated


@dataclass
class CoreResult:
    board: Board
    info: dict = field(default_factory=dict)
    frontend: dict | None = None   # {"bit_exact", "frames", "per_frame", "per_second"}
    model: dict | None = None      # {"bit_exact", "inputs", "per_inference", "layers"}
    missing: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def bit_exact(self) -> bool:
        parts = [p for p in (self.frontend, self.model) if p]
        return all(p["bit_exact"] for p in parts)

    def to_dict(self) -> dict:
        return {"board": self.board.name, "env": self.board.offline_env, "core": self.board.core,
                "dsp": self.board.dsp, "kernels": self.info.get("kernels"),
                "frontend": self.frontend, "model": self.model, "missing": self.missing,
                "bit_exact": self.bit_exact, "seconds": round(self.seconds, 1)}


def _check_frontend(dev, model, seed: int) -> dict:
    cfg = model.frontend if model else FrontendConfig()
    rng = np.random.default_rng(seed)
    pcm = (rng.standard_normal(cfg.sample_rate) * 4000).clip(-32768, 32767).astype(np.int16)
    want = features(pcm, cfg)
    got = fe_link.features(dev, pcm, cfg.n_mels)
    bench = fe_link.bench(dev, "noise")
    return {"bit_exact": bool(got.shape == want.shape and np.array_equal(got, want)),
            "frames": int(want.shape[0]), "unit": bench["unit"],
            "per_frame": round(bench["per_frame_total"]), "per_second": round(bench["per_second_total"])}


def _check_model(dev, model, inputs: int, seed: int) -> dict:
    plan = compile_model(model).plan
    dm = DeviceModel(plan, dev)
    xs, scores, crcs = dm.run_random(seed, inputs)
    ref = Tflm(plan)
    exact = True
    for x, s, c in zip(xs, scores, crcs):
        ref_scores, ref_crcs = ref.crcs(x)
        exact &= bool(np.array_equal(s, ref_scores) and np.array_equal(c, ref_crcs))
    bench = dm.bench(xs[0])
    return {"bit_exact": exact, "inputs": int(len(xs)), "unit": bench["unit"],
            "per_inference": round(bench["total"]), "layers": [round(v) for v in bench["layers"]]}


def run_core(board: Board, model=None, gen_dir: Path | None = None,
             inputs: int = 8, seed: int = 1) -> CoreResult:
    """Build, boot and check one emulated board with a ModelDir's firmware (exported into
    gen_dir) or without a model (see the module doc)."""
    model_dir = model.path.resolve() if model else None

    if not board.emulated:
        raise MicromelError(f"--board {board.name}: not an emulated board (see `micromel boards`)")
    t0 = time.monotonic()
    res = CoreResult(board)
    elf = firmware.build(board.offline_env, gen_dir=gen_dir, model_dir=model_dir)
    with open_emulated(board.offline_env, elf=elf) as dev:
        payload = bytes(range(256)) * (protocol.FIRMWARE_MAX_PAYLOAD // 256)
        if dev.request(protocol.MSG["PING"], payload, timeout=20).payload != payload:
            raise MicromelError(f"{board.offline_env}: PING echo differs")
        res.info = dev.info(refresh=True)
        if res.info.get("target") != board.offline_env or res.info.get("core") != board.core:
            raise MicromelError(f"{board.offline_env}: INFO names {res.info.get('target')}/"
                                f"{res.info.get('core')}, expected {board.offline_env}/{board.core}")
        if any(k.startswith("fe_") for k in res.info):
            res.frontend = _check_frontend(dev, model, seed)
        else:
            res.missing.append("front end (no fe_* in INFO)")
        if model is not None:
            if res.info.get("model", "none") == "none":
                raise MicromelError(f"{board.offline_env}: the firmware reports no model")
            res.model = _check_model(dev, model, inputs, seed)
    res.seconds = time.monotonic() - t0
    return res


def format_table(results: list[CoreResult], markdown: bool = False) -> str:
    head = ["board", "core", "kernels", "front end", "instr/frame", "instr/s audio",
            "model", "instr/inference"]
    rows = [head]
    for r in results:
        fe, m = r.frontend, r.model
        rows.append([
            r.board.name, r.board.core, r.info.get("kernels", "-"),
            ("bit-exact" if fe["bit_exact"] else "DIFFERS") if fe else "-",
            f"{fe['per_frame']:,}" if fe else "-", f"{fe['per_second']:,}" if fe else "-",
            (f"bit-exact ({m['inputs']} inputs)" if m["bit_exact"] else "DIFFERS") if m else "-",
            f"{m['per_inference']:,}" if m else "-",
        ])
    if markdown:
        out = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join(["---"] * 4 + ["---:"] * 2 + ["---", "---:"]) + "|"]
        out += ["| " + " | ".join(r) + " |" for r in rows[1:]]
        return "\n".join(out) + "\n"
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    out = []
    for k, r in enumerate(rows):
        out.append("  ".join(c.rjust(w) if 4 <= i <= 5 or i == 7 else c.ljust(w)
                             for i, (c, w) in enumerate(zip(r, widths))).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out) + "\n"
