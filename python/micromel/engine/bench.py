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
from ..frontend import link as fe_link
from ..link.device import open_device
from ..link.emulator import emulator_of
from ..link.model_device import firmware_env
from ..segment.config import SegmentConfig
from . import cycles, peers, runner
from .compiler import compile_model, stream_hop

# kernel families: the layers of a kind run mostly in these functions (cycle estimate)
_FAMILIES = {
    "matmul": ("mm_nn_mm", "mm_nn_pack", "mm_nn_matmul2", "stream_c", "mm_nn_conv_1x1_row",
               "mm_nn_conv_row", "sources", "mm_nn_fc", "pack_"),
    "dwconv": ("mm_nn_dw", "pixel_stream", "pixel_ref"),
    "window": ("mm_nn_conv_window",),
}


def _family(kind: str, window: bool = False) -> str:
    if window:      # a window convolution (kernels.window_conv), not the matrix engine
        return "window"
    return {"conv": "matmul", "fc": "matmul", "dwconv": "dwconv"}.get(kind, "other")


def _engine_functions(elf: Path) -> set:
    """Names of the functions the engine's objects define (from the linker map)."""
    lmap = parse_map(Path(elf).parent / "firmware.map")
    return {s.name.split(".", 2)[-1] for s in lmap.inputs
            if s.origin != "*fill*" and s.name.startswith(".text.")
            and object_part(s.origin) == "engine"}


def estimate_cycles(elf: Path, qemu: dict, plan, x, sliding=None) -> dict:
    """Cycles of a real Cortex-M4 for the benched inference (engine/cycles.py): per
    kernel family, cycles per instruction from the instructions the emulator (qemu:
    link.emulator.qemu_config) ran."""
    engine = _engine_functions(elf)

    def work(dev):
        dm = runner.DeviceModel(plan, dev)
        dm.bench(x, sliding=sliding)

    counts = cycles.executed(elf, qemu, work)
    insns, funcs = cycles.disassemble(elf)
    per = cycles.estimate(counts, insns, funcs, lambda n: n in engine)
    fam = {f: [n for n in per if n.startswith(pre)] for f, pre in _FAMILIES.items()}
    fam["other"] = [n for n in per if not any(n in v for v in fam.values())]
    # the engine's functions per inference, most instructions first (`bench model --functions`):
    # the inferences the work ran are the times the model's entry ran (BENCH part 2 runs two)
    runs = max(1, counts.get(next((a for a, _, n in funcs if n == "mm_nn_model_run"), -1), 0))
    functions = [{"function": n, "instructions": round(i / runs), "cycles_est": round(c / runs)}
                 for n, (i, c) in sorted(per.items(), key=lambda kv: (-kv[1][0], kv[0]))]
    return {"cpi": {f: cycles.cpi(per, names) for f, names in fam.items()},
            "cpi_all": cycles.cpi(per, list(per)), "functions": functions}


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


def run(model, device: str = "emulate", kernels: str = "auto",
        weights: str = "auto", stream: bool = False) -> dict:
    """Bench a ModelDir's model on a device (one micromel builds the firmware for, emulated
    or a flashable farm board, is built with `kernels` and `weights`). stream: a streaming
    export, measured on the last of a few windows sliding by the model's hop. With a segment
    config, the report also gives the front end and the model per second of audio at its
    hop."""
    model_dir = model.path
    c = compile_model(model, weights, stream)
    hop = stream_hop(model) if model.segment != SegmentConfig() or stream else 0
    plan = c.plan
    elf = None
    env = firmware_env(device)    # an emulated board, or a farm board micromel can flash
    if env:
        gen = codegen.default_gen_dir(model, f"gen-bench-{kernels}-{weights}"
                                             f"{'-stream' if stream else ''}")
        codegen.export(model, gen, kernels=kernels, weights=weights, stream=stream)
        elf = firmware.build(env, gen_dir=gen, model_dir=model_dir.resolve())
        dev = open_device(device, elf=elf)
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
                fe = fe_link.bench(dev, "noise")
    layers = []
    # per_mac unrounded: the report rounds once when it prints (a ratio kept to 3 places was
    # rounded twice: 1.3354 -> 1.335 -> "1.33")
    for lay, cost in zip(plan.layers, b["layers"]):
        layers.append({"index": lay.index, "op": lay.op, "kind": lay.kind, "in": list(lay.in_shape),
                       "out": list(lay.out_shape), "macs": lay.macs, "cost": round(cost),
                       "per_mac": cost / lay.macs if lay.macs else None,
                       "streamed": c.sched.places[lay.output].kind == "ring"})
    tflm_arena = runner.tflm_arena_bytes(plan.graph.raw)
    if slid is not None:
        layers_s = [round(v) for v in slid["layers"]]
        fps = model.frontend.sample_rate / model.frontend.hop_length
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
        "per_mac": b["total"] / plan.macs if plan.macs else None,
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
    qemu = emulator_of(env) if elf is not None else None
    # (run again on a local emulator of the board: a farm board's env too); no estimate where
    # no counted instruction maps to the image's disassembled code (so on the emulated M33)
    est = estimate_cycles(elf, qemu, plan, x[0]) if qemu and cycles.runs_arm(qemu) else None
    # window convolutions run their own kernel on the DSP path only (portable: mm_nn_conv_row)
    windows = ({i for i, kd in c.kdata.items() if kd.extra.get("window")}
               if info.get("kernels") == "dsp" else set())
    if est is not None and est["cpi_all"]:
        out["functions"] = est.pop("functions")
        out["cycles_model"] = est
        for lay in layers:
            c = est["cpi"].get(_family(lay["kind"], lay["index"] in windows)) or est["cpi_all"]
            lay["cycles_est"] = round(lay["cost"] * c) if c else None
        out["cycles_est"] = round(out["total"] * est["cpi_all"]) if est["cpi_all"] else None
    peer = peers.match(plan)
    if peer:
        out["peer"] = {"name": peer[0], **{k: v for k, v in peer[1].items() if k != "signature"}}
        for lay in plan.layers:
            cls = peers.per_op_class(lay)
            if cls:
                layers[lay.index]["cmsis_nn_per_mac"] = peers.CMSIS_NN_PER_OP[cls]
    out["tflm_code"] = peers.TFLM_CODE
    return out


def format_functions(r: dict, n: int) -> str:
    """The n engine functions that ran most instructions per inference (the emulator's counts,
    engine/cycles.py), with their share of the inference's total."""
    rows = r.get("functions")
    if not rows:
        return "(no per-function counts: they come from a local emulator of the board)"
    width = max(len(f["function"]) for f in rows[:n])
    lines = [f"engine functions per inference (of {len(rows)}; the {r['unit']} of one inference: "
             f"{r['total']:,}):", f"  {'function':<{width}} {r['unit']:>13} {'share':>6} "
             f"{'est. cycles':>12}"]
    for f in rows[:n]:
        lines.append(f"  {f['function']:<{width}} {f['instructions']:>13,} "
                     f"{100 * f['instructions'] / r['total']:>5.1f}% {f['cycles_est']:>12,}")
    return "\n".join(lines)


def format_report(r: dict) -> str:
    unit = r["unit"]
    est = "cycles_est" in r
    cmsis = any("cmsis_nn_per_mac" in lay for lay in r["layers"])
    head = (f"{'layer':>5}  {'op':<18} {'output':<14} {'MACs':>9} {unit:>13} {'per MAC':>8}"
            + (f" {'est. cycles':>12}" if est else "") + ("  CMSIS-NN/MAC" if cmsis else ""))
    lines = [f"model {r['model']} ({r['model_hash']}) on {r['device']} ({r['core']}, "
             f"{r['kernels']} kernels)", head]
    for lay in r["layers"]:
        per = f"{lay['per_mac']:.2f}" if lay["per_mac"] is not None else ""
        shape = "x".join(str(s) for s in lay["out"]) + ("*" if lay["streamed"] else "")
        line = (f"{lay['index']:>5}  {lay['op']:<18} {shape:<14} {lay['macs']:>9} "
                f"{lay['cost']:>13} {per:>8}")
        if est:
            line += f" {lay['cycles_est'] or '':>12}"
        if "cmsis_nn_per_mac" in lay:
            lo, hi = lay["cmsis_nn_per_mac"]
            line += f"  {lo:g}" + (f"-{hi:g}" if hi != lo else "")
        lines.append(line)
    lines.append(f"{'total':>5}  {'':<18} {'':<14} {r['macs']:>9} {r['total']:>13} "
                 f"{r['per_mac']:>8.2f}" + (f" {r['cycles_est']:>12}" if est else ""))
    lines.append("(* streamed: never held whole, only a ring of rows)")
    if est:
        cm = r["cycles_model"]
        fams = ", ".join(f"{f} {c:.2f}" for f, c in cm["cpi"].items() if c)
        lines.append(f"est. cycles: a real Cortex-M4 at zero wait states, from the instruction mix "
                     f"the emulator ran (engine/cycles.py: loads 2, LDRD 3, LDM 1+N, taken branches "
                     f"3, the rest 1): {r['cycles_est']:,} = {cm['cpi_all']:.2f} per instruction "
                     f"({fams})")
    if "peer" in r:
        pr = r["peer"]
        lines.append(f"same shape as the {pr['name']} measured with TFLite Micro on this board "
                     "(shared/notes/toolchain-facts.md):")
        for k in ("TFLM reference kernels", "TFLM with CMSIS-NN"):
            v = pr[k]
            lines.append(f"  {k:<24} {v['instructions'] / 1e6:6.2f} M instructions ({v['per_mac']:.2f} "
                         f"per MAC, {r['total'] / v['instructions']:.2f}x micromel's... ) arena "
                         f"{v['arena'] / 1e3:.1f} kB".replace(
                             f"{r['total'] / v['instructions']:.2f}x micromel's... ",
                             f"micromel {v['instructions'] / r['total']:.1f}x fewer"))
        if cmsis:
            lines.append("  CMSIS-NN/MAC column: TFLM with CMSIS-NN per op class, instructions per MAC")
    lines.append(f"arena {r['arena_bytes']} bytes; TFLite Micro's {r['tflm_arena_bytes']} bytes "
                 f"(ratio {r['arena_bytes'] / r['tflm_arena_bytes']:.2f})")   # not the JSON's,
    # rounded already: 0.3248 -> 0.325 -> "0.33"
    flash = f"flash: weights {r['weight_bytes']} bytes, parameters {r['param_bytes']} bytes"
    if "engine_code" in r:
        flash += (f", engine code {r['engine_code']} bytes (model data in the image: "
                  f"{r['model_data']} bytes; TFLite Micro's code: "
                  + ", ".join(f"{v / 1e3:.1f} kB {k[5:]}" for k, v in r["tflm_code"].items()) + ")")
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
