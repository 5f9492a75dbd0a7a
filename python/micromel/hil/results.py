"""A verify run's records and report: results.jsonl (one line per clip, flushed and fsynced
as it arrives, so a killed run loses nothing already verified), the summary computed from it
alone, and report.md / summary.json / confusion.png."""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np

from ..clip.reject import UNKNOWN
from ..fileio import atomic_path, write_text_atomic

RESULTS = "results.jsonl"


def read_results(path: Path) -> list[dict]:
    """Records of results.jsonl; a torn last line (killed mid-write) is dropped."""
    if not path.exists():
        return []
    records, good_bytes = [], 0
    with open(path, "rb") as f:
        for line in f:
            if not line.endswith(b"\n"):
                break
            try:
                rec = json.loads(line)
            except ValueError:          # JSONDecodeError, or bytes that are not UTF-8
                break
            if not isinstance(rec, dict) or "clip" not in rec:
                break
            records.append(rec)
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


def latest(records: list[dict]) -> list[dict]:
    """The last record of each clip (a clip that failed, e.g. unreadable, and was retried by
    --resume has two), in the order the clips were first recorded."""
    by_clip: dict[str, dict] = {}
    for r in records:
        by_clip[r["clip"]] = r
    return list(by_clip.values())


def failed(records: list[dict]) -> list[dict]:
    return [r for r in records if "error" in r]


def summarize(records: list[dict], labels: list[str], meta: dict) -> dict:
    """From results.jsonl alone. A clip that could not be checked (its file unreadable) is
    a failed clip, not a verified one."""
    records = latest(records)
    bad = failed(records)
    records = [r for r in records if "error" not in r]
    n = len(records)
    bit_exact = [r for r in records if r["features_match"] and r["scores_match"]]
    correct_dev = sum(1 for r in records if r["pred_device"] == r["truth"])
    correct_ref = sum(1 for r in records if r["pred_host"] == r["truth"])
    unknown = sum(1 for r in records if r["pred_device"] == UNKNOWN)   # the rejection rule's
    k = len(labels)
    confusion = np.zeros((k, k + 1), dtype=int)  # last column: predicted silence or unknown
    for r in records:
        confusion[r["truth"], r["pred_device"] if r["pred_device"] >= 0 else k] += 1
    return {
        "model": meta["model"], "model_hash": meta["model_hash"], "data": meta["data"],
        "split": meta["split"], "mode": meta["mode"], "labels": labels,
        "clips_total": len(meta["clips"]), "clips_verified": n,
        "clips_failed": len(bad),
        "failed_clips": [{"clip": r["clip"], "error": r["error"]} for r in bad[:50]],
        "clips_bit_exact": len(bit_exact),
        "features_mismatches": sum(1 for r in records if not r["features_match"]),
        "scores_mismatches": sum(1 for r in records if not r["scores_match"]),
        "windows": sum(r["windows"] for r in records),
        "silent_windows": sum(r["silent_windows"] for r in records),
        "accuracy_device": round(correct_dev / n, 6) if n else None,
        "accuracy_reference": round(correct_ref / n, 6) if n else None,
        "unknown_device": unknown,
        "accuracy_device_accepted": round(correct_dev / (n - unknown), 6) if n > unknown else None,
        "predictions_agree": sum(1 for r in records if r["pred_device"] == r["pred_host"]),
        "confusion_device": confusion.tolist(),
        "first_mismatch": next((r["clip"] for r in sorted(records, key=lambda r: r["clip"])
                                if not (r["features_match"] and r["scores_match"])), None),
    }


def write_report(report_dir: Path, summary: dict, records: list[dict]) -> None:
    write_text_atomic(report_dir / "summary.json", json.dumps(summary, indent=1))
    labels = summary["labels"]
    try:
        import matplotlib    # lazy: heavy, only for the picture

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        cm = np.array(summary["confusion_device"])
        fig, ax = plt.subplots(figsize=(1.2 * len(labels) + 2, 1.1 * len(labels) + 1.5))
        ax.imshow(cm, cmap="Blues")
        ax.set_xticks(range(len(labels) + 1), labels + ["(silence/unknown)"], rotation=45, ha="right")
        ax.set_yticks(range(len(labels)), labels)
        for (i, j), v in np.ndenumerate(cm):
            ax.text(j, i, str(v), ha="center", va="center",
                    color="white" if v > cm.max() / 2 else "black")
        ax.set_xlabel("device prediction")
        ax.set_ylabel("truth")
        ax.set_title(f"{Path(summary['model']).name}: device accuracy "
                     f"{100 * (summary['accuracy_device'] or 0):.1f}%")
        fig.tight_layout()
        with atomic_path(report_dir / "confusion.png", suffix=".png") as tmp:
            fig.savefig(tmp, dpi=100)
        plt.close(fig)
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
    run = s.get("run", {})
    if s.get("clips_failed"):
        lines += [f"## Clips that could not be checked ({s['clips_failed']})", "",
                  "Each is a per-clip error; the run went on with the others. Fix the file and "
                  "rerun with `--resume` to check only these.", ""]
        lines += [f"- `{f['clip']}`: {f['error']}" for f in s["failed_clips"]] + [""]
    if run.get("devices_lost"):
        lines += [f"## Devices lost ({len(run['devices_lost'])} of {len(run['devices'])})", "",
                  "Their clip in flight went back to the queue for the other devices (or "
                  "`--resume`); the exit code is non-zero (docs/hil.md).", ""]
        lines += [f"- `{d['device']}` after {d['clips']} clips: {d['error']}"
                  for d in run["devices_lost"]] + [""]
    if run.get("link"):
        lk = run["link"]
        lines += ["## Serial link", "",
                  f"- requests {lk['requests']}, retried {lk['retries']} (timeouts "
                  f"{lk['timeouts']}, corrupted replies or requests {lk['corrupt']}), "
                  f"resynchronisations {lk['resyncs']}", ""]
    if s["first_mismatch"]:
        rec = next(r for r in latest(records) if r["clip"] == s["first_mismatch"])
        lines += ["## First mismatch", "", f"clip `{rec['clip']}`", "", "```",
                  json.dumps({k: rec[k] for k in ("features_diff", "scores_diff")}, indent=1), "```", ""]
        diff = next((r["layer_diff"] for r in latest(records) if r.get("layer_diff")), None)
        if diff:
            lines += ["## Per-layer diff (first clip with a score mismatch)", "",
                      "Every layer's output on the device against TFLite Micro's intermediate "
                      "tensors for the first mismatching window:", "", "```",
                      json.dumps(diff, indent=1), "```", ""]
    write_text_atomic(report_dir / "report.md", "\n".join(lines))
