"""Training (Python only: its product is the int8 model the device runs): the settings
(config.py), features through the front-end twin with a cache (features.py), waveform and
spectrogram augmentation (augment.py), the networks (models.py), fitting (fit.py), int8
conversion (quantize.py), the random forest baseline (forest.py), clip-level evaluation
(evaluate.py), the model card (card.py), the whole run (run.py) and the commands (cli.py).
TensorFlow loads lazily, inside the functions that need it."""
