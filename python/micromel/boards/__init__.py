"""The boards micromel builds for: the catalogue and the facts C gets from board definitions
(catalogue.py), PlatformIO builds of the firmware project with the offline platforms
(firmware.py), linker maps and ELF sections (linkmap.py), the size table per part against
each board's budget (sizes.py), and the commands `boards` and `build` (cli.py)."""
