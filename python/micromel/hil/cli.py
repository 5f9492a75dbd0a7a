"""Commands of the host-in-the-loop workflow: demo, verify, classify, flash, stream-check,
cores. Each parses, calls its core (typed arguments in, values out) and prints."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .. import cliargs, codegen
from ..boards.catalogue import find_boards
from ..errors import MicromelError
from ..fileio import write_text_atomic
from ..listen import config as listen_config
from ..modeldir import ModelDir, open_model
from . import cores
from .classify import classify_files
from .demo import run_demo
from .flash import flash
from .soak import soak
from .stream_check import check_against_twin
from .verify import default_report_dir, run_verify


def _say(text: str) -> None:
    print(text, flush=True)


def cmd_demo(args) -> int:
    summary, report = run_demo(Path(args.data) if args.data else None, retrain=args.retrain,
                               model_out=Path(args.model_out) if args.model_out else None,
                               devices=args.devices, mode=args.mode, limit=args.limit,
                               resume=args.resume, say=_say)
    print()
    print(f"report: {report / 'report.md'}")
    keys = ["clips_verified", "clips_bit_exact", "features_mismatches", "scores_mismatches",
            "accuracy_device", "accuracy_reference"]
    print(json.dumps({k: summary[k] for k in keys}
                     | {"windows_per_s": summary["run"]["windows_per_s"]}, indent=1))
    ok = verify_exit_code(summary) == 0
    print("device == host reference, bit for bit, on every clip" if ok else "MISMATCHES: see the report")
    return 0 if ok else 1


def verify_exit_code(s: dict) -> int:
    """0: every clip verified and bit-exact on devices that all stayed up; 1: a mismatch, a
    clip that could not be read, or a device lost (its clips went to the others); errors
    before or during the run that leave clips unverified are 2 (cli.main)."""
    run = s.get("run", {})
    ok = (s["clips_bit_exact"] == s["clips_verified"] == s["clips_total"]
          and not s.get("clips_failed") and not run.get("devices_lost"))
    return 0 if ok else 1


def _print_verify(s: dict, report: Path) -> None:
    run = s["run"]
    for lost in run.get("devices_lost", []):
        print(f"micromel: device lost: {lost['device']} after {lost['clips']} clips: "
              f"{lost['error']}", file=sys.stderr)
    for f in s.get("failed_clips", []):
        print(f"micromel: clip not checked: {f['clip']}: {f['error']}", file=sys.stderr)
    lk = run.get("link") or {}
    if lk.get("retries"):
        print(f"serial link: {lk['retries']} of {lk['requests']} requests retried "
              f"({lk['timeouts']} timeouts, {lk['corrupt']} corrupted)")
    print(f"report: {report / 'report.md'}")
    print(f"bit-exact clips: {s['clips_bit_exact']}/{s['clips_verified']}  "
          + (f"failed clips: {s['clips_failed']}  " if s.get("clips_failed") else "")
          + f"device accuracy: {100 * (s['accuracy_device'] or 0):.2f}%  "
          f"reference accuracy: {100 * (s['accuracy_reference'] or 0):.2f}%  "
          f"windows/s: {run['windows_per_s']}"
          + (f"  unknown (rejected) clips: {s['unknown_device']}, device accuracy on the others: "
             f"{100 * (s['accuracy_device_accepted'] or 0):.2f}%" if s.get("unknown_device") else "")
          + (f"  devices lost: {len(run['devices_lost'])} of {len(run['devices'])}"
             if run.get("devices_lost") else ""))


def cmd_verify(args) -> int:
    model = ModelDir.open(args.model_dir)
    report = Path(args.report) if args.report else default_report_dir(model)
    try:
        s = run_verify(model, args.data, args.device or ["emulate"], mode=args.mode,
                       report_dir=report, resume=args.resume, split=args.split,
                       limit=args.limit, progress=not args.quiet)
    except KeyboardInterrupt:
        if (report / "results.jsonl").exists():
            print(f"\nmicromel: interrupted; the clips verified so far are in "
                  f"{report / 'results.jsonl'}: rerun with --resume to continue", file=sys.stderr)
            return 130
        raise
    _print_verify(s, report)
    return verify_exit_code(s)


def cmd_classify(args) -> int:
    results = classify_files(ModelDir.open(args.model_dir), args.audio, args.device, args.top)
    for r in results:
        for note in r["notes"]:
            print(f"micromel: note: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        for r in results:
            tops = ", ".join(f"{k} {100 * v:.0f}%" for k, v in r["top"].items())
            print(f"{r['file']}: {r['label']}  ({tops})  [{r['where']}]")
    return 0


def cmd_flash(args) -> int:
    return flash(ModelDir.open(args.model_dir), args.board, args.port, say=_say,
                 listen_at_boot=args.listen_at_boot)


def cmd_stream_check(args) -> int:
    t = check_against_twin(ModelDir.open(args.model_dir), [Path(a) for a in args.audio],
                           args.device, seconds=args.seconds, progress=not args.quiet)
    print(json.dumps(t, indent=1))     # stdout: the JSON alone, for a CI job to read
    ok = t["window_mismatches"] == 0 and t["event_mismatch_files"] == 0
    print("device == twin: every window and every event" if ok else
          "MISMATCH between device and twin in " + ", ".join(t["mismatch_files"]), file=sys.stderr)
    return 0 if ok else 1


def cmd_soak(args) -> int:
    out = cliargs.new_file(args.json, "--json") if args.json else None   # checked before the run

    def partial(r: dict) -> None:   # a stopped run keeps its last checkpoint's numbers
        write_text_atomic(out, json.dumps(r, indent=1) + "\n")

    r = soak(ModelDir.open(args.model_dir), args.minutes * 60.0, args.device, seed=args.seed,
             every=args.every, progress=not args.quiet, on_checkpoint=partial if out else None)
    text = json.dumps(r, indent=1)
    print(text)
    if out is not None:
        write_text_atomic(out, text + "\n")
    failed = [k for k in ("device_equals_twin", "stack_settled", "host_memory_flat") if not r[k]]
    print("soak: device == twin on every window and event, stack settled, host memory flat"
          if not failed else f"soak: FAILED ({', '.join(failed)})")
    return 1 if failed else 0


INPUTS = 8     # random model inputs per board unless --inputs says otherwise


def cmd_cores(args) -> int:
    model = open_model(args.model_dir, allow_none=True)
    cliargs.needs(args, "inputs", model is not None, "random inputs of a model; the firmware "
                  "without a model has none (drop --inputs)")
    picked = [b for b in find_boards(args.board) if b.emulated]
    if not picked:
        raise MicromelError(f"--board {args.board}: no emulated board among them "
                            "(see `micromel boards`)")
    outs = cliargs.table_outputs(args)
    gen_dir = None
    if model:
        gen_dir = codegen.default_gen_dir(model, "export")
        codegen.export(model, gen_dir)
    results = []
    for b in picked:
        r = cores.run_core(b, model, gen_dir, inputs=args.inputs or INPUTS)
        results.append(r)
        print(f"ran {b.offline_env:<13} {b.name:<14} {r.seconds:5.1f} s"
              + (f"  (missing: {'; '.join(r.missing)})" if r.missing else ""), flush=True)
    print()
    print(cores.format_table(results), end="")
    title = model.path.resolve().name if model else "firmware without a model"
    if "md" in outs:
        write_text_atomic(outs["md"], f"## Emulated cores: {title}\n\n"
                          "Instructions counted by QEMU -icount (not cycles of a real core).\n\n"
                          + cores.format_table(results, markdown=True))
        print(f"\nMarkdown: {args.md}")
    if "json" in outs:
        write_text_atomic(outs["json"], json.dumps(
            {"model": title, "cores": [r.to_dict() for r in results]}, indent=2) + "\n")
        print(f"JSON: {args.json}")
    bad = [r.board.name for r in results if not r.bit_exact]
    if bad:
        print(f"micromel: not bit-exact on: {', '.join(bad)}", file=sys.stderr)
        return 1
    return 0


MODEL_HELP = "model folder (models/NAME: model.tflite, config.json)"


def _add_verify_options(p) -> None:
    """Options verify and demo share."""
    p.add_argument("--mode", choices=["audio", "features"], default="audio",
                   help="audio: the device runs front end and model; features: the model only")
    p.add_argument("--limit", type=cliargs.positive_int, help="verify only the first N clips (by path)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted verify")


def register(sub) -> None:
    demo = sub.add_parser("demo", help="the main job: dataset, train, export, build, emulate, verify")
    demo.add_argument("--retrain", action="store_true", help="train anew instead of using models/drums")
    demo.add_argument("--model-out", help="where --retrain writes the model (default build/models/drums)")
    demo.add_argument("--data", help="dataset folder (default build/datasets/drums)")
    demo.add_argument("--devices", type=cliargs.positive_int, default=2,
                      help="emulated boards to shard the clips over (default 2)")
    _add_verify_options(demo)
    demo.set_defaults(func=cmd_demo)

    v = sub.add_parser("verify", help="stream a test split to devices and check them bit for bit")
    v.add_argument("model_dir", metavar="MODEL_DIR", help=MODEL_HELP)
    v.add_argument("data", metavar="DATA", help="dataset folder (a folder per class) or manifest")
    v.add_argument("--device", action="append",
                   help=cliargs.DEVICE_HELP + "; repeat to shard clips across devices (default emulate)")
    _add_verify_options(v)
    v.add_argument("--report", help="report folder (default build/verify/<model>)")
    v.add_argument("--split", choices=["train", "val", "test", "all"],
                   help="which clips (default: test if the dataset names splits, else all)")
    v.add_argument("--quiet", action="store_true",
                   help="no progress (a bar on a terminal, lines in a log)")
    v.set_defaults(func=cmd_verify)

    c = sub.add_parser("classify", help="top classes per audio file, on the host or a device")
    c.add_argument("model_dir", metavar="MODEL_DIR", help=MODEL_HELP)
    c.add_argument("audio", metavar="AUDIO", nargs="+", help="audio files")
    c.add_argument("--device", help=cliargs.DEVICE_HELP + " (default: the host reference)")
    c.add_argument("--top", type=cliargs.positive_int, default=3, help="classes shown (default 3)")
    c.add_argument("--json", action="store_true", help="print JSON")
    c.set_defaults(func=cmd_classify)

    f = sub.add_parser("flash", help="build and upload a model's firmware (emulated: build and boot)")
    f.add_argument("model_dir", metavar="MODEL_DIR", help=MODEL_HELP)
    f.add_argument("--board", default="emulate",
                   help="a board of `micromel boards` by name (stm32l476) or environment (its "
                        "real one, nucleo_l476rg, or an emulated one such as emulate; default)")
    f.add_argument("--port", help="upload port of a real board")
    listen_config.add_listen_at_boot(f)
    f.set_defaults(func=cmd_flash)

    s = sub.add_parser("stream-check", help="stream audio through a device (STREAM) and the twin; "
                                            "compare every window result and every event")
    s.add_argument("model_dir", metavar="MODEL_DIR", help=MODEL_HELP)
    s.add_argument("audio", metavar="AUDIO", nargs="+", help="audio files (any length)")
    s.add_argument("--device", default="emulate", help=cliargs.DEVICE_HELP + " (default emulate)")
    s.add_argument("--seconds", type=cliargs.positive_float, help="only the first SECONDS of each file")
    s.add_argument("--quiet", action="store_true",
                   help="no progress (a bar on a terminal, lines in a log)")
    s.set_defaults(func=cmd_stream_check)

    so = sub.add_parser("soak", help="a long STREAM run through a device, checked against the "
                                     "twin; stack and host memory sampled as it goes")
    so.add_argument("model_dir", metavar="MODEL_DIR", help=MODEL_HELP + " with segmentation")
    so.add_argument("--minutes", type=cliargs.at_least(float, 0.01, "a number"), default=60.0,
                    help="minutes of audio streamed (default 60)")
    so.add_argument("--every", type=cliargs.at_least(float, 0.01, "a number"), default=60.0,
                    help="seconds of audio between checkpoints (default 60)")
    so.add_argument("--seed", type=int, default=0, help="seed of the generated audio (default 0)")
    so.add_argument("--device", default="emulate", help=cliargs.DEVICE_HELP + " (default emulate)")
    so.add_argument("--json", help="also write the result to this file, and the result so far "
                                   "at every checkpoint (\"complete\": false): a stopped run keeps it")
    so.add_argument("--quiet", action="store_true",
                   help="no progress (a bar on a terminal, lines in a log)")
    so.set_defaults(func=cmd_soak)

    k = sub.add_parser("cores", help="run the firmware on every emulated core: bit-exact checks and "
                                     "instructions per inference",
                       description="Build and boot MODEL_DIR's firmware on each emulated board "
                                   "(QEMU: Cortex-M4F, M7, M33, M55, RV32), compare the front end "
                                   "and the model bit for bit with their references, and print "
                                   "instructions per front-end frame and per inference.")
    k.add_argument("model_dir", metavar="MODEL_DIR",
                   help="model folder (models/NAME), or 'none' for the firmware without a model")
    k.add_argument("--board", default="all", help="emulated board(s) or environment(s); default all")
    k.add_argument("--inputs", type=cliargs.positive_int,
                   help=f"random model inputs generated on the device and compared (default "
                        f"{INPUTS})")
    cliargs.add_table_outputs(k, "table")
    k.set_defaults(func=cmd_cores)
