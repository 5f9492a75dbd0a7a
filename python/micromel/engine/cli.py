"""Commands of the engine: `micromel export` (headers, or a library with --lib) and
`micromel bench model`."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .. import cliargs, codegen
from ..errors import MicromelError
from ..library import export as library
from ..link.model_device import firmware_env
from ..modeldir import ModelDir
from . import bench, runner
from .compiler import KERNEL_CHOICES, WEIGHT_CHOICES


def _check_weights(args) -> None:
    """--weights int16 is a layout of DSP builds (SMLAD's operands): the portable kernels
    would ignore it, and a user who asked for it would read numbers of another build."""
    if args.kernels == "portable" and args.weights == "int16":
        raise MicromelError("--weights int16: a layout of DSP builds; --kernels portable runs "
                            "the .tflite's int8 weights (drop --weights, or --kernels dsp|auto)")


def cmd_export(args) -> int:
    _check_weights(args)
    model = ModelDir.open(args.model_dir)
    if args.lib:
        return export_library(model, args)
    if args.name is not None or args.zip or args.with_protocol:
        raise MicromelError("--name, --zip and --with-protocol go with --lib DIR (a library)")
    out = Path(args.out) if args.out else codegen.default_gen_dir(model)
    cliargs.out_folder(out, "--out", "for the generated C")
    c = codegen.export(model, out, kernels=args.kernels, board=args.board, weights=args.weights,
                       stream=args.stream, check_foreign=bool(args.out))
    tflm = runner.tflm_arena_bytes(c.plan.graph.raw)
    streamed = sum(1 for p in c.sched.places.values() if p.kind == "ring")
    summary = {
        "model": c.meta["name"], "model_hash": c.meta["hash"], "out": str(out),
        "layers": len(c.plan.layers), "streamed_tensors": streamed, "macs": c.plan.macs,
        "arena_bytes": c.sched.arena_bytes, "tflm_arena_bytes": tflm,
        "weight_bytes_dsp": c.weight_bytes_dsp, "weight_bytes_portable": c.weight_bytes_portable,
        "param_bytes": c.param_bytes, "kernels": args.kernels, "weights": args.weights,
        "weight_bytes_model": c.weight_bytes_model,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"exported {c.meta['name']} ({c.meta['hash']}) to {out}: {summary['layers']} layers "
              f"({streamed} streamed), {c.plan.macs} MACs; arena {c.sched.arena_bytes} bytes "
              f"(TFLite Micro: {tflm}); weights {weights_text(c, args)}, parameters "
              f"{c.param_bytes} bytes")
    return 0


def weights_text(c, args) -> str:
    """The flash the build's weights take: the portable kernels' int8 bytes, and where DSP
    kernels may run (auto, dsp) the DSP layout's too."""
    portable = f"{c.weight_bytes_portable} bytes (portable)"
    if args.kernels == "portable":
        return portable
    dsp = f"{c.weight_bytes_dsp} bytes (DSP layout, --weights {args.weights})"
    return dsp if args.kernels == "dsp" else f"{dsp} / {portable}"


def export_library(model, args) -> int:
    if args.out:
        raise MicromelError("--out and --lib: give one (--out: the headers alone; --lib: a library)")
    if args.stream:
        raise MicromelError("--stream: not offered for a library (its API runs each window "
                            "whole); drop --stream, or export the headers with --out")
    r = library.export_library(model, args.lib, name=args.name, kernels=args.kernels,
                               board=args.board, protocol=args.with_protocol, make_zip=args.zip,
                               weights=args.weights)
    summary = {"library": r.name, "path": str(r.path), "model": model.name,
               "model_hash": model.hash, "files": r.files, "replaced": r.replaced,
               "zip": str(r.zip_path) if r.zip_path else None,
               "old_zip": str(r.old_zip) if r.old_zip else None, "kernels": args.kernels,
               "arena_bytes": r.compiled.sched.arena_bytes}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        verb = "replaced the library" if r.replaced else "wrote the library"
        print(f"{verb} {r.name} ({model.name} {model.hash}) in {r.path}: {r.files} files; "
              f"#include \"{r.name}.h\"" + (f"; zip: {r.zip_path}" if r.zip_path else ""))
    if r.old_zip:       # it no longer holds what the folder holds
        print(f"note: {r.old_zip} is the zip of an earlier export, not of this one; add --zip "
              "to replace it, or delete it", file=sys.stderr)
    return 0


def cmd_bench_model(args) -> int:
    _check_weights(args)
    cliargs.bench_device(args.device)
    if (args.kernels, args.weights) != ("auto", "auto") and firmware_env(args.device) is None:
        raise MicromelError(f"--kernels/--weights: choose how micromel builds the firmware; "
                            f"--device {args.device} runs the firmware flashed on it (drop them, "
                            "or flash a build made with them)")
    r = bench.run(ModelDir.open(args.model_dir), args.device, args.kernels, args.weights,
                  args.stream)
    if args.weights == "int16" and r.get("kernels") != "dsp":
        print(f"note: --weights int16 is a layout of DSP builds; {args.device} ran the "
              f"{r.get('kernels')} kernels, on the .tflite's int8 weights", file=sys.stderr)
    print(json.dumps(r, indent=2) if args.json else bench.format_report(r))
    if args.functions and not args.json:
        print(bench.format_functions(r, args.functions))
    return 0


KERNELS_HELP = ("kernel path: auto (DSP on cores that have it), portable, or dsp (on a host: the "
                "DSP layout run on C emulations of the intrinsics)")
WEIGHTS_HELP = ("DSP builds: layout of the convolution and dense weights in flash: int8 (the "
                ".tflite's bytes), int16 (twice the flash, fewer instructions) or auto (int16 for "
                "the layers that gain most, within 1.1x the int8 weight bytes); a 3x3 first "
                "convolution on one channel keeps its int16 pairs under each")
STREAM_HELP = ("streaming inference: windows that slide by the model's hop (config.json "
               "segment.hop_frames) reuse the rows they share with the windows before (row "
               "caches in RAM; bit for bit the same results)")


def _engine_options(p) -> None:
    """--weights and --stream: the engine's choices, for export and bench alike."""
    p.add_argument("--weights", choices=WEIGHT_CHOICES, default="auto", help=WEIGHTS_HELP)
    p.add_argument("--stream", action="store_true", help=STREAM_HELP)


def register(sub) -> None:
    p = sub.add_parser("export", help="compile a model folder into the C headers the firmware builds")
    p.add_argument("model_dir", metavar="MODEL_DIR", help="model folder (model.tflite, config.json)")
    p.add_argument("--board", help="refuse a model that does not fit this board's RAM or flash "
                                   "budget (boards/catalogue.json)")
    p.add_argument("--out", help="output folder (default build/gen/NAME-HASH)")
    p.add_argument("--lib", metavar="DIR", help="write a library for your own firmware instead: "
                   "one folder that is an Arduino, PlatformIO and CMake library (docs/library.md)")
    p.add_argument("--name", help="with --lib: the library's name and header NAME.h (default: the "
                   "model folder's name)")
    p.add_argument("--zip", action="store_true", help="with --lib: also write DIR.zip")
    p.add_argument("--with-protocol", action="store_true", help="with --lib: include micromel's "
                   "serial protocol (mm_proto) too")
    p.add_argument("--kernels", choices=KERNEL_CHOICES, default="auto", help=KERNELS_HELP)
    _engine_options(p)
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(func=cmd_export)

    b = cliargs.group_actions(sub, "bench").add_parser(
        "model", help="instructions per inference and per layer, MACs, arena and flash")
    b.add_argument("model_dir", metavar="MODEL_DIR", help="model folder (model.tflite, config.json)")
    b.add_argument("--device", default="emulate", help=cliargs.DEVICE_HELP + " (default emulate; "
                   "a real board must already run this model)")
    b.add_argument("--kernels", choices=KERNEL_CHOICES, default="auto",
                   help="kernel path of the emulated build (default auto: DSP on the M4)")
    _engine_options(b)
    b.add_argument("--functions", type=cliargs.positive_int, metavar="N",
                   help="also list the N engine functions that ran most instructions per "
                        "inference (emulated boards; --json always holds them all)")
    b.add_argument("--json", action="store_true", help="print JSON")
    b.set_defaults(func=cmd_bench_model)
