"""The model as a library for a user's own firmware (C: firmware/lib/mm_api).

    header.py    mm_api_config.h (labels, model flash) and the library's public header <name>.h
    manifests.py library.properties (Arduino), library.json (PlatformIO), the library's README
    export.py    `micromel export MODEL_DIR --lib DIR`: one folder that is an Arduino, PlatformIO
                 and CMake library at once (and a zip of it), sources copied from firmware/lib
    sizes.py     `micromel bench library`: RAM and flash the library adds to a user's image
                 against what the same parts take in the app, per board"""
