"""Small CNNs for int8 microcontroller inference, built only from ops the engine supports.

The family is the depthwise-separable CNN of keyword spotting (DS-CNN, Zhang et al., "Hello
Edge", 2017) with the downsampling done by strided convolutions instead of pooling layers, as
in Nordby's Stride-DS ("Environmental sound classification on microcontrollers using
convolutional neural networks", 2019):

    input (frames, mels, 1)  int8 codes as float values
    CONV_2D k x k, stride 2, C0 channels                 + BatchNorm + ReLU
    repeat: DEPTHWISE_CONV_2D 3x3 (stride s, multiplier 1) + BatchNorm + ReLU
            CONV_2D 1x1 (pointwise), C channels            + BatchNorm + ReLU
    AVERAGE_POOL_2D over the whole remaining map  -> RESHAPE (Flatten)
    FULLY_CONNECTED to the classes -> SOFTMAX

Every BatchNorm directly follows a convolution, so TFLiteConverter folds it into that
convolution's weights and bias; ReLU is fused into the convolution. The global pooling is an
AVERAGE_POOL_2D with the map's full size, not GlobalAveragePooling2D: that would become MEAN,
which TFLM only has as a slow reference kernel and which LiteRT rounds differently.
Dropout disappears at conversion. All convolutions use SAME padding.

Sizes (input 32 frames x 40 mel bands, the drums default; int8 after folding):
- `dscnn-m4`: C0 = 24, blocks (s2, 32) (s1, 32) (s2, 64) (s1, 64): 10.2 k parameters,
  0.39 M MACs, largest int8 activation pair 9.6 kB, weights 11.3 kB: a 64 KB-RAM Cortex-M4
  runs it comfortably.
- `dscnn-m0`: C0 = 16, blocks (s2, 32) (s2, 48): 3.0 k parameters, 0.14 M MACs, largest
  activation pair 6.4 kB, weights 3.4 kB: for a Cortex-M0+ (no DSP instructions, 16-32 KB RAM).
- An ensemble, `dscnn-m4+dscnn-m4` (the training default): networks trained on their own,
  joined in one graph (`ensemble`): 20 k parameters, 0.79 M MACs, the same largest activation
  pair; the engine runs the branches one after the other.
- `dscnn-m4-wide`: C0 = 32, blocks (s2, 64) (s1, 64) (s2, 96) (s1, 96): 25 k parameters, 0.99 M
  MACs. On the drums test kits it did worse than dscnn-m4 (more parameters than ~360 training
  clips support), kept for larger datasets.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import MicromelError

SUPPORTED_OPS = frozenset({
    "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "MAX_POOL_2D",
    "MEAN", "RESHAPE", "SOFTMAX", "ADD",
})


@dataclass(frozen=True)
class CnnSpec:
    first_channels: int
    first_kernel: tuple
    blocks: tuple            # ((stride, channels), ...)
    dropout: float
    description: str
    keep_freq: bool = False


ARCHS: dict[str, CnnSpec] = {
    "dscnn-m4": CnnSpec(24, (3, 3), ((2, 32), (1, 32), (2, 64), (1, 64)), 0.2,
                        "DS-CNN / Stride-DS, 4 separable blocks, for a 64 KB-RAM Cortex-M4"),
    "dscnn-m4-wide": CnnSpec(32, (3, 3), ((2, 64), (1, 64), (2, 96), (1, 96)), 0.2,
                             "DS-CNN / Stride-DS, 4 wide separable blocks, for a Cortex-M4/M7"),
    "dscnn-m0": CnnSpec(16, (3, 3), ((2, 32), (2, 48)), 0.1,
                        "DS-CNN / Stride-DS, 2 separable blocks, for a Cortex-M0+"),
}


def _branch(spec: CnnSpec, x, n_classes: int, prefix: str = "", activation: str | None = "softmax",
            zero_logits: tuple[int, ...] = ()):
    """The layers of one network from its input tensor to its class layer. `zero_logits`:
    classes whose logit the class layer holds at exactly 0 while it trains (their kernel
    columns and biases are zeroed after every update: ZeroColumns)."""
    from keras import layers

    x = layers.Conv2D(spec.first_channels, spec.first_kernel, strides=2, padding="same",
                      use_bias=False, name=f"{prefix}conv0")(x)
    x = layers.BatchNormalization(name=f"{prefix}conv0_bn")(x)
    x = layers.ReLU(name=f"{prefix}conv0_relu")(x)
    for i, (stride, ch) in enumerate(spec.blocks, start=1):
        x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False,
                                   name=f"{prefix}dw{i}")(x)
        x = layers.BatchNormalization(name=f"{prefix}dw{i}_bn")(x)
        x = layers.ReLU(name=f"{prefix}dw{i}_relu")(x)
        x = layers.Conv2D(ch, 1, padding="same", use_bias=False, name=f"{prefix}pw{i}")(x)
        x = layers.BatchNormalization(name=f"{prefix}pw{i}_bn")(x)
        x = layers.ReLU(name=f"{prefix}pw{i}_relu")(x)
    h, w = x.shape[1], x.shape[2]
    # global average: AVERAGE_POOL_2D over the whole map (keep_freq: over time only)
    x = layers.AveragePooling2D(pool_size=(h, 1 if spec.keep_freq else w), name=f"{prefix}pool")(x)
    x = layers.Flatten(name=f"{prefix}flatten")(x)
    if spec.dropout:
        x = layers.Dropout(spec.dropout, name=f"{prefix}dropout")(x)
    held = {"kernel_constraint": ZeroColumns(zero_logits, n_classes),
            "bias_constraint": ZeroColumns(zero_logits, n_classes)} if zero_logits else {}
    return layers.Dense(n_classes, activation=activation, name=f"{prefix}classes", **held)(x)


class ZeroColumns:
    """A Keras weight constraint: the columns (last axis) `cols` of a kernel or bias are 0.
    A class whose logit is held at 0 in every network of an ensemble but one gets its
    logit from that one alone (TrainConfig.gate); a logit held at 0 is also a fixed
    reference the others are learned against."""

    def __init__(self, cols, n: int):
        self.mask = np.ones(n, np.float32)
        self.mask[list(cols)] = 0.0

    def __call__(self, w):
        return w * self.mask

    def get_config(self) -> dict:
        return {"cols": [int(i) for i in np.flatnonzero(self.mask == 0)], "n": len(self.mask)}


def build(arch: str, input_shape: tuple, n_classes: int, batch_size: int | None = None,
          zero_logits: tuple[int, ...] = ()):
    """A Keras model of the named architecture (softmax output). Conversion uses
    batch_size=1 so that Flatten becomes one static RESHAPE (no SHAPE/PACK ops).
    `zero_logits`: classes whose logit stays exactly 0 (_branch); their columns start at 0."""
    import keras    # lazy: TensorFlow

    spec = _spec(arch)
    inp = keras.Input(shape=tuple(input_shape), batch_size=batch_size, name="features")
    out = _branch(spec, inp, n_classes, zero_logits=tuple(zero_logits))
    model = keras.Model(inp, out, name=arch.replace("-", "_"))
    if zero_logits:
        dense = model.get_layer("classes")
        zero = ZeroColumns(zero_logits, n_classes)
        dense.set_weights([zero(w) for w in dense.get_weights()])
    return model


def member_archs(arch: str) -> list[str]:
    """`dscnn-m4` is one network; `dscnn-m4+dscnn-m0` an ensemble of two (one per name)."""
    names = [a.strip() for a in arch.split("+")]
    for a in names:
        _spec(a)
    if not 1 <= len(names) <= 8:
        raise MicromelError(f"--arch {arch}: an ensemble has 1 to 8 networks")
    return names


def ensemble(arch: str, members: list, batch_size: int | None = None):
    """One model holding trained networks side by side (`arch` names them, "+"-joined, in
    the order of `members`): every network reads the same input, their class logits are
    added (ADD) and one SOFTMAX follows. softmax(sum of logits) is the normalised product of
    the networks' probabilities (a product of experts), so the int8 model stays a single
    graph of engine ops with one int8 output."""
    import keras    # lazy: TensorFlow
    from keras import layers

    archs = member_archs(arch)
    if len(archs) != len(members):
        raise ValueError(f"{arch}: {len(archs)} architectures for {len(members)} networks")
    if len(members) == 1:
        return members[0]
    first = members[0]
    n_classes = first.output_shape[-1]
    inp = keras.Input(shape=first.input_shape[1:], batch_size=batch_size, name="features")
    logits = []
    for k, m in enumerate(members):
        out = _branch(_spec(archs[k]), inp, n_classes, prefix=f"m{k}_", activation=None)
        branch = keras.Model(inp, out)
        branch.set_weights(m.get_weights())      # same layers in the same order
        logits.append(out)
    total = logits[0]
    for k, t in enumerate(logits[1:], start=1):  # pairwise: ADD has two inputs
        total = layers.Add(name=f"sum{k}")([total, t])
    out = layers.Softmax(name="classes")(total)
    return keras.Model(inp, out, name="ensemble")


def _spec(arch: str) -> CnnSpec:
    if arch not in ARCHS:
        raise MicromelError(f"--arch {arch}: unknown architecture; choose one of {', '.join(ARCHS)}")
    return ARCHS[arch]
