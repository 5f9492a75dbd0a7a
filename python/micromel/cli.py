"""The `micromel` command. Every failure the user can fix is one line on stderr
("micromel: error: ...") and exit code 2, never a traceback.

Each pipeline stage registers its own commands (its cli.py); this module builds the parser,
creates the command groups several stages add actions to, and lists the commands in the
order of the workflow."""
from __future__ import annotations

import argparse
import os
import sys

from . import __version__
from .boards import cli as boards_cli
from .data import cli as data_cli
from .engine import cli as engine_cli
from .errors import MicromelError
from .frontend import cli as frontend_cli
from .hil import cli as hil_cli
from .link import cli as link_cli
from .segment import cli as segment_cli
from .train import cli as train_cli

# Commands whose actions several stages add: name -> (help, dest, metavar).
GROUPS = {
    "dataset": ("build or check a labelled audio dataset", "dataset_command", "ACTION"),
    "device": ("talk to a device (emulated, tty or URL)", "device_command", "ACTION"),
    "bench": ("measure cost on a device (instructions, memory)", "bench_command", "PART"),
}
STAGES = (data_cli, train_cli, engine_cli, boards_cli, hil_cli, segment_cli, frontend_cli, link_cli)
# `micromel --help` lists commands in the order a user meets them.
WORKFLOW = ("dataset", "train", "evaluate", "export", "build", "boards", "flash", "verify",
            "classify", "segment", "evaluate-segments", "stream-check", "soak", "features", "bench",
            "cores", "device", "demo", "init", "doctor")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="micromel",
        description="Sound recognition on microcontrollers: train, export, build, run and verify "
                    "bit for bit over serial.")
    p.add_argument("--version", action="version", version=f"micromel {__version__}")
    p.add_argument("--build-dir", metavar="DIR",
                   help="where generated code, builds and reports go (default ./build; "
                        "also $MICROMEL_BUILD_DIR)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_text, dest, metavar) in GROUPS.items():
        group = sub.add_parser(name, help=help_text)
        group.add_subparsers(dest=dest, metavar=metavar)
        group.set_defaults(func=None, group_parser=group)
    for stage in STAGES:
        stage.register(sub)
    order = {name: i for i, name in enumerate(WORKFLOW)}
    sub._choices_actions.sort(key=lambda a: order.get(a.dest, len(order)))
    return p


def main(argv: list[str] | None = None) -> int:
    # TensorFlow's C++ logging (oneDNN notes, absl's "before InitializeLog" line) must be
    # silenced before TensorFlow is first imported, which any command may do.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.build_dir:
        # an environment variable: PlatformIO's builder scripts and emulators see it too
        os.environ["MICROMEL_BUILD_DIR"] = str(os.path.abspath(args.build_dir))
    if not getattr(args, "func", None):
        # a command group without its action prints the group's actions, not everything
        (getattr(args, "group_parser", None) or parser).print_help()
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
