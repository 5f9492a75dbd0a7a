"""micromel on a labgrid board farm, for real: a labgrid coordinator and exporter on loopback,
two emulated boards (`micromel farm board`: QEMU running the micromel firmware, UART on raw
TCP, flashable over its control port) exported as places, and `micromel verify` on
`labgrid:board=mps2-an386,2` against the same verify on two local emulators. Skipped only
when labgrid is not installed (pip install 'micromel[farm]'; scripts/setup.sh installs it)."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("labgrid", reason="labgrid is not installed: pip install 'micromel[farm]'")

from micromel.errors import DeviceError, MicromelError  # noqa: E402
from micromel.link.device import open_device  # noqa: E402
from micromel.link import farm as farm_mod  # noqa: E402
from micromel.link import farm_flash, farm_leases  # noqa: E402
from micromel.link.labgrid_session import LabgridSession  # noqa: E402
from micromel.paths import build_dir  # noqa: E402

pytestmark = pytest.mark.emulator

ROOT = Path(__file__).resolve().parents[2]
PLACES = ("emulate-0", "emulate-1")
SPEC2 = "labgrid:board=mps2-an386,2"
RFC2217_PLACE = "board-1-rfc2217"   # board 1's UART again, behind an RFC 2217 server (ser2net's role)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A child process whose output (stdout and stderr together) is collected line by line."""

    def __init__(self, cmd, env, cwd=None):
        self.p = subprocess.Popen([str(c) for c in cmd], env=env, cwd=cwd, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.p.stdout:
            self.lines.append(line.rstrip())

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 120.0) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.text)
            if m:
                return m
            if self.p.poll() is not None:
                time.sleep(0.2)  # the last lines
                if m := re.search(pattern, self.text):
                    return m
                break
            time.sleep(0.05)
        raise AssertionError(f"{self.p.args[:4]}: no {pattern!r} (rc {self.p.poll()}):\n{self.text[-3000:]}")

    def finish(self, timeout: float = 600.0) -> int:
        rc = self.p.wait(timeout)
        time.sleep(0.1)
        return rc

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


class Farm:
    """Boards, coordinator (its state in `work`, places seeded in places.yaml) and an exporter
    restarted whenever it exits, as systemd would: labgrid-exporter exits when it loses the
    coordinator."""

    def __init__(self, work: Path):
        self.work = work
        self.address = f"127.0.0.1:{free_port()}"
        self.env = {**os.environ, "PYTHONPATH": str(ROOT / "python"), "LG_COORDINATOR": self.address,
                    "PYTHONUNBUFFERED": "1"}
        self.env.pop("LG_USERNAME", None)
        self.boards: list[Proc] = []
        self.uart_ports: list[int] = []
        self.ctl_ports: list[tuple[str, int]] = []
        self.coordinator: Proc | None = None
        self.exporter: Proc | None = None
        self.stopping = False

    def start(self):
        exporter_env = dict(self.env)
        for i, _ in enumerate(PLACES):
            uart, ctl = free_port(), free_port()
            self.uart_ports.append(uart)
            self.ctl_ports.append(("127.0.0.1", ctl))
            exporter_env[f"FARM_UART_PORT_{i}"], exporter_env[f"FARM_CTL_PORT_{i}"] = str(uart), str(ctl)
            self.boards.append(Proc([sys.executable, "-m", "micromel", "farm", "board",
                                     "--uart-port", uart, "--ctl-port", ctl], self.env))
        (self.work / "places.yaml").write_text("".join(
            f"{name}:\n  tags: {{board: mps2-an386}}\n  matches:\n"
            f"  - {{exporter: exporter, group: {name}, cls: NetworkSerialPort}}\n" for name in PLACES)
            + f"{RFC2217_PLACE}:\n  tags: {{via: rfc2217}}\n  matches:\n"
              "  - {exporter: rfc2217, group: board-1, cls: NetworkSerialPort}\n")
        self.start_coordinator()
        for b in self.boards:
            b.wait_for("board up", 300)
        threading.Thread(target=self._supervise, args=(exporter_env,), daemon=True).start()
        self.wait_resources()

    def start_coordinator(self):
        self.coordinator = Proc([Path(sys.executable).parent / "labgrid-coordinator", "-l", self.address],
                                self.env, cwd=self.work)
        self.coordinator.wait_for("listening on", 30)

    def _supervise(self, env):
        while not self.stopping:
            self.exporter = Proc([Path(sys.executable).parent / "labgrid-exporter", "-c", self.address,
                                  "-n", "exporter", "--hostname", "127.0.0.1",
                                  ROOT / "boards" / "farm" / "exporter.yaml"], env)
            self.exporter.p.wait()
            time.sleep(0.5)

    def session(self) -> LabgridSession:
        return LabgridSession(self.address, connect_timeout=10)

    def wait_resources(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.session()
            try:
                if all(s.resource(("exporter", n, "NetworkSerialPort", "uart")) for n in PLACES):
                    return
            finally:
                s.close()
            time.sleep(0.3)
        raise AssertionError("the exporter's resources never reached the coordinator")

    def state(self) -> tuple[dict, list]:
        """(place -> who acquired it or None, [reservation owners])"""
        s = self.session()
        try:
            s.sync()
            return ({n: p.acquired for n, p in s.places().items()},
                    [r.owner for r in s.rpc("GetReservations").reservations])
        finally:
            s.close()

    def wait_state(self, place, holder_pattern, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            who = self.state()[0].get(place)
            if re.fullmatch(holder_pattern, str(who)):
                return who
            time.sleep(0.3)
        raise AssertionError(f"{place}: acquired by {self.state()[0].get(place)}, wanted {holder_pattern}")

    def assert_free(self):
        """Nothing acquired, no reservation, no lease file of this farm left."""
        places, reservations = self.state()
        assert places == {n: None for n in (*PLACES, RFC2217_PLACE)} and reservations == [], \
            (places, reservations)
        leases = [f for f in farm_leases.lease_dir().glob("*.json")
                  if json.loads(f.read_text())["coordinator"] == self.address]
        assert not leases, [f.read_text() for f in leases]

    def qemu_pid(self, board: int) -> int:
        out = subprocess.run(["pgrep", "-P", str(self.boards[board].p.pid), "qemu-system"],
                             capture_output=True, text=True).stdout.split()
        assert len(out) == 1, out
        return int(out[0])

    def restart_coordinator(self):
        self.coordinator.p.kill()
        self.coordinator.p.wait()
        self.start_coordinator()
        self.wait_resources()

    def stop(self):
        self.stopping = True
        for p in [self.exporter, self.coordinator, *self.boards]:
            if p is not None:
                p.stop()


@pytest.fixture(scope="module")
def farm(tmp_path_factory):
    f = Farm(tmp_path_factory.mktemp("farm"))
    try:
        f.start()
        yield f
    finally:
        f.stop()


_started: list[Proc] = []


@pytest.fixture(autouse=True)
def _stop_what_the_test_started():
    """A failed test must not leave a micromel run holding places for the next one."""
    yield
    while _started:
        _started.pop().stop()


def micromel(*args, env, **kw) -> Proc:
    _started.append(Proc([sys.executable, "-m", "micromel", *args], env, **kw))
    return _started[-1]


def labgrid_client(*args, env):
    return subprocess.run([sys.executable, "-m", "labgrid.remote.client", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def verify_results(report: Path) -> tuple[dict, dict, set]:
    """(summary without the run's own facts, clip -> record without device and timing, devices)"""
    summary = json.loads((report / "summary.json").read_text())
    summary.pop("run")
    records = [json.loads(line) for line in (report / "results.jsonl").read_text().splitlines()]
    clips = [r["clip"] for r in records]
    assert len(clips) == len(set(clips)), "a clip counted twice"
    return (summary, {r["clip"]: {k: v for k, v in r.items() if k not in ("device", "seconds")} for r in records},
            {r["device"] for r in records})


def wait_for_results(p: Proc, report: Path, clips: int):
    """Until a running verify has recorded `clips` clips."""
    results = report / "results.jsonl"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and (not results.exists() or len(results.read_text().splitlines()) < clips):
        assert p.p.poll() is None, p.text
        time.sleep(0.1)


def verify_args(model_dir, dataset, report, *device_specs):
    devices = [a for spec in device_specs for a in ("--device", spec)]
    return ["verify", model_dir, dataset, *devices, "--report", report, "--quiet"]


@pytest.fixture(scope="module")
def local_run(model_dir, dataset, tmp_path_factory):
    report = tmp_path_factory.mktemp("local")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "python")}
    p = micromel(*verify_args(model_dir, dataset, report, "emulate", "emulate"), env=env)
    assert p.finish() == 0, p.text
    return verify_results(report)


def test_verify_on_two_farm_places_equals_two_local_emulators(farm, model_dir, dataset, local_run, tmp_path):
    p = micromel(*verify_args(model_dir, dataset, tmp_path, SPEC2), env=farm.env)
    assert p.finish() == 0, p.text
    summary, records, devices = verify_results(tmp_path)
    assert summary["clips_bit_exact"] == summary["clips_verified"] == 12
    assert (summary, records) == local_run[:2]
    assert devices == {f"labgrid:{n}" for n in PLACES}   # both boards took clips
    farm.assert_free()


def test_interrupted_farm_verify_releases_both_places_and_resumes(farm, model_dir, dataset, local_run,
                                                                  tmp_path):
    p = micromel(*verify_args(model_dir, dataset, tmp_path, SPEC2), env=farm.env)
    wait_for_results(p, tmp_path, 2)
    assert all(farm.state()[0][n] for n in PLACES)   # both places held by the run
    p.p.send_signal(signal.SIGINT)
    assert p.finish(60) == 130, p.text
    assert "Traceback" not in p.text
    farm.assert_free()
    p = micromel(*verify_args(model_dir, dataset, tmp_path, SPEC2), "--resume", env=farm.env)
    assert p.finish() == 0, p.text
    assert verify_results(tmp_path)[:2] == local_run[:2]
    farm.assert_free()


def test_a_run_needing_a_held_place_fails_clearly_or_waits_for_it(farm, model_dir, dataset, tmp_path):
    alice = {**farm.env, "LG_USERNAME": "alice"}
    r = labgrid_client("-p", "emulate-0", "acquire", env=alice)
    assert r.returncode == 0, r.stderr
    try:
        # verify wants both boards: it waits --farm-wait seconds, then gives up and says who holds what
        # (a run that waited for good instead would not finish within finish's 120 s)
        p = micromel("--farm-wait", "2", *verify_args(model_dir, dataset, tmp_path, SPEC2), env=farm.env)
        assert p.finish(120) == 2, p.text
        assert re.search(r"micromel: error: --device labgrid:board=mps2-an386,2: only 1 of 2 place\(s\) "
                         r"free after 2 s \(micromel --farm-wait\); emulate-0 acquired by \S+/alice; "
                         r"emulate-1 free", p.text), p.text
        assert "Traceback" not in p.text and not (tmp_path / "results.jsonl").exists()
        places, reservations = farm.state()
        assert places["emulate-1"] is None and reservations == []   # nothing of ours left behind
        # Ctrl-C while waiting: the reservation goes with it
        p = micromel("--farm-wait", "120", "device", "info", "--device", "labgrid:emulate-0", env=farm.env)
        p.wait_for(r"waiting up to 120 s for 1 place\(s\)", 60)
        p.p.send_signal(signal.SIGINT)
        assert p.finish(30) == 130, p.text
        assert farm.state()[1] == []
        # a command that waits long enough gets the place when alice lets it go
        p = micromel("--farm-wait", "120", "device", "info", "--device", "labgrid:emulate-0", env=farm.env)
        p.wait_for(r"waiting up to 120 s for 1 place\(s\): emulate-0 acquired by \S+/alice", 60)
        time.sleep(1)
        assert labgrid_client("-p", "emulate-0", "release", env=alice).returncode == 0
        assert p.finish(120) == 0, p.text
        assert re.search(r"target\s+emulate", p.text)
    finally:
        labgrid_client("-p", "emulate-0", "release", env=alice)
    farm.assert_free()


def test_a_farm_board_lost_mid_run_behaves_like_a_local_one(farm, model_dir, dataset, local_run, tmp_path):
    p = micromel(*verify_args(model_dir, dataset, tmp_path, SPEC2), env=farm.env)
    wait_for_results(p, tmp_path, 3)
    os.kill(farm.qemu_pid(1), signal.SIGKILL)   # the board dies (its exporter host restarts it)
    assert p.finish() == 1, p.text   # every clip verified, but a board was lost: exit code 1
    assert re.search(r"device lost: labgrid:emulate-1 after \d+ clips: .*link lost", p.text), p.text
    summary, records, devices = verify_results(tmp_path)   # no clip lost, none counted twice
    assert (summary, records) == local_run[:2]
    assert json.loads((tmp_path / "summary.json").read_text())["run"]["devices_lost"]
    farm.assert_free()
    farm.boards[1].wait_for("restarting", 10)


def test_signals_release_and_a_killed_client_is_cleaned_up_after(farm):
    ping = ("device", "ping", "--count", "1000000", "--device", "labgrid:emulate-1")
    for sig, rc in ((signal.SIGTERM, 143), (signal.SIGHUP, 129)):
        p = micromel(*ping, env=farm.env)
        farm.wait_state("emulate-1", r"\S+/\S+")
        p.p.send_signal(sig)
        assert p.finish(30) == rc, p.text
        farm.assert_free()
    p = micromel(*ping, env=farm.env)
    farm.wait_state("emulate-1", r"\S+/\S+")
    p.p.kill()   # SIGKILL: nothing runs, labgrid keeps the place acquired
    p.finish(30)
    time.sleep(1)
    assert farm.state()[0]["emulate-1"] is not None
    q = micromel("device", "info", "--device", "labgrid:emulate-1", env=farm.env)
    assert q.finish(120) == 0, q.text
    assert f"cleaned up after micromel process {p.p.pid}, which ended without releasing emulate-1" in q.text
    farm.assert_free()


def test_coordinator_restart_mid_run_gets_the_place_back(farm):
    p = micromel("device", "ping", "--count", "1000000", "--device", "labgrid:emulate-0", env=farm.env)
    holder = farm.wait_state("emulate-0", r"\S+/\S+")
    farm.restart_coordinator()   # forgets every acquisition and reservation
    assert farm.wait_state("emulate-0", re.escape(holder), 60) == holder
    p.wait_for(r"(?s)lost the labgrid coordinator .* got 1 place\(s\) back after the coordinator restart: "
               r"emulate-0", 30)
    assert p.p.poll() is None, p.text   # the board link never depended on the coordinator
    p.p.send_signal(signal.SIGINT)
    assert p.finish(30) == 130, p.text
    farm.assert_free()


def test_flashing_a_place_tagged_with_a_firmware_env_goes_through_labgrid(farm, monkeypatch):
    monkeypatch.setenv("LG_COORDINATOR", farm.address)
    elf = next((build_dir() / "pio").rglob("emulate/program.elf"))   # the boards' own firmware
    with farm_mod.hold(["labgrid:emulate-0"]) as specs:
        board = replace(farm_mod.held_board(specs[0]), ctl=None, tags={"micromel_env": "emulate"})
        assert farm_flash.firmware_env(board) == "emulate"
        # the loopback place has no flashing resource: labgrid-client itself says so
        with pytest.raises(DeviceError, match=r"labgrid:emulate-0: flashing through labgrid failed "
                                              r"\(labgrid-client -p emulate-0 bootstrap .*\): .*compatible resource"):
            farm_flash.flash(board, elf)
    farm.assert_free()


def test_unreachable_coordinator_and_unknown_place_fail_at_once(farm, monkeypatch):
    monkeypatch.setenv("LG_COORDINATOR", f"127.0.0.1:{free_port()}")
    with pytest.raises(MicromelError, match="cannot reach the labgrid coordinator at 127.0.0.1:"):
        with farm_mod.hold(["labgrid:emulate-0"]):
            pass
    monkeypatch.setenv("LG_COORDINATOR", farm.address)
    with pytest.raises(MicromelError, match=r"labgrid:nosuch: the farm at .* has 0 matching place\(s\) "
                                            r"\(none\), 1 wanted; its places: board-1-rfc2217, emulate-0, emulate-1"):
        with farm_mod.hold(["labgrid:nosuch"]):
            pass
    farm.assert_free()


def test_a_place_whose_uart_is_shared_over_rfc2217(farm, rfc2217_bridge, tmp_path):
    """A real board's USB serial port reaches a labgrid farm through ser2net as an RFC 2217
    NetworkSerialPort; micromel opens such a place as rfc2217://."""
    bridge = rfc2217_bridge(f"socket://127.0.0.1:{farm.uart_ports[1]}")
    config = tmp_path / "rfc2217.yaml"
    config.write_text(f"board-1:\n  uart:\n    cls: NetworkSerialPort\n    host: 127.0.0.1\n"
                      f"    port: {bridge.port}\n    protocol: rfc2217\n")
    exporter = Proc([Path(sys.executable).parent / "labgrid-exporter", "-c", farm.address, "-n", "rfc2217",
                     "--hostname", "127.0.0.1", config], farm.env)
    try:
        exporter.wait_for("Exporter ready|connected to coordinator", 60)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            s = farm.session()
            try:
                if s.resource(("rfc2217", "board-1", "NetworkSerialPort", "uart")):
                    break
            finally:
                s.close()
            time.sleep(0.3)
        p = micromel("device", "info", "--device", f"labgrid:{RFC2217_PLACE}", env=farm.env)
        assert p.finish(120) == 0, p.text
        assert re.search(r"target\s+emulate", p.text)
    finally:
        exporter.stop()
    farm.assert_free()


def test_a_place_taken_during_a_coordinator_restart_is_dropped_and_left_alone(farm, monkeypatch):
    """A restarted coordinator has forgotten who held what; if another client gets the place
    before micromel asks for it again, micromel cuts its link to the board (a run's clip in
    flight goes back to the queue) and does not release the other client's place."""
    monkeypatch.setenv("LG_COORDINATOR", farm.address)
    monkeypatch.setattr(farm_mod, "RELOCK_EVERY", 20.0)   # the window in which alice gets there first
    alice = {**farm.env, "LG_USERNAME": "alice"}
    try:
        with farm_mod.hold(["labgrid:emulate-1"]) as specs:
            board = farm_mod.held_board(specs[0])
            dev = open_device(specs[0])
            try:
                farm.coordinator.p.kill()
                farm.coordinator.p.wait()
                time.sleep(7)   # micromel's first attempt to get the place back fails meanwhile
                farm.start_coordinator()
                farm.wait_resources()
                assert labgrid_client("-p", "emulate-1", "acquire", env=alice).returncode == 0
                deadline = time.monotonic() + 60
                while board.lost is None and time.monotonic() < deadline:
                    time.sleep(0.2)
                assert board.lost and "taken by" in board.lost and "/alice" in board.lost, board.lost
                with pytest.raises(DeviceError, match="link lost"):
                    dev.ping(b"x", 5)
            finally:
                dev.close()
        assert farm.state()[0]["emulate-1"].endswith("/alice")   # not released by micromel
    finally:
        labgrid_client("-p", "emulate-1", "release", env=alice)
    farm.assert_free()


def test_classify_segment_and_bench_on_a_farm_board_match_a_local_emulator(farm, model_dir, dataset):
    """Every command with --device takes a farm board: the same answers as on a local emulated
    board, instruction counts included (the farm board runs QEMU with the same -icount)."""
    clip = dataset.parent / "clip03.wav"
    local_env = {**os.environ, "PYTHONPATH": str(ROOT / "python")}

    def run(env, device, *args):
        r = subprocess.run([sys.executable, "-m", "micromel", *map(str, args), "--device", device],
                           env=env, capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, r.stderr
        return r.stdout

    for args, drop in ((["classify", model_dir, clip, "--json"], "where"),
                       (["bench", "model", model_dir, "--json"], "device"),
                       (["segment", model_dir, clip, "--quiet"], None)):
        here = run(local_env, "emulate", *args)
        there = run(farm.env, "labgrid:board=mps2-an386", *args)
        if drop:
            here, there = json.loads(here), json.loads(there)
            for out in (here, there):
                for item in out if isinstance(out, list) else [out]:
                    item.pop(drop)
        if args[0] == "bench":
            # a layer's count is read from SysTick (1.6 instructions per tick at -icount shift=6)
            # and includes SysTick's wrap handler (a few instructions) when the 24-bit counter
            # wraps during that layer, which depends on the time since boot: between any two runs
            # (local ones too) a layer moves by a tick or a handler; the total does not
            assert len(here["layers"]) == len(there["layers"])
            for a, b in zip(here.pop("layers"), there.pop("layers")):
                assert abs(a.pop("cost") - b.pop("cost")) <= 8
                for k in ("per_mac", "cycles_est"):   # follow the cost
                    a.pop(k, None), b.pop(k, None)
                assert a == b
        assert there == here, args[0]
    farm.assert_free()


def test_the_farm_board_control_port(farm, monkeypatch):
    """STATUS names the firmware environment and ELF; a LOAD of something else than an ELF and
    an unknown command are refused in one line; RESET reboots the same ELF."""
    from micromel.link import farm_board

    s = farm_board.status(farm.ctl_ports[0])
    assert s["env"] == "emulate" and s["machine"] == "mps2-an386" and len(s["elf"]) == 16
    with pytest.raises(DeviceError, match="ERR not an ELF file"):
        farm_board._request(farm.ctl_ports[0], b"LOAD 4\n", b"ABCD")
    with pytest.raises(DeviceError, match="ERR unknown command 'FLY'"):
        farm_board._request(farm.ctl_ports[0], b"FLY\n")
    assert farm_board._request(farm.ctl_ports[0], b"RESET\n") == s["elf"]
    # the board's log names what clients did (it said nothing of uploads and resets)
    farm.boards[0].wait_for(r"control LOAD from 127\.0\.0\.1:\d+: ERR not an ELF file", 10)
    farm.boards[0].wait_for(rf"control RESET from 127\.0\.0\.1:\d+: OK {s['elf']}", 10)
    monkeypatch.setenv("LG_COORDINATOR", farm.address)
    with farm_mod.hold(["labgrid:emulate-0"]) as specs, open_device(specs[0]) as dev:
        assert dev.info()["target"] == "emulate"   # answers again after the reset


def test_an_unreachable_coordinator_is_one_line_without_labgrids_own(tmp_path):
    """labgrid's client logged "ERROR:root:coordinator is unavailable" above micromel's line
    (through the root logger, which that call also set up for every later message); other
    code's warnings still reach stderr as Python's default would have them."""
    env = {**os.environ, "LG_COORDINATOR": f"127.0.0.1:{free_port()}"}
    r = subprocess.run([sys.executable, "-m", "micromel", "device", "info", "--device",
                        "labgrid:x"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.startswith("micromel: error: cannot reach the labgrid "
                                                     "coordinator"), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    code = ("import logging, labgrid.remote.client as c\n"
            "from micromel.link.labgrid_session import _quiet_labgrid\n"
            "_quiet_labgrid()\n"
            "logging.getLogger().handle(logging.LogRecord('root', logging.ERROR, c.__file__, 1, "
            "'from labgrid', None, None))\n"
            "logging.warning('from elsewhere')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr == "from elsewhere\n", r.stderr


def test_emulators_start_beside_a_farm_session(farm):
    """A process with a labgrid session (gRPC's threads busy) forked emulators whose child
    crashed (SIGSEGV) before exec about one start in three when Python code ran between fork
    and exec (the pdeathsig preexec_fn): `bench model` on a farm board starts a local QEMU for
    its cycle estimate and failed with an empty reason. Twelve starts must all boot."""
    from micromel.boards import firmware
    from micromel.link.emulator import Emulator, qemu_config

    elf = firmware.build("emulate")
    s = farm.session()
    try:
        s.sync()
        for _ in range(12):
            emu = Emulator(elf, **qemu_config("emulate"))
            try:
                emu.start()
                assert emu.alive()
            finally:
                emu.stop()
            s.sync()            # gRPC in flight between the starts
    finally:
        s.close()


def test_farm_board_checks_env_and_elf_and_exits_130_on_ctrl_c(tmp_path):
    """--env names itself (it said --device) and is checked before any build; --elf must be an
    ELF (QEMU restarted a text file in a loop); Ctrl-C stops QEMU and exits 130 like every
    other command (it exited 0)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "python")}
    ports = ["--uart-port", str(free_port()), "--ctl-port", str(free_port())]

    def refused(*args, says):
        r = subprocess.run([sys.executable, "-m", "micromel", "farm", "board", *ports, *args],
                           env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and r.stderr.startswith(f"micromel: error: {says}"), r.stderr
        assert r.stderr.count("\n") == 1, r.stderr

    refused("--env", "xc_stm32l476", says="--env xc_stm32l476: 'xc_stm32l476' is not an emulated board; give "
                                          "one such as emulate")
    text = tmp_path / "notes.txt"
    text.write_text("not firmware\n")
    refused("--elf", str(text), says=f"--elf {text}: not an ELF file")
    refused("--elf", str(tmp_path / "gone.elf"), says=f"--elf {tmp_path / 'gone.elf'}: cannot read it")
    refused("--elf", str(tmp_path), says=f"--elf {tmp_path}: a folder, not an ELF file; give")
    board = Proc([sys.executable, "-m", "micromel", "farm", "board", *ports], env)
    try:
        board.wait_for("board up", 300)
        qemu = subprocess.run(["pgrep", "-P", str(board.p.pid), "qemu-system"],
                              capture_output=True, text=True).stdout.split()
        assert len(qemu) == 1
        board.p.send_signal(signal.SIGINT)
        assert board.finish(60) == 130, board.text
        assert "Traceback" not in board.text
        time.sleep(0.5)
        still = subprocess.run(["ps", "-p", qemu[0], "-o", "comm="], capture_output=True, text=True)
        assert "qemu" not in still.stdout, "QEMU outlived its farm board"
    finally:
        board.stop()
