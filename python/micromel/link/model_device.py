"""A device that runs a given model: for an emulated board, the model's firmware is exported
and built (once per environment and model in this process) and booted; for a real port, the
board must already run it. Either way the model hash the device reports is checked."""
from __future__ import annotations

import threading
from pathlib import Path

from .. import codegen
from ..boards import firmware
from ..errors import MicromelError
from .device import Device, open_device

_prepared: dict[tuple[str, str], Path] = {}
_prepare_lock = threading.Lock()


def is_emulated(spec: str) -> bool:
    return spec == "emulate" or spec.startswith("emulate:")


def prepare_firmware(spec: str, model) -> Path | None:
    """The ELF of `model` (a ModelDir) for an emulated device spec, built once per process;
    None for real devices (they are flashed by the user)."""
    if not is_emulated(spec):
        return None
    env_name = spec.split(":", 1)[1] if ":" in spec else "emulate"
    key = (env_name, str(model.path.resolve()))
    with _prepare_lock:
        if key not in _prepared:
            gen = codegen.default_gen_dir(model)
            codegen.export(model, gen)
            _prepared[key] = firmware.build(env_name, gen_dir=gen, model_dir=model.path.resolve())
        return _prepared[key]


def check_device_runs(dev: Device, model) -> None:
    """Refuse a device whose firmware runs another model (or none)."""
    info = dev.info(refresh=True)
    have = info.get("model_hash")
    if have is None:
        raise MicromelError(f"--device {dev.name}: the firmware runs no model; build it with "
                            f"'micromel build {model.path} --board BOARD' and flash it")
    if have != model.hash:
        raise MicromelError(f"--device {dev.name}: runs model {info.get('model', '?')} (hash {have}), "
                            f"not {model.path} (hash {model.hash}); flash the right firmware")


def open_model_device(spec: str, model, check: bool = True, **emulator) -> Device:
    """Open `spec` running `model`; the device is closed again if the check fails. `emulator`
    options (realtime) apply to an emulated device."""
    elf = prepare_firmware(spec, model)
    dev = open_device(spec, elf=elf, **emulator) if elf is not None else open_device(spec)
    if check:
        try:
            check_device_runs(dev, model)
        except BaseException:
            dev.close()
            raise
    return dev
