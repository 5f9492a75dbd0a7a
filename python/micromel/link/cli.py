"""Commands `micromel device info|ping`: talk to a device (emulated, tty or URL)."""
from __future__ import annotations

import json

from .. import cliargs
from .device import open_device


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
