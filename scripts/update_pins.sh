#!/usr/bin/env bash
# Update constraints.txt: install micromel with the newest versions its pyproject.toml allows
# into a fresh venv, run the test suite there, and only if it passes write the new pins.
# A new TensorFlow/Keras may change trained bytes: tests/train/test_pins.py then says which
# committed model to regenerate; commit the new bytes together with the new pins.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${1:-build/pins-venv}"
PY="${PYTHON:-python3}"
rm -rf "$VENV"
"$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q -e ".[test,farm]"
"$VENV/bin/pip" freeze --exclude-editable | grep -v '^micromel' > build/constraints.new
MICROMEL_PINS=build/constraints.new "$VENV/bin/python" -m pytest -q -x
{ sed -n '/^#/p' constraints.txt; cat build/constraints.new; } > constraints.txt
echo "constraints.txt updated ($(grep -c '==' constraints.txt) pins); review the diff and commit it"
