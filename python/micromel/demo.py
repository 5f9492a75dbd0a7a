"""The main job (README's first command): the whole chain on the default task.

dataset drums -> train (or reuse the committed models/drums unless --retrain) ->
export -> build -> boot the emulated board(s) -> verify the held-out kits over
serial -> print the report's path and summary."""
from __future__ import annotations

import json
from pathlib import Path

from .paths import BUILD_DIR, MODELS_DIR


def run_demo(args) -> int:
    from . import firmware
    from .datasets import build_drums
    from .engine.export import export_model
    from .verify import run_verify

    data = Path(args.data) if args.data else BUILD_DIR / "datasets" / "drums"
    model_dir = MODELS_DIR / "drums"
    print(f"[1/5] dataset: drums from Debian's hydrogen packages -> {data}", flush=True)
    build_drums(data, quiet=False)
    if args.retrain or not (model_dir / "model.tflite").exists():
        from .train import train_model

        model_dir = Path(args.model_out) if args.model_out else BUILD_DIR / "models" / "drums"
        print(f"[2/5] training -> {model_dir}", flush=True)
        train_model(str(data), model_dir)
    else:
        print(f"[2/5] using the committed model {model_dir} (--retrain to train anew)", flush=True)
    gen = BUILD_DIR / "gen" / model_dir.resolve().name
    print(f"[3/5] export -> {gen}", flush=True)
    export_model(model_dir, gen)
    print("[4/5] build the firmware for the emulated board (PlatformIO, offline)", flush=True)
    elf = firmware.build("emulate", gen_dir=gen, model_dir=model_dir.resolve())
    print(f"      {elf}")
    devices = ["emulate"] * args.devices
    report = BUILD_DIR / "verify" / "drums"
    print(f"[5/5] verify the test kits on {len(devices)} emulated Cortex-M4 board(s) over serial "
          f"(mode {args.mode})", flush=True)
    summary = run_verify(model_dir, str(data), devices, mode=args.mode, report_dir=report,
                         resume=args.resume, limit=args.limit)
    print()
    print(f"report: {report / 'report.md'}")
    keys = ["clips_verified", "clips_bit_exact", "features_mismatches", "scores_mismatches",
            "accuracy_device", "accuracy_reference"]
    print(json.dumps({k: summary[k] for k in keys} | {"windows_per_s": summary["run"]["windows_per_s"]},
                     indent=1))
    ok = summary["clips_bit_exact"] == summary["clips_verified"] == summary["clips_total"]
    print("device == host reference, bit for bit, on every clip" if ok else "MISMATCHES: see the report")
    return 0 if ok else 1
