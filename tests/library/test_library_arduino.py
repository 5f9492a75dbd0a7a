"""The Arduino sketch of an exported library (Nano 33 BLE Sense, PDM microphone), compiled
as the Arduino build compiles a sketch (C++, <Arduino.h> first) for its Cortex-M4F. No
Arduino core is reachable here (PlatformIO registry, Arduino IDE): the sketch is checked
against the declarations of the Arduino API it uses (tests/library/arduino_api/), so this
catches C++ errors in the sketch and the library's header, not how it runs on the board."""
from pathlib import Path

from userbuild import ARM_CPUS, needs_arm, run

API = Path(__file__).resolve().parent / "arduino_api"


@needs_arm
def test_nano33ble_sketch_compiles_for_its_cortex_m4f(library, tmp_path):
    lib = library("speech")
    sketch = lib / "examples" / "nano33ble_mic" / "nano33ble_mic.ino"
    out = run(["arm-none-eabi-g++", *ARM_CPUS["cortex-m4f"].split(), "-std=gnu++14", "-Os",
               "-Wall", "-Wextra", "-Werror", "-fsyntax-only", f"-I{API}", f"-I{lib / 'src'}",
               "-include", "Arduino.h", "-x", "c++", sketch])
    assert out.returncode == 0 and not out.stderr
