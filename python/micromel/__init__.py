"""micromel: sound recognition on microcontrollers, bit-exact with its Python twin."""

__version__ = "0.1.0"
