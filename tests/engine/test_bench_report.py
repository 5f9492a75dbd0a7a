"""bench model's report rounds each number once, where it prints it (a ratio kept to three
places in the JSON and printed to two was rounded twice: 10,928 / 33,648 = 0.3248 printed
as 0.33)."""
from micromel.engine.bench import format_report


def test_the_arena_ratio_is_rounded_once():
    r = {"model": "m", "model_hash": "0" * 16, "device": "emulate", "core": "cortex-m4f",
         "kernels": "dsp", "unit": "instructions", "layers": [], "macs": 1000, "total": 1500,
         "per_mac": 1.5, "arena_bytes": 10928, "tflm_arena_bytes": 33648,
         "arena_ratio": round(10928 / 33648, 3), "weight_bytes": 1, "param_bytes": 1,
         "tflite_bytes": 1}
    assert "arena 10928 bytes; TFLite Micro's 33648 bytes (ratio 0.32)" in format_report(r)
