"""Labelled audio: user datasets (a folder per class or a manifest; datasets.py), real audio
from Debian packages (debpkg.py), the built-in drums (drums.py) and speech/non-speech
(speech.py) datasets, evaluation streams with ground truth (streams.py) and the `dataset`
commands (cli.py)."""
