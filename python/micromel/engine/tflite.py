"""Reading an int8 .tflite flatbuffer into a small graph description.

Uses the flatbuffer schema bindings shipped with ai_edge_litert (the
flatbuffer itself never reaches the device). Everything the engine does not
support is refused here with one line naming the layer and the op."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import MicromelError

SUPPORTED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D",
                 "MAX_POOL_2D", "MEAN", "RESHAPE", "SOFTMAX", "ADD")
_ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6"}
_PADDING = {0: "SAME", 1: "VALID"}
_TYPES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 9: "int8", 7: "int16",
          10: "float64"}
_NP = {"int8": np.int8, "int32": np.int32, "int64": np.int64, "uint8": np.uint8,
       "int16": np.int16, "float32": np.float32}


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple
    dtype: str
    scale: np.ndarray          # float32, one per channel or one
    zero_point: np.ndarray     # int64
    quantized_dimension: int
    data: np.ndarray | None    # constant data, else None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1

    @property
    def s(self) -> float:
        """Per-tensor scale (float32 value)."""
        return float(self.scale[0])

    @property
    def zp(self) -> int:
        return int(self.zero_point[0])


@dataclass
class Op:
    index: int
    kind: str
    inputs: list            # tensor indices (-1 = absent)
    outputs: list
    options: dict = field(default_factory=dict)

    def label(self, graph: "Graph") -> str:
        out = graph.tensors[self.outputs[0]].name if self.outputs else "?"
        return f"layer {self.index} ({self.kind}, output '{out}')"


@dataclass
class Graph:
    path: Path
    tensors: list
    ops: list
    inputs: list
    outputs: list
    raw: bytes

    def tensor(self, i: int) -> Tensor:
        return self.tensors[i]


def _builtin_names():
    from ai_edge_litert import schema_py_generated as S
    return {v: k for k, v in vars(S.BuiltinOperator).items() if not k.startswith("_")}


def read(path) -> Graph:
    path = Path(path)
    if not path.exists():
        raise MicromelError(f"{path}: no such model file; train one first (micromel train) "
                            "or give a folder that holds model.tflite")
    return parse(path.read_bytes(), path)


def parse(raw: bytes, path) -> Graph:
    """The graph of a .tflite's bytes (`path` names it in errors)."""
    try:
        model = model_object(raw)
    except Exception as e:  # noqa: BLE001 - any flatbuffer decoding failure
        what = str(e).splitlines()[0][:80] if str(e) else e.__class__.__name__
        raise MicromelError(f"{path}: not a TFLite model: the file is damaged or of another kind "
                            f"({len(raw)} bytes; the flatbuffer reader says: {what}); export it "
                            "again or retrain ('micromel train')") from None
    if not model.subgraphs or len(model.subgraphs) != 1:
        raise MicromelError(f"{path}: {len(model.subgraphs or [])} subgraphs; the engine supports "
                            "exactly one")
    names = _builtin_names()
    g = model.subgraphs[0]
    tensors = []
    for i, t in enumerate(g.tensors):
        dtype = _TYPES.get(t.type, f"type{t.type}")
        q = t.quantization
        if q is not None and q.scale is not None and len(q.scale):
            scale = np.asarray(q.scale, dtype=np.float32)
            zp = np.asarray(q.zeroPoint, dtype=np.int64)
            qd = int(q.quantizedDimension)
        else:
            scale, zp, qd = np.zeros(0, np.float32), np.zeros(0, np.int64), 0
        shape = tuple(int(s) for s in (t.shape if t.shape is not None else ()))
        data = None
        buf = model.buffers[t.buffer] if t.buffer < len(model.buffers) else None
        if buf is not None and buf.data is not None and len(buf.data):
            if dtype not in _NP:
                raise MicromelError(f"{path}: constant tensor '{t.name.decode()}' has type {dtype}; "
                                    "the engine needs a full-integer int8 model")
            data = np.frombuffer(bytes(bytearray(buf.data)), dtype=_NP[dtype]).reshape(shape).copy()
        elif buf is not None and getattr(buf, "offset", 0) and getattr(buf, "size", 0) > 1:
            off, size = int(buf.offset), int(buf.size)
            data = np.frombuffer(raw[off:off + size], dtype=_NP[dtype]).reshape(shape).copy()
        tensors.append(Tensor(i, t.name.decode(errors="replace"), shape, dtype, scale, zp, qd, data))
    ops = []
    for k, op in enumerate(g.operators or []):
        oc = model.operatorCodes[op.opcodeIndex]
        code = max(oc.builtinCode, oc.deprecatedBuiltinCode)
        kind = names.get(code, f"op{code}")
        if code == 32:  # CUSTOM
            kind = f"CUSTOM:{oc.customCode.decode(errors='replace') if oc.customCode else '?'}"
        opts = {}
        bo = op.builtinOptions
        if bo is not None:
            opts = {k2: v for k2, v in vars(bo).items()}
        ops.append(Op(k, kind, [int(i) for i in op.inputs], [int(i) for i in op.outputs], opts))
    return Graph(path, tensors, ops, [int(i) for i in g.inputs], [int(i) for i in g.outputs], raw)


def check_io(graph: Graph, input_size: int, n_classes: int, kind: str = "int8") -> None:
    """One input of `input_size` values and one output of `n_classes` values, both of `kind`
    (int8: the model the device runs; float32: its float twin), else a one-line error naming
    the file: a float model where the int8 one belongs, or labels that do not match the
    model's outputs (which would index past them or silently name the wrong class)."""
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise MicromelError(f"{graph.path}: {len(graph.inputs)} inputs and {len(graph.outputs)} "
                            "outputs; a micromel model has one of each")
    i, o = graph.tensor(graph.inputs[0]), graph.tensor(graph.outputs[0])
    if i.dtype != kind or o.dtype != kind:
        hint = (" (a float model: give the int8 model.tflite that 'micromel train' writes)"
                if kind == "int8" and "float32" in (i.dtype, o.dtype) else "")
        raise MicromelError(f"{graph.path}: input {i.dtype}, output {o.dtype}; expected "
                            f"{kind}{hint}")
    if i.size != input_size:
        raise MicromelError(f"{graph.path}: input of {i.size} values {list(i.shape)}; the model "
                            f"folder's window needs {input_size} (frames x mel bands)")
    if o.size != n_classes:
        raise MicromelError(f"{graph.path}: {o.size} outputs but {n_classes} labels in the model "
                            "folder's config.json; they must match one to one")


def activation(op: Op, graph: Graph) -> str:
    code = op.options.get("fusedActivationFunction", 0)
    if code not in _ACTIVATIONS:
        raise MicromelError(f"{op.label(graph)}: fused activation {code} is not supported "
                            "(use NONE, RELU or RELU6)")
    return _ACTIVATIONS[code]


def padding(op: Op, graph: Graph) -> str:
    return _PADDING[op.options.get("padding", 0)]


def model_object(raw: bytes):
    """A .tflite's bytes as LiteRT's editable object tree (schema_py_generated.ModelT)."""
    from ai_edge_litert import schema_py_generated as S    # lazy: LiteRT is heavy to import
    return S.ModelT.InitFromObj(S.Model.GetRootAsModel(raw, 0))


def model_bytes(m) -> bytes:
    """The .tflite bytes of a ModelT (model_object's tree, edited or not)."""
    import flatbuffers
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())
