"""Full-integer int8 conversion (TFLiteConverter) and the int8 interpreter used everywhere.

The model's float input IS the int8 code the front end emits. The representative set holds
real training windows plus one window that contains both -128 and 127, so the converter's
calibrated input range is exactly [-128, 127]: scale (127 - (-128)) / 255 = 1.0 and zero
point -128 - (-128) / 1.0 = 0. `to_int8` checks this exactly (and int8 in/out, and that
only engine-supported ops were used) and refuses the model otherwise.

Inference uses ai_edge_litert's Interpreter with the BUILTIN_REF op resolver: reference
kernels, no XNNPACK delegate (whose rounding differs by one step now and then), so the
numbers agree with the tflite_micro interpreter and the device.
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import warnings

import numpy as np

from ..errors import MicromelError
from .models import SUPPORTED_OPS


def to_int8(model, representative: np.ndarray, n_calib: int = 300, seed: int = 0) -> bytes:
    """Convert a Keras model to a full-integer int8 TFLite flatbuffer and verify it."""
    import keras

    rng = np.random.default_rng(seed)
    rep = np.asarray(representative, dtype=np.float32)
    take = rep[rng.permutation(len(rep))[:n_calib]] if len(rep) > n_calib else rep
    extreme = np.zeros_like(take[:1])
    extreme.reshape(-1)[0::2] = -128.0
    extreme.reshape(-1)[1::2] = 127.0
    calib = np.concatenate([extreme, take])

    # a batch-1 twin of the model: static shapes, so Flatten is a single RESHAPE
    fixed = keras.models.clone_model(model, input_tensors=keras.Input(
        shape=model.input_shape[1:], batch_size=1, name="features"))
    fixed.set_weights(model.get_weights())
    flat = convert_int8(fixed, calib)
    check_int8_contract(flat)
    return flat


def convert_int8(model, calib: np.ndarray) -> bytes:
    """TFLiteConverter full-integer conversion (int8 input, output and ops), calibrated on
    the windows calib[i:i+1]. The converter's own chatter (its temporary SavedModel, a
    warning about input statistics the calibration makes unneeded) is kept quiet."""

    import tensorflow as tf

    calib = np.asarray(calib, dtype=np.float32)

    def gen():
        for i in range(len(calib)):
            yield [calib[i:i + 1]]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = gen
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
            warnings.catch_warnings(), native_stderr_held():
        warnings.simplefilter("ignore", UserWarning)
        return conv.convert()


@contextlib.contextmanager
def native_stderr_held():
    """The converter's C++ (absl) logs straight to file descriptor 2, past Python's redirect
    ("fully_quantize: 0, inference_type: 6, ..." even with `train --quiet`): held in a
    temporary file while it runs, and shown only if the conversion fails."""
    sys.stderr.flush()
    with tempfile.TemporaryFile() as held:
        saved = os.dup(2)
        try:
            os.dup2(held.fileno(), 2)
            yield
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            # to the descriptor: sys.stderr may be a caller's redirect (convert_int8's)
            os.write(2, held.read()[-4000:])
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def interpreter(flat: bytes):
    """LiteRT interpreter with reference kernels (no XNNPACK)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_content=flat, experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                     num_threads=1)
    it.allocate_tensors()
    return it


def op_names(flat: bytes) -> list[str]:
    it = interpreter(flat)
    return [op["op_name"] for op in it._get_ops_details()]


def check_int8_contract(flat: bytes) -> None:
    """int8 input with scale exactly 1.0 and zero point 0, int8 output, supported ops only."""
    it = interpreter(flat)
    inp = it.get_input_details()
    out = it.get_output_details()
    if len(inp) != 1 or len(out) != 1:
        raise MicromelError("quantized model must have one input and one output")
    i, o = inp[0], out[0]
    if i["dtype"] != np.int8 or o["dtype"] != np.int8:
        raise MicromelError(f"quantized model input/output are {i['dtype'].__name__}/"
                            f"{o['dtype'].__name__}, expected int8/int8")
    scale, zp = i["quantization"]
    if scale != 1.0 or zp != 0:
        raise MicromelError(f"quantized model input scale {scale!r} zero point {zp}: must be exactly "
                            "1.0 and 0 (the representative set must contain -128 and 127)")
    ops = set(op_names(flat))
    bad = sorted(ops - SUPPORTED_OPS)
    if bad:
        raise MicromelError(f"quantized model uses ops the engine lacks: {', '.join(bad)}")


def run_tflite(flat_or_interp, windows: np.ndarray) -> np.ndarray:
    """Outputs (n, classes) of windows (n, frames, mels) through a .tflite model, one window
    per invoke, in the model's own input and output types: int8 scores of the int8 model,
    probabilities of the float one."""
    it = interpreter(flat_or_interp) if isinstance(flat_or_interp, (bytes, bytearray)) else flat_or_interp
    i = it.get_input_details()[0]
    o = it.get_output_details()[0]
    x = np.asarray(windows).astype(i["dtype"]).reshape((-1,) + tuple(i["shape"][1:]))
    out = np.zeros((len(x), o["shape"][-1]), dtype=o["dtype"])
    for k in range(len(x)):
        it.set_tensor(i["index"], x[k:k + 1])
        it.invoke()
        out[k] = it.get_tensor(o["index"])[0]
    return out


def run_int8(flat_or_interp, windows: np.ndarray) -> np.ndarray:
    """int8 scores (n, classes) of int8 windows (n, frames, mels) through the int8 model."""
    windows = np.asarray(windows, dtype=np.int8)
    return run_tflite(flat_or_interp, windows)


def model_stats(flat: bytes) -> dict:
    """MACs, weight bytes, parameters and the largest activation pair of an int8 model."""
    it = interpreter(flat)
    tensors = {t["index"]: t for t in it.get_tensor_details()}
    macs = 0
    weight_bytes = 0
    params = 0
    peak_act = 0
    const_ids = set()
    per_op = []
    for op in it._get_ops_details():
        name = op["op_name"]
        ins = [tensors[k] for k in op["inputs"] if k >= 0]
        outs = [tensors[k] for k in op["outputs"]]
        o = outs[0]["shape"]
        m = 0
        if name == "CONV_2D":
            w = ins[1]["shape"]            # [out, kh, kw, in]
            m = int(np.prod(o[1:])) * int(w[1] * w[2] * w[3])
        elif name == "DEPTHWISE_CONV_2D":
            w = ins[1]["shape"]            # [1, kh, kw, out]
            m = int(np.prod(o[1:])) * int(w[1] * w[2])
        elif name == "FULLY_CONNECTED":
            w = ins[1]["shape"]            # [out, in]
            m = int(o[0]) * int(w[0] * w[1])
        macs += m
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            for t in ins[1:]:
                if t["index"] not in const_ids:
                    const_ids.add(t["index"])
                    n = int(np.prod(t["shape"]))
                    params += n
                    weight_bytes += n * np.dtype(t["dtype"]).itemsize
        act = int(np.prod(ins[0]["shape"])) + sum(int(np.prod(t["shape"])) for t in outs)
        peak_act = max(peak_act, act)
        per_op.append({"op": name, "macs": m, "out_shape": [int(v) for v in o]})
    return {"macs": macs, "weight_bytes": weight_bytes, "params": params,
            "peak_activation_bytes": peak_act, "flatbuffer_bytes": len(flat), "ops": per_op}
