"""Small int8 models for the engine's tests and benchmarks: random
architectures that cover every supported op and option, and CNNs shaped like
the ones TFLite Micro was measured on (docs/engine.md). Each is converted by
TFLiteConverter under the contract (int8 input with scale 1.0 and zero point
0: the representative set holds the int8 codes -128..127 as floats) and
written as a model folder (model.tflite + config.json)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _keras():
    import keras
    return keras


def convert(model, n_rep: int = 64, seed: int = 0) -> bytes:
    """Full-integer int8 conversion with an int8 input of scale 1.0, zero point 0."""
    import tensorflow as tf

    shape = tuple(model.inputs[0].shape[1:])
    rng = np.random.default_rng(seed)

    def rep():
        for i in range(n_rep):
            x = rng.integers(-128, 128, size=(1,) + shape).astype(np.float32)
            if i % 4 == 1:   # smoother, feature-like inputs too
                x = np.clip(np.cumsum(x, axis=1) / 8, -128, 127).round().astype(np.float32)
            x.reshape(-1)[0], x.reshape(-1)[-1] = -128.0, 127.0
            yield [x]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return conv.convert()


def write_model_dir(path: Path, tflite_bytes: bytes, input_shape: tuple, n_classes: int,
                    name: str, arch: str = "test", seed: int = 0) -> Path:
    """A model folder as training writes it (the fields export and the build use)."""
    from ..frontend import FrontendConfig

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / "model.tflite").write_bytes(tflite_bytes)
    frames, n_mels = int(input_shape[0]), int(input_shape[1])
    cfg = {
        "name": name,
        "labels": [f"class{i}" for i in range(n_classes)],
        "frontend": FrontendConfig(n_mels=n_mels, window_frames=frames).to_dict(),
        "window": {"frames": frames, "hop_frames": max(1, frames // 2), "silence_rms_dbfs": -60.0},
        "arch": arch,
        "seed": seed,
        "input_shape": [frames, n_mels, 1],
    }
    (path / "config.json").write_text(json.dumps(cfg, indent=1))
    return path


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


def make(kind: str, path: Path, seed: int = 0, **kw) -> Path:
    """Build, convert and write one model folder: kind in random, dscnn, drums."""
    if kind == "random":
        model = random_arch(seed, **kw)
    elif kind == "dscnn":
        model = dscnn(seed=seed, **kw)
    elif kind == "drums":
        model = drums_cnn(seed=seed, **kw)
    else:
        raise ValueError(kind)
    data = convert(model, seed=seed)
    shape = tuple(model.inputs[0].shape[1:])
    n_classes = int(model.outputs[0].shape[-1])
    return write_model_dir(path, data, shape, n_classes, name=f"{kind}{seed}", arch=kind, seed=seed)
