"""`micromel soak`: a long STREAM run through a device, checked against the twin as it goes
(issue 17). The audio is endless held-out material (one-minute scenes of the speech data's
test sources: words and sound effects over music, ambience and noise beds, as `micromel
dataset streams` makes them, one minute after another from a seed), made on the fly and never
held whole, so host memory stays flat however long the run.

What it shows: every window result of the device equals the twin's and the events equal
(no chunk dropped, repeated or reordered: the device refuses a STREAM chunk whose index is
not the next one, the host checks every window's index), the device's stack high-water
mark (STATS, painted at reset) stays constant, the firmware has no heap (RAM fixed at link
time), and the host's resident memory is flat. A checkpoint is taken every EVERY seconds
of audio."""
from __future__ import annotations

import contextlib
import itertools
from typing import Iterator

import numpy as np

from ..errors import MicromelError
from ..data import mixing
from ..data.scenes import SR as SAMPLE_RATE, Library, make_scene
from ..data.streams import RECIPES, bed_of
from ..link.stream import DeviceWindowResults
from .progress import bar as progress_bar
from ..segment.machine import Segmenter
from ..segment.run import host_window_results

CHUNK = 4000            # samples per chunk handed to the device and the twin
# host memory may grow this much after the first checkpoint (allocator noise) and be "flat"
FLAT_MB = 16.0
# decoded words and effects the scene library keeps (float32: 8 MB): full within the first
# minutes, so that host memory measures micromel, not a cache still filling (the library's
# default, 160 MB, would grow for most of an hour)
SOAK_CACHE_SAMPLES = 2_000_000
END_STACK_SLACK = 256   # bytes the end of a stream may go deeper than streaming (events closed)
# The largest exception frame a Cortex-M core pushes: 26 words with the FPU's state plus an
# alignment word. SysTick's wrap interrupt (the cost clock, firmware/lib/mm_cost) lands
# wherever the app happens to be at a moment the host's timing decides, and its frame goes
# on top of that point of the stack: the high-water mark of the same audio then differs
# between runs by up to one frame (measured on the M4: thread 956 bytes at every checkpoint
# with the wrap interrupt switched off; with it 956 -> 984 or 992 at varying checkpoints).
IRQ_FRAME_BYTES = 108


def soak_audio(seconds: float, seed: int = 0, library=None) -> Iterator[np.ndarray]:
    """`seconds` of int16 audio at 16 kHz in chunks of CHUNK samples, one minute at a time,
    from `library` (default: the speech data's test sources, data/scenes.Library)."""
    lib = library if library is not None else Library("test", cache_samples=SOAK_CACHE_SAMPLES)
    left = int(seconds * SAMPLE_RATE)
    for minute in itertools.count():
        if left <= 0:
            return
        scene = make_scene(lib, np.random.default_rng([seed, minute]), 60.0, RECIPES[bed_of(minute)])
        pcm = mixing.to_int16(scene.pcm)[:left]
        left -= len(pcm)
        for a in range(0, len(pcm), CHUNK):
            yield pcm[a:a + CHUNK]


def host_rss_mb() -> float:
    """Resident memory of this process now (Linux /proc)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _same(t, d) -> bool:
    (ts, tq), (ds, dq) = t[:2], d[:2]   # (scores, silent[, frame energies])
    return tq == dq and (ts is None) == (ds is None) and (ts is None or np.array_equal(ts, ds))


def soak(model, seconds: float, device: str = "emulate", seed: int = 0, every: float = 60.0,
         progress: bool = True, on_checkpoint=None) -> dict:
    """Stream `seconds` of audio through `device` and the twin in lockstep; returns the
    counts, the checkpoints and the verdicts (raises nothing on a mismatch).
    `on_checkpoint(partial)` gets the result so far at every checkpoint (an hour-long run
    that is stopped keeps what it measured): counts, checkpoints, the events of both sides so
    far and whether they agree as far as both have got."""
    p = model.segment_params()
    if model.frontend.sample_rate != SAMPLE_RATE:
        raise MicromelError(f"{model.path}: soak audio is {SAMPLE_RATE} Hz, the model takes "
                            f"{model.frontend.sample_rate} Hz")
    window_s = p.hop_frames * model.frontend.hop_length / SAMPLE_RATE
    for_device, for_twin = itertools.tee(soak_audio(seconds, seed))   # lockstep: a short lag
    twin = host_window_results(for_twin, model, p)
    seg, twin_events = Segmenter(p), []
    bar = progress_bar(round(seconds), "soak", "s audio") if progress else None
    out = {"seconds": seconds, "seed": seed, "windows": 0, "window_mismatches": 0,
           "checkpoints": []}
    with contextlib.ExitStack() as closing:
        if bar:         # closed before any error is printed (it went onto the bar's line)
            closing.callback(bar.close)
        dwr = closing.enter_context(DeviceWindowResults(device, model, p))
        dev = dwr.dev

        def checkpoint() -> None:
            s = dev.stats()
            out["checkpoints"].append({
                "audio_s": round(out["windows"] * window_s, 1), "windows": out["windows"],
                "stack_used": s.get("stack_used"), "bad_crc": s["bad_crc"],
                "replayed": s.get("replayed"), "host_rss_mb": round(host_rss_mb(), 1)})
            if on_checkpoint is not None:
                dev_ev, tw_ev = _comparable(dwr.device_events, twin_events)
                n = min(len(dev_ev), len(tw_ev))
                on_checkpoint({**out, "complete": False, "link": dict(dev.link_stats),
                               "events_device": len(dev_ev), "events_twin": len(tw_ev),
                               "events_equal_so_far": dev_ev[:n] == tw_ev[:n]})

        next_check = 0.0
        for t, d in itertools.zip_longest(twin, dwr(for_device)):
            if t is None or d is None or not _same(t, d):
                out["window_mismatches"] += 1
            if t is not None:
                twin_events += seg.push(*t)
            out["windows"] += 1
            if out["windows"] * window_s >= next_check:
                checkpoint()
                next_check += every
                if bar:
                    bar.update(min(round(out["windows"] * window_s), bar.total) - bar.n)
        twin_events += seg.finish()
        checkpoint()
        out["link"] = dict(dev.link_stats)
    dev_events, twin_events = _comparable(dwr.device_events, twin_events)
    out["events_device"], out["events_twin"] = len(dev_events), len(twin_events)
    out["events_equal"] = dev_events == twin_events
    return out | {"complete": True} | verdicts(out["checkpoints"], out)


def _comparable(device_events, twin_events) -> tuple[list, list]:
    """Both sides' events as (onset, offset, label, confidence) tuples: the device sends each
    event's onset and offset frames (segment/machine.py, step 5)."""
    return ([tuple(int(v) for v in e) for e in device_events],
            [(e.onset, e.offset, e.label, e.confidence) for e in twin_events])


def verdicts(checks: list[dict], out: dict) -> dict:
    """device == twin; the stack's high-water mark settled: over the second half of the
    streaming checkpoints it moves by at most IRQ_FRAME_BYTES (a mark only grows: each time
    a deeper path runs for the first time, or an interrupt's frame lands deeper than before;
    a leak or a recursion keeps it growing past one frame), and the end of the stream (the
    last checkpoint: the segmenter closing its events) at most END_STACK_SLACK deeper than
    the second half; host memory flat: after the first checkpoint (the library's cache
    filled by then), the highest resident size of the second half of the run at most FLAT_MB
    above the highest of the first half (each minute's scene is made and freed, so the
    size swings by tens of MB between checkpoints; a leak raises the swings' ceiling)."""
    streaming = checks[:-1] or checks
    settled = {c["stack_used"] for c in streaming[len(streaming) // 2:]}
    later = checks[1:] or checks
    rss = [c["host_rss_mb"] for c in later]
    half = max(1, len(rss) // 2)
    growth = max(rss[half:] or rss) - max(rss[:half])
    return {"device_equals_twin": out["window_mismatches"] == 0 and out["events_equal"],
            "stack_settled": max(settled) - min(settled) <= IRQ_FRAME_BYTES
            and checks[-1]["stack_used"] - max(settled) <= END_STACK_SLACK,
            "host_rss_growth_mb": round(growth, 1),
            "host_memory_flat": growth <= FLAT_MB}
