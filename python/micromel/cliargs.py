"""What every stage's cli.py shares: the command groups several stages add actions to, option
types that check their values, and the output checks done before long work starts."""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from .errors import MicromelError

DEVICE_HELP = ("'emulate' (build and boot the emulated Cortex-M4), 'emulate:ENV', 'native' (the "
               "firmware's C built for this computer, run in-process; commands given a model folder), "
               "a tty such as "
               "/dev/ttyACM0, a pyserial URL such as socket://127.0.0.1:4000, or a labgrid farm board: "
               "labgrid:PLACE or labgrid:TAG=VALUE[,N] (N boards; docs/farm.md)")


def group_actions(sub, name: str) -> argparse._SubParsersAction:
    """The sub-command parsers of a command group (`dataset`, `bench`, `device`; the top-level
    parser creates the groups, stages add their actions)."""
    group = sub.choices[name]
    return next(a for a in group._actions if isinstance(a, argparse._SubParsersAction))


def at_least(kind, minimum, what: str, above: bool = False, maximum=None):
    """An argparse type: a finite number of `kind` (int, float) no smaller than `minimum`
    (with `above`: larger than it) and, with `maximum`, no larger than that. nan and inf are
    refused: float() reads them, and every comparison with nan is False, so they would pass a
    plain range check."""
    def parse(text: str):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"{text!r}: give a finite number")
        if v < minimum or (above and v == minimum):
            raise argparse.ArgumentTypeError(
                f"{v}: must be {'more than' if above else 'at least'} {minimum}")
        if maximum is not None and v > maximum:
            raise argparse.ArgumentTypeError(f"{v}: must be at most {maximum}")
        return v
    parse.__name__ = f"{kind.__name__} {'>' if above else '>='} {minimum}"  # argparse names it
    return parse


positive_int = at_least(int, 1, "a whole number")
tcp_port = at_least(int, 1, "a TCP port number", maximum=65535)
non_negative_float = at_least(float, 0.0, "a number")
positive_float = at_least(float, 0.0, "a number", above=True)
finite_float = at_least(float, -math.inf, "a number")      # any finite number (a level in dB)


def _named(option: str, path: Path) -> str:
    """How an error names an output: its option and path (a positional one: the path)."""
    return f"{option} {path}" if option else f"{path}"


def _no_file_on_the_way(path: Path, option: str) -> None:
    """The folders an output is written into are made at the end (fileio.atomic_path); a
    file standing where one of them must be is refused before the work instead."""
    up = path.parent
    while not up.exists() and up != up.parent:
        up = up.parent
    if not up.is_dir():
        raise MicromelError(f"{_named(option, path)}: {up} is a file, not a folder; "
                            "choose another path")


def out_folder(path, option: str, what: str) -> Path:
    """An output folder, new or existing, checked before the work: not a file, and no file
    where a folder on its way must be. `what` ends the message ("for the model")."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise MicromelError(f"{_named(option, path)}: is a file; give a folder {what}")
    _no_file_on_the_way(path, option)
    return path


def new_file(path, option: str, force: bool | None = None) -> Path:
    """An output file that must not overwrite an existing one silently: checked before the
    work starts, so a long run never ends in a refusal. `force`: the command's --force
    (None: it has none)."""
    path = Path(path)
    if path.is_dir():
        raise MicromelError(f"{option} {path}: is a folder; give a file name")
    _no_file_on_the_way(path, option)
    if path.exists() and not force:
        how = "add --force to replace it" if force is False else "remove it"
        raise MicromelError(f"{option} {path}: exists; {how} or choose another name")
    return path


def shows_progress(quiet: bool = False) -> bool:
    """A progress bar only on a terminal: in a log or a pipe its carriage returns make one
    long line, and an error would be printed onto its end."""
    return not quiet and sys.stderr.isatty()


def needs(args, dest: str, applies: bool, why: str, default=None):
    """An option that only qualifies another option or mode (`applies`: that one is in use):
    given where it would be ignored, it is refused before any work, in one line naming it
    with its value and `why` (what it qualifies, what to do); otherwise its value, or
    `default` when it was not given."""
    given = getattr(args, dest)
    if given is not None and not applies:
        raise MicromelError(f"--{dest.replace('_', '-')} {shown(given)}: {why}")
    return default if given is None else given


def shown(value) -> str:
    """An option's number as the user would type it: -40, not -40.0; 0.1234567 in full."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def formats_with_out(args, all_formats) -> set:
    """--format FMT (repeatable) chooses what --out DIR gets: refused without --out (it would
    be ignored); all formats when none is given."""
    if args.format and not args.out:
        raise MicromelError("--format: chooses the files written into --out; add --out DIR "
                            "(without it the events are printed)")
    return set(args.format or all_formats)


def add_table_outputs(p, what: str) -> None:
    """--md FILE and --json FILE: a command's table also written as Markdown and as JSON
    (table_outputs checks them before the work)."""
    p.add_argument("--md", metavar="FILE", help=f"also write the {what} as Markdown")
    p.add_argument("--json", metavar="FILE", help=f"also write the {what} as JSON")
    p.add_argument("--force", action="store_true", help="replace an existing --md or --json file")


def table_outputs(args) -> dict:
    """{"md": Path, "json": Path} of the files given, each checked by new_file before the
    command's work starts (a build for every board must not end in a refusal)."""
    if args.md and args.json and Path(args.md).resolve() == Path(args.json).resolve():
        raise MicromelError(f"--md and --json name one file ({args.md}); give two names")
    return {opt: new_file(path, f"--{opt}", args.force)
            for opt, path in (("md", args.md), ("json", args.json)) if path}


def bench_device(device: str) -> None:
    """The benches count instructions: not on 'native' (open_device's hint for it, "needs a
    model folder", misled a user who had given one)."""
    if device == "native":
        raise MicromelError("--device native: the firmware built for this computer counts no "
                            "instructions; bench on --device emulate (or emulate:ENV, a board)")
