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
- `dscnn-m4` (default): C0 = 24, blocks (s2, 32) (s1, 32) (s2, 64) (s1, 64): 10.2 k parameters,
  0.39 M MACs, largest int8 activation pair 9.6 kB, weights 11.3 kB: a 64 KB-RAM Cortex-M4
  runs it comfortably.
- `dscnn-m0`: C0 = 16, blocks (s2, 32) (s2, 48): 3.0 k parameters, 0.14 M MACs, largest
  activation pair 6.4 kB, weights 3.4 kB: for a Cortex-M0+ (no DSP instructions, 16-32 KB RAM).
- `dscnn-m4-wide`: C0 = 32, blocks (s2, 64) (s1, 64) (s2, 96) (s1, 96): 25 k parameters, 0.99 M
  MACs. On the drums test kits it did worse than dscnn-m4 (more parameters than ~360 training
  clips support), kept for larger datasets.
"""
from __future__ import annotations

from dataclasses import dataclass

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
DEFAULT_ARCH = "dscnn-m4"


def build(arch: str, input_shape: tuple, n_classes: int, batch_size: int | None = None):
    """A Keras model of the named architecture (softmax output). Conversion uses
    batch_size=1 so that Flatten becomes one static RESHAPE (no SHAPE/PACK ops)."""
    import keras
    from keras import layers

    from .errors import MicromelError

    if arch not in ARCHS:
        raise MicromelError(f"--arch {arch}: unknown architecture; choose one of {', '.join(ARCHS)}")
    spec = ARCHS[arch]
    inp = keras.Input(shape=tuple(input_shape), batch_size=batch_size, name="features")
    x = layers.Conv2D(spec.first_channels, spec.first_kernel, strides=2, padding="same",
                      use_bias=False, name="conv0")(inp)
    x = layers.BatchNormalization(name="conv0_bn")(x)
    x = layers.ReLU(name="conv0_relu")(x)
    for i, (stride, ch) in enumerate(spec.blocks, start=1):
        x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False,
                                   name=f"dw{i}")(x)
        x = layers.BatchNormalization(name=f"dw{i}_bn")(x)
        x = layers.ReLU(name=f"dw{i}_relu")(x)
        x = layers.Conv2D(ch, 1, padding="same", use_bias=False, name=f"pw{i}")(x)
        x = layers.BatchNormalization(name=f"pw{i}_bn")(x)
        x = layers.ReLU(name=f"pw{i}_relu")(x)
    h, w = x.shape[1], x.shape[2]
    # average over time only: where in frequency the energy sits is what tells a kick from a
    # tom and a hi-hat from a snare, so the classifier sees every frequency row
    x = layers.AveragePooling2D(pool_size=(h, 1 if spec.keep_freq else w), name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    if spec.dropout:
        x = layers.Dropout(spec.dropout, name="dropout")(x)
    out = layers.Dense(n_classes, activation="softmax", name="classes")(x)
    return keras.Model(inp, out, name=arch.replace("-", "_"))
