"""`micromel verify`: stream a test split to one or more devices and check, clip
by clip, that each device computed exactly what the host reference computed.

Results are appended to <report>/results.jsonl one line per clip as they arrive
(flushed and fsynced), so a run that is killed or loses a device loses nothing
already verified; `--resume` skips the clips already recorded. The summary is
computed from results.jsonl alone, so an interrupted-and-resumed run and an
uninterrupted run give the same summary (timing fields apart)."""
from __future__ import annotations

import json
import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import audio_link, protocol
from .device import DeviceError, open_device
from .errors import MicromelError
from .reference import Reference, model_hash

RESULTS = "results.jsonl"


@dataclass
class Clip:
    id: str
    path: Path
    label: str


def _read_results(path: Path) -> list[dict]:
    """Records of results.jsonl; a torn last line (killed mid-write) is dropped."""
    if not path.exists():
        return []
    records, good_bytes = [], 0
    with open(path, "rb") as f:
        for line in f:
            if not line.endswith(b"\n"):
                break
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                break
            good_bytes += len(line)
    if good_bytes != path.stat().st_size:
        with open(path, "r+b") as f:
            f.truncate(good_bytes)
    return records


class ResultLog:
    def __init__(self, path: Path):
        self.path = path
        self.lock = threading.Lock()
        self.f = open(path, "a", encoding="utf-8")

    def append(self, record: dict) -> None:
        line = json.dumps(record, sort_keys=True) + "\n"
        with self.lock:
            self.f.write(line)
            self.f.flush()
            os.fsync(self.f.fileno())

    def close(self) -> None:
        self.f.close()


def _first_diff(a: np.ndarray, b: np.ndarray) -> dict | None:
    if a.shape != b.shape:
        return {"shape_host": list(a.shape), "shape_device": list(b.shape)}
    idx = np.argwhere(a != b)
    if not len(idx):
        return None
    i = tuple(int(v) for v in idx[0])
    return {"count": int(len(idx)), "first_index": list(i), "host": int(a[i]), "device": int(b[i])}


_layer_diff_lock = threading.Lock()
_layer_diff_done = {"done": False}


def layer_diff(dev, ref: Reference, window: np.ndarray) -> dict:
    """Where a window's scores first differ: every layer of the model on the
    device (fetched in slices) against TFLite Micro's intermediate tensors."""
    from .engine.export import compile_model
    from .engine.runner import DeviceModel, Tflm, first_difference

    plan = compile_model(ref.model_dir).plan
    want = Tflm(plan).run(window)
    got = DeviceModel(plan, dev)
    return first_difference(plan, want, lambda i: got.layer(window, i)) or {"layer": None}


def _maybe_layer_diff(dev, ref: Reference, host, score_diffs: list) -> dict | None:
    """Only for the first clip with a score mismatch (it costs a layer dump)."""
    w = next((d["window"] for d in score_diffs if "window" in d and "host" in d), None)
    if w is None:
        return None
    with _layer_diff_lock:
        if _layer_diff_done["done"]:
            return None
        _layer_diff_done["done"] = True
    try:
        return {"window": w, **layer_diff(dev, ref, host.windows[w])}
    except Exception as e:  # noqa: BLE001 - the diff is a diagnosis, never fatal
        return {"window": w, "error": str(e)}


def check_clip_audio(dev, ref: Reference, clip: Clip, pcm: np.ndarray) -> dict:
    """Audio mode: the device runs front end + windows + gate + model + vote."""
    host = ref.clip(pcm)
    got = audio_link.classify_audio(dev, pcm, ref.n_mels, ref.n_classes, want_features=True)
    dev_feats = got.features(ref.n_mels)
    feat_diff = _first_diff(host.features, dev_feats)
    score_diffs = []
    if len(got.windows) != len(host.scores):
        score_diffs.append({"windows_host": len(host.scores), "windows_device": len(got.windows)})
    else:
        for w, (hs, dw) in enumerate(zip(host.scores, got.windows)):
            if (hs is None) != dw.silent:
                score_diffs.append({"window": w, "silent_host": hs is None, "silent_device": dw.silent})
            elif hs is not None and not np.array_equal(hs, dw.scores):
                score_diffs.append({"window": w, "host": hs.tolist(), "device": dw.scores.tolist()})
    vote_match = got.vote == host.vote and np.array_equal(got.acc, host.acc)
    return {
        "layer_diff": _maybe_layer_diff(dev, ref, host, score_diffs),
        "features_match": feat_diff is None,
        "features_diff": feat_diff,
        "scores_match": not score_diffs and vote_match,
        "scores_diff": score_diffs[:3],
        "windows": len(host.scores),
        "silent_windows": int((~host.nonsilent).sum()),
        "pred_host": host.vote,
        "pred_device": got.vote,
    }


def check_clip_features(dev, ref: Reference, clip: Clip, pcm: np.ndarray) -> dict:
    """Features mode: the host's twin features go in, the device runs the model."""
    from . import windows as win

    host = ref.clip(pcm)
    dev_scores = []
    score_diffs = []
    for w, (window, hs) in enumerate(zip(host.windows, host.scores)):
        if hs is None:
            dev_scores.append(np.zeros(ref.n_classes, np.int8))
            continue
        reply = dev.request(protocol.MSG["CLASSIFY_FEATURES"], np.ascontiguousarray(window).tobytes())
        ds = np.frombuffer(reply.payload, np.int8, ref.n_classes).copy()
        dev_scores.append(ds)
        if not np.array_equal(ds, hs):
            score_diffs.append({"window": w, "host": hs.tolist(), "device": ds.tolist()})
    if dev_scores:
        vote, _ = win.soft_vote(np.stack(dev_scores), host.nonsilent)
    else:
        vote = win.SILENCE
    return {
        "layer_diff": _maybe_layer_diff(dev, ref, host, score_diffs),
        "features_match": True,  # the device was given the host's features
        "features_diff": None,
        "scores_match": not score_diffs,
        "scores_diff": score_diffs[:3],
        "windows": len(host.scores),
        "silent_windows": int((~host.nonsilent).sum()),
        "pred_host": host.vote,
        "pred_device": int(vote),
    }


def _check_device_model(dev, ref: Reference, want_hash: str) -> None:
    info = dev.info(refresh=True)
    have = info.get("model_hash")
    if have is None:
        raise MicromelError(f"--device {dev.name}: the firmware runs no model; build it with "
                            f"'micromel build {ref.model_dir} --board BOARD' and flash it")
    if have != want_hash:
        raise MicromelError(f"--device {dev.name}: runs model {info.get('model', '?')} (hash {have}), "
                            f"not {ref.model_dir} (hash {want_hash}); flash the right firmware")


_prepared: dict[tuple[str, str], Path] = {}
_prepare_lock = threading.Lock()


def _prepare(spec: str, model_dir: Path) -> Path | None:
    """Export and build a model's firmware for an emulated device once per
    (environment, model) in this process; returns the ELF (None for real devices)."""
    if not (spec == "emulate" or spec.startswith("emulate:")):
        return None
    from . import firmware
    from .engine.export import export_model
    from .paths import BUILD_DIR

    env_name = spec.split(":", 1)[1] if ":" in spec else "emulate"
    key = (env_name, str(Path(model_dir).resolve()))
    with _prepare_lock:
        if key not in _prepared:
            gen = BUILD_DIR / "gen" / Path(model_dir).resolve().name
            export_model(model_dir, gen)
            _prepared[key] = firmware.build(env_name, gen_dir=gen, model_dir=Path(model_dir).resolve())
        return _prepared[key]


def _open(spec: str, model_dir: Path):
    elf = _prepare(spec, model_dir)
    if elf is not None:
        return open_device(spec, elf=elf)
    return open_device(spec)


def run_verify(model_dir: Path, data: str, devices: list[str], mode: str = "audio",
               report_dir: Path | None = None, resume: bool = False, split: str = "test",
               limit: int | None = None, progress: bool = True) -> dict:
    from .datasets import load_dataset
    from .frontend import load_audio

    model_dir = Path(model_dir)
    ref = Reference(model_dir)
    want_hash = model_hash(model_dir)
    _layer_diff_done["done"] = False
    ds = load_dataset(data, labels=ref.labels, check_files=False)
    items = ds.split(split)
    if not items:
        raise MicromelError(f"{data}: no clips in the '{split}' split")
    clips = [Clip(Path(p).relative_to(ds.root).as_posix() if Path(p).is_relative_to(ds.root) else str(p),
                  Path(p), lab) for p, lab, _ in items]
    clips.sort(key=lambda c: c.id)
    if limit:
        clips = clips[:limit]
    report_dir = Path(report_dir or (Path("build") / "verify" / model_dir.name))
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
    from .codegen import write_text_atomic

    write_text_atomic(meta_path, json.dumps(meta, indent=1))
    done = {r["clip"] for r in _read_results(results_path)}
    todo: queue.Queue = queue.Queue()
    for c in clips:
        if c.id not in done:
            todo.put(c)
    log = ResultLog(results_path)
    check = check_clip_audio if mode == "audio" else check_clip_features
    failures: list[str] = []
    counters = {"done": len(done), "mismatch": sum(1 for r in _read_results(results_path)
                                                   if not (r["features_match"] and r["scores_match"]))}
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(clips), initial=len(done), unit="clip", desc="verify", dynamic_ncols=True)
    lock = threading.Lock()
    first_clip: list[float] = []

    def worker(spec: str) -> None:
        try:
            dev = _open(spec, model_dir)
        except Exception as e:  # noqa: BLE001 - reported below, one line
            failures.append(f"{spec}: {e}")
            return
        local_ref = Reference(model_dir)   # interpreters are not shared across threads
        try:
            _check_device_model(dev, local_ref, want_hash)
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
                    rec = check(dev, local_ref, clip, pcm)
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
        _prepare(spec, model_dir)
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
    records = _read_results(results_path)
    summary = summarize(records, ref.labels, meta)
    summary["run"] = {"devices": devices, "elapsed_s": round(elapsed, 2),
                      "clips_this_run": counters["done"] - len(done),
                      "windows_per_s": round(sum(r["windows"] for r in records if r["clip"] not in done)
                                             / elapsed, 2) if elapsed > 0 else None,
                      "failures": failures}
    write_report(report_dir, summary, records, ref)
    if summary["clips_verified"] < len(clips):
        missing = len(clips) - summary["clips_verified"]
        raise MicromelError(f"{missing} of {len(clips)} clips not verified ({failures[-1] if failures else 'no device'}); "
                            f"partial results in {results_path}: rerun with --resume to continue")
    return summary


def summarize(records: list[dict], labels: list[str], meta: dict) -> dict:
    n = len(records)
    bit_exact = [r for r in records if r["features_match"] and r["scores_match"]]
    correct_dev = sum(1 for r in records if r["pred_device"] == r["truth"])
    correct_ref = sum(1 for r in records if r["pred_host"] == r["truth"])
    k = len(labels)
    confusion = np.zeros((k, k + 1), dtype=int)  # last column: predicted silence
    for r in records:
        confusion[r["truth"], r["pred_device"] if r["pred_device"] >= 0 else k] += 1
    return {
        "model": meta["model"], "model_hash": meta["model_hash"], "data": meta["data"],
        "split": meta["split"], "mode": meta["mode"], "labels": labels,
        "clips_total": len(meta["clips"]), "clips_verified": n,
        "clips_bit_exact": len(bit_exact),
        "features_mismatches": sum(1 for r in records if not r["features_match"]),
        "scores_mismatches": sum(1 for r in records if not r["scores_match"]),
        "windows": sum(r["windows"] for r in records),
        "silent_windows": sum(r["silent_windows"] for r in records),
        "accuracy_device": round(correct_dev / n, 6) if n else None,
        "accuracy_reference": round(correct_ref / n, 6) if n else None,
        "predictions_agree": sum(1 for r in records if r["pred_device"] == r["pred_host"]),
        "confusion_device": confusion.tolist(),
        "first_mismatch": next((r["clip"] for r in sorted(records, key=lambda r: r["clip"])
                                if not (r["features_match"] and r["scores_match"])), None),
    }


def write_report(report_dir: Path, summary: dict, records: list[dict], ref: Reference) -> None:
    from .codegen import write_text_atomic

    write_text_atomic(report_dir / "summary.json", json.dumps(summary, indent=1))
    labels = summary["labels"]
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        cm = np.array(summary["confusion_device"])
        fig, ax = plt.subplots(figsize=(1.2 * len(labels) + 2, 1.1 * len(labels) + 1.5))
        ax.imshow(cm, cmap="Blues")
        ax.set_xticks(range(len(labels) + 1), labels + ["(silence)"], rotation=45, ha="right")
        ax.set_yticks(range(len(labels)), labels)
        for (i, j), v in np.ndenumerate(cm):
            ax.text(j, i, str(v), ha="center", va="center",
                    color="white" if v > cm.max() / 2 else "black")
        ax.set_xlabel("device prediction")
        ax.set_ylabel("truth")
        ax.set_title(f"{Path(summary['model']).name}: device accuracy "
                     f"{100 * (summary['accuracy_device'] or 0):.1f}%")
        fig.tight_layout()
        tmp = report_dir / ".confusion.png.tmp.png"
        fig.savefig(tmp, dpi=100)
        plt.close(fig)
        os.replace(tmp, report_dir / "confusion.png")
    except Exception as e:  # noqa: BLE001 - the report stays useful without the picture
        summary["confusion_png_error"] = str(e)
    s = summary
    pct = lambda v: "n/a" if v is None else f"{100 * v:.2f}%"  # noqa: E731
    lines = [
        f"# Verification of {Path(s['model']).name} on {', '.join(s.get('run', {}).get('devices', []))}",
        "",
        f"- model hash `{s['model_hash']}`, data `{s['data']}`, split `{s['split']}`, mode `{s['mode']}`",
        f"- clips verified: {s['clips_verified']} of {s['clips_total']}",
        f"- **bit-exact clips: {s['clips_bit_exact']} of {s['clips_verified']}** "
        f"(feature mismatches {s['features_mismatches']}, score mismatches {s['scores_mismatches']})",
        f"- windows: {s['windows']} ({s['silent_windows']} silent)",
        f"- accuracy on the device: {pct(s['accuracy_device'])}; reference (twin + TFLite Micro): "
        f"{pct(s['accuracy_reference'])}; predictions agree on {s['predictions_agree']} clips",
        "",
        "![confusion](confusion.png)",
        "",
    ]
    if s["first_mismatch"]:
        rec = next(r for r in records if r["clip"] == s["first_mismatch"])
        lines += ["## First mismatch", "", f"clip `{rec['clip']}`", "", "```",
                  json.dumps({k: rec[k] for k in ("features_diff", "scores_diff")}, indent=1), "```", ""]
        diff = next((r["layer_diff"] for r in records if r.get("layer_diff")), None)
        if diff:
            lines += ["## Per-layer diff (first clip with a score mismatch)", "",
                      "Every layer's output on the device against TFLite Micro's intermediate "
                      "tensors for the first mismatching window:", "", "```",
                      json.dumps(diff, indent=1), "```", ""]
    write_text_atomic(report_dir / "report.md", "\n".join(lines))
