"""From a TFLite graph to the engine's layer list, with every integer
parameter the kernels need precomputed the way TFLite Micro computes it.

The same Layer objects drive the numpy twin (`run`) and the C generator, so
the device and the twin start from identical integers."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import MicromelError
from . import ops, quant
from .tflite import Graph, Op, activation, padding

KINDS = {
    "CONV_2D": "conv", "DEPTHWISE_CONV_2D": "dwconv", "FULLY_CONNECTED": "fc",
    "AVERAGE_POOL_2D": "avgpool", "MAX_POOL_2D": "maxpool", "MEAN": "mean",
    "RESHAPE": "reshape", "SOFTMAX": "softmax", "ADD": "add",
}


@dataclass
class Layer:
    index: int
    kind: str
    op: str                  # TFLite op name
    name: str                # output tensor name
    inputs: list             # activation tensor ids
    output: int              # tensor id
    in_shape: tuple
    out_shape: tuple
    params: dict = field(default_factory=dict)
    weights: np.ndarray | None = None
    bias: np.ndarray | None = None

    @property
    def macs(self) -> int:
        p = self.params
        if self.kind == "conv":
            oh, ow, co = self.out_shape
            return oh * ow * co * int(np.prod(self.weights.shape[1:]))
        if self.kind == "dwconv":
            oh, ow, c = self.out_shape
            return oh * ow * c * self.weights.shape[1] * self.weights.shape[2]
        if self.kind == "fc":
            return p["rows"] * int(self.weights.shape[0]) * int(self.weights.shape[1])
        return 0


@dataclass
class Plan:
    graph: Graph
    layers: list
    tensors: dict            # tensor id -> shape (activations only, batch dropped)
    input: int
    output: int

    def layer_of(self, tensor_id: int) -> Layer:
        for lay in self.layers:
            if lay.output == tensor_id:
                return lay
        raise KeyError(tensor_id)

    @property
    def input_shape(self) -> tuple:
        return self.tensors[self.input]

    @property
    def output_shape(self) -> tuple:
        return self.tensors[self.output]

    @property
    def macs(self) -> int:
        return sum(lay.macs for lay in self.layers)


def _fail(op: Op, g: Graph, what: str):
    raise MicromelError(f"{g.path.name}: {op.label(g)}: {what}")


def _act_shape(op: Op, g: Graph, tid: int) -> tuple:
    t = g.tensor(tid)
    if t.dtype != "int8":
        _fail(op, g, f"tensor '{t.name}' is {t.dtype}; the engine runs int8 activations only")
    if len(t.scale) != 1:
        _fail(op, g, f"tensor '{t.name}' has per-channel activation quantization")
    shape = t.shape
    if len(shape) >= 2 and shape[0] != 1:
        _fail(op, g, f"batch size {shape[0]}; export the model with batch size 1")
    return tuple(shape[1:]) if len(shape) >= 2 else tuple(shape)


def _require_const(op: Op, g: Graph, tid: int, what: str, dtype: str) -> np.ndarray:
    if tid < 0:
        return None
    t = g.tensor(tid)
    if t.data is None:
        _fail(op, g, f"{what} '{t.name}' is not a constant")
    if t.dtype != dtype:
        _fail(op, g, f"{what} '{t.name}' is {t.dtype}, expected {dtype} (full-integer int8 model)")
    return t.data


def _check_symmetric(op, g, tid):
    t = g.tensor(tid)
    if np.any(t.zero_point != 0):
        _fail(op, g, f"weights '{t.name}' have a nonzero zero point")


def _conv_common(op, g, kind, lay: Layer):
    x = g.tensor(op.inputs[0])
    y = g.tensor(op.outputs[0])
    w = _require_const(op, g, op.inputs[1], "filter", "int8")
    _check_symmetric(op, g, op.inputs[1])
    b = _require_const(op, g, op.inputs[2], "bias", "int32") if len(op.inputs) > 2 else None
    h, wd, cin = lay.in_shape
    if len(lay.out_shape) != 3:
        _fail(op, g, f"output shape {lay.out_shape} is not H x W x C")
    o = op.options
    if o.get("dilationHFactor", 1) != 1 or o.get("dilationWFactor", 1) != 1:
        _fail(op, g, "dilation other than 1 is not supported")
    kh, kw = w.shape[1], w.shape[2]
    if kh > 16 or kw > 16:
        _fail(op, g, f"kernel {kh}x{kw} is larger than 16x16")
    sh, sw = o.get("strideH", 1), o.get("strideW", 1)
    pad = padding(op, g)
    oh, ph = ops.out_size(h, kh, sh, pad)
    ow, pw = ops.out_size(wd, kw, sw, pad)
    if (oh, ow) != lay.out_shape[:2]:
        _fail(op, g, f"output shape {lay.out_shape} differs from the computed {oh}x{ow}")
    cout = lay.out_shape[2]
    wscale = g.tensor(op.inputs[1]).scale
    if kind == "conv":
        if w.shape[3] != cin:
            _fail(op, g, f"filter has {w.shape[3]} input channels, input has {cin} "
                         "(grouped convolution is not supported)")
        if w.shape[0] != cout:
            _fail(op, g, "filter and output channel counts differ")
    else:
        if w.shape[0] != 1 or w.shape[3] != cout:
            _fail(op, g, f"depthwise filter shape {w.shape} is not 1 x KH x KW x C")
        if cout != cin:
            _fail(op, g, f"depth multiplier {cout // max(cin, 1)} is not supported (only 1)")
    if len(wscale) not in (1, cout):
        _fail(op, g, f"filter has {len(wscale)} scales for {cout} channels")
    if len(wscale) == cout and cout > 1:
        qd = g.tensor(op.inputs[1]).quantized_dimension
        if qd != (0 if kind == "conv" else 3):
            _fail(op, g, f"per-channel quantization along dimension {qd} is not supported")
    wscale = np.broadcast_to(wscale, (cout,))
    mult, shift = quant.conv_multipliers(x.s, wscale, y.s)
    act = activation(op, g)
    amin, amax = quant.activation_range(act, y.s, y.zp)
    lay.weights = w
    lay.bias = np.zeros(cout, np.int32) if b is None else b.astype(np.int32)
    lay.params = dict(stride=(sh, sw), pad=(ph, pw), padding=pad, out_shape=lay.out_shape,
                      zp_in=x.zp, zp_out=y.zp, mult=mult, shift=shift, act=act,
                      act_min=amin, act_max=amax, kernel=(kh, kw))


def lower(g: Graph) -> Plan:
    """Check every op and precompute its parameters."""
    if len(g.inputs) != 1 or len(g.outputs) != 1:
        raise MicromelError(f"{g.path.name}: {len(g.inputs)} inputs and {len(g.outputs)} outputs; "
                            "the engine supports one of each")
    tin = g.tensor(g.inputs[0])
    if tin.dtype != "int8":
        raise MicromelError(f"{g.path.name}: input '{tin.name}' is {tin.dtype}; the contract is an "
                            "int8 input (scale 1.0, zero point 0): convert with "
                            "inference_input_type=tf.int8")
    if len(tin.scale) != 1 or float(tin.scale[0]) != 1.0 or tin.zp != 0:
        raise MicromelError(f"{g.path.name}: input '{tin.name}' is quantized with scale "
                            f"{tin.scale.tolist()} and zero point {tin.zero_point.tolist()}; the "
                            "contract is scale 1.0 and zero point 0 (give the converter a "
                            "representative set containing -128 and 127)")
    tout = g.tensor(g.outputs[0])
    if tout.dtype != "int8":
        raise MicromelError(f"{g.path.name}: output '{tout.name}' is {tout.dtype}; the engine "
                            "needs an int8 output (inference_output_type=tf.int8)")
    tensors = {}
    fake = Op(-1, "INPUT", [], [g.inputs[0]])
    tensors[g.inputs[0]] = _act_shape(fake, g, g.inputs[0])
    layers = []
    for op in g.ops:
        if op.kind not in KINDS:
            _fail(op, g, f"op {op.kind} is not supported (supported: {', '.join(KINDS)})")
        kind = KINDS[op.kind]
        if not op.outputs or len(op.outputs) != 1:
            _fail(op, g, f"{len(op.outputs)} outputs")
        act_in = [op.inputs[0]] if kind != "add" else op.inputs[:2]
        for tid in act_in:
            if tid not in tensors:
                t = g.tensor(tid)
                _fail(op, g, f"input '{t.name}' is not produced by an earlier layer "
                             "(constant or unsupported activation input)")
        y = op.outputs[0]
        out_shape = _act_shape(op, g, y)
        lay = Layer(len(layers), kind, op.kind, g.tensor(y).name, list(act_in), y,
                    tensors[act_in[0]], out_shape)
        x = g.tensor(act_in[0])
        yt = g.tensor(y)
        if kind in ("conv", "dwconv"):
            if len(lay.in_shape) != 3:
                _fail(op, g, f"input shape {lay.in_shape} is not H x W x C")
            _conv_common(op, g, kind, lay)
        elif kind == "fc":
            w = _require_const(op, g, op.inputs[1], "weights", "int8")
            _check_symmetric(op, g, op.inputs[1])
            b = (_require_const(op, g, op.inputs[2], "bias", "int32")
                 if len(op.inputs) > 2 and op.inputs[2] >= 0 else None)
            if op.options.get("weightsFormat", 0) != 0:
                _fail(op, g, "shuffled weights format is not supported")
            cout, cin = w.shape
            n = int(np.prod(lay.in_shape))
            if n % cin:
                _fail(op, g, f"input of {n} values is not a multiple of {cin}")
            rows = n // cin
            if int(np.prod(out_shape)) != rows * cout:
                _fail(op, g, f"output shape {out_shape} does not hold {rows} x {cout} values")
            wscale = g.tensor(op.inputs[1]).scale
            if len(wscale) not in (1, cout):
                _fail(op, g, f"weights have {len(wscale)} scales for {cout} outputs")
            mult, shift = quant.conv_multipliers(x.s, np.broadcast_to(wscale, (cout,)), yt.s)
            act = activation(op, g)
            amin, amax = quant.activation_range(act, yt.s, yt.zp)
            lay.weights = w
            lay.bias = np.zeros(cout, np.int32) if b is None else b.astype(np.int32)
            lay.params = dict(rows=rows, zp_in=x.zp, zp_out=yt.zp, mult=mult, shift=shift,
                              act=act, act_min=amin, act_max=amax)
        elif kind in ("avgpool", "maxpool"):
            if len(lay.in_shape) != 3:
                _fail(op, g, f"input shape {lay.in_shape} is not H x W x C")
            if x.s != yt.s or x.zp != yt.zp:
                _fail(op, g, "input and output quantization differ")
            o = op.options
            kh, kw = o["filterHeight"], o["filterWidth"]
            sh, sw = o["strideH"], o["strideW"]
            pad = padding(op, g)
            oh, ph = ops.out_size(lay.in_shape[0], kh, sh, pad)
            ow, pw = ops.out_size(lay.in_shape[1], kw, sw, pad)
            if (oh, ow, lay.in_shape[2]) != out_shape:
                _fail(op, g, f"output shape {out_shape} differs from the computed {oh}x{ow}")
            act = activation(op, g)
            amin, amax = quant.activation_range(act, yt.s, yt.zp)
            lay.params = dict(filter=(kh, kw), stride=(sh, sw), pad=(ph, pw), padding=pad,
                              out_shape=out_shape, act=act, act_min=amin, act_max=amax)
        elif kind == "mean":
            axes = g.tensor(op.inputs[1]).data
            if len(lay.in_shape) != 3 or axes is None or sorted(int(a) % 4 for a in axes.ravel()) != [1, 2]:
                _fail(op, g, "MEAN is supported over H and W of an N x H x W x C tensor only")
            keep = bool(op.options.get("keepDims", False))
            h, w, c = lay.in_shape
            if int(np.prod(out_shape)) != c:
                _fail(op, g, f"output shape {out_shape} is not {c} channels")
            mult, shift = ops.mean_multiplier(x.s, yt.s, h * w)
            p = dict(zp_in=x.zp, zp_out=yt.zp, keep_dims=keep, mult=mult, shift=shift)
            lay.params = p
        elif kind == "softmax":
            if yt.zp != -128 or yt.s != np.float32(1.0 / 256):
                _fail(op, g, f"output quantization {yt.s}/{yt.zp} is not 1/256, -128")
            beta = op.options.get("beta", 1.0)
            m, ls, dmin = quant.softmax_params(beta, x.s)
            lay.params = dict(mult=m, left_shift=ls, diff_min=dmin, beta=beta,
                              depth=lay.in_shape[-1], rows=int(np.prod(lay.in_shape)) // lay.in_shape[-1])
        elif kind == "add":
            x2 = g.tensor(act_in[1])
            if tensors[act_in[1]] != lay.in_shape or out_shape != lay.in_shape:
                _fail(op, g, f"shapes {lay.in_shape} + {tensors[act_in[1]]} -> {out_shape}: "
                             "broadcasting ADD is not supported")
            ls, m1, m2, mo = quant.add_params(x.s, x2.s, yt.s)
            act = activation(op, g)
            amin, amax = quant.activation_range(act, yt.s, yt.zp)
            lay.params = dict(left_shift=ls, m1=m1[0], s1=m1[1], m2=m2[0], s2=m2[1], mo=mo[0],
                              so=mo[1], zp1=x.zp, zp2=x2.zp, zp_out=yt.zp, act=act,
                              act_min=amin, act_max=amax)
        elif kind == "reshape":
            if x.s != yt.s or x.zp != yt.zp:
                _fail(op, g, "input and output quantization differ")
            if int(np.prod(out_shape)) != int(np.prod(lay.in_shape)):
                _fail(op, g, f"reshape {lay.in_shape} -> {out_shape} changes the size")
        tensors[y] = out_shape
        layers.append(lay)
    if g.outputs[0] not in tensors:
        raise MicromelError(f"{g.path.name}: the output is not produced by any layer")
    return Plan(g, layers, tensors, g.inputs[0], g.outputs[0])


def run(plan: Plan, x: np.ndarray) -> dict:
    """The twin: run the plan on one int8 input; returns every activation
    tensor by tensor id."""
    vals = {plan.input: np.asarray(x, dtype=np.int8).reshape(plan.input_shape)}
    for lay in plan.layers:
        a = vals[lay.inputs[0]]
        k, p = lay.kind, lay.params
        if k == "conv":
            y = ops.conv2d(a, lay.weights, lay.bias, p)
        elif k == "dwconv":
            y = ops.depthwise_conv2d(a, lay.weights, lay.bias, p)
        elif k == "fc":
            y = ops.fully_connected(a, lay.weights, lay.bias, p)
        elif k == "avgpool":
            y = ops.average_pool(a, p)
        elif k == "maxpool":
            y = ops.max_pool(a, p)
        elif k == "mean":
            y = ops.mean_hw(a, p)
        elif k == "softmax":
            y = ops.softmax(a, p)
        elif k == "add":
            y = ops.add(a, vals[lay.inputs[1]], p)
        elif k == "reshape":
            y = a
        else:
            raise AssertionError(k)
        vals[lay.output] = np.asarray(y, dtype=np.int8).reshape(lay.out_shape)
    return vals
