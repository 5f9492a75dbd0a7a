"""Commands of the host-in-the-loop workflow: verify, classify, flash."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .errors import MicromelError


def _model_dir(path: str) -> Path:
    p = Path(path)
    if not (p / "config.json").exists() or not (p / "model.tflite").exists():
        raise MicromelError(f"MODEL_DIR {path}: expected a model folder with model.tflite and "
                            "config.json (e.g. models/drums)")
    return p


def cmd_verify(args) -> int:
    from .verify import run_verify

    s = run_verify(_model_dir(args.model_dir), args.data, args.device or ["emulate"], mode=args.mode,
                   report_dir=Path(args.report) if args.report else None, resume=args.resume,
                   split=args.split, limit=args.limit, progress=not args.quiet)
    report = Path(args.report) if args.report else Path("build") / "verify" / Path(args.model_dir).name
    print(f"report: {report / 'report.md'}")
    print(f"bit-exact clips: {s['clips_bit_exact']}/{s['clips_verified']}  "
          f"device accuracy: {100 * s['accuracy_device']:.2f}%  "
          f"reference accuracy: {100 * s['accuracy_reference']:.2f}%  "
          f"windows/s: {s['run']['windows_per_s']}")
    return 0 if s["clips_bit_exact"] == s["clips_verified"] == s["clips_total"] else 1


def cmd_classify(args) -> int:
    import numpy as np

    from . import audio_link
    from .frontend import load_audio
    from .reference import Reference
    from .verify import _check_device_model, _open
    from .reference import model_hash

    model_dir = _model_dir(args.model_dir)
    ref = Reference(model_dir)
    dev = None
    if args.device:
        dev = _open(args.device, model_dir)
        _check_device_model(dev, ref, model_hash(model_dir))
    results = []
    try:
        for path in args.audio:
            pcm = load_audio(Path(path), ref.fe.sample_rate)
            if dev:
                r = audio_link.classify_audio(dev, pcm, ref.n_mels, ref.n_classes, want_features=False)
                vote, acc, nns = r.vote, r.acc, r.n_nonsilent
            else:
                c = ref.clip(pcm)
                vote, acc, nns = c.vote, c.acc, int(c.nonsilent.sum())
            total = max(int(acc.sum()), 1)
            probs = {ref.labels[i]: round(float(acc[i]) / total, 4) for i in np.argsort(-acc)[: args.top]}
            results.append({"file": str(path), "label": ref.labels[vote] if vote >= 0 else "(silence)",
                            "top": probs if vote >= 0 else {}, "windows": nns,
                            "where": dev.name if dev else "host"})
    finally:
        if dev:
            dev.close()
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        for r in results:
            tops = ", ".join(f"{k} {100 * v:.0f}%" for k, v in r["top"].items())
            print(f"{r['file']}: {r['label']}  ({tops})  [{r['where']}]")
    return 0


def cmd_flash(args) -> int:
    import subprocess
    import time

    from . import firmware
    from .engine.export import export_model
    from .paths import BUILD_DIR

    model_dir = _model_dir(args.model_dir)
    gen = BUILD_DIR / "gen" / model_dir.resolve().name
    export_model(model_dir, gen, board=args.board)
    board_json = firmware.board_json(firmware.env_board(args.board))
    machine = board_json.get("micromel", {}).get("qemu_machine")
    if machine:
        from .device import Emulator

        elf = firmware.build(args.board, gen_dir=gen, model_dir=model_dir.resolve())
        emu = Emulator(elf, machine, wait=False)
        port = emu.start()
        print(f"booted {elf} on QEMU {machine}; connect with --device socket://127.0.0.1:{port}")
        print("Ctrl-C stops the emulator.", flush=True)
        try:
            while emu.alive():
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            emu.stop()
        return 0
    cmd = [sys.executable, "-m", "platformio", "run", "-d", str(firmware.FIRMWARE_DIR), "-e", args.board,
           "-t", "upload"]
    if args.port:
        cmd += ["--upload-port", args.port]
    env = firmware.pio_environ({"MICROMEL_GEN_DIR": str(gen), "MICROMEL_MODEL_DIR": str(model_dir.resolve())})
    return subprocess.run(cmd, env=env).returncode


def cmd_stream_check(args) -> int:
    from .stream import check_against_twin

    t = check_against_twin(_model_dir(args.model_dir), [Path(a) for a in args.audio], args.device,
                           seconds=args.seconds, progress=not args.quiet)
    print(json.dumps(t, indent=1))
    ok = t["window_mismatches"] == 0 and t["event_mismatch_files"] == 0
    print("device == twin: every window and every event" if ok else "MISMATCH between device and twin")
    return 0 if ok else 1


def register(sub) -> None:
    s = sub.add_parser("stream-check", help="stream audio through a device (STREAM) and the twin; "
                                            "compare every window result and every event")
    s.add_argument("model_dir", metavar="MODEL_DIR")
    s.add_argument("audio", metavar="AUDIO", nargs="+")
    s.add_argument("--device", default="emulate")
    s.add_argument("--seconds", type=float, help="only the first SECONDS of each file")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=cmd_stream_check)

    v = sub.add_parser("verify", help="stream a test split to devices and check them bit for bit")
    v.add_argument("model_dir", metavar="MODEL_DIR")
    v.add_argument("data", metavar="DATA", help="dataset folder (a folder per class) or manifest")
    v.add_argument("--device", action="append",
                   help="emulate, a tty or a pyserial URL; repeat to shard clips across devices")
    v.add_argument("--mode", choices=["audio", "features"], default="audio",
                   help="audio: the device runs front end and model; features: the model only")
    v.add_argument("--report", help="report folder (default build/verify/<model>)")
    v.add_argument("--resume", action="store_true", help="continue an interrupted run")
    v.add_argument("--split", default="test")
    v.add_argument("--limit", type=int, help="verify only the first N clips (by path)")
    v.add_argument("--quiet", action="store_true", help="no progress bar")
    v.set_defaults(func=cmd_verify)

    c = sub.add_parser("classify", help="top classes per audio file, on the host or a device")
    c.add_argument("model_dir", metavar="MODEL_DIR")
    c.add_argument("audio", metavar="AUDIO", nargs="+")
    c.add_argument("--device", help="emulate, a tty or a pyserial URL (default: host reference)")
    c.add_argument("--top", type=int, default=3)
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_classify)

    f = sub.add_parser("flash", help="build and upload a model's firmware (emulated: build and boot)")
    f.add_argument("model_dir", metavar="MODEL_DIR")
    f.add_argument("--board", default="emulate", help="a firmware environment (micromel boards)")
    f.add_argument("--port", help="upload port of a real board")
    f.set_defaults(func=cmd_flash)
