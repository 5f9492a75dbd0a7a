"""The emulated and native PlatformIO environments build with no network:
PlatformIO runs in a network namespace with only a down loopback."""
import os
import shutil
import subprocess
import sys

import pytest

from micromel.boards import firmware


def _offline_prefix():
    if shutil.which("unshare") and subprocess.run(["unshare", "-rn", "true"]).returncode == 0:
        return ["unshare", "-rn"]
    pytest.skip("unshare -rn (network namespaces) not available here")


@pytest.mark.parametrize("env_name", firmware.OFFLINE_ENVS)
def test_env_builds_without_network(env_name, tmp_path, repo_root):
    env = firmware.pio_environ({"PLATFORMIO_BUILD_DIR": str(tmp_path / "build")})
    cmd = _offline_prefix() + [sys.executable, "-m", "platformio", "run", "-d",
                               str(repo_root / "firmware"), "-e", env_name]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    artifact = "libmicromel.so" if env_name == "native" else "program.elf"
    assert (tmp_path / "build" / env_name / artifact).stat().st_size > 0
