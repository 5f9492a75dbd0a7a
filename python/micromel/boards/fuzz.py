"""Fuzzing of the C that parses or accumulates untrusted input, with libFuzzer, AddressSanitizer
and UndefinedBehaviorSanitizer (Debian clang):

  proto    the protocol parser (firmware/lib/mm_proto) on any byte stream
  app      the application (src/app*.c) with a model: whole frames of every message,
           STREAM / CLASSIFY_AUDIO chunk handling above all, and garbage between them
  clip     mm_clip: windows, energies, the gate and the vote under any sequence of pushes
  segment  mm_segment: any parameters, any window results

The harnesses are firmware/fuzz/fuzz_<target>.c. The app target runs the small real model in
firmware/fuzz/model (a drums CNN on 4 x 40 windows, made by `micromel.engine.zoo`), so that
windows complete within a few kilobytes of input and an inference costs microseconds.
Seed corpora come from real traffic: the bytes a host sends to the host build of that
firmware while classifying and streaming real drum recordings (Debian hydrogen-data), the
same bytes through a lossy link, and the front end's blocks and frames of those recordings.

    python -m micromel.boards.fuzz SECONDS [TARGET ...] [--jobs N] [--json FILE]   (scripts/fuzz.sh)

Everything goes to <build>/fuzz/: bin/, seeds/, corpus/ (what the fuzzer found, kept
between runs), artifacts/ (inputs that crashed: none expected), jobs/TARGET/ (each job's log
of a --jobs run)."""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from .. import cliargs, codegen
from ..audio import load_audio
from ..clip import rules
from ..data import debpkg
from ..errors import MicromelError
from ..fileio import write_bytes_atomic, write_text_atomic
from ..frontend.twin import StreamingFrontend
from ..link import audio as audio_link
from ..link import protocol
from ..link.host import host_device
from ..link.proxy import Impairment
from ..modeldir import ModelDir
from ..paths import build_dir
from .firmware import FIRMWARE_DIR
from .toolchain import missing_tool_hint

FUZZ_DIR = FIRMWARE_DIR / "fuzz"
MODEL = FUZZ_DIR / "model"
LIBS = ("mm_proto", "mm_frontend", "mm_clip", "mm_segment", "mm_nn", "mm_cost", "mm_audio", "mm_stack")
# target -> (firmware libraries and app sources it links, headers: "model" or "default", max_len)
TARGETS = {
    "proto": (("mm_proto",), "model", 2048),
    "app": (LIBS + ("src",), "model", 8192),
    "clip": (("mm_clip",), "model", 4096),
    "segment": (("mm_segment",), "default", 2048),
}
# the message types of fuzz_app.c's TYPES, in its order
APP_TYPES = [protocol.MSG[k] for k in ("STREAM", "CLASSIFY_AUDIO", "FEATURES", "FEATURES_RESET",
                                       "CLASSIFY_FEATURES", "PING", "INFO", "STATS", "MODEL_TAP")]
FLAGS = ["-g", "-O2", "-std=c99", "-fsanitize=fuzzer,address,undefined",
         "-fno-sanitize-recover=undefined", "-DMM_COST_HOST", '-DMM_TARGET_NAME="fuzz"',
         '-DMM_CORE_NAME="host"', "-D_POSIX_C_SOURCE=200809L"]
# Libraries a target links but does not study: the compute kernels (fixed-size loops) and the
# protocol parser (the app target's framing, fuzzed on its own by `proto`). They keep ASan,
# UBSan and edge coverage but not libFuzzer's comparison tracing, which there only traces
# loop bounds and CRC bits: in the app target it took ~75 % of the time (perf), and without
# it the target runs ~3x faster (~1,800 executions/s instead of ~350 with -O1 as well).
QUIET = ("mm_nn", "mm_frontend", "mm_proto")


def root() -> Path:
    return build_dir() / "fuzz"


def clang() -> str:
    cc = shutil.which("clang")
    if cc is None:
        raise MicromelError("clang not found: fuzzing needs clang with libFuzzer; "
                            + missing_tool_hint("clang (libFuzzer)"))
    return cc


def gen_dirs() -> dict[str, Path]:
    """The generated headers: of the fuzz model, and of the firmware without a model."""
    out = {"model": root() / "gen-model", "default": root() / "gen-default"}
    codegen.export(ModelDir.open(MODEL), out["model"])
    codegen.write_build_headers(out["default"])
    return out


def sources(parts) -> list[Path]:
    files = []
    for part in parts:
        folder = FIRMWARE_DIR / "src" if part == "src" else FIRMWARE_DIR / "lib" / part
        files += sorted(p for p in folder.glob("*.c") if p.name != "mm_cost_selftest.c")
    return files


def build(target: str, gens: dict[str, Path]) -> Path:
    parts, headers, _ = TARGETS[target]
    out = root() / "bin" / target
    out.parent.mkdir(parents=True, exist_ok=True)
    includes = [gens[headers], FIRMWARE_DIR / "include"] + sorted(
        p for p in (FIRMWARE_DIR / "lib").iterdir() if p.is_dir())
    cflags = [*FLAGS, *(f"-I{p.resolve()}" for p in includes)]   # the quiet part compiles in objs
    # a library the target studies (its only one, as mm_proto in `proto`) keeps every tracer
    quiet = [part for part in parts if part in QUIET and len(parts) > 1]
    objs = root() / "obj" / target
    shutil.rmtree(objs, ignore_errors=True)
    objs.mkdir(parents=True)
    if quiet:
        compile_quiet = [clang(), *cflags, "-fno-sanitize-coverage=trace-cmp", "-c",
                         *(str(f.resolve()) for f in sources(quiet))]
        check_build(target, subprocess.run(compile_quiet, capture_output=True, text=True,
                                           cwd=objs))
    loud = [part for part in parts if part not in quiet]
    cmd = [clang(), *cflags, str(FUZZ_DIR / f"fuzz_{target}.c"), *map(str, sources(loud)),
           *map(str, sorted(objs.glob("*.o"))), "-lm", "-o", str(out)]
    check_build(target, subprocess.run(cmd, capture_output=True, text=True))
    return out


def check_build(target: str, r: subprocess.CompletedProcess) -> None:
    if r.returncode:
        raise MicromelError(f"building fuzz target {target} failed:\n{r.stderr[-3000:]}")


# --- seed corpora from real traffic ----------------------------------------------------------
class RecordingLink:
    """Wraps a pyserial-like link and records every byte the host writes."""

    def __init__(self, link):
        self.link, self.sent = link, bytearray()

    def write(self, data: bytes) -> int:
        self.sent += data
        return self.link.write(data)

    def __getattr__(self, name):
        return getattr(self.link, name)


def recordings(n: int = 6) -> list[np.ndarray]:
    """Real drum recordings (Debian hydrogen-data), int16 at 16 kHz, at most 0.4 s each."""
    data = debpkg.fetch("hydrogen-data", quiet=True) / "usr/share/hydrogen/data"
    files = sorted(p for p in data.rglob("*") if p.suffix.lower() in (".wav", ".flac"))
    return [load_audio(f, 16000)[:6400] for f in files[:: max(1, len(files) // n)][:n]]


def traffic(gen: Path, clips: list[np.ndarray]) -> list[bytes]:
    """Host-to-device byte streams of real sessions with the host build of the fuzz firmware."""
    model = ModelDir.open(MODEL)
    sessions = []
    for i, pcm in enumerate(clips):
        dev = host_device(gen, MODEL)
        rec = dev.link = RecordingLink(dev.link)
        dev.payload_budget = 1024          # small frames: several per seed
        dev.info()
        if i % 3 == 0:
            audio_link.classify_audio(dev, pcm, model.n_mels, model.n_classes)
        elif i % 3 == 1:
            st = audio_link.Stream(dev, model.n_mels, model.n_classes, want_features=True)
            st.send(pcm)
            st.finish()
        else:
            dev.request(protocol.MSG["FEATURES"], pcm[:1500].tobytes())
            dev.stats()
        sessions.append(bytes(rec.sent))
    return sessions


def app_records(stream: bytes) -> bytes:
    """A recorded byte stream as fuzz_app.c records: [op][seq][u16 len][payload] per frame."""
    out = bytearray()
    for f in protocol.Parser().feed(stream):
        op = APP_TYPES.index(f.type) if f.type in APP_TYPES else 9
        out += bytes([op, f.seq]) + len(f.payload).to_bytes(2, "little") + f.payload
    return bytes(out)


def clip_records(pcm: np.ndarray, model: ModelDir) -> bytes:
    """fuzz_clip.c records of a real recording, in the order the audio messages push them."""
    fe = StreamingFrontend(model.frontend)
    hop, w = model.frontend.hop_length, model.window
    threshold = rules.gate_threshold(w, model.framing)
    blocks_per_window = rules.window_samples(w, model.framing) // hop
    energies, out, frames = [], bytearray(), 0
    for a in range(0, len(pcm) - hop + 1, hop):
        block = pcm[a:a + hop].astype("<i2")
        out += b"\x00" + block.tobytes()
        energies.append(int(np.dot(block.astype(np.int64), block.astype(np.int64))))
        for frame in fe.process(block):
            out += b"\x01" + frame.astype(np.int8).tobytes()
            frames += 1
            first = frames - w.frames
            if first >= 0 and first % w.hop_frames == 0 \
                    and sum(energies[-blocks_per_window:]) >= threshold:
                out += bytes(range(len(model.labels)))
    return bytes(out)


def segment_records(model: ModelDir, windows: int = 120, seed: int = 0) -> bytes:
    """fuzz_segment.c input: the model's segmentation parameters, then window results."""
    p = model.segment_params()
    head = bytes([p.n_classes]) + p.event_mask.to_bytes(4, "little") + bytes(
        [p.median, p.enter_q & 0xFF, p.exit_q & 0xFF]) + p.min_windows.to_bytes(2, "little") \
        + p.max_gap.to_bytes(2, "little") + min(p.max_windows, 0xFFFF).to_bytes(2, "little") \
        + min(p.gate_threshold, 0xFFFFFFFF).to_bytes(4, "little") + b"\x00" \
        + p.calib_windows.to_bytes(2, "little") + p.margin_q8.to_bytes(4, "little") \
        + bytes([p.mean, min(p.suppress, 0xFF)])
    rng = np.random.default_rng(seed)
    body = bytearray()
    for k in range(windows):
        on = (k // 17) % 2
        scores = rng.integers(-128, 128, 32).astype(np.int8)
        scores[0] = 100 if on else -100
        body += bytes([0 if on else 1]) + (10 ** 9).to_bytes(4, "little") + scores.tobytes()
    return head + bytes(body)


def write_seeds(gens: dict[str, Path]) -> dict[str, Path]:
    """Seed corpora of every target from real traffic and real audio."""
    model = ModelDir.open(MODEL)
    clips = recordings()
    streams = traffic(gens["model"], clips)
    rng = np.random.default_rng(17)
    lossy = Impairment(loss=1e-3, flip=1e-3, dup=1e-3)
    seeds: dict[str, dict[str, bytes]] = {t: {} for t in TARGETS}
    for i, s in enumerate(streams):
        counts = {"dropped": 0, "flipped": 0, "duplicated": 0}
        seeds["proto"][f"session{i}"] = b"\x00" + s[:2000]
        seeds["proto"][f"session{i}_lossy"] = b"\x40" + lossy.apply(s[:2000], rng, counts)
        seeds["app"][f"session{i}"] = app_records(s)[:8000]
        seeds["clip"][f"recording{i}"] = clip_records(clips[i][:3200], model)[:4000]
    for i in range(3):
        seeds["segment"][f"windows{i}"] = segment_records(model, seed=i)[:2000]
    dirs = {}
    for target, files in seeds.items():
        d = root() / "seeds" / target
        d.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            write_bytes_atomic(d / name, data)
        dirs[target] = d
    return dirs


# --- running -----------------------------------------------------------------------------------
STAT = re.compile(r"stat::(\w+):\s+(\d+)")
TOTAL = re.compile(r"Loaded \d+ modules\s+\((\d+) inline 8-bit counters\)")
COV = re.compile(r"#(\d+)\s+(?:DONE|INITED|pulse|NEW|REDUCE)\s+cov: (\d+) ft: (\d+)")


def jobs_dir(target: str) -> Path:
    return root() / "jobs" / target


def run(target: str, binary: Path, seeds: Path, seconds: int, runs: int = 0,
        max_len: int = 0, jobs: int = 1) -> dict:
    """One libFuzzer run: `seconds`, or until `runs` executions if given (per job); inputs up
    to max_len bytes (default the target's). jobs > 1: that many fuzzer processes at once
    on the one corpus (libFuzzer -jobs, each reloading what the others found), executions
    summed. Returns executions, coverage and the outcome."""
    corpus = root() / "corpus" / target
    artifacts = root() / "artifacts"
    corpus.mkdir(parents=True, exist_ok=True)
    artifacts.mkdir(parents=True, exist_ok=True)
    max_len = max_len or TARGETS[target][2]
    # libFuzzer's jobs write fuzz-N.log in the working directory: one per target, so that
    # runs of different targets at once do not read each other's logs
    cwd = jobs_dir(target) if jobs > 1 else root()
    cwd.mkdir(parents=True, exist_ok=True)
    logs = [cwd / f"fuzz-{i}.log" for i in range(jobs)] if jobs > 1 else []
    for log in logs:
        log.unlink(missing_ok=True)
    cmd = [str(binary), f"-max_total_time={seconds}", "-print_final_stats=1",
           *([f"-runs={runs}"] if runs else []),
           *([f"-jobs={jobs}", f"-workers={jobs}"] if jobs > 1 else []),
           f"-max_len={max_len}", "-timeout=25", "-rss_limit_mb=2048",
           f"-artifact_prefix={artifacts}/{target}-", str(corpus), str(seeds)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 300, cwd=cwd)
    # with -jobs, each job's output is in its fuzz-N.log, the parent's stderr says little
    outputs = [log.read_text(errors="replace") for log in logs if log.exists()] or [r.stderr]
    stats = [{k: int(v) for k, v in STAT.findall(o)} for o in outputs]
    cov = [c[-1] for c in (COV.findall(o) for o in outputs) if c]
    totals = [int(t) for o in outputs for t in TOTAL.findall(o)]
    crashes = sorted(p.name for p in artifacts.glob(f"{target}-*"))
    failed = r.returncode or any(not s for s in stats)
    return {"target": target, "seconds": seconds, "max_len": max_len, "jobs": jobs,
            "executions": sum(s.get("number_of_executed_units", 0) for s in stats),
            "exec_per_s": sum(s.get("average_exec_per_sec", 0) for s in stats),
            "edges": max((int(c[1]) for c in cov), default=0),
            "edges_instrumented": totals[0] if totals else 0,
            "features": max((int(c[2]) for c in cov), default=0),
            "corpus": len(list(corpus.iterdir())),
            "peak_rss_mb": max(s.get("peak_rss_mb", 0) for s in stats),
            "findings": crashes, "returncode": r.returncode or int(failed),
            "log_tail": "".join(o[-2000:] for o in outputs) if failed else ""}


def fuzz(seconds: int, targets=None, say=print, runs: int = 0, max_len: int = 0,
         jobs: int = 1) -> list[dict]:
    targets = list(targets or TARGETS)
    unknown = sorted(set(targets) - set(TARGETS))
    if unknown:
        raise MicromelError(f"fuzz targets {unknown}: choose among {', '.join(TARGETS)}")
    gens = gen_dirs()
    seeds = write_seeds(gens)
    results = []
    for t in targets:                  # one job at a time: the machine is shared
        binary = build(t, gens)
        say(f"fuzzing {t} for {seconds} s ...")
        res = run(t, binary, seeds[t], seconds, runs, max_len, jobs)
        results.append(res)
        say(f"  {t:<8} {res['executions']:>12,} executions  {res['exec_per_s']:>7,}/s  "
            f"coverage {res['edges']} of {res['edges_instrumented']} edges, {res['features']} "
            "features  "
            f"findings {len(res['findings'])}")
    return results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="scripts/fuzz.sh", description=__doc__.split("\n\n")[0])
    ap.add_argument("seconds", type=int, help="seconds per target")
    ap.add_argument("targets", nargs="*", help=f"targets (default all: {', '.join(TARGETS)})")
    ap.add_argument("--runs", type=int, default=0,
                    help="stop a target after this many executions (within SECONDS)")
    ap.add_argument("--max-len", type=int, default=0,
                    help="largest input in bytes (default per target: " +
                         ", ".join(f"{t} {v[2]}" for t, v in TARGETS.items()) + ")")
    ap.add_argument("--jobs", type=int, default=1,
                    help="fuzzer processes per target at once, on one corpus (default 1)")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--force", action="store_true", help="replace an existing --json file")
    args = ap.parse_args(argv)
    try:
        if args.jobs < 1:
            raise MicromelError(f"--jobs {args.jobs}: give 1 or more fuzzer processes")
        if args.json:       # before the run, which takes SECONDS per target
            cliargs.new_file(args.json, "--json", args.force)
        results = fuzz(args.seconds, args.targets, runs=args.runs, max_len=args.max_len,
                       jobs=args.jobs)
    except MicromelError as e:
        print(f"fuzz: error: {e}", file=sys.stderr)
        return 2
    if args.json:
        write_text_atomic(Path(args.json), json.dumps(results, indent=1) + "\n")
    bad = [r for r in results if r["findings"] or r["returncode"]]
    for r in bad:
        print(f"fuzz: {r['target']}: findings {r['findings']} (exit {r['returncode']})\n"
              f"{r['log_tail']}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
