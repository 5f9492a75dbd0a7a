"""`micromel bench frontend`: the front end's cost measured on a device (instructions per
second of audio on the emulated Cortex-M4, in total and per stage) and its RAM and flash
from the firmware ELF."""
from __future__ import annotations

import subprocess
from pathlib import Path

from ..boards import firmware
from ..engine import cycles, peers
from ..errors import MicromelError
from ..link.device import open_device
from ..link.emulator import emulator_of
from . import link


def memory_from_elf(elf: Path) -> dict[str, int]:
    """Bytes of the front end in a firmware ELF, from its symbol table: code (mm_fe_*
    functions), tables (mm_fe_* objects in flash) and static RAM (mm_fe_* objects in RAM,
    plus the app's fe_state / fe_scratch instances)."""
    try:
        out = subprocess.run(["arm-none-eabi-readelf", "-sW", str(elf)],
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise MicromelError(f"cannot read symbols of {elf}: {e}") from None
    code = tables = ram = 0
    for line in out.splitlines():
        parts = line.split()
        # Num: Value Size Type Bind Vis Ndx Name
        if len(parts) != 8 or not (parts[7].startswith("mm_fe_") or parts[7] in ("fe_state", "fe_scratch")):
            continue
        value, size, kind = int(parts[1], 16), int(parts[2], 0), parts[3]
        if kind == "FUNC":
            code += size
        elif kind == "OBJECT" and value >= 0x20000000:  # Cortex-M SRAM region
            ram += size
        elif kind == "OBJECT":
            tables += size
    return {"code_bytes": code, "table_bytes": tables, "static_ram_bytes": ram}


# the functions each bench stage runs (the cycle estimate's families)
_STAGE_FUNCS = {
    "normalise": ("mm_fe_segment_bits", "mm_fe_window_shift", "copy_segments", "put", "bit_length"),
    "window": ("mm_fe_window",),
    "fft": ("mm_fe_fft",),
    "power": ("mm_fe_power",),
    "filterbank": ("mm_fe_filterbank",),
    "log": ("mm_fe_log",),
}


def estimate_cycles(elf: Path, qemu: dict, signal: str) -> dict:
    """Cycles per instruction of a real Cortex-M4 for each stage, from the instructions the
    emulator (qemu: link.emulator.qemu_config) ran during the bench (engine/cycles.py)."""
    counts = cycles.executed(elf, qemu, lambda dev: link.bench(dev, signal))
    insns, funcs = cycles.disassemble(elf)
    fe = {f[2] for f in funcs if f[2].startswith(("mm_fe_", "copy_segments", "put", "frame_at",
                                                     "bit_length", "memcpy"))}
    per = cycles.estimate(counts, insns, funcs, lambda n: n in fe)
    stages = {st: cycles.cpi(per, [n for n in per if n.startswith(pre)])
              for st, pre in _STAGE_FUNCS.items()}
    return {"cpi": stages, "cpi_all": cycles.cpi(per, list(per))}


def run(device: str = "emulate", signal: str = "noise") -> dict:
    elf = None
    if device == "emulate" or device.startswith("emulate"):
        env = device.split(":", 1)[1] if ":" in device else "emulate"
        elf = firmware.build(env)
    with open_device(device) as dev:
        info = dev.info()
        if "fe_hash" not in info:
            raise MicromelError(f"--device {device}: the firmware has no front end (INFO lacks fe_hash)")
        result = link.bench(dev, signal)
    result.update(device=device, target=info.get("target"), core=info.get("core"),
                  config_hash=info.get("fe_hash"), sample_rate=int(info["fe_sample_rate"]),
                  n_fft=int(info["fe_n_fft"]), hop=int(info["fe_hop"]), n_mels=int(info["fe_n_mels"]),
                  state_bytes=int(info.get("fe_state_bytes", 0)),
                  scratch_bytes=int(info.get("fe_scratch_bytes", 0)),
                  dsp=info.get("fe_dsp") == "1")
    if elf:
        result.update(memory_from_elf(elf))
    qemu = emulator_of(env) if elf else None
    # no estimate on the RISC-V board, nor where no counted instruction maps to the image's code
    est = estimate_cycles(elf, qemu, signal) if qemu and cycles.runs_arm(qemu) else None
    if est is not None and est["cpi_all"]:
        result["cycles_model"] = est
        result["cycles_per_frame_stages"] = {
            k: round(v * (est["cpi"].get(k) or est["cpi_all"]))
            for k, v in result["per_frame_stages"].items()}
        result["cycles_per_second_total"] = round(result["per_second_total"] * est["cpi_all"])
    if peers.frontend_matches({"sample_rate": result["sample_rate"], "n_fft": result["n_fft"],
                               "hop_length": result["hop"], "n_mels": result["n_mels"]}):
        result["peer"] = {"name": "tflite-micro microfrontend (kissfft int16, PCAN and noise "
                                  "reduction off), same board and framing",
                          "per_frame": peers.FRONTEND["per_frame"],
                          "per_second": peers.FRONTEND["per_second"]}
    return result


def format_report(r: dict) -> str:
    unit = r["unit"]
    lines = [
        f"front end on {r['device']} ({r.get('core')}, {unit}; DSP path: {'yes' if r['dsp'] else 'no'})",
        f"config {r['config_hash']}: {r['sample_rate']} Hz, n_fft {r['n_fft']}, hop {r['hop']}, "
        f"{r['n_mels']} mel bands -> {r['frames_per_second']:g} frames/s; signal: {r['signal']}, "
        f"{r['frames']} frames measured",
        f"{'stage':<12}{'per frame':>12}{'per second':>14}",
    ]
    est = "cycles_per_frame_stages" in r
    if est:
        lines[-1] += f"{'est. cycles/frame':>19}"
    for name, v in r["per_frame_stages"].items():
        lines.append(f"{name:<12}{v:>12,.0f}{r['per_second_stages'][name]:>14,.0f}"
                     + (f"{r['cycles_per_frame_stages'][name]:>19,}" if est else ""))
    lines.append(f"{'total':<12}{r['per_frame_total']:>12,.0f}{r['per_second_total']:>14,.0f}"
                 "   (mm_fe_process, streaming overhead included)")
    if est:
        cm = r["cycles_model"]
        lines.append(f"est. cycles: a real Cortex-M4 at zero wait states, from the instruction mix "
                     f"the emulator ran (engine/cycles.py): {cm['cpi_all']:.2f} per instruction, "
                     f"{r['cycles_per_second_total']:,} cycles per second of audio")
    if "peer" in r:
        pr = r["peer"]
        lines.append(f"{pr['name']}: {pr['per_frame']:,} per frame = {pr['per_second'] / 1e6:.2f} M "
                     f"per second ({pr['per_second'] / r['per_second_total']:.1f}x micromel's)")
    lines.append(f"RAM: state {r['state_bytes']} B + scratch {r['scratch_bytes']} B"
                 + (f" (static in this firmware: {r['static_ram_bytes']} B)" if "static_ram_bytes" in r else ""))
    if "code_bytes" in r:
        lines.append(f"flash: code {r['code_bytes']} B + tables {r['table_bytes']} B "
                     f"= {r['code_bytes'] + r['table_bytes']} B (mm_fe_* symbols of the ELF)")
    return "\n".join(lines)
