"""The main job (README's first command): the whole chain on the default task.

dataset drums -> train (or reuse the committed models/drums unless retrain) -> export ->
build -> boot the emulated board(s) -> verify the held-out kits over serial. `run_demo`
takes typed arguments, tells what it does through `say` and returns the verify summary."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from .. import codegen
from ..boards import firmware
from ..data.drum_sources import FAMILIES
from ..data.drums import build_drums
from ..modeldir import ModelDir
from ..paths import MODELS_DIR, build_dir
from ..train.run import train_model
from .verify import run_verify


def run_demo(data: Path | None = None, retrain: bool = False, model_out: Path | None = None,
             devices: int = 2, mode: str = "audio", limit: int | None = None,
             resume: bool = False, say: Callable[[str], None] = print) -> tuple[dict, Path]:
    """Returns (verify summary, report folder)."""
    data = Path(data) if data else build_dir() / "datasets" / "drums"
    model_dir = MODELS_DIR / "drums"
    # the test split is Hydrogen's test kits whatever the sources: verifying the committed
    # model needs only Hydrogen; training anew needs every family it was trained on
    sources = FAMILIES if retrain else ("hydrogen",)
    say(f"[1/5] dataset: drums ({', '.join(sources)}) from Debian packages -> {data}")
    build_drums(data, sources=sources, quiet=False)
    if retrain or not (model_dir / "model.tflite").exists():
        model_dir = Path(model_out) if model_out else build_dir() / "models" / "drums"
        say(f"[2/5] training -> {model_dir}")
        train_model(str(data), model_dir)
    else:
        say(f"[2/5] using the committed model {model_dir} (--retrain to train anew)")
    model = ModelDir.open(model_dir)
    gen = codegen.default_gen_dir(model)
    say(f"[3/5] export -> {gen}")
    codegen.export(model, gen)
    say("[4/5] build the firmware for the emulated board (PlatformIO, offline)")
    elf = firmware.build("emulate", gen_dir=gen, model_dir=model.path.resolve())
    say(f"      {elf}")
    report = build_dir() / "verify" / "drums"
    say(f"[5/5] verify the test kits on {devices} emulated Cortex-M4 board(s) over serial "
        f"(mode {mode})")
    summary = run_verify(model, str(data), ["emulate"] * devices, mode=mode, report_dir=report,
                         resume=resume, limit=limit)
    return summary, report
