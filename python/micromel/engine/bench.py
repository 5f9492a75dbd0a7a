"""`micromel bench model`: what one inference costs on a device, in total
and per layer (instructions on the emulated Cortex-M4, cycles on silicon
with a DWT counter), next to MACs, arena bytes (ours and TFLite Micro's) and
flash (weights, parameters, engine code). A measurement, not a test."""
from __future__ import annotations

from pathlib import Path

from ..errors import MicromelError
from . import export, runner


def _flash_of_elf(elf: Path) -> dict | None:
    """Engine code and model data bytes from the firmware's linker map."""
    map_path = Path(elf).parent / "firmware.map"
    if not map_path.exists():
        return None
    try:
        from .. import boards
    except ImportError:
        return None
    lmap = boards.parse_map(map_path)
    code = data = 0
    for s in lmap.inputs:
        if s.origin == "*fill*":
            continue
        sym = s.name.split(".")[-1]
        if sym.startswith("mm_model_") and s.name.startswith(".rodata"):
            data += s.size
        elif boards.object_part(s.origin) == "engine" and s.name.startswith((".text", ".rodata")):
            code += s.size
    return {"engine_code": code, "model_data": data}


def run(model_dir: Path, device: str = "emulate", kernels: str = "auto",
        weights: str = "auto", stream: bool = False) -> dict:
    """stream: a streaming export, measured on the last of a few windows sliding by the
    model's hop. With a hop (config.json segment.hop_frames) the report also gives the
    front end and the model per second of audio at that hop."""
    from ..device import open_device

    model_dir = Path(model_dir)
    c = export.compile_model(model_dir, weights, stream)
    _, cfg = export.model_files(model_dir)
    hop = export.stream_hop(cfg) if (cfg.get("segment") or {}).get("hop_frames") or stream else 0
    plan = c.plan
    elf = None
    if device == "emulate" or device.startswith("emulate:"):
        from .. import firmware
        from ..paths import BUILD_DIR

        env = device.split(":", 1)[1] if ":" in device else "emulate"
        gen = (BUILD_DIR / "gen" / f"{model_dir.resolve().name}-bench-{kernels}-{weights}"
               f"{'-stream' if stream else ''}")
        export.export_model(model_dir, gen, kernels=kernels, weights=weights, stream=stream)
        elf = firmware.build(env, gen_dir=gen, model_dir=model_dir.resolve())
        from ..device import open_emulated

        dev = open_emulated(env, elf=elf)
    else:
        dev = open_device(device)
    with dev:
        info = dev.info(refresh=True)
        if info.get("model_hash") != c.meta["hash"]:
            raise MicromelError(f"--device {device}: runs model {info.get('model', 'none')} (hash "
                                f"{info.get('model_hash')}), not {model_dir} (hash {c.meta['hash']}); "
                                "flash the firmware of this model")
        dm = runner.DeviceModel(plan, dev)
        x, _ = runner.random_inputs(1, 1, dm.in_bytes)
        b = dm.bench(x[0])
        slid = None
        if hop:
            # the steady state: enough windows before that every reusable row is cached
            k = plan.input_shape[0] // hop + 3
            slid = dm.bench(sliding=(k, hop))
            fe = None
            if "fe_hash" in info:
                from ..frontend import link
                fe = link.bench(dev, "noise")
    layers = []
    for lay, cost in zip(plan.layers, b["layers"]):
        layers.append({"index": lay.index, "op": lay.op, "in": list(lay.in_shape),
                       "out": list(lay.out_shape), "macs": lay.macs, "cost": round(cost),
                       "per_mac": round(cost / lay.macs, 3) if lay.macs else None,
                       "streamed": c.sched.places[lay.output].kind == "ring"})
    tflm_arena = runner.tflm_arena_bytes(plan.graph.raw)
    if slid is not None:
        layers_s = [round(v) for v in slid["layers"]]
        fe_cfg = cfg.get("frontend") or {}
        fps = fe_cfg.get("sample_rate", 16000) / fe_cfg.get("hop_length", 256)
        seg = {"hop_frames": hop, "windows_per_second": round(fps / hop, 3),
               "window_cost": round(slid["total"]), "layers": layers_s,
               "model_per_second": round(slid["total"] * fps / hop)}
        if fe is not None:
            seg["frontend_per_second"] = round(fe["per_second_total"])
            seg["total_per_second"] = seg["model_per_second"] + seg["frontend_per_second"]
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
        "weight_bytes_int8": c.weight_bytes_model,
    }
    if slid is not None:
        out["segmentation"] = seg
    if c.stream is not None:
        out["stream"] = {"hop": c.stream.hop, "cache_bytes": c.stream.cache_bytes,
                         "cached_layers": [ca.layer for ca in c.stream.caches.values()],
                         "rows_computed": {str(i): f"{len(r)}/{c.stream.rows[i]}"
                                           for i, r in c.stream.computed.items()}}
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
    if "weight_bytes_int8" in r and r["kernels"] == "dsp":
        lines.append(f"weights in flash: {r['weight_bytes'] / r['weight_bytes_int8']:.3f} x the "
                     f"model's {r['weight_bytes_int8']} bytes of int8 weights")
    if "stream" in r:
        st = r["stream"]
        lines.append(f"streaming export: windows sliding by {st['hop']} rows reuse rows of layers "
                     f"{', '.join(map(str, st['cached_layers']))} (row caches {st['cache_bytes']} "
                     f"bytes, in the arena); rows computed per window: "
                     + ", ".join(f"{k}: {v}" for k, v in st["rows_computed"].items()))
    if "segmentation" in r:
        g = r["segmentation"]
        lines.append(f"at the segmentation hop ({g['hop_frames']} frames, {g['windows_per_second']:g} "
                     f"windows/s, the last of several sliding windows): {g['window_cost']:,} {unit} "
                     f"per window = {g['model_per_second']:,} per second of audio"
                     + (f"; + front end {g['frontend_per_second']:,} = {g['total_per_second']:,} per "
                        "second" if "total_per_second" in g else ""))
    return "\n".join(lines)
