"""Commands of the board matrix:

    micromel boards [--json]
    micromel build MODEL_DIR|none --board NAME|all [--check] [--md FILE] [--json FILE]
                   [--force] [--listen-at-boot SOURCE]
    micromel doctor [--json]
"""
from __future__ import annotations

import json
import sys
import time

from .. import cliargs, codegen
from ..errors import MicromelError
from ..fileio import write_text_atomic
from ..modeldir import open_model
from ..paths import DOCS_DIR
from ..listen import config as listen_config
from . import catalogue, pio_core, realtime, sizes, toolchain


def cmd_boards(args) -> int:
    cat = catalogue.load_catalogue()
    if args.json:
        print(json.dumps([b.to_dict() for b in cat], indent=2))
        return 0
    rows = [["board", "core", "MHz", "flash KB", "RAM KB", "budget flash/RAM KB", "DSP",
             "offline env", "flash with / runs on"]]
    for b in cat:
        # an emulated machine's budget is all of its memories (docs/boards.md)
        whole = (b.flash_budget, b.ram_budget) == (b.flash_bytes, b.ram_bytes)
        rows.append([b.name, b.core, f"{b.clock_hz / 1e6:g}", f"{b.flash_bytes // 1024}",
                     f"{b.ram_bytes // 1024}",
                     "all" if whole else f"{b.flash_budget // 1024}/{b.ram_budget // 1024}",
                     "yes" if b.dsp else "no", b.offline_env,
                     f"pio -e {b.real_env}" if b.real_env else f"qemu {b.qemu_machine}"])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for k, r in enumerate(rows):
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        if k == 0:
            print("  ".join("-" * w for w in widths))
    return 0


def _boot_source_boards(args, picked: list) -> list:
    """--listen-at-boot SOURCE against each board (an image that would boot idle, saying
    nothing, is refused before any build): with --board all, only the boards it suits,
    the others named in a note; a board named that it does not suit is refused."""
    fits = []
    for board in picked:
        try:
            listen_config.check_boot_source(args.listen_at_boot, board.emulated)
            fits.append(board)
        except MicromelError as e:
            if args.board != "all":
                raise MicromelError(f"{e} (--board {args.board} holds {board.name})") from None
    left = [b.name for b in picked if b not in fits]
    if left:
        print(f"note: --listen-at-boot {args.listen_at_boot}: not built for "
              f"{', '.join(left)} (the source does not suit them)", file=sys.stderr)
    return fits


def cmd_build(args) -> int:
    model = open_model(args.model_dir, allow_none=True)
    picked = _boot_source_boards(args, catalogue.find_boards(args.board))
    if not picked:
        raise MicromelError(f"--listen-at-boot {args.listen_at_boot} suits none of the boards of "
                            f"--board {args.board}: nothing to build")
    targets = set(model.boards) if model and model.boards else None
    title = model.path.resolve().name if model else "firmware without a model"
    if args.check and targets is not None and not any(b.name in targets for b in picked):
        # a check of no target board would pass having checked nothing
        left = (f" that --listen-at-boot {args.listen_at_boot} leaves" if args.listen_at_boot
                else "")
        raise MicromelError(f"--check: {title} is meant for {', '.join(sorted(targets))} "
                            f"(its config.json's boards), and the boards of --board {args.board}"
                            f"{left} are none of them: there is nothing to check")
    outs = cliargs.table_outputs(args)
    reports = []
    t_all = time.monotonic()
    gen_dir = compiled = None
    defines = listen_config.boot_defines(args.listen_at_boot)
    if model:
        # one export serves every board: the engine picks its kernels at compile time from
        # the core's features; the size table checks each board's budget
        gen_dir = codegen.default_gen_dir(model, "export")
        compiled = codegen.export(model, gen_dir)
    for b in picked:
        t0 = time.monotonic()
        r = sizes.build_board(b, model.path.resolve() if model else None, gen_dir, defines)
        reports.append(r)
        what = r.elf if isinstance(r, sizes.SizeReport) else f"link failed (log: {r.log})"
        print(f"built {b.offline_env:<14} {b.name:<14} {time.monotonic() - t0:5.1f} s  {what}",
              flush=True)
    print(f"{len(reports)} targets in {time.monotonic() - t_all:.1f} s\n")
    print(sizes.format_text(reports, targets), end="")
    budgets = []
    if model and args.check:
        # the real-time budget of listening, measured on the emulated cores
        budgets = realtime.budgets(picked, model, compiled.plan, gen_dir, progress=lambda c: print(
            f"measured {c.env}: front end {c.frontend_per_second:,.0f} instructions per second "
            f"of audio, model {c.model_per_inference:,.0f} per inference", flush=True))
        print("\n" + realtime.format_text(budgets), end="")
    is_target = lambda r: targets is None or r.board.name in targets  # noqa: E731
    failures, warnings = _check_findings(title, reports, budgets, is_target, args.check)
    if "md" in outs:
        md = sizes.format_markdown(reports, title, targets)
        write_text_atomic(outs["md"], md + ("\n" + realtime.format_markdown(budgets) if budgets else ""))
        print(f"\nMarkdown: {args.md}")
    if "json" in outs:
        # a CI job decides from the file alone: which boards count, and the check's outcome
        write_text_atomic(outs["json"], json.dumps(
            {"model": title,
             "reports": [{**r.to_dict(), "target": is_target(r)} for r in reports],
             "realtime": [{**b.to_dict(), "target": is_target(b)} for b in budgets],
             # passed: null without --check unless a link failure failed the build anyway
             "check": {"asked": bool(args.check),
                       "passed": not failures if args.check or failures else None,
                       "failures": failures, "warnings": warnings}}, indent=2) + "\n")
        print(f"JSON: {args.json}")
    for line in warnings:
        print(f"micromel: warning: {line}", file=sys.stderr)
    for line in failures:
        print(f"micromel: check failed: {line}", file=sys.stderr)
    if failures:
        return 1
    if args.check:
        rt = " and listens in real time on" if budgets else ""
        n = sum(map(is_target, reports))
        print(f"\ncheck passed: {title} fits{rt} every target board: {n} of the "
              f"{len(reports)} built")
    return 0


def _check_findings(title, reports, budgets, is_target, check: bool) -> tuple[list, list]:
    """(failures, warnings) of a build, one line each. A target board the image does not even
    link for fails with or without --check; --check also holds every target board to its
    flash and RAM budget and every real target board to listening in real time (an emulated
    core's clock is not a real one: its FAIL is shown, never counted)."""
    failures, warnings = [], []
    for bud in budgets:
        if bud.verdict == "warn" and is_target(bud) and not bud.board.emulated:
            warnings.append(f"listening on {bud.board.name} needs {100 * bud.load:.0f}% of its "
                            f"{bud.board.clock_hz / 1e6:g} MHz (instructions at one per cycle; "
                            "real cycles are more)")
    for r in reports:
        if not is_target(r) or r.fits or not (check or isinstance(r, sizes.LinkOverflow)):
            continue
        over = []
        if isinstance(r, sizes.LinkOverflow):
            over = [f"{k} region overflowed by {v} B at link" for k, v in r.regions.items()]
        elif r.flash_total > r.board.flash_budget:
            over.append(f"flash {r.flash_total} B > budget {r.board.flash_budget} B")
        if isinstance(r, sizes.SizeReport) and r.ram_total > r.board.ram_budget:
            over.append(f"RAM {r.ram_total} B > budget {r.board.ram_budget} B")
        failures.append(f"{title} does not fit {r.board.name} ({r.board.title}): {', '.join(over)}")
    for bud in budgets:
        if bud.fails and is_target(bud):
            failures.append(f"{title} cannot listen in real time on {bud.board.name}: "
                            f"{bud.per_second / 1e6:.1f} M instructions per second of audio "
                            f"against {bud.board.clock_hz / 1e6:g} MHz ({100 * bud.load:.0f}%)")
    return failures, warnings


def cmd_doctor(args) -> int:
    results = toolchain.check()
    core = pio_core.ensure_core()
    if args.json:
        print(json.dumps({"tools": [{"name": t.name, "present": ok, "needed_for": t.needed_for,
                                     "debian_package": t.apt, "optional": t.optional}
                                    for t, ok in results],
                          "platformio_core": str(core), "platformio_offline": pio_core.shim_ok(core),
                          "docs": str(DOCS_DIR),
                          "missing_debian_packages": toolchain.missing_apt(results)}, indent=2))
    else:
        width = max(len(t.name) for t, _ in results)
        for t, ok in results:
            state = "ok" if ok else ("missing (optional)" if t.optional else "MISSING")
            print(f"{state:<19} {t.name:<{width}}  for {t.needed_for}")
        print(f"{'ok' if pio_core.shim_ok(core) else 'MISSING':<19} {'PlatformIO offline':<{width}}  "
              f"core folder {core} (local tool-scons, no registry)")
        print(f"{'docs':<19} {'':<{width}}  {DOCS_DIR} (the docs/*.md that messages name)")
    missing = [t for t, ok in results if not ok and not t.optional]
    if missing:
        print(f"micromel: missing: {', '.join(t.name for t in missing)}. On Debian/Ubuntu: "
              f"{toolchain.install_hint(toolchain.missing_apt(results))}. Elsewhere: "
              + "; ".join(f"{t.name}: {t.elsewhere}" for t in missing), file=sys.stderr)
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
                        "(config.json \"boards\", default every board), or if listening needs "
                        "more than the clock of such a (real) board; the real-time budget is "
                        "measured on the emulated cores")
    cliargs.add_table_outputs(b, "size table (and real-time budget)")
    listen_config.add_listen_at_boot(b)
    b.set_defaults(func=cmd_build)

    d = sub.add_parser("doctor", help="check the external tools micromel needs (cross compilers, "
                                      "QEMU) and set up PlatformIO to work offline")
    d.add_argument("--json", action="store_true", help="print JSON")
    d.set_defaults(func=cmd_doctor)
