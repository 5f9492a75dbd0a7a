#!/usr/bin/env bash
# micromel set-up for a fresh Debian/Ubuntu machine, no PlatformIO registry
# needed. Idempotent: a second run checks and changes nothing.
#   1. Debian packages: cross compiler, newlib, QEMU (sudo when not root)
#   2. .venv with micromel and its Python dependencies
#   3. PlatformIO offline: a core dir in .pio-core with a local tool-scons shim
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
say() { printf '[setup] %s\n' "$*"; }

# gcc-riscv64-unknown-elf + picolibc: the RISC-V boards (boards/catalogue.json);
# qemu-system-misc: qemu-system-riscv32 for the emulated RISC-V core.
APT_PACKAGES=(gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm
  gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf qemu-system-misc gcc make python3-venv)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  say "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  say "Debian packages present"
fi

PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  "$PY" -m venv .venv
fi
# Reinstall only when the dependency list changed.
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
have="$(cat .venv/.micromel-deps 2>/dev/null || true)"
if [ "$want" != "$have" ]; then
  say "installing Python dependencies into .venv (a few minutes the first time)"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e ".[test]"
  echo "$want" > .venv/.micromel-deps
else
  say "Python dependencies present"
fi

# PlatformIO offline: its core package tool-scons is served by a local shim
# around the scons installed in the venv (PlatformIO would download it).
CORE="$ROOT/.pio-core"
SHIM="$CORE/packages/tool-scons"
if [ ! -f "$SHIM/.piopm" ]; then
  say "installing the offline tool-scons shim in .pio-core"
  mkdir -p "$SHIM"
  cat > "$SHIM/scons.py" <<'PYEOF'
# tool-scons shim: run the SCons installed in PlatformIO's Python environment.
import sys
import SCons.Script
sys.exit(SCons.Script.main())
PYEOF
  echo '{"name": "tool-scons", "version": "4.41101.0", "description": "local shim around pip scons"}' > "$SHIM/package.json"
  echo '{"type": "tool", "name": "tool-scons", "version": "4.41101.0", "spec": {"owner": "platformio", "id": null, "name": "tool-scons", "requirements": null, "uri": null}}' > "$SHIM/.piopm"
fi
export PLATFORMIO_CORE_DIR="$CORE"
if [ ! -f "$CORE/.micromel-settings" ]; then
  .venv/bin/pio settings set enable_telemetry No >/dev/null
  .venv/bin/pio settings set check_platformio_interval 3650 >/dev/null
  touch "$CORE/.micromel-settings"
fi
say "ready: .venv/bin/micromel --help"
