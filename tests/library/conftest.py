"""The library tests' exports: one library per (model, kernels) for the whole session."""
from pathlib import Path

import pytest

from micromel.library.export import export_library
from micromel.modeldir import ModelDir


@pytest.fixture(scope="session")
def library(tmp_path_factory):
    """export(model, kernels="auto") -> the library folder (one export per pair)."""
    done = {}
    root = tmp_path_factory.mktemp("libs")

    def export(model: str, kernels: str = "auto") -> Path:
        if (model, kernels) not in done:
            m = ModelDir.open(model)
            done[model, kernels] = export_library(m, root / f"{model}-{kernels}" / model,
                                                  kernels=kernels).path
        return done[model, kernels]
    return export
