#!/usr/bin/env bash
# Fuzz the C that parses or accumulates untrusted input (protocol parser, the application's
# message handling, mm_clip, mm_segment) with libFuzzer + ASan + UBSan, SECONDS per target,
# one target at a time. Results and what the fuzzer found go to build/fuzz/ (docs/reliability.md).
#   bash scripts/fuzz.sh 5                 # the CI smoke run
#   bash scripts/fuzz.sh 600 app --json build/fuzz/long.json
#   bash scripts/fuzz.sh 5000 app --jobs 2         # both cores on one target
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
[ -x "$PY" ] || PY=python3
PYTHONPATH="$ROOT/python${PYTHONPATH:+:$PYTHONPATH}" exec "$PY" -m micromel.boards.fuzz "$@"
