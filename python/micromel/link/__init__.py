"""The link to a device (twin of firmware/lib/mm_proto): the framed protocol and its
generated header mm_proto_ids.h (protocol.py), devices over a tty, a pyserial URL or an
emulator (device.py, emulator.py), the audio messages CLASSIFY_AUDIO and STREAM (audio.py,
stream.py), a device that runs a given model (model_device.py), the firmware built for the
host as a ctypes library (host.py), and the `device` commands (cli.py)."""
