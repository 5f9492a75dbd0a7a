#!/usr/bin/env bash
# micromel set-up of a development checkout on a fresh Debian/Ubuntu machine, no PlatformIO
# registry needed. Idempotent: a second run checks and changes nothing.
#   1. Debian packages: the tools `micromel doctor` checks (cross compilers, newlib and
#      picolibc, QEMU, host gcc, fluidsynth for `dataset drums`, and clang with libFuzzer
#      for scripts/fuzz.sh;
#      python3 -m micromel.boards.toolchain --apt --optional names the missing ones,
#      before any venv exists), plus python3-venv (sudo when not root)
#   2. .venv with micromel (editable), its Python dependencies, the test tools and labgrid
#      (the `farm` extra: the board-farm tests need it), at the versions pinned in
#      constraints.txt (scripts/update_pins.sh updates them)
#   3. `micromel doctor`: the same checks, and PlatformIO set up to work offline (a core
#      folder in the user cache with a local tool-scons)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
say() { printf '[setup] %s\n' "$*"; }

PY="${PYTHON:-python3}"
missing=($(PYTHONPATH="$ROOT/python" "$PY" -m micromel.boards.toolchain --apt --optional))
dpkg-query -W -f='${Status}' python3-venv 2>/dev/null | grep -q "install ok installed" \
  || missing+=(python3-venv)
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  say "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  say "Debian packages present"
fi

if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  "$PY" -m venv .venv
fi
# Reinstall only when the dependency list changed.
want="$(cat pyproject.toml setup.py constraints.txt | sha256sum | cut -d' ' -f1)"
have="$(cat .venv/.micromel-deps 2>/dev/null || true)"
if [ "$want" != "$have" ]; then
  say "installing Python dependencies into .venv (a few minutes the first time)"
  .venv/bin/pip install -q --upgrade pip
  # [farm]: labgrid, so that the board-farm tests run (tests/hil/test_farm.py); a plain
  # `pip install micromel` does not pull it in
  .venv/bin/pip install -q -c constraints.txt -e ".[test,farm]"
  echo "$want" > .venv/.micromel-deps
else
  say "Python dependencies present"
fi

.venv/bin/micromel doctor
say "ready: .venv/bin/micromel --help"
