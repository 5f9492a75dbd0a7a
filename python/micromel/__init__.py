"""micromel: sound recognition on microcontrollers, bit-exact with its Python twin.

The package mirrors the firmware: one subpackage per pipeline stage, each with its C library,
its Python twin, its generated header and its host shim (the C built for the host, called
through ctypes by the bit-exactness tests):

  stage      C library (firmware/lib)   Python twin              generated header       host shim (firmware/host)
  frontend/  mm_frontend                frontend/twin.py         mm_frontend_config.h   host_frontend.c (frontend/native.py)
  clip/      mm_clip                    clip/rules.py            mm_clip_config.h       host_clip.c
  segment/   mm_segment                 segment/machine.py       mm_segment_config.h    host_segment.c
  engine/    mm_nn                      engine/plan.py, ops.py   mm_model_config.h,     host_model.c (engine/runner.py)
                                                                 mm_model_data.h
  link/      mm_proto (+ src/app*.c)    link/protocol.py         mm_proto_ids.h         port_host.c (link/host.py)
  library/   mm_api (+ firmware/export) the stages above          mm_api_config.h        (a user's project, tests/library)
  listen/    mm_audio (+ app_listen*.c) listen/generator.py      mm_audio_config.h      port_host.c (the host build listens too)
  boards/    board ports, linker scripts, offline PlatformIO platforms (boards/); builds, size table
  data/      datasets (drums, speech, streams, user folders), Debian packages
  train/     features, augmentation, networks, int8 conversion, evaluation, model cards
  hil/       host in the loop: verify, classify, flash, stream-check, cores, the demo
  (link/ also opens every kind of device: emulated, tty or URL, labgrid farm board: farm*.py)

The top level holds only what every stage shares: errors, paths, jsonconfig (settings from
JSON), fileio (atomic writes), audio (files in and out), modeldir (a model folder: the one
reader and writer of config.json), codegen (every generated header, one orchestrator),
cliargs and cli (the `micromel` command). Imports go one way (tests/test_layout.py fails on a
cycle); a stage's cli.py parses and prints, its other modules take typed arguments and
return values."""

__version__ = "0.1.0"
