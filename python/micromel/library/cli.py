"""Commands of the library: `micromel bench library` (what an exported library adds to a user's
image, per board, against the app). `micromel export --lib` itself is in engine/cli.py, with
the other export."""
from __future__ import annotations

import json

from .. import cliargs
from ..boards import catalogue
from ..fileio import write_text_atomic
from ..modeldir import ModelDir
from . import sizes


def cmd_bench_library(args) -> int:
    model = ModelDir.open(args.model_dir)
    boards = catalogue.find_boards(args.board)
    outs = cliargs.table_outputs(args)
    rows = sizes.measure(model, boards, progress=lambda s: print(s, flush=True))
    text = sizes.format_markdown(rows, f"{model.path.name} ({model.hash})")
    print(text, end="")
    if "md" in outs:
        write_text_atomic(outs["md"], text)
    if "json" in outs:
        write_text_atomic(outs["json"], json.dumps([r.to_dict() for r in rows], indent=2) + "\n")
    worse = [f"{r.board.name} {what}" for r in rows for what in ("flash", "ram")
             if r.totals(what)[1] > r.totals(what)[0]]
    if worse:
        print(f"the library takes more than the app's same parts on: {', '.join(worse)}")
    return 1 if worse else 0


def register(sub) -> None:
    b = cliargs.group_actions(sub, "bench").add_parser(
        "library", help="flash and RAM an exported library adds to a user's image, against the "
                        "same parts in the app, per board (linker maps)")
    b.add_argument("model_dir", metavar="MODEL_DIR", help="model folder (model.tflite, config.json)")
    b.add_argument("--board", default="all", help="a board of `micromel boards` or 'all' (default)")
    cliargs.add_table_outputs(b, "table")
    b.set_defaults(func=cmd_bench_library)
