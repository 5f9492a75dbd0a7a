"""Commands of the engine: `micromel export` and `micromel bench model`."""
from __future__ import annotations

import json
from pathlib import Path

from .. import cliargs, codegen
from ..errors import MicromelError
from ..modeldir import ModelDir
from . import bench, runner
from .compiler import KERNEL_CHOICES


def cmd_export(args) -> int:
    model = ModelDir.open(args.model_dir)
    out = Path(args.out) if args.out else codegen.default_gen_dir(model)
    if out.exists() and not out.is_dir():
        raise MicromelError(f"--out {out}: is a file; give a folder for the generated C")
    c = codegen.export(model, out, kernels=args.kernels, board=args.board)
    tflm = runner.tflm_arena_bytes(c.plan.graph.raw)
    streamed = sum(1 for p in c.sched.places.values() if p.kind == "ring")
    summary = {
        "model": c.meta["name"], "model_hash": c.meta["hash"], "out": str(out),
        "layers": len(c.plan.layers), "streamed_tensors": streamed, "macs": c.plan.macs,
        "arena_bytes": c.sched.arena_bytes, "tflm_arena_bytes": tflm,
        "weight_bytes_dsp": c.weight_bytes_dsp, "weight_bytes_portable": c.weight_bytes_portable,
        "param_bytes": c.param_bytes, "kernels": args.kernels,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"exported {c.meta['name']} ({c.meta['hash']}) to {out}: {summary['layers']} layers "
              f"({streamed} streamed), {c.plan.macs} MACs; arena {c.sched.arena_bytes} bytes "
              f"(TFLite Micro: {tflm}); weights {c.weight_bytes_dsp} bytes (DSP layout) / "
              f"{c.weight_bytes_portable} (portable), parameters {c.param_bytes} bytes")
    return 0


def cmd_bench_model(args) -> int:
    r = bench.run(ModelDir.open(args.model_dir), args.device, args.kernels)
    print(json.dumps(r, indent=2) if args.json else bench.format_report(r))
    return 0


KERNELS_HELP = ("kernel path: auto (DSP on cores that have it), portable, or dsp (on a host: the "
                "DSP layout run on C emulations of the intrinsics)")


def register(sub) -> None:
    p = sub.add_parser("export", help="compile a model folder into the C headers the firmware builds")
    p.add_argument("model_dir", metavar="MODEL_DIR", help="model folder (model.tflite, config.json)")
    p.add_argument("--board", help="refuse a model that does not fit this board's RAM or flash "
                                   "budget (boards/catalogue.json)")
    p.add_argument("--out", help="output folder (default build/gen/NAME-HASH)")
    p.add_argument("--kernels", choices=KERNEL_CHOICES, default="auto", help=KERNELS_HELP)
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(func=cmd_export)

    b = cliargs.group_actions(sub, "bench").add_parser(
        "model", help="instructions per inference and per layer, MACs, arena and flash")
    b.add_argument("model_dir", metavar="MODEL_DIR", help="model folder (model.tflite, config.json)")
    b.add_argument("--device", default="emulate", help=cliargs.DEVICE_HELP + " (default emulate; "
                   "a real board must already run this model)")
    b.add_argument("--kernels", choices=KERNEL_CHOICES, default="auto",
                   help="kernel path of the emulated build (default auto: DSP on the M4)")
    b.add_argument("--json", action="store_true", help="print JSON")
    b.set_defaults(func=cmd_bench_model)
