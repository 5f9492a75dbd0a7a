"""Clips and windows (twin of firmware/lib/mm_clip): a clip cut into model windows, the RMS
silence gate and the soft vote (rules.py), the open-set rejection rule ("unknown",
reject.py), their generated header mm_clip_config.h (header.py), and the host reference of
a whole model: twin features + TFLite Micro (reference.py)."""
