"""What TensorFlow Lite Micro does with the same model shapes on the same emulated board
(QEMU mps2-an386, instructions counted with -icount, outputs bit-exact with the
tflite_micro interpreter): the peer numbers of the environment notes
(shared/notes/toolchain-facts.md, "What TFLite Micro does on the same emulated board"),
kept here once so the bench commands print them next to micromel's."""
from __future__ import annotations

# A model matches when its input shape and its layers (op, output shape) are these.
_DSCNN = ((49, 10, 1), (("CONV_2D", (25, 5, 64)),)
          + (("DEPTHWISE_CONV_2D", (25, 5, 64)), ("CONV_2D", (25, 5, 64))) * 4
          + (("AVERAGE_POOL_2D", (1, 1, 64)), ("FULLY_CONNECTED", (12,)), ("SOFTMAX", (12,))))
_DRUMS_CNN = ((40, 62, 1), (("CONV_2D", (20, 31, 16)), ("DEPTHWISE_CONV_2D", (20, 31, 16)),
                            ("CONV_2D", (20, 31, 32)), ("DEPTHWISE_CONV_2D", (10, 16, 32)),
                            ("CONV_2D", (10, 16, 64)), ("MEAN", (64,)),
                            ("FULLY_CONNECTED", (5,)), ("SOFTMAX", (5,))))

MODELS = {
    "DS-CNN (MLPerf Tiny keyword spotting shape)": {
        "signature": _DSCNN,
        "TFLM reference kernels": {"instructions": 43.0e6, "per_mac": 16.2, "arena": 22.8e3},
        "TFLM with CMSIS-NN": {"instructions": 7.70e6, "per_mac": 2.90, "arena": 22.8e3},
    },
    "drums-sized CNN": {
        "signature": _DRUMS_CNN,
        "TFLM reference kernels": {"instructions": 20.5e6, "per_mac": 23.6, "arena": 32.5e3},
        "TFLM with CMSIS-NN": {"instructions": 5.62e6, "per_mac": 6.46, "arena": 32.6e3},
    },
}

# Per op under CMSIS-NN (instructions per MAC), any model.
CMSIS_NN_PER_OP = {"1x1 conv": (2.1, 4.0), "depthwise 3x3": (8.0, 8.0),
                   "first conv, one input channel": (3.5, 10.4)}
TFLM_CODE = {"TFLM reference kernels": 45.5e3, "TFLM with CMSIS-NN": 57.7e3}

# tflite-micro's microfrontend (kissfft int16) on the same board, PCAN and noise
# reduction off: instructions per frame for this configuration.
FRONTEND = {"config": {"sample_rate": 16000, "n_fft": 512, "hop_length": 256, "n_mels": 40},
            "per_frame": 83153, "per_second": 5.20e6}


def match(plan) -> tuple[str, dict] | None:
    """The peer measurement whose model shape this plan has, or None."""
    sig = (tuple(plan.input_shape), tuple((lay.op, tuple(lay.out_shape)) for lay in plan.layers))
    for name, m in MODELS.items():
        if sig == m["signature"]:
            return name, m
    return None


def per_op_class(lay) -> str | None:
    """The CMSIS-NN per-op class of a layer, if any."""
    p = lay.params
    if lay.kind == "conv" and tuple(p["kernel"]) == (1, 1):
        return "1x1 conv"
    if lay.kind == "dwconv" and tuple(p["kernel"]) == (3, 3):
        return "depthwise 3x3"
    if lay.kind == "conv" and lay.in_shape[-1] == 1:
        return "first conv, one input channel"
    return None


def frontend_matches(cfg: dict) -> bool:
    return all(cfg.get(k) == v for k, v in FRONTEND["config"].items())
