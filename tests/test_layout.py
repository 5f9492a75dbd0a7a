"""The house rules of the package, checked on its source (an AST walk, nothing imported but
the CLI parser): imports go one way, modules stay small, one reader of config.json, lazy
imports only for heavy dependencies, and every command option says what it does."""
import argparse
import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "python" / "micromel"
# What the package's top level may hold: the leaves every stage shares (micromel/__init__.py).
TOP_LEVEL = {"__init__", "__main__", "cli", "cliargs", "errors", "paths", "jsonconfig", "fileio",
             "audio", "modeldir", "codegen"}
# Third-party modules that may be imported inside a function: slow to import (or pulling in
# native libraries), needed by few commands.
HEAVY = {"tensorflow", "keras", "tflite_micro", "ai_edge_litert", "librosa", "matplotlib",
         "sklearn", "audiomentations", "emlearn", "sed_eval", "dcase_util", "auditok",
         "flatbuffers", "tqdm", "random", "pyroomacoustics", "webrtcvad", "onnxruntime"}
MAX_LINES = 400


def modules() -> dict[str, Path]:
    out = {}
    for f in sorted(PKG.rglob("*.py")):
        parts = list(f.relative_to(PKG.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


MODULES = modules()


def imported(mod: str, path: Path):
    """(imported micromel module, node, inside a function) for every import of the module."""
    tree = ast.parse(path.read_text())
    is_pkg = path.name == "__init__.py"
    funcs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    inner = {id(x) for f in funcs for x in ast.walk(f)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = mod.split(".") if is_pkg else mod.split(".")[:-1]
            if node.level:
                base = base[:len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            names = [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in MODULES else prefix
                     for a in node.names]
        else:
            continue
        for name in names:
            yield name, node, id(node) in inner


def test_no_import_cycles():
    graph = {m: {n for n, _, _ in imported(m, p) if n in MODULES and n != m}
             for m, p in MODULES.items()}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m):
        state[m] = 1
        path.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                pytest.fail("import cycle: " + " -> ".join(path[path.index(n):] + [n]))
            if n not in state:
                visit(n)
        path.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_modules_are_small_and_the_top_level_holds_shared_leaves():
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"
    top = {p.stem for p in PKG.glob("*.py")}
    assert top <= TOP_LEVEL, f"top-level modules that belong to a stage: {sorted(top - TOP_LEVEL)}"


def test_function_level_imports_are_heavy_dependencies_only():
    bad = []
    for m, p in MODULES.items():
        for name, node, inside in imported(m, p):
            if inside and name.split(".")[0] not in HEAVY:
                bad.append(f"{m}:{node.lineno} {name}")
    assert not bad, "imports inside functions (only heavy dependencies load lazily):\n" + "\n".join(bad)


def test_no_import_error_fallbacks():
    bad = []
    for m, p in MODULES.items():
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ExceptHandler) and isinstance(node.type, ast.Name) \
                    and node.type.id in ("ImportError", "ModuleNotFoundError"):
                bad.append(f"{m}:{node.lineno}")
    assert not bad, bad


def test_config_json_has_one_reader():
    """Only micromel.modeldir reads a model folder's config.json."""
    readers = []
    for m, p in MODULES.items():
        text = p.read_text()
        if "config.json" in text and ("json.load" in text or "read_text()" in text) \
                and m != "micromel.modeldir":
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, ast.Constant) and node.value == "config.json":
                    readers.append(m)
                    break
    assert not readers, f"modules that open config.json themselves: {readers}"


def _actions(parser: argparse.ArgumentParser, where: str):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _actions(sub, f"{where} {name}")
        elif not isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            yield where, action


def test_every_option_has_help_and_commands_come_in_workflow_order():
    from micromel.cli import WORKFLOW, build_parser

    parser = build_parser()
    missing = [f"{where} {a.option_strings or a.dest}" for where, a in _actions(parser, "micromel")
               if a.help is None]
    assert not missing, "options without help: " + ", ".join(missing)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    listed = [a.dest for a in sub._choices_actions]
    assert listed == [c for c in WORKFLOW if c in listed] and set(listed) == set(WORKFLOW)
