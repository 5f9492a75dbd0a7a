"""`micromel verify`: stream a test split to one or more devices and check, clip by clip,
that each device computed exactly what the host reference computed.

Results are appended to <report>/results.jsonl one line per clip as they arrive (results.py),
so a run that is killed or loses a device loses nothing already verified; `--resume` skips
the clips already recorded. The summary is computed from results.jsonl alone, so an
interrupted-and-resumed run and an uninterrupted run give the same summary (timing fields
apart)."""
from __future__ import annotations

import json
import queue
import threading
import time
from pathlib import Path

from ..audio import load_audio
from ..clip.reference import Reference
from ..data.datasets import load_dataset
from ..errors import DeviceError, MicromelError
from ..fileio import write_text_atomic
from ..link.model_device import open_model_device, prepare_firmware
from ..paths import build_dir
from .checks import Clip, LayerDiffOnce, check_clip_audio, check_clip_features
from .results import RESULTS, ResultLog, read_results, summarize, write_report


def run_verify(model, data: str, devices: list[str], mode: str = "audio",
               report_dir: Path | None = None, resume: bool = False, split: str | None = None,
               limit: int | None = None, progress: bool = True) -> dict:
    """Verify a ModelDir on devices over a dataset split (default: test where the dataset
    names splits, else every clip). Returns the summary."""
    model_dir = model.path
    ref = Reference(model)
    want_hash = model.hash
    once = LayerDiffOnce()
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
    report_dir = Path(report_dir or default_report_dir(model))
    report_dir.mkdir(parents=True, exist_ok=True)
    results_path = report_dir / RESULTS
    meta = {"model": str(model_dir), "model_hash": want_hash, "data": str(data), "split": split,
            "mode": mode, "clips": [c.id for c in clips]}
    meta_path = report_dir / "run.json"
    if resume and meta_path.exists():
        old = json.loads(meta_path.read_text())
        if (old["model_hash"], old["mode"], old["clips"]) != (want_hash, mode, meta["clips"]):
            raise MicromelError(f"--resume: {report_dir} holds a run of another model, mode or clip "
                                "list; use another --report folder or drop --resume")
    elif results_path.exists():
        results_path.unlink()
    write_text_atomic(meta_path, json.dumps(meta, indent=1))
    done = {r["clip"] for r in read_results(results_path)}
    todo: queue.Queue = queue.Queue()
    for c in clips:
        if c.id not in done:
            todo.put(c)
    log = ResultLog(results_path)
    check = check_clip_audio if mode == "audio" else check_clip_features
    failures: list[str] = []
    counters = {"done": len(done), "mismatch": sum(1 for r in read_results(results_path)
                                                   if not (r["features_match"] and r["scores_match"]))}
    bar = None
    if progress:
        from tqdm import tqdm    # lazy: only with a progress bar
        bar = tqdm(total=len(clips), initial=len(done), unit="clip", desc="verify", dynamic_ncols=True)
    lock = threading.Lock()
    first_clip: list[float] = []

    def worker(spec: str) -> None:
        try:
            dev = open_model_device(spec, model)
        except Exception as e:  # noqa: BLE001 - reported below, one line
            failures.append(f"{spec}: {e}")
            return
        local_ref = Reference(model)   # interpreters are not shared across threads
        try:
            while True:
                try:
                    clip = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    pcm = load_audio(clip.path, local_ref.fe.sample_rate)
                    t0 = time.monotonic()
                    with lock:
                        first_clip.append(t0)
                    rec = check(dev, local_ref, clip, pcm, once)
                except DeviceError as e:
                    todo.put(clip)  # not verified: another device (or --resume) takes it
                    failures.append(str(e))
                    return
                except Exception as e:  # noqa: BLE001 - a worker never dies with a traceback
                    todo.put(clip)
                    failures.append(f"{dev.name}: {type(e).__name__}: {e}")
                    return
                rec.update({"clip": clip.id, "label": clip.label, "truth": local_ref.labels.index(clip.label),
                            "device": dev.name, "seconds": round(time.monotonic() - t0, 4)})
                log.append(rec)
                with lock:
                    counters["done"] += 1
                    counters["mismatch"] += not (rec["features_match"] and rec["scores_match"])
                    if bar:
                        bar.update(1)
                        bar.set_postfix(mismatches=counters["mismatch"], devices=len(devices))
        except MicromelError as e:
            failures.append(str(e))
        finally:
            dev.close()

    for spec in dict.fromkeys(devices):  # build each emulated firmware once, before timing
        prepare_firmware(spec, model)
    threads = [threading.Thread(target=worker, args=(d,), daemon=True) for d in devices]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.close()
    if bar:
        bar.close()
    # throughput from the first clip on: device set-up (boot) is not verification work
    elapsed = time.monotonic() - min(first_clip) if first_clip else 0.0
    records = read_results(results_path)
    summary = summarize(records, ref.labels, meta)
    summary["run"] = {"devices": devices, "elapsed_s": round(elapsed, 2),
                      "clips_this_run": counters["done"] - len(done),
                      "windows_per_s": round(sum(r["windows"] for r in records if r["clip"] not in done)
                                             / elapsed, 2) if elapsed > 0 else None,
                      "failures": failures}
    write_report(report_dir, summary, records)
    if summary["clips_verified"] < len(clips):
        missing = len(clips) - summary["clips_verified"]
        raise MicromelError(f"{missing} of {len(clips)} clips not verified ({failures[-1] if failures else 'no device'}); "
                            f"partial results in {results_path}: rerun with --resume to continue")
    return summary




def default_report_dir(model) -> Path:
    return build_dir() / "verify" / model.path.name
