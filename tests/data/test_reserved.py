"""The packages reserved for an independent evaluation are never used: fetch() refuses them,
and no string in the package's code (dataset builders, source catalogues) names one."""
import ast
from pathlib import Path

import pytest

from micromel.data import debpkg
from micromel.errors import MicromelError

PKG = Path(__file__).resolve().parents[2] / "python" / "micromel"


@pytest.mark.parametrize("name", ["ktuberling-data", "asterisk-core-sounds-en-gsm",
                                  "asterisk-moh-opsound-wav", "wesnoth-1.16-data",
                                  "sonic-pi-samples", "supersonic-scsynth-samples"])
def test_fetch_refuses_reserved_packages(name, monkeypatch):
    monkeypatch.setattr(debpkg.subprocess, "run", lambda *a, **k: pytest.fail("apt was called"))
    with pytest.raises(MicromelError, match="reserved"):
        debpkg.fetch(name, quiet=True)


def test_no_code_names_a_reserved_package():
    assert not debpkg.reserved("hydrogen-drumkits") and debpkg.reserved("wesnoth-music")
    hits = []
    for f in sorted(PKG.rglob("*.py")):
        tree = ast.parse(f.read_text())
        skip = set()
        for node in ast.walk(tree):      # the RESERVED list itself
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "RESERVED"
                                                    for t in node.targets):
                skip |= {id(n) for n in ast.walk(node)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
                for word in node.value.replace("/", " ").replace(",", " ").split():
                    if debpkg.reserved(word.strip("'\"`()[]")):
                        hits.append(f"{f.relative_to(PKG)}:{node.lineno} {word}")
    assert not hits, hits
