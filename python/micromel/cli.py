"""The `micromel` command. Every failure the user can fix is one line on stderr
("micromel: error: ...") and exit code 2, never a traceback.

Each pipeline stage registers its own commands (its cli.py); this module builds the parser,
creates the command groups several stages add actions to, and lists the commands in the
order of the workflow."""
from __future__ import annotations

import argparse
import errno
import os
import select
import sys
from pathlib import Path

from . import __version__, cliargs
from .boards import cli as boards_cli
from .data import cli as data_cli
from .engine import cli as engine_cli
from .errors import MicromelError
from .frontend import cli as frontend_cli
from .hil import cli as hil_cli
from .library import cli as library_cli
from .link import cli as link_cli
from .link import farm
from .paths import DOCS_DIR, build_dir
from .listen import cli as listen_cli
from .segment import cli as segment_cli
from .train import cli as train_cli

# Commands whose actions several stages add: name -> (help, dest, metavar).
GROUPS = {
    "dataset": ("build or check a labelled audio dataset", "dataset_command", "ACTION"),
    "device": ("talk to a device (emulated, tty or URL)", "device_command", "ACTION"),
    "bench": ("measure cost on a device (instructions, memory)", "bench_command", "PART"),
}
STAGES = (data_cli, train_cli, engine_cli, library_cli, boards_cli, hil_cli, segment_cli, listen_cli,
          frontend_cli, link_cli)
# `micromel --help` lists commands in the order a user meets them.
WORKFLOW = ("dataset", "train", "evaluate", "reject", "export", "build", "boards", "flash", "verify",
            "classify", "segment", "evaluate-segments", "tune", "stream-check", "soak", "listen",
            "record",
            "features", "bench", "cores", "device", "farm", "demo", "init", "doctor")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="micromel",
        description="Sound recognition on microcontrollers: train, export, build, run and verify "
                    "bit for bit over serial.",
        epilog=f"The docs/*.md that messages name: {DOCS_DIR}")
    p.add_argument("--version", action="version", version=f"micromel {__version__}")
    p.add_argument("--build-dir", metavar="DIR",
                   help="where generated code, builds and reports go (default ./build; "
                        "also $MICROMEL_BUILD_DIR)")
    p.add_argument("--coordinator", metavar="HOST[:PORT]",
                   help="labgrid coordinator of the board farm, for --device labgrid:... "
                        "(default $LG_COORDINATOR, else 127.0.0.1:20408; docs/farm.md)")
    p.add_argument("--farm-wait", metavar="SECONDS", type=cliargs.non_negative_float,
                   help="how long to wait for busy farm places before giving up "
                        f"(default $MICROMEL_FARM_WAIT, else {farm.DEFAULT_WAIT:.0f})")
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


PATH_ERRORS = {     # errno -> what to do, for main()'s one line
    errno.ENOENT: "check the path (a folder on the way does not exist)",
    errno.ENOTDIR: "a file stands where the path needs a folder; choose another path",
    errno.EISDIR: "a folder stands where a file goes; give a file name",
    errno.EEXIST: "a file stands where a folder goes; choose another path",
    errno.EACCES: "no permission there; choose a place you can write",
    errno.EPERM: "no permission there; choose a place you can write",
    errno.EROFS: "that place is read-only; choose another",
    errno.ENOSPC: "the disk is full; free space or choose another place",
}


def main(argv: list[str] | None = None) -> int:
    # TensorFlow's C++ logging (oneDNN notes, absl's "before InitializeLog" line) must be
    # silenced before TensorFlow is first imported, which any command may do.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.build_dir:
        # named here, not at the first output under it (which another option may name)
        try:
            cliargs.out_folder(args.build_dir, "--build-dir", "for the builds")
        except MicromelError as e:
            print(f"micromel: error: {e}", file=sys.stderr)
            return 2
        # an environment variable: PlatformIO's builder scripts and emulators see it too
        os.environ["MICROMEL_BUILD_DIR"] = str(os.path.abspath(args.build_dir))
    if args.coordinator:
        os.environ["LG_COORDINATOR"] = args.coordinator   # labgrid-client (flashing) sees it too
    if args.farm_wait is not None:
        os.environ["MICROMEL_FARM_WAIT"] = str(args.farm_wait)
    if not getattr(args, "func", None):
        # a command group without its action prints the group's actions, not everything
        (getattr(args, "group_parser", None) or parser).print_help()
        return 2
    try:
        with farm.resolve_args(args):   # --device labgrid:...: held while the command runs
            rc = int(args.func(args) or 0)
        sys.stdout.flush()      # here, so that a reader gone away is met inside this try
        return rc
    except MicromelError as e:
        print(f"micromel: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        if not _stdout_gone():
            raise           # a socket's or a child's pipe: a fault, not a reader that left
        # the reader of the output went away (`micromel boards --json | head`): stop quietly,
        # as a Unix tool does; stdout goes to /dev/null so that the exit's flush is silent too
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141          # 128 + SIGPIPE, what a shell reports for such a writer
    except OSError as e:
        # a path the checks before the work could not foresee (a file where a folder goes, a
        # read-only or full place): one line naming it, as for any other bad input; any
        # other OSError (a missing tool, a socket, a bug) keeps its traceback
        hint = PATH_ERRORS.get(e.errno)
        if hint is None or e.filename is None:
            raise
        where = f"{e.filename}" + (f" -> {e.filename2}" if e.filename2 is not None else "")
        if _in_build_folder(e.filename):
            hint += (" (it is in the build folder: `micromel --build-dir DIR COMMAND` or "
                     "MICROMEL_BUILD_DIR moves it)")
        print(f"micromel: error: {where}: {e.strerror}; {hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("micromel: interrupted", file=sys.stderr)
        return 130


def _in_build_folder(filename) -> bool:
    try:
        return Path(os.path.abspath(os.fsdecode(filename))).is_relative_to(
            os.path.abspath(build_dir()))
    except (TypeError, ValueError):
        return False


def _stdout_gone() -> bool:
    """Whether stdout is a pipe whose reader has closed it (POLLERR on the write end)."""
    try:
        p = select.poll()
        p.register(sys.stdout.fileno(), select.POLLERR)
        return bool(p.poll(0))
    except (OSError, ValueError, AttributeError):   # no fileno, or no poll (Windows)
        return False


if __name__ == "__main__":
    sys.exit(main())
