"""The main job (README's first command). For now: build the firmware, boot it
on the emulated board and talk to it over serial."""
from __future__ import annotations

from .device import open_device


def run_demo(args) -> int:
    print("[1/3] building the firmware for the emulated board (PlatformIO, offline)")
    print("[2/3] booting it in QEMU mps2-an386 (Cortex-M4F), UART on a loopback TCP port")
    with open_device("emulate") as dev:
        info = dev.info()
        rtt = sorted(dev.ping(bytes(64)) for _ in range(20))
        print("[3/3] talking to it over the framed serial protocol")
        for k, v in info.items():
            print(f"      {k:<13} {v}")
        print(f"      ping (64 B)   median {1000 * rtt[10]:.2f} ms over 20")
    return 0
