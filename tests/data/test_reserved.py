"""The packages reserved for an independent evaluation are never used: fetch() refuses them,
and no string in the package's code (dataset builders, source catalogues), its scripts or
CI names one."""
import ast
import re
from pathlib import Path

import pytest

from micromel.data import debpkg
from micromel.errors import MicromelError

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "python" / "micromel"


# one package name per reserved pattern, made from debpkg.RESERVED (the one list; no name is
# typed here): a pattern's "*" becomes "x"
EXAMPLES = [pattern.replace("*", "x") for pattern in debpkg.RESERVED]


@pytest.mark.parametrize("name", EXAMPLES)
def test_fetch_refuses_reserved_packages(name, monkeypatch):
    monkeypatch.setattr(debpkg.subprocess, "run", lambda *a, **k: pytest.fail("apt was called"))
    with pytest.raises(MicromelError, match="reserved"):
        debpkg.fetch(name, quiet=True)


# a Debian package name is lowercase letters, digits, '+', '-' and '.': any other character
# ends it (NAME:usr/..., NAME=4:22, NAME_3.0_all.deb)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+-]*")


def _names_in(text: str) -> list[str]:
    """Reserved names in text; a name may run into a '.' that is not its own (a sentence's
    end, ".deb", ".tar.xz"), so every prefix ending before a '.' is tried too."""
    out = []
    for w in _NAME.findall(text):
        cuts = [w] + [w[:i] for i, ch in enumerate(w) if ch == "."]
        hit = next((c for c in cuts if debpkg.reserved(c.lower())), None)
        if hit:
            out.append(hit)
    return out


def _python_hits(path: Path, source: str) -> list[str]:
    """Reserved names in the string constants (f-strings' parts too) of one Python file,
    leaving out debpkg's RESERVED list itself."""
    tree = ast.parse(source)
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "RESERVED"
                                                for t in node.targets):
            skip |= {id(n) for n in ast.walk(node)}
    return [f"{path}:{node.lineno} {w}" for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
            for w in _names_in(node.value)]


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_scan_finds_names_however_they_are_written(name):
    spellings = [f'a = "{name}:usr/share/x.ogg"', f'b = f"{name}={{v}}"',
                 f'c = ["{name}_3.0_all.deb"]', f'd = "fetch {name}. Then more"',
                 f'e = "{name}.deb"', f'g = "apt-get install {name} qemu"']
    for code in spellings:
        found = [h.split()[1] for h in _python_hits(Path("x.py"), code + '\nh = "hydrogen-drumkits"\n')]
        # one hit, the name (a pattern's wildcard may take in what follows it)
        assert len(found) == 1 and found[0].startswith(name), (code, found)
    assert _names_in(f"install hydrogen-drumkits.deb and {name}") == [name]
    assert not debpkg.reserved("hydrogen-drumkits")


def test_no_code_names_a_reserved_package():
    """The package's code (dataset builders, source catalogues), the scripts (the speech
    beds, the set-up) and CI name no reserved package."""
    files = sorted(PKG.rglob("*.py")) + sorted((ROOT / "scripts").rglob("*.py"))
    shell = sorted((ROOT / "scripts").rglob("*.sh")) + [ROOT / ".ci" / "run"]
    assert len(files) > 100 and len(shell) >= 2      # the scan sees the code it is about
    hits = []
    for f in files:
        hits += _python_hits(f.relative_to(ROOT), f.read_text())
    for f in shell:
        hits += [f"{f.relative_to(ROOT)} {w}" for w in _names_in(f.read_text())]
    assert not hits, hits
