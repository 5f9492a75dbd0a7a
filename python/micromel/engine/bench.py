"""`micromel bench model`: what one inference costs on a device, in total
and per layer (instructions on the emulated Cortex-M4, cycles on silicon
with a DWT counter), next to MACs, arena bytes (ours and TFLite Micro's) and
flash (weights, parameters, engine code). A measurement, not a test."""
from __future__ import annotations

from pathlib import Path

from .. import codegen
from ..boards import firmware
from ..boards.linkmap import parse_map
from ..boards.sizes import object_part
from ..errors import MicromelError
from ..link.device import open_device
from ..link.model_device import firmware_env
from . import runner
from .compiler import compile_model


def _flash_of_elf(elf: Path) -> dict | None:
    """Engine code and model data bytes from the firmware's linker map."""
    map_path = Path(elf).parent / "firmware.map"
    if not map_path.exists():
        return None
    lmap = parse_map(map_path)
    code = data = 0
    for s in lmap.inputs:
        if s.origin == "*fill*":
            continue
        sym = s.name.split(".")[-1]
        if sym.startswith("mm_model_") and s.name.startswith(".rodata"):
            data += s.size
        elif object_part(s.origin) == "engine" and s.name.startswith((".text", ".rodata")):
            code += s.size
    return {"engine_code": code, "model_data": data}


def run(model, device: str = "emulate", kernels: str = "auto") -> dict:
    """Bench a ModelDir's model on a device (one micromel builds the firmware for, emulated
    or a flashable farm board, is built with `kernels`)."""
    model_dir = model.path
    elf = None
    env = firmware_env(device)    # an emulated board, or a farm board micromel can flash
    if env:
        gen = codegen.default_gen_dir(model, f"gen-bench-{kernels}")
        c = codegen.export(model, gen, kernels=kernels)
        elf = firmware.build(env, gen_dir=gen, model_dir=model_dir.resolve())
        dev = open_device(device, elf=elf)
    else:
        c = compile_model(model)
        dev = open_device(device)
    plan = c.plan
    with dev:
        info = dev.info(refresh=True)
        if info.get("model_hash") != c.meta["hash"]:
            raise MicromelError(f"--device {device}: runs model {info.get('model', 'none')} (hash "
                                f"{info.get('model_hash')}), not {model_dir} (hash {c.meta['hash']}); "
                                "flash the firmware of this model")
        dm = runner.DeviceModel(plan, dev)
        x, _ = runner.random_inputs(1, 1, dm.in_bytes)
        b = dm.bench(x[0])
    layers = []
    for lay, cost in zip(plan.layers, b["layers"]):
        layers.append({"index": lay.index, "op": lay.op, "in": list(lay.in_shape),
                       "out": list(lay.out_shape), "macs": lay.macs, "cost": round(cost),
                       "per_mac": round(cost / lay.macs, 3) if lay.macs else None,
                       "streamed": c.sched.places[lay.output].kind == "ring"})
    tflm_arena = runner.tflm_arena_bytes(plan.graph.raw)
    out = {
        "model": c.meta["name"], "model_hash": c.meta["hash"], "device": device,
        "core": info.get("core"), "kernels": info.get("kernels"), "unit": b["unit"],
        "total": round(b["total"]), "macs": plan.macs,
        "per_mac": round(b["total"] / plan.macs, 3) if plan.macs else None,
        "layers": layers,
        "arena_bytes": c.sched.arena_bytes, "tflm_arena_bytes": tflm_arena,
        "arena_ratio": round(c.sched.arena_bytes / tflm_arena, 3),
        "weight_bytes": c.weight_bytes_dsp if info.get("kernels") == "dsp" else c.weight_bytes_portable,
        "param_bytes": c.param_bytes_for(info.get("kernels") == "dsp"),
        "tflite_bytes": len(plan.graph.raw),
    }
    if elf is not None:
        flash = _flash_of_elf(elf)
        if flash:
            out.update(flash)
    return out


def format_report(r: dict) -> str:
    unit = r["unit"]
    lines = [f"model {r['model']} ({r['model_hash']}) on {r['device']} ({r['core']}, "
             f"{r['kernels']} kernels)",
             f"{'layer':>5}  {'op':<18} {'output':<14} {'MACs':>9} {unit:>13} {'per MAC':>8}"]
    for lay in r["layers"]:
        per = f"{lay['per_mac']:.2f}" if lay["per_mac"] is not None else ""
        shape = "x".join(str(s) for s in lay["out"]) + ("*" if lay["streamed"] else "")
        lines.append(f"{lay['index']:>5}  {lay['op']:<18} {shape:<14} {lay['macs']:>9} "
                     f"{lay['cost']:>13} {per:>8}")
    lines.append(f"{'total':>5}  {'':<18} {'':<14} {r['macs']:>9} {r['total']:>13} "
                 f"{r['per_mac']:>8.2f}")
    lines.append("(* streamed: never held whole, only a ring of rows)")
    lines.append(f"arena {r['arena_bytes']} bytes; TFLite Micro's {r['tflm_arena_bytes']} bytes "
                 f"(ratio {r['arena_ratio']:.2f})")
    flash = f"flash: weights {r['weight_bytes']} bytes, parameters {r['param_bytes']} bytes"
    if "engine_code" in r:
        flash += (f", engine code {r['engine_code']} bytes (model data in the image: "
                  f"{r['model_data']} bytes)")
    lines.append(flash + f"; the .tflite is {r['tflite_bytes']} bytes")
    return "\n".join(lines)
