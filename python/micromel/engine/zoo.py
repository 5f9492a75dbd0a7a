"""Small int8 models for the engine's tests and benchmarks: random
architectures that cover every supported op and option, and CNNs shaped like
the ones TFLite Micro was measured on (docs/engine.md). Each is converted by
TFLiteConverter under the contract (int8 input with scale 1.0 and zero point
0: the representative set holds the int8 codes -128..127 as floats) and
written as a model folder (model.tflite + config.json)."""
from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
from pathlib import Path

import numpy as np

from ..clip.rules import WindowConfig
from ..fileio import locked
from ..frontend.config import FrontendConfig
from ..modeldir import ModelDir
from ..paths import build_dir
from ..train.quantize import convert_int8
from .tflite import model_bytes, model_object

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _keras():
    import keras
    return keras


def convert(model, n_rep: int = 64, seed: int = 0) -> bytes:
    """Full-integer int8 conversion with an int8 input of scale 1.0, zero point 0: random
    int8 windows (every fourth smoothed, feature-like), each holding -128 and 127."""
    shape = tuple(model.inputs[0].shape[1:])
    rng = np.random.default_rng(seed)
    calib = []
    for i in range(n_rep):
        x = rng.integers(-128, 128, size=(1,) + shape).astype(np.float32)
        if i % 4 == 1:   # smoother, feature-like inputs too
            x = np.clip(np.cumsum(x, axis=1) / 8, -128, 127).round().astype(np.float32)
        x.reshape(-1)[0], x.reshape(-1)[-1] = -128.0, 127.0
        calib.append(x)
    return convert_int8(model, np.concatenate(calib))


def write_model_dir(path: Path, tflite_bytes: bytes, input_shape: tuple, n_classes: int,
                    name: str) -> Path:
    """A model folder for an int8 model made here (no training record): its window and front
    end shaped like the model's input."""
    frames, n_mels = int(input_shape[0]), int(input_shape[1])
    model = ModelDir(Path(path), name, tuple(f"class{i}" for i in range(n_classes)),
                     FrontendConfig(n_mels=n_mels, window_frames=frames),
                     WindowConfig(frames, max(1, frames // 2), -60.0))
    model.save().write_output("model.tflite", tflite_bytes)
    return Path(path)


# --- the CNN shapes of the TFLite Micro measurements ---------------------------
def dscnn(input_shape=(49, 10, 1), n_classes: int = 12, seed: int = 0):
    """MLPerf Tiny keyword-spotting DS-CNN: conv 10x4 s2 to 64, 4 x [dw 3x3 +
    1x1 conv 64], average pool, dense."""
    keras = _keras()
    L = keras.layers
    keras.utils.set_random_seed(seed)
    i = keras.Input(input_shape, batch_size=1)
    x = L.Conv2D(64, (10, 4), strides=2, padding="same")(i)
    x = L.BatchNormalization()(x)
    x = L.ReLU()(x)
    for _ in range(4):
        x = L.DepthwiseConv2D(3, padding="same")(x)
        x = L.BatchNormalization()(x)
        x = L.ReLU()(x)
        x = L.Conv2D(64, 1)(x)
        x = L.BatchNormalization()(x)
        x = L.ReLU()(x)
    x = L.AveragePooling2D(pool_size=(x.shape[1], x.shape[2]))(x)
    x = L.Flatten()(x)
    x = L.Dense(n_classes, activation="softmax")(x)
    return keras.Model(i, x)


def drums_cnn(input_shape=(40, 62, 1), n_classes: int = 5, seed: int = 0):
    """The drums-sized CNN of the measurements: conv 3x3 s2 16; dw 3x3; 1x1
    32; dw 3x3 s2; 1x1 64; global average pool (MEAN); dense 5."""
    keras = _keras()
    L = keras.layers
    keras.utils.set_random_seed(seed)
    i = keras.Input(input_shape, batch_size=1)
    x = L.Conv2D(16, 3, strides=2, padding="same")(i)
    x = L.BatchNormalization()(x)
    x = L.ReLU()(x)
    for stride, ch in ((1, 32), (2, 64)):
        x = L.DepthwiseConv2D(3, strides=stride, padding="same")(x)
        x = L.BatchNormalization()(x)
        x = L.ReLU()(x)
        x = L.Conv2D(ch, 1)(x)
        x = L.BatchNormalization()(x)
        x = L.ReLU()(x)
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dense(n_classes, activation="softmax")(x)
    return keras.Model(i, x)


# --- random architectures -------------------------------------------------------
ACTS = (None, "relu", "relu6")


def _act(L, x, act):
    if act == "relu":
        return L.ReLU()(x)
    if act == "relu6":
        return L.ReLU(max_value=6.0)(x)
    return x


def random_arch(seed: int, input_shape: tuple | None = None):
    """A random small CNN touching every op and option of the engine: convs
    of several kernel sizes (1x1 too), strides 1/2, SAME/VALID, fused
    NONE/RELU/RELU6, BatchNorm folding, depthwise convs, both poolings with
    both paddings, a residual ADD, MEAN (keepdims or not) or AVERAGE_POOL +
    Flatten (RESHAPE), dense layers (with and without bias), softmax.
    Channel counts include odd ones and ones that are not multiples of 4."""
    keras = _keras()
    L = keras.layers
    rng = np.random.default_rng(seed)
    keras.utils.set_random_seed(seed)
    if input_shape is None:
        input_shape = (int(rng.integers(10, 25)), int(rng.integers(8, 21)), 1)
    inp = keras.Input(input_shape, batch_size=1)
    x = inp

    def ch():
        return int(rng.choice([3, 4, 5, 6, 8, 12, 16]))

    def conv(x, k=None, s=None):
        k = k or (int(rng.choice([1, 2, 3, 5])), int(rng.choice([1, 3, 4])))
        s = s or int(rng.choice([1, 2]))
        pad = str(rng.choice(["same", "valid"]))
        if pad == "valid" and (x.shape[1] < k[0] or x.shape[2] < k[1]):
            pad = "same"
        x = L.Conv2D(ch(), k, strides=s, padding=pad, use_bias=bool(rng.integers(2)))(x)
        if rng.integers(2):
            x = L.BatchNormalization()(x)
        return _act(L, x, ACTS[int(rng.integers(3))])

    def dw(x):
        k = int(rng.choice([3, 5])) if min(x.shape[1], x.shape[2]) >= 5 else 3
        s = int(rng.choice([1, 2]))
        pad = str(rng.choice(["same", "valid"]))
        if pad == "valid" and min(x.shape[1], x.shape[2]) < k:
            pad = "same"
        x = L.DepthwiseConv2D(k, strides=s, padding=pad)(x)
        if rng.integers(2):
            x = L.BatchNormalization()(x)
        return _act(L, x, ACTS[int(rng.integers(3))])

    x = conv(x, k=(3, 3))
    for _ in range(int(rng.integers(2, 5))):
        if min(x.shape[1], x.shape[2]) < 3:
            break
        r = rng.random()
        if r < 0.3:
            x = dw(x)
        elif r < 0.55:
            x = conv(x)
        elif r < 0.7:
            pool = L.MaxPooling2D if rng.integers(2) else L.AveragePooling2D
            p = int(rng.choice([2, 3]))
            x = pool(p, strides=int(rng.choice([1, 2])),
                     padding=str(rng.choice(["same", "valid"])))(x)
        elif r < 0.85:
            y = L.Conv2D(x.shape[3], int(rng.choice([1, 3])), padding="same")(x)
            y = _act(L, y, ACTS[int(rng.integers(3))])
            x = L.Add()([x, y])
            if rng.integers(2):
                x = L.ReLU()(x)
        else:
            x = L.Conv2D(ch(), 1)(x)
            x = _act(L, x, ACTS[int(rng.integers(3))])
        if min(x.shape[1], x.shape[2]) < 1:
            break
    head = rng.integers(3)
    if head == 0:
        x = L.GlobalAveragePooling2D(keepdims=bool(rng.integers(2)))(x)
        x = L.Flatten()(x)
    elif head == 1:
        x = L.AveragePooling2D(pool_size=(x.shape[1], x.shape[2]))(x)
        x = L.Flatten()(x)
    else:
        x = L.Flatten()(x)
    if rng.integers(2):
        x = L.Dense(int(rng.integers(4, 17)), activation=str(rng.choice(["relu", "linear"])),
                    use_bias=bool(rng.integers(2)))(x)
    x = L.Dense(int(rng.integers(2, 9)), activation="softmax")(x)
    return keras.Model(inp, x)


def cached(kind: str, seed: int, root: Path | None = None) -> Path:
    """A model folder from make(), converted once per machine: the folder's
    name carries a hash of this file and of TensorFlow's version."""
    tfv = importlib.metadata.version("tensorflow-cpu")
    key = hashlib.sha256(Path(__file__).read_bytes() + tfv.encode()).hexdigest()[:10]
    path = Path(root or build_dir() / "test-models") / f"{kind}{seed}-{key}"
    # one maker at a time (two test workers ask for the same models at once)
    with locked(path.parent / f".{kind}{seed}.lock"):
        if not (path / "config.json").exists():
            for old in path.parent.glob(f"{kind}{seed}-*"):   # other versions of this file
                if not old.name.startswith(path.name):
                    shutil.rmtree(old, ignore_errors=True)
            tmp = path.with_name(path.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)           # a maker killed midway
            make(kind, tmp, seed=seed)
            if path.exists():
                shutil.rmtree(path)
            tmp.rename(path)
    return path


def randomize(model, seed: int) -> None:
    """Random weights with useful spreads: nonzero biases, BatchNorm
    statistics far from identity (folded into varied per-channel scales)."""
    rng = np.random.default_rng(seed + 1000)
    for layer in model.layers:
        ws = layer.get_weights()
        if not ws:
            continue
        name = type(layer).__name__
        new = []
        for i, w in enumerate(ws):
            if name == "BatchNormalization":   # gamma, beta, mean, variance
                new.append([rng.uniform(0.5, 1.5, w.shape), rng.normal(0, 0.3, w.shape),
                            rng.normal(0, 0.3, w.shape), rng.uniform(0.3, 2.0, w.shape)][i])
            elif w.ndim == 1:                  # biases
                new.append(rng.normal(0, 0.3, w.shape))
            else:                              # kernels: fan-in scaled
                fan_in = int(np.prod(w.shape[:-1])) if name != "DepthwiseConv2D" else \
                    int(np.prod(w.shape[:2]))
                new.append(rng.normal(0, 1.5 / np.sqrt(fan_in), w.shape))
        layer.set_weights([n.astype(np.float32) for n in new])


def kitchen_sink(variant: int, seed: int = 0):
    """Fixed architectures that between them use every op and option the
    engine supports (see tests/test_engine_models.py for the checklist)."""
    keras = _keras()
    L = keras.layers
    keras.utils.set_random_seed(seed)
    if variant == 0:
        i = keras.Input((20, 16, 1), batch_size=1)
        x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu6")(i)
        x = L.DepthwiseConv2D(3, padding="same", activation="relu")(x)      # 3x3, both borders
        x = L.Conv2D(12, 1)(x)                                               # 1x1, even out
        x = L.BatchNormalization()(x)
        x = L.DepthwiseConv2D(5, padding="valid")(x)                          # 5x5 valid
        x = L.MaxPooling2D(2, strides=1, padding="same")(x)
        x = L.AveragePooling2D(3, strides=1, padding="same")(x)              # counts exclude padding
        y = L.Conv2D(12, 3, padding="same", activation="relu")(x)
        x = L.ReLU()(L.Add()([x, y]))                                        # ADD + fused RELU
        x = L.DepthwiseConv2D(3, strides=2, padding="same", activation="relu6")(x)
        x = L.GlobalAveragePooling2D()(x)                                     # MEAN
        x = L.Dense(10, activation="relu")(x)
        x = L.Dense(5, activation="softmax")(x)
    elif variant == 1:
        i = keras.Input((33, 21, 1), batch_size=1)
        x = L.Conv2D(5, (5, 3), padding="valid")(i)                          # odd out, K % 4 == 3
        x = L.DepthwiseConv2D(3, strides=2, padding="valid", activation="relu")(x)  # c % 4 != 0
        x = L.Conv2D(7, 1, strides=2)(x)                                      # strided 1x1, odd
        x = L.MaxPooling2D(3, strides=1, padding="valid")(x)
        x = L.AveragePooling2D(2, strides=2, padding="valid")(x)
        x = L.GlobalAveragePooling2D(keepdims=True)(x)                        # MEAN keep_dims
        x = L.Flatten()(x)
        x = L.Dense(3, activation="softmax")(x)
    else:
        i = keras.Input((12, 10, 1), batch_size=1)
        x = L.Conv2D(6, (2, 4), padding="same", activation="relu")(i)
        x = L.Conv2D(8, 3, strides=(2, 1), padding="same")(x)                 # strides differ
        x = L.DepthwiseConv2D(3, padding="valid", activation="relu6")(x)      # c % 4 == 0
        a = L.Conv2D(8, 1, activation="relu")(x)
        b = L.Conv2D(8, 1)(x)
        x = L.Add()([a, b])                                                   # ADD, no activation
        x = L.AveragePooling2D(pool_size=(x.shape[1], x.shape[2]))(x)         # global pool
        x = L.Flatten()(x)
        x = L.Dense(9, use_bias=False)(x)
        x = L.Dense(4, activation="softmax")(x)
    model = keras.Model(i, x)
    randomize(model, seed + variant)
    return model


def make(kind: str, path: Path, seed: int = 0, **kw) -> Path:
    """Build, convert and write one model folder: kind in random, sink, dscnn, drums
    (sink: seed picks the kitchen-sink variant 0..2)."""
    if kind == "sink":
        model = kitchen_sink(seed)
    elif kind == "random":
        model = random_arch(seed, **kw)
        randomize(model, seed)
    elif kind == "dscnn":
        model = dscnn(seed=seed, **kw)
    elif kind == "drums":
        model = drums_cnn(seed=seed, **kw)
    else:
        raise ValueError(kind)
    data = convert(model, seed=seed)
    shape = tuple(model.inputs[0].shape[1:])
    n_classes = int(model.outputs[0].shape[-1])
    return write_model_dir(path, data, shape, n_classes, name=f"{kind}{seed}")


# The test set: the kitchen sinks and random architectures that, between
# them, cover every supported op and option (tests/test_engine_models.py
# checks the list), and a sink edited so some layers need the exact
# (int64) requantization and a clamped activation range.
TEST_SET = (("sink", 0), ("sink", 1), ("sink", 2), ("random", 3), ("random", 13))


def edit_quantization(model_dir: Path, out_dir: Path, scale_factor: dict,
                      zero_point: dict | None = None) -> Path:
    """A copy of a model folder whose listed layers' output tensors get their
    scale multiplied (scale_factor: op index -> factor) or their zero point
    replaced (zero_point: op index -> zp). TFLite Micro runs such a model as
    any other; it exercises requantization paths training rarely produces
    (multipliers of 0.5 and more, activation ranges narrower than int8)."""
    src = Path(model_dir)
    out = Path(out_dir)
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(src, out)
    m = model_object((src / "model.tflite").read_bytes())
    g = m.subgraphs[0]
    for op_index, f in scale_factor.items():
        q = g.tensors[g.operators[op_index].outputs[0]].quantization
        q.scale = [float(np.float32(s * f)) for s in q.scale]
    for op_index, zp in (zero_point or {}).items():
        q = g.tensors[g.operators[op_index].outputs[0]].quantization
        q.zeroPoint = [int(zp) for _ in q.zeroPoint]
    (out / "model.tflite").write_bytes(model_bytes(m))
    return out


def test_models(root: Path | None = None) -> list:
    """The test set's model folders (converted once per machine), plus the
    edited sink."""
    dirs = [cached(kind, seed, root) for kind, seed in TEST_SET]
    sink0 = dirs[0]
    edited = sink0.with_name(sink0.name + "-edited")
    with locked(edited.parent / ".edited.lock"):
        if not (edited / "model.tflite").exists():
            # layer 0: output scale / 16 -> multipliers above 0.5 (the exact path);
            # layer 10 (a RELU dense layer): zero point -90 -> a clamped range
            edit_quantization(sink0, edited.with_name(edited.name + ".tmp"), {0: 1 / 16.0},
                              {10: -90})
            shutil.rmtree(edited, ignore_errors=True)
            (edited.with_name(edited.name + ".tmp")).rename(edited)
    return dirs + [edited]
