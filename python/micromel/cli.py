"""The `micromel` command. Every failure the user can fix is one line on
stderr ("micromel: error: ...") and exit code 2, never a traceback."""
from __future__ import annotations

import argparse
import json
import sys

from . import __version__
from .errors import MicromelError


def cmd_device_info(args) -> int:
    from .device import open_device

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
    from .device import open_device

    with open_device(args.device) as dev:
        times = [dev.ping(bytes(range(args.size % 256)) * (args.size // 256 + 1))
                 for _ in range(args.count)]
    times.sort()
    print(f"{args.count} pings, median {1000 * times[len(times) // 2]:.2f} ms, "
          f"max {1000 * times[-1]:.2f} ms")
    return 0


def cmd_demo(args) -> int:
    from .demo import run_demo

    return run_demo(args)


# Modules that add their own commands: each defines register(subparsers) and
# imports heavy dependencies (TensorFlow, librosa) only inside its handlers.
COMMAND_MODULES: list[str] = ["app_cli", "boards_cli", "segment_cli", "train_cli", "frontend.cli",
                               "engine.cli"]


# Commands whose sub-commands several modules add (dataset builders: drums, speech, streams,
# check; bench parts: frontend, model): name -> (help, dest, metavar)
GROUPS = {
    "dataset": ("build or check a labelled audio dataset", "dataset_command", "ACTION"),
    "bench": ("measure cost on a device (instructions, memory)", "bench_command", "PART"),
}


def group_actions(sub, name: str) -> argparse._SubParsersAction:
    """The sub-command parsers of a GROUPS command (build_parser creates it; command modules
    add theirs in register())."""
    group = sub.choices[name]
    return next(a for a in group._actions if isinstance(a, argparse._SubParsersAction))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="micromel",
        description="Sound recognition on microcontrollers: train, export, build, run and verify "
                    "bit for bit over serial.")
    p.add_argument("--version", action="version", version=f"micromel {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    dev = sub.add_parser("device", help="talk to a device (emulated, tty or URL)")
    dsub = dev.add_subparsers(dest="device_command", metavar="ACTION")
    info = dsub.add_parser("info", help="print the firmware's INFO")
    info.add_argument("--device", default="emulate",
                      help="'emulate', a tty such as /dev/ttyACM0, or a URL such as socket://host:port")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=cmd_device_info)
    ping = dsub.add_parser("ping", help="round-trip PINGs")
    ping.add_argument("--device", default="emulate")
    ping.add_argument("--count", type=int, default=20)
    ping.add_argument("--size", type=int, default=64, help="payload bytes")
    ping.set_defaults(func=cmd_device_ping)

    demo = sub.add_parser("demo", help="the main job: dataset, train, export, build, emulate, verify")
    demo.add_argument("--retrain", action="store_true", help="train anew instead of using models/drums")
    demo.add_argument("--model-out", help="where --retrain writes the model (default build/models/drums)")
    demo.add_argument("--data", help="dataset folder (default build/datasets/drums)")
    demo.add_argument("--devices", type=int, default=2, help="emulated boards to shard the clips over")
    demo.add_argument("--mode", choices=["audio", "features"], default="audio")
    demo.add_argument("--limit", type=int, help="verify only the first N test clips")
    demo.add_argument("--resume", action="store_true", help="continue an interrupted verify")
    demo.set_defaults(func=cmd_demo)

    for name, (help_text, dest, metavar) in GROUPS.items():
        sub.add_parser(name, help=help_text).add_subparsers(dest=dest, metavar=metavar)

    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(f"micromel.{name}").register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except MicromelError as e:
        print(f"micromel: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("micromel: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
