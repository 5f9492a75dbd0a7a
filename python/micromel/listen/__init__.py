"""Continuous listening on the device (twin of firmware/lib/mm_audio and src/app_listen.c):
the audio input layer's settings and generated header mm_audio_config.h (config.py), the
numpy twin of its signal generator (generator.py), the LISTEN message seen from the host
(session.py), `micromel listen` (run.py) and `micromel record` (record.py), and their
commands (cli.py)."""
