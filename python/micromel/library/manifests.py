"""The files that make one folder an Arduino library (library.properties), a PlatformIO
library (library.json) and a readable one (README.md). The CMake project and the examples
are templates in firmware/export/."""
from __future__ import annotations

import json

from .. import __version__
from .header import KERNEL_TEXT, model_flash_bytes

EXAMPLES = ("integration", "wav_events", "nano33ble_mic")


def sentence(model) -> str:
    return (f"Recognizes {', '.join(model.labels)} in audio: micromel's int8 model {model.name} "
            f"({model.hash}), bit-exact with its Python twin.")


def library_properties(name: str, model) -> str:
    """Arduino's library.properties (library specification 1.5: sources in src/)."""
    return "\n".join([
        f"name={name}",
        f"version={__version__}",
        "author=micromel",
        "maintainer=micromel",
        f"sentence={sentence(model)}",
        "paragraph=Push int16 microphone samples, get per-window scores, a clip's vote and "
        "labelled events with times in samples. Fixed-point log-mel front end and int8 engine; "
        "no heap; the Cortex-M DSP kernels where the core has them.",
        "category=Data Processing",
        "architectures=*",
        f"includes={name}.h",
        "",
    ])


def library_json(name: str, model) -> str:
    """PlatformIO's library.json: sources and the one public header in src/, any platform."""
    doc = {
        "name": name,
        "version": __version__,
        "description": sentence(model),
        "keywords": ["audio", "sound recognition", "tinyml", "micromel"],
        "frameworks": "*",
        "platforms": "*",
        "headers": f"{name}.h",
        "build": {"srcDir": "src", "includeDir": "src"},
        "examples": [{"name": ex, "base": f"examples/{ex}", "files": ["*"]} for ex in EXAMPLES],
    }
    return json.dumps(doc, indent=2) + "\n"


def readme(name: str, model, compiled, kernels: str, protocol: bool, integration: str) -> str:
    """The library's README: what it holds, the integration example (its text) and the ways
    to build it."""
    dsp, portable = model_flash_bytes(compiled, True), model_flash_bytes(compiled, False)
    proto = ("\nThe serial protocol of micromel (`mm_proto.h`, frames and CRC) is included "
             "(`--with-protocol`).\n" if protocol else "")
    return f"""# {name}

{sentence(model)} Exported by micromel {__version__} from the model `{model.name}` (hash
{model.hash}) with `micromel export MODEL_DIR --lib ...`.

- Classes: {', '.join(f'{i} `{lab}`' for i, lab in enumerate(model.labels))}
- Input: mono int16 PCM at {model.frontend.sample_rate} Hz, pushed in blocks of any size
- Memory: model arena {compiled.sched.arena_bytes} B of static RAM plus `MM_API_STATE_BYTES`
  per context; weights and parameters {dsp} B of flash on the DSP path, {portable} B portable
- Kernels: `{kernels}`: {KERNEL_TEXT[kernels].replace(chr(10) + ' *', '')}

Include `{name}.h` only; every function is documented in `src/mm_api.h`. A whole
integration (`examples/integration/integration.c`):

```c
{integration}```

## Building it

- **Arduino**: copy this folder (or add the `.zip`) into your sketchbook's `libraries/`;
  `examples/nano33ble_mic` listens to the Nano 33 BLE Sense's microphone.
- **PlatformIO**: `lib_deps = file:///path/to/{name}` (or the archive of `pio pkg pack`).
- **CMake** (plain, Zephyr): `add_subdirectory({name})` and
  `target_link_libraries(app PRIVATE {name})`; ESP-IDF: put the folder in `components/`.
- **Host**: `cmake -S . -B build -DMICROMEL_EXAMPLES=ON && cmake --build build`, then
  `build/wav_events file.wav` prints the events of a WAV file.

Compile with `-ffunction-sections -fdata-sections` and link with `--gc-sections` (what
PlatformIO and the Arduino cores do) so that unused code stays out of the image.

## Porting

Nothing is needed: no heap, no I/O, no clock. One optional hook, a weak function you may
define yourself: `uint32_t mm_api_port_cycles(void)` (a cycle counter, e.g. `DWT->CYCCNT`),
which fills `mm_api_window.cycles` with the cost of each model run.
{proto}"""
