"""`micromel verify`: stream a test split to one or more devices and check, clip by clip,
that each device computed exactly what the host reference computed.

Results are appended to <report>/results.jsonl one line per clip as they arrive (results.py),
so a run that is killed or loses a device loses nothing already verified; `--resume` skips
the clips already recorded. The summary is computed from results.jsonl alone, so an
interrupted-and-resumed run and an uninterrupted run give the same summary (timing fields
apart).

Everything that can fail before the first clip does so before the report folder is touched:
the model (damaged, float, labels that do not match), the dataset, the --report path, the
devices (each opened and its model hash checked; a device given twice is refused). A clip that
cannot be read is a per-clip error in the report and the run goes on; a device that fails
mid-run hands its clip back to the others and is reported as lost (report.md, the terminal,
the exit code: docs/hil.md)."""
from __future__ import annotations

import json
import queue
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import cliargs
from ..clip.reference import Reference
from ..data.datasets import load_dataset
from ..errors import DeviceError, MicromelError
from ..fileio import write_text_atomic
from .progress import bar as progress_bar
from ..link.model_device import is_emulated, open_model_device, prepare_firmware
from ..paths import build_dir
from .checks import (Clip, ClipReader, ClipUnreadable, LayerDiffOnce, check_clip_audio,
                     check_clip_features)
from .results import RESULTS, ResultLog, latest, read_results, summarize, write_report


@dataclass
class Run:
    """What the worker threads share."""
    todo: queue.Queue
    log: ResultLog
    check: object
    model: object
    once: LayerDiffOnce = field(default_factory=LayerDiffOnce)
    lock: threading.Lock = field(default_factory=threading.Lock)
    lost: list = field(default_factory=list)      # {"device", "error", "clips"}
    done: int = 0
    mismatches: int = 0
    alive: int = 0
    first_clip: float | None = None
    bar: object = None


def check_devices(devices: list[str]) -> None:
    """A real device (tty, URL) can serve one connection: the same one twice is refused."""
    seen = set()
    for spec in devices:
        if not is_emulated(spec) and spec in seen:
            raise MicromelError(f"--device {spec}: given twice; a board or port serves one "
                                "connection (repeat --device emulate, or give other ports)")
        seen.add(spec)


def open_devices(specs: list[str], model) -> tuple[list, list[str]]:
    """Open every device (in parallel: emulators boot in a fraction of a second each, real
    ports answer INFO) and check its model. Returns (devices, failures)."""
    for spec in dict.fromkeys(specs):     # build each emulated firmware once, first
        prepare_firmware(spec, model)
    opened: list = [None] * len(specs)
    failures: list[str] = [""] * len(specs)

    def one(i: int, spec: str) -> None:
        try:
            opened[i] = open_model_device(spec, model)
        except MicromelError as e:
            failures[i] = f"{spec}: {e}"

    threads = [threading.Thread(target=one, args=(i, s), daemon=True) for i, s in enumerate(specs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [d for d in opened if d is not None], [f for f in failures if f]


def _worker(dev, run: Run) -> None:
    ref = Reference(run.model)   # interpreters are not shared across threads
    clips = 0
    try:
        while True:
            try:
                clip = run.todo.get_nowait()
            except queue.Empty:
                return
            reading = ClipReader(clip.path, ref.fe.sample_rate)
            t0 = time.monotonic()
            with run.lock:
                run.first_clip = run.first_clip or t0
            try:
                rec = run.check(dev, ref, clip, reading.chunks(), run.once)
            except ClipUnreadable as e:   # not the device's fault: record, go on
                run.log.append({"clip": clip.id, "label": clip.label, "error": str(e),
                                "device": dev.name})
                continue
            except Exception as e:  # noqa: BLE001 - the device is lost, never a traceback
                run.todo.put(clip)  # not verified: another device (or --resume) takes it
                msg = str(e) if isinstance(e, DeviceError) else f"{type(e).__name__}: {e}"
                msg = msg.removeprefix(f"{dev.name}: ")   # the report names the device already
                with run.lock:
                    run.lost.append({"device": dev.name, "error": msg, "clips": clips})
                return
            rec.update({"clip": clip.id, "label": clip.label, "truth": ref.labels.index(clip.label),
                        "device": dev.name, "seconds": round(time.monotonic() - t0, 4)})
            run.log.append(rec)
            clips += 1
            with run.lock:
                run.done += 1
                run.mismatches += not (rec["features_match"] and rec["scores_match"])
                if run.bar:
                    run.bar.update(1)
                    run.bar.set_postfix(mismatches=run.mismatches, devices=run.alive)
    finally:
        with run.lock:
            run.alive -= 1
            if run.bar:
                run.bar.set_postfix(mismatches=run.mismatches, devices=run.alive)
        dev.close()


def _prepare_report(report_dir: Path, meta: dict, resume: bool) -> None:
    """Checked before any device is opened: a folder with files that is not a verify report
    (its report.md, summary.json... would be written among a user's files), or a --resume of
    another run."""
    meta_path = report_dir / "run.json"
    if report_dir.is_dir() and any(report_dir.iterdir()) and not meta_path.is_file():
        raise MicromelError(f"--report {report_dir}: holds files and is not a report of verify "
                            "(no run.json); give a new or empty folder")
    if resume and meta_path.exists():
        try:
            old = json.loads(meta_path.read_text())
            same = (old["model_hash"], old["mode"], old["clips"]) == \
                (meta["model_hash"], meta["mode"], meta["clips"])
        except (ValueError, KeyError, TypeError):
            same = False
        if not same:
            raise MicromelError(f"--resume: {report_dir} holds a run of another model, mode or "
                                "clip list; use another --report folder or drop --resume")


def run_verify(model, data: str, devices: list[str], mode: str = "audio",
               report_dir: Path | None = None, resume: bool = False, split: str | None = None,
               limit: int | None = None, progress: bool = True) -> dict:
    """Verify a ModelDir on devices over a dataset split (default: test where the dataset
    names splits, else every clip). Returns the summary; summary["run"]["devices_lost"] lists
    the devices that failed mid-run."""
    ref = Reference(model)
    check_devices(devices)
    report_dir = cliargs.out_folder(report_dir or default_report_dir(model), "--report",
                                    "(or drop --report)")
    ds = load_dataset(data, labels=ref.labels, check_files=False)
    split = split or ds.default_split
    items = ds.select(split)
    if not items:
        raise MicromelError(f"{data}: no clips in the '{split}' split")
    clips = [Clip(Path(p).relative_to(ds.root).as_posix() if Path(p).is_relative_to(ds.root) else str(p),
                  Path(p), lab) for p, lab, _ in items]
    clips.sort(key=lambda c: c.id)
    if limit:
        clips = clips[:limit]
    meta = {"model": str(model.path), "model_hash": model.hash, "data": str(data), "split": split,
            "mode": mode, "clips": [c.id for c in clips]}
    _prepare_report(report_dir, meta, resume)
    devs, failures = open_devices(devices, model)
    if not devs:
        raise MicromelError("no device could be used: " + "; ".join(failures))
    try:
        results_path = report_dir / RESULTS
        report_dir.mkdir(parents=True, exist_ok=True)
        if not resume and results_path.exists():
            # not silently: a long run's results are gone; --resume would have continued it
            with open(results_path, "rb") as f:
                n = sum(1 for _ in f)
            results_path.unlink()
            print(f"micromel: note: {results_path}: the {n} result lines of an earlier run "
                  "replaced (--resume continues a run instead)", file=sys.stderr)
        write_text_atomic(report_dir / "run.json", json.dumps(meta, indent=1))
        previous = latest(read_results(results_path))
    except BaseException:
        for d in devs:
            d.close()
        raise
    done = {r["clip"] for r in previous if "error" not in r}
    run = Run(queue.Queue(), ResultLog(results_path),
              check_clip_audio if mode == "audio" else check_clip_features, model,
              done=len(done), alive=len(devs),
              mismatches=sum(1 for r in previous if "error" not in r
                             and not (r["features_match"] and r["scores_match"])))
    run.lost = [{"device": f.split(": ", 1)[0], "error": f.split(": ", 1)[-1], "clips": 0}
                for f in failures]
    for c in clips:
        if c.id not in done:
            run.todo.put(c)
    if progress:
        run.bar = progress_bar(len(clips), "verify", "clips", initial=len(done))
    threads = [threading.Thread(target=_worker, args=(d, run), daemon=True) for d in devs]
    for t in threads:
        t.start()
    try:
        for t in threads:
            t.join()
    finally:    # closed before any error is printed (it went onto the bar's line)
        run.log.close()
        if run.bar:
            run.bar.close()
    return _finish(report_dir, results_path, meta, ref, devices, devs, run, done, clips)


def _finish(report_dir, results_path, meta, ref, devices, devs, run: Run, done, clips) -> dict:
    # throughput from the first clip on: device set-up (boot) is not verification work
    elapsed = time.monotonic() - run.first_clip if run.first_clip else 0.0
    records = read_results(results_path)
    summary = summarize(records, ref.labels, meta)
    new = [r for r in latest(records) if r["clip"] not in done and "error" not in r]
    summary["run"] = {"devices": devices, "elapsed_s": round(elapsed, 2),
                      "clips_this_run": len(new),
                      "windows_per_s": round(sum(r["windows"] for r in new) / elapsed, 2)
                      if elapsed > 0 else None,
                      "devices_lost": run.lost,
                      "link": link_totals(devs)}
    write_report(report_dir, summary, records)
    unchecked = len(clips) - summary["clips_verified"] - summary["clips_failed"]
    if unchecked:
        why = run.lost[-1]["error"] if run.lost else "no device"
        raise MicromelError(f"{unchecked} of {len(clips)} clips not verified ({why}); "
                            f"partial results in {results_path} and {report_dir / 'report.md'}: "
                            "rerun with --resume to continue")
    return summary


def link_totals(devs) -> dict:
    """The serial link's retry counters summed over the devices (link/device.py)."""
    keys = ("requests", "retries", "timeouts", "corrupt", "resyncs")
    return {k: sum(getattr(d, "link_stats", {}).get(k, 0) for d in devs) for k in keys}


def default_report_dir(model) -> Path:
    return build_dir() / "verify" / model.path.name
