"""Commands of the board matrix:

    micromel boards [--json]
    micromel build MODEL_DIR|none --board NAME|all [--check] [--md FILE] [--json FILE]
    micromel cores MODEL_DIR|none [--board NAME|all] [--inputs N] [--md FILE] [--json FILE]
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from .errors import MicromelError


def _model_dir(spec: str) -> Path | None:
    if spec.lower() == "none":
        return None
    p = Path(spec)
    if not (p / "config.json").exists():
        raise MicromelError(f"MODEL_DIR {spec}: no config.json there; give a model folder such as "
                            "models/drums, or 'none' for the firmware without a model")
    return p


def cmd_boards(args) -> int:
    from . import boards

    cat = boards.load_catalogue()
    if args.json:
        print(json.dumps([b.to_dict() for b in cat], indent=2))
        return 0
    rows = [["board", "core", "MHz", "flash KB", "RAM KB", "budget flash/RAM KB", "DSP",
             "offline env", "flash with / runs on"]]
    for b in cat:
        rows.append([b.name, b.core, f"{b.clock_hz / 1e6:g}", f"{b.flash_bytes // 1024}",
                     f"{b.ram_bytes // 1024}", f"{b.flash_budget // 1024}/{b.ram_budget // 1024}",
                     "yes" if b.dsp else "no", b.offline_env,
                     f"pio -e {b.real_env}" if b.real_env else f"qemu {b.qemu_machine}"])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for k, r in enumerate(rows):
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        if k == 0:
            print("  ".join("-" * w for w in widths))
    return 0


def cmd_build(args) -> int:
    from . import boards
    from .codegen import write_text_atomic

    model_dir = _model_dir(args.model_dir)
    picked = boards.find_boards(args.board)
    targets = boards.model_targets(model_dir)
    title = model_dir.resolve().name if model_dir else "firmware without a model"
    reports = []
    t_all = time.monotonic()
    gen_dir = boards.export(model_dir) if model_dir else None
    for b in picked:
        t0 = time.monotonic()
        r = boards.build_board(b, model_dir, gen_dir)
        reports.append(r)
        what = r.elf if isinstance(r, boards.SizeReport) else f"link failed (log: {r.log})"
        print(f"built {b.offline_env:<14} {b.name:<14} {time.monotonic() - t0:5.1f} s  {what}",
              flush=True)
    print(f"{len(reports)} targets in {time.monotonic() - t_all:.1f} s\n")
    print(boards.format_text(reports, targets), end="")
    if args.md:
        write_text_atomic(Path(args.md), boards.format_markdown(reports, title, targets))
        print(f"\nMarkdown: {args.md}")
    if args.json:
        write_text_atomic(Path(args.json), json.dumps(
            {"model": title, "reports": [r.to_dict() for r in reports]}, indent=2) + "\n")
        print(f"JSON: {args.json}")
    is_target = lambda r: targets is None or r.board.name in targets  # noqa: E731
    # A target board the image does not even link for fails with or without
    # --check; --check also holds every target board to its budget.
    failed = [r for r in reports if is_target(r) and not r.fits
              and (args.check or isinstance(r, boards.LinkOverflow))]
    for r in failed:
        over = []
        if isinstance(r, boards.LinkOverflow):
            over = [f"{k} region overflowed by {v} B at link" for k, v in r.regions.items()]
        elif r.flash_total > r.board.flash_budget:
            over.append(f"flash {r.flash_total} B > budget {r.board.flash_budget} B")
        if isinstance(r, boards.SizeReport) and r.ram_total > r.board.ram_budget:
            over.append(f"RAM {r.ram_total} B > budget {r.board.ram_budget} B")
        print(f"micromel: check failed: {title} does not fit {r.board.name} "
              f"({r.board.title}): {', '.join(over)}")
    if failed:
        return 1
    if args.check:
        print(f"\ncheck passed: {title} fits every target board ({len(reports)} built)")
    return 0


def cmd_cores(args) -> int:
    from . import boards, cores
    from .codegen import write_text_atomic

    model_dir = _model_dir(args.model_dir)
    picked = [b for b in boards.find_boards(args.board) if b.emulated]
    if not picked:
        raise MicromelError(f"--board {args.board}: no emulated board among them "
                            "(see `micromel boards`)")
    gen_dir = boards.export(model_dir) if model_dir else None
    results = []
    for b in picked:
        r = cores.run_core(b, model_dir, gen_dir, inputs=args.inputs)
        results.append(r)
        print(f"ran {b.offline_env:<13} {b.name:<14} {r.seconds:5.1f} s"
              + (f"  (missing: {'; '.join(r.missing)})" if r.missing else ""), flush=True)
    print()
    print(cores.format_table(results), end="")
    title = model_dir.resolve().name if model_dir else "firmware without a model"
    if args.md:
        write_text_atomic(Path(args.md), f"## Emulated cores: {title}\n\n"
                          "Instructions counted by QEMU -icount (not cycles of a real core).\n\n"
                          + cores.format_table(results, markdown=True))
        print(f"\nMarkdown: {args.md}")
    if args.json:
        write_text_atomic(Path(args.json), json.dumps(
            {"model": title, "cores": [r.to_dict() for r in results]}, indent=2) + "\n")
        print(f"JSON: {args.json}")
    bad = [r.board.name for r in results if not r.bit_exact]
    if bad:
        print(f"micromel: not bit-exact on: {', '.join(bad)}")
        return 1
    return 0


def register(sub) -> None:
    p = sub.add_parser("boards", help="list the boards micromel builds for (boards/catalogue.json)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_boards)

    b = sub.add_parser("build", help="export a model and cross-compile it for boards; size table",
                       description="Export MODEL_DIR's headers and build the offline environment of "
                                   "each board (Debian toolchains, no PlatformIO registry), then "
                                   "print flash and RAM per part against each board's budget.")
    b.add_argument("model_dir", metavar="MODEL_DIR",
                   help="model folder (models/NAME), or 'none' for the firmware without a model")
    b.add_argument("--board", default="all",
                   help="board name, comma-separated names, an environment name, or 'all' "
                        "(see `micromel boards`)")
    b.add_argument("--check", action="store_true",
                   help="exit 1 if the image exceeds the budget of a board the model is meant for "
                        "(config.json \"boards\", default every board)")
    b.add_argument("--md", metavar="FILE", help="also write the size table as Markdown")
    b.add_argument("--json", metavar="FILE", help="also write the sizes as JSON")
    b.set_defaults(func=cmd_build)

    c = sub.add_parser("cores", help="run the firmware on every emulated core: bit-exact checks and "
                                     "instructions per inference",
                       description="Build and boot MODEL_DIR's firmware on each emulated board "
                                   "(QEMU: Cortex-M4F, M7, M33, M55, RV32), compare the front end "
                                   "and the model bit for bit with their references, and print "
                                   "instructions per front-end frame and per inference.")
    c.add_argument("model_dir", metavar="MODEL_DIR",
                   help="model folder (models/NAME), or 'none' for the firmware without a model")
    c.add_argument("--board", default="all", help="emulated board(s) or environment(s); default all")
    c.add_argument("--inputs", type=int, default=8,
                   help="random model inputs generated on the device and compared (default 8)")
    c.add_argument("--md", metavar="FILE", help="also write the table as Markdown")
    c.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    c.set_defaults(func=cmd_cores)
