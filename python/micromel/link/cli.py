"""Commands `micromel device info|ping`: talk to a device (emulated, tty, URL or farm board);
`micromel farm board`: serve an emulated board to a labgrid farm from an exporter host."""
from __future__ import annotations

import json
from pathlib import Path

from .. import cliargs
from ..boards import firmware
from .device import open_device
from .farm_board import EmulatedFarmBoard
from .farm_leases import SignalGuard


def cmd_device_info(args) -> int:
    with open_device(args.device) as dev:
        info = dev.info()
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        width = max(len(k) for k in info)
        for k, v in info.items():
            print(f"{k:<{width}}  {v}")
    return 0


def cmd_device_ping(args) -> int:
    with open_device(args.device) as dev:
        times = [dev.ping(bytes(range(args.size % 256)) * (args.size // 256 + 1))
                 for _ in range(args.count)]
    times.sort()
    print(f"{args.count} pings, median {1000 * times[len(times) // 2]:.2f} ms, "
          f"max {1000 * times[-1]:.2f} ms")
    return 0


def cmd_farm_board(args) -> int:
    elf = Path(args.elf) if args.elf else firmware.build(args.env)
    board = EmulatedFarmBoard(args.env, elf, args.uart_port, args.bind)
    guard = SignalGuard()   # SIGTERM from a supervisor stops QEMU too
    guard.install()
    try:
        board.serve(args.ctl_port, args.bind, say=lambda t: print(f"micromel farm board: {t}", flush=True))
    except KeyboardInterrupt:
        pass
    finally:
        guard.restore()
    return 0


def register(sub) -> None:
    dsub = cliargs.group_actions(sub, "device")
    info = dsub.add_parser("info", help="print the firmware's INFO")
    info.add_argument("--device", default="emulate", help=cliargs.DEVICE_HELP + " (default emulate)")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=cmd_device_info)
    ping = dsub.add_parser("ping", help="round-trip PINGs")
    ping.add_argument("--device", default="emulate", help=cliargs.DEVICE_HELP + " (default emulate)")
    ping.add_argument("--count", type=cliargs.positive_int, default=20, help="pings (default 20)")
    ping.add_argument("--size", type=int, default=64, help="payload bytes (default 64)")
    ping.set_defaults(func=cmd_device_ping)

    farm = sub.add_parser("farm", help="serve an emulated board to a labgrid board farm (docs/farm.md)")
    fsub = farm.add_subparsers(dest="farm_command", metavar="ACTION")
    farm.set_defaults(func=None, group_parser=farm)
    b = fsub.add_parser("board", help="on an exporter host: boot the micromel firmware in QEMU, its UART "
                                      "on a raw TCP port for labgrid-exporter, flashable over a control port",
                        description="Run one emulated board for a labgrid farm. Export UART_PORT as a "
                                    "NetworkSerialPort named 'uart' (protocol raw) and CTL_PORT as one named "
                                    "'ctl' in the same resource group (boards/farm/exporter.yaml).")
    b.add_argument("--env", default="emulate", help="emulated firmware environment (default emulate)")
    b.add_argument("--uart-port", type=cliargs.positive_int, required=True, help="TCP port of the board's UART")
    b.add_argument("--ctl-port", type=cliargs.positive_int, required=True,
                   help="TCP port of the control port (LOAD an ELF, RESET, STATUS)")
    b.add_argument("--bind", default="127.0.0.1",
                   help="address both ports listen on: the exporter host's farm address on a real farm "
                        "(default 127.0.0.1)")
    b.add_argument("--elf", help="boot this ELF (default: the environment's firmware without a model; "
                                 "clients upload their model's)")
    b.set_defaults(func=cmd_farm_board)
