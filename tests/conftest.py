import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))
# Keep PlatformIO from phoning home in tests.
os.environ.setdefault("PLATFORMIO_SETTING_ENABLE_TELEMETRY", "No")


# Tests left out of the default run (`pytest`, what CI runs: it must finish within 30 minutes
# on a fresh 2-core machine, firmware builds from scratch included) and run by `pytest -m long`.
# Each repeats, at more cost, what a test of the default run already checks on a smaller
# case: other cores (the boards tests run front end and model bit-exact on every core), a
# second weight layout, the farm's rarer events, the real-time table of every board.
LONG = (
    "tests/hil/test_lossy_link.py::test_verify_on_a_hopeless_link_stops_resumably",
    "tests/hil/test_verify.py::test_verify_on_every_other_emulated_core",
    "tests/hil/test_verify.py::test_killed_emulator_then_resume_gives_same_summary",
    "tests/hil/test_farm.py::test_a_place_taken_during_a_coordinator_restart_is_dropped_and_left_alone",
    "tests/hil/test_farm.py::test_coordinator_restart_mid_run_gets_the_place_back",
    "tests/hil/test_farm.py::test_classify_segment_and_bench_on_a_farm_board_match_a_local_emulator",
    "tests/hil/test_farm.py::test_signals_release_and_a_killed_client_is_cleaned_up_after",
    "tests/hil/test_farm.py::test_a_place_whose_uart_is_shared_over_rfc2217",
    "tests/hil/test_verify_failures.py::test_lost_device_is_reported_and_fails_the_run",
    "tests/engine/test_engine_device.py::test_test_set_bit_exact_on_device[int16]",
    "tests/engine/test_engine_models.py::test_host_build_bit_exact_on_test_set[dsp-int16]",
    "tests/boards/test_realtime.py::test_every_board_gets_a_real_time_verdict",
    "tests/train/test_recipe.py::test_loso_run_and_card",
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.nodeid.startswith(LONG):
            item.add_marker(pytest.mark.long)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def real_recordings():
    """(name, int16 PCM at 16 kHz) of the 100+ real drum recordings in Debian's
    hydrogen-data (wav and flac, various rates and channel counts)."""
    from micromel.data import debpkg
    from micromel.audio import load_audio

    root = debpkg.fetch("hydrogen-data", quiet=True) / "usr/share/hydrogen/data"
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in (".wav", ".flac"))
    return [(str(p.relative_to(root)), load_audio(p, 16000)) for p in files]


@pytest.fixture(scope="session")
def real_clips(real_recordings):
    return [pcm for _, pcm in real_recordings]


@pytest.fixture(scope="module")
def emulated_device():
    """The emulated board with the firmware's defaults (no model), one per test module."""
    from micromel.link.device import open_device

    d = open_device("emulate")
    yield d
    d.close()


class RFC2217Bridge:
    """pyserial's own RFC 2217 server (serial.rfc2217.PortManager) in front of a raw TCP UART,
    on a loopback port: what ser2net does on a labgrid exporter host for a board's USB serial
    port. One client at a time; the upstream link is opened per client."""

    def __init__(self, upstream_url: str):
        import socket
        import threading

        self.upstream_url = upstream_url
        self.srv = socket.create_server(("127.0.0.1", 0))
        self.port = self.srv.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        import threading

        import serial
        import serial.rfc2217

        while True:
            try:
                client, _ = self.srv.accept()
            except OSError:
                return
            upstream = serial.serial_for_url(self.upstream_url, timeout=0.05)

            class Out:
                def write(self, data):
                    client.sendall(data)

            pm = serial.rfc2217.PortManager(upstream, Out())
            stop = threading.Event()

            def board_to_client():
                try:
                    while not stop.is_set():
                        data = upstream.read(4096)
                        if data:
                            client.sendall(b"".join(pm.escape(data)))
                except (OSError, serial.SerialException):
                    client.close()

            reader = threading.Thread(target=board_to_client, daemon=True)
            reader.start()
            try:
                while data := client.recv(4096):
                    upstream.write(b"".join(pm.filter(data)))
            except OSError:
                pass
            stop.set()
            reader.join()
            upstream.close()
            client.close()

    def close(self):
        self.srv.close()


@pytest.fixture
def rfc2217_bridge():
    """rfc2217_bridge(upstream_url) -> an RFC2217Bridge, closed after the test."""
    bridges = []

    def make(upstream_url):
        bridges.append(RFC2217Bridge(upstream_url))
        return bridges[-1]

    yield make
    for b in bridges:
        b.close()
