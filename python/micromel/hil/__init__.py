"""Host in the loop: the device checked against the host reference over serial. verify
(sharded over devices, resumable; checks.py per clip, results.py for the report), classify,
flash, stream-check (STREAM mode against the twin), cores (every emulated core), the demo
(the main job) and the commands (cli.py)."""
