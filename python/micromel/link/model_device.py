"""A device that runs a given model: for an emulated board, the model's firmware is exported
and built (once per environment and model version in this process) and booted; a farm
board that micromel can flash gets it uploaded; otherwise the board must already run it.
Either way the model hash the device reports is checked."""
from __future__ import annotations

import ctypes
import threading
from pathlib import Path

from .. import codegen
from ..boards import firmware
from ..errors import MicromelError
from . import farm, farm_flash
from .device import Device, emulated_env, open_device
from .host import HostApp, HostLink

NATIVE_SPEC = "native"     # --device native: the firmware's C built for this computer
_prepared: dict[tuple[str, str], tuple[str, Path]] = {}   # -> (model hash, ELF)
_prepare_lock = threading.Lock()


def is_emulated(spec: str) -> bool:
    return spec == "emulate" or spec.startswith("emulate:")


def firmware_env(spec: str) -> str | None:
    """The firmware environment micromel builds for a device spec: an emulated board's, or
    a farm board's that micromel can flash (farm_flash.py); None when the user flashes it."""
    if is_emulated(spec):
        return emulated_env(spec)
    if spec == NATIVE_SPEC:
        return "native"     # a shared library of the firmware's C (open_native_build)
    if farm.is_farm_spec(spec):
        return farm_flash.firmware_env(farm.held_board(spec))
    return None


def prepare_firmware(spec: str, model) -> Path | None:
    """The ELF of `model` (a ModelDir) for a device micromel boots or flashes, built once per
    process, environment and model folder, and again when the folder's model changed (its
    hash: saved again with another rejection rule or segment settings; the build folder is
    the folder's, so the ELF of the previous version is replaced); None for devices the user
    flashes."""
    env_name = firmware_env(spec)
    if env_name is None:
        return None
    key = (env_name, str(model.path.resolve()))
    with _prepare_lock:
        built = _prepared.get(key)
        if built is None or built[0] != model.hash:
            gen = codegen.default_gen_dir(model)
            codegen.export(model, gen)
            elf = firmware.build(env_name, gen_dir=gen, model_dir=model.path.resolve())
            _prepared[key] = built = (model.hash, elf)
        return built[1]


def check_device_runs(dev: Device, model) -> None:
    """Refuse a device whose firmware runs another model (or none)."""
    info = dev.info(refresh=True)
    have = info.get("model_hash")
    if have is None:
        raise MicromelError(f"--device {dev.name}: the firmware runs no model; flash it with "
                            f"'micromel flash {model.path} --board BOARD'")
    if have != model.hash:
        raise MicromelError(f"--device {dev.name}: runs model {info.get('model', '?')} (hash {have}), "
                            f"not {model.path} (hash {model.hash}); flash the right firmware")


def open_native_build(library: Path) -> Device:
    """The firmware application built for this computer (PlatformIO env `native`, a shared
    library run in-process by link/host.py): the device's C without an emulator, as fast as
    the host runs it. One per process (the library's state is global)."""
    return Device(HostLink(HostApp(ctypes.CDLL(str(library)))), NATIVE_SPEC)


def open_model_device(spec: str, model, check: bool = True, **emulator) -> Device:
    """Open `spec` running `model`; the device is closed again if the check fails. `emulator`
    options (realtime) apply to an emulated device."""
    elf = prepare_firmware(spec, model)
    if spec == NATIVE_SPEC:
        dev = open_native_build(elf)
    else:
        dev = open_device(spec, elf=elf, **emulator) if elf is not None else open_device(spec)
    if check:
        try:
            check_device_runs(dev, model)
        except BaseException:
            dev.close()
            raise
    return dev
