"""Running one model three ways, layer by layer:

- `Tflm`: the tflite_micro interpreter (the reference), every intermediate
  tensor kept, and the arena it reports;
- `HostModel`: the firmware's C built for the host (ctypes), per-layer CRCs
  of whole batches in one call;
- `DeviceModel`: a device over the serial protocol (CLASSIFY_FEATURES and
  MODEL_TAP), inputs sent or generated on the device by xorshift32.

Per-layer CRC-32s are compared, and a layer that differs can be fetched
whole (in slices on a device) to show where."""
from __future__ import annotations

import contextlib
import ctypes
import os
import re
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np

from ..audio import load_audio
from ..clip import rules
from ..data import debpkg
from ..errors import MicromelError
from ..frontend.twin import features
from ..link import host, protocol
from ..link.protocol import BENCH_PART, TAP
from .plan import Plan

TAP_CRC, TAP_RANDOM, TAP_SLICE = TAP["CRC"], TAP["RANDOM"], TAP["SLICE"]
BENCH_PART_MODEL = BENCH_PART["MODEL"]


# --- the inputs a device generates --------------------------------------------
def xorshift32(x: int) -> int:
    x ^= (x << 13) & 0xFFFFFFFF
    x ^= x >> 17
    x ^= (x << 5) & 0xFFFFFFFF
    return x


def random_inputs(seed: int, count: int, input_bytes: int) -> tuple[np.ndarray, int]:
    """The twin of app_model.c's random_input: count inputs from seed; returns
    (inputs (count, input_bytes) int8, the state after them)."""
    if seed == 0:
        raise ValueError("xorshift32 seed must be nonzero")
    words = (input_bytes + 3) // 4
    out = np.empty((count, words * 4), np.uint8)
    x = seed
    for i in range(count):
        vals = np.empty(words, np.uint32)
        for j in range(words):
            x = xorshift32(x)
            vals[j] = x
        out[i] = vals.view(np.uint8)
    return out[:, :input_bytes].view(np.int8), x


# --- reference: TFLite Micro ----------------------------------------------------
class Tflm:
    """The tflite_micro interpreter with every tensor preserved."""

    def __init__(self, plan: Plan):
        from tflite_micro.python.tflite_micro import runtime    # lazy: heavy native module

        self.plan = plan
        self.interp = runtime.Interpreter.from_bytes(
            plan.graph.raw, arena_size=max(1 << 20, 20 * len(plan.graph.raw)),
            intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors)
        self.in_shape = tuple(self.interp.get_input_details(0)["shape"])

    def run(self, x: np.ndarray) -> dict:
        """Every layer's output (tensor id -> int8 array) for one input."""
        self.interp.set_input(np.asarray(x, np.int8).reshape(self.in_shape), 0)
        self.interp.invoke()
        out = {}
        for lay in self.plan.layers:
            t = self.interp.GetTensor(lay.output, 0)["tensor_data"]
            out[lay.output] = np.asarray(t, np.int8).reshape(lay.out_shape)
        return out

    def crcs(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(scores, per-layer CRC-32) for one input."""
        vals = self.run(x)
        crcs = np.array([zlib.crc32(np.ascontiguousarray(vals[lay.output]).tobytes())
                         for lay in self.plan.layers], np.uint32)
        return vals[self.plan.output].reshape(-1), crcs


@contextlib.contextmanager
def _capture_fd2():
    """Collect what C code writes to stderr (file descriptor 2)."""
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        saved = os.dup(2)
        try:
            os.dup2(tmp.fileno(), 2)
            box = []
            yield box
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        box.append(tmp.read().decode(errors="replace"))


def tflm_arena_bytes(model_bytes: bytes) -> int:
    """The arena TFLite Micro allocates for a model (its RecordingMicroAllocator
    total after one inference), as the tflite_micro package reports it."""
    from tflite_micro.python.tflite_micro import runtime    # lazy: heavy native module

    interp = runtime.Interpreter.from_bytes(model_bytes, arena_size=max(1 << 20,
                                                                        20 * len(model_bytes)))
    shape = tuple(interp.get_input_details(0)["shape"])
    interp.set_input(np.zeros(shape, np.int8), 0)
    interp.invoke()
    with _capture_fd2() as box:
        interp.print_allocations()
    m = re.search(r"Arena allocation total (\d+) bytes", box[0] if box else "")
    if not m:
        raise MicromelError("tflite_micro did not report its arena allocations")
    return int(m.group(1))


# --- the host build -------------------------------------------------------------
class HostModel:
    """The generated model compiled for the host (libmicromel.so)."""

    def __init__(self, plan: Plan, gen_dir: Path, model_dir: Path):
        self.plan = plan
        self.lib = host.load(str(gen_dir), str(model_dir))
        if not self.lib.mm_host_model_present():
            raise MicromelError(f"{gen_dir}: the host build has no model")
        self.lib.mm_host_model_arena_bytes.restype = ctypes.c_uint
        self.lib.mm_host_model_n_layers.restype = ctypes.c_uint
        self.lib.mm_host_model_kernels.restype = ctypes.c_char_p
        self.lib.mm_host_model_layer.restype = ctypes.c_uint32
        self.n_layers = int(self.lib.mm_host_model_n_layers())
        if self.n_layers != len(plan.layers):
            raise MicromelError(f"{gen_dir}: the host build has {self.n_layers} layers, the model "
                                f"{len(plan.layers)}; rebuild")
        self.in_bytes = int(np.prod(plan.input_shape))
        self.out_bytes = int(np.prod(plan.output_shape))

    @property
    def arena_bytes(self) -> int:
        return int(self.lib.mm_host_model_arena_bytes())

    @property
    def kernels(self) -> str:
        return self.lib.mm_host_model_kernels().decode()

    def run(self, xs: np.ndarray, crcs: bool = True):
        """(scores (n, classes), crcs (n, layers) or None) for inputs (n, ...)."""
        xs = np.ascontiguousarray(np.asarray(xs, np.int8).reshape(-1, self.in_bytes))
        n = len(xs)
        scores = np.zeros((n, self.out_bytes), np.int8)
        c = np.zeros((n, self.n_layers), np.uint32) if crcs else None
        self.lib.mm_host_model_run(xs.ctypes.data_as(ctypes.c_void_p), ctypes.c_size_t(n),
                                   scores.ctypes.data_as(ctypes.c_void_p),
                                   c.ctypes.data_as(ctypes.c_void_p) if crcs else None)
        return scores, c

    def layer(self, x: np.ndarray, layer: int) -> np.ndarray:
        lay = self.plan.layers[layer]
        buf = np.zeros(int(np.prod(lay.out_shape)), np.int8)
        x = np.ascontiguousarray(np.asarray(x, np.int8).reshape(-1))
        self.lib.mm_host_model_layer(x.ctypes.data_as(ctypes.c_void_p), ctypes.c_int(layer),
                                     buf.ctypes.data_as(ctypes.c_void_p))
        return buf.reshape(lay.out_shape)


# --- a device -----------------------------------------------------------------------
class DeviceModel:
    """The model on a device, over the protocol."""

    def __init__(self, plan: Plan, dev):
        self.plan = plan
        self.dev = dev
        self.P = protocol
        info = dev.info(refresh=True)
        if info.get("model", "none") == "none":
            raise MicromelError(f"{dev.name}: the firmware has no model")
        self.info = info
        self.n_layers = int(info["model_layers"])
        if self.n_layers != len(plan.layers):
            raise MicromelError(f"{dev.name}: runs a model of {self.n_layers} layers, not this one "
                                f"({len(plan.layers)})")
        self.in_bytes = int(np.prod(plan.input_shape))
        self.out_bytes = int(np.prod(plan.output_shape))
        self.max_payload = int(info.get("max_payload", protocol.FIRMWARE_MAX_PAYLOAD))
        self.record = self.out_bytes + 4 * self.n_layers

    def _records(self, payload: bytes, n: int):
        raw = np.frombuffer(payload, np.uint8).reshape(n, self.record)
        scores = raw[:, :self.out_bytes].view(np.int8).copy()
        crcs = raw[:, self.out_bytes:].copy().view("<u4").reshape(n, self.n_layers)
        return scores, crcs.astype(np.uint32)

    def classify(self, xs: np.ndarray) -> np.ndarray:
        xs = np.asarray(xs, np.int8).reshape(-1, self.in_bytes)
        per = max(1, min(self.max_payload // self.in_bytes, self.max_payload // self.out_bytes))
        out = []
        for i in range(0, len(xs), per):
            chunk = xs[i:i + per]
            r = self.dev.request(self.P.MSG["CLASSIFY_FEATURES"], chunk.tobytes(), timeout=30)
            out.append(np.frombuffer(r.payload, np.int8).reshape(len(chunk), self.out_bytes))
        return np.concatenate(out)

    def run(self, xs: np.ndarray):
        """(scores, crcs) for inputs sent to the device."""
        xs = np.asarray(xs, np.int8).reshape(-1, self.in_bytes)
        per = max(1, min((self.max_payload - 1) // self.in_bytes, self.max_payload // self.record))
        scores, crcs = [], []
        for i in range(0, len(xs), per):
            chunk = xs[i:i + per]
            r = self.dev.request(self.P.MSG["MODEL_TAP"], bytes([TAP_CRC]) + chunk.tobytes(),
                                 timeout=60)
            s, c = self._records(r.payload, len(chunk))
            scores.append(s)
            crcs.append(c)
        return np.concatenate(scores), np.concatenate(crcs)

    def run_random(self, seed: int, count: int):
        """(inputs, scores, crcs) for `count` inputs generated on the device."""
        per = max(1, self.max_payload // self.record)
        xs, scores, crcs = [], [], []
        state = seed
        done = 0
        while done < count:
            n = min(per, count - done)
            r = self.dev.request(self.P.MSG["MODEL_TAP"],
                                 struct.pack("<BIH", TAP_RANDOM, state, n), timeout=120)
            s, c = self._records(r.payload, n)
            x, state = random_inputs(state, n, self.in_bytes)
            xs.append(x)
            scores.append(s)
            crcs.append(c)
            done += n
        return np.concatenate(xs), np.concatenate(scores), np.concatenate(crcs)

    def layer(self, x: np.ndarray, layer: int, chunk: int | None = None) -> np.ndarray:
        """One layer's whole output, fetched in slices of at most one frame
        (or `chunk` bytes) each: one inference per slice."""
        lay = self.plan.layers[layer]
        size = int(np.prod(lay.out_shape))
        x = np.asarray(x, np.int8).reshape(-1).tobytes()
        step = min(chunk or self.max_payload, self.max_payload)
        parts = []
        for off in range(0, size, step):
            n = min(step, size - off)
            r = self.dev.request(self.P.MSG["MODEL_TAP"],
                                 struct.pack("<BHIH", TAP_SLICE, layer, off, n) + x, timeout=30)
            parts.append(r.payload)
        return np.frombuffer(b"".join(parts), np.int8).reshape(lay.out_shape)

    def bench(self, x: np.ndarray | None = None, sliding: tuple | None = None) -> dict:
        """Raw cost counts: total and per layer, of one input, or (sliding = (k, hop)) of
        the k-th of k windows sliding by hop rows over a random stream (BENCH part 2)."""
        payload = bytes([BENCH_PART_MODEL])
        if sliding is not None:
            payload += bytes([int(sliding[0]), int(sliding[1])])
        elif x is not None:
            payload += np.asarray(x, np.int8).reshape(-1).tobytes()
        r = self.dev.request(self.P.MSG["BENCH"], payload, timeout=120)
        total, per = parse_model_bench(r.payload, self.dev.name)
        num = int(self.info.get("counter_num", 1))
        den = int(self.info.get("counter_den", 1))
        return {"unit": self.info.get("counter_unit", "?"), "total": total * num / den,
                "layers": [v * num / den for v in per]}


def parse_model_bench(p: bytes, name: str) -> tuple[int, tuple]:
    """(total, per-layer costs) of a BENCH part 2 reply; a malformed one is a one-line
    MicromelError naming the device."""
    if len(p) < 12 or p[0] != BENCH_PART_MODEL:
        raise MicromelError(f"{name}: malformed BENCH reply ({len(p)} bytes)")
    n = struct.unpack("<H", p[2:4])[0]
    if len(p) != 12 + 8 * n:
        raise MicromelError(f"{name}: BENCH reply of {len(p)} bytes for {n} layers")
    return struct.unpack("<Q", p[4:12])[0], struct.unpack(f"<{n}Q", p[12:])


def first_difference(plan: Plan, ref: dict, get_layer) -> dict | None:
    """The first layer whose output differs, with the first differing
    positions; get_layer(i) returns that layer's output from the device."""
    for lay in plan.layers:
        got = get_layer(lay.index)
        want = ref[lay.output]
        if not np.array_equal(got, want):
            idx = np.argwhere(got != want)
            return {"layer": lay.index, "op": lay.op, "name": lay.name,
                    "mismatches": int(len(idx)), "size": int(want.size),
                    "first": [{"at": [int(v) for v in i], "want": int(want[tuple(i)]),
                               "got": int(got[tuple(i)])} for i in idx[:5]]}
    return None


# --- real features ----------------------------------------------------------------
def real_windows(model, count: int, package: str = "hydrogen-data") -> np.ndarray:
    """Up to `count` int8 feature windows of real audio (a Debian package's sound files
    through a ModelDir's front end, cut into its windows): inputs for bit-exactness checks.
    Shape (n, frames, n_mels)."""
    root = debpkg.fetch(package, quiet=True)
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in (".flac", ".wav", ".ogg"))
    out = []
    for path in files:
        try:
            pcm = load_audio(path, model.frontend.sample_rate)
        except MicromelError:
            continue
        feats = features(rules.pad_clip(pcm, model.window, model.framing), model.frontend)
        for w in rules.cut_windows(feats, model.window):
            out.append(np.asarray(w, np.int8))
            if len(out) >= count:
                return np.stack(out)
    if not out:
        raise MicromelError(f"{package}: no audio file gave a window")
    return np.stack(out)
