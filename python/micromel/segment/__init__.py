"""Segmentation by classification (twin of firmware/lib/mm_segment): settings and their
integers (config.py), the state machine (machine.py), window times (timebase.py), the
generated header mm_segment_config.h (header.py); on the host, long files through the
streaming twin and the model (run.py), outputs (output.py), evaluation against ground truth
and peers (evaluate.py), and the commands (cli.py)."""
