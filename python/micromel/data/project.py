"""`micromel init`: a project folder for a new user: where their recordings, models and
builds go, with the shipped example models to start from."""
from __future__ import annotations

import shutil
from pathlib import Path

from .. import cliargs
from ..errors import MicromelError
from ..fileio import write_text_atomic
from ..paths import MODELS_DIR

README = """# {name}: a micromel project

    data/       your recordings: data/<label>/*.wav (one folder per class), or a manifest
                (path,label[,split]); `micromel dataset check data/mine`
    models/     trained models; drums and speech are micromel's examples
    build/      generated code, firmware builds and reports (micromel writes it; safe to delete)

Start:

    micromel doctor                                   # what the device commands need
    micromel classify models/drums some_hit.wav       # the example model, on this computer
    micromel build models/drums --board emulate       # its firmware for the emulated board
    micromel train data/mine --out models/mine        # your own model
"""
GITIGNORE = "build/\n"


def init_project(folder: Path, examples: bool = True) -> list[str]:
    """Create the project folder's layout; returns what was created. Existing files are kept
    (and named), never overwritten."""
    folder = cliargs.out_folder(folder, "", "for the project")
    made, kept = [], []
    for sub in ("data", "models"):
        p = folder / sub
        (kept if p.exists() else made).append(f"{sub}/")
        p.mkdir(parents=True, exist_ok=True)
    for name, text in (("README.md", README.format(name=folder.resolve().name)),
                       (".gitignore", GITIGNORE)):
        if (folder / name).exists():
            kept.append(name)
        else:
            write_text_atomic(folder / name, text)
            made.append(name)
    if examples:
        for src in sorted(p for p in MODELS_DIR.iterdir() if (p / "config.json").is_file()):
            dst = folder / "models" / src.name
            if dst.exists():
                kept.append(f"models/{src.name}/")
            else:
                shutil.copytree(src, dst)
                made.append(f"models/{src.name}/")
    return made, kept
