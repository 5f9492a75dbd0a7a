"""End to end over a real serial link: firmware built with PlatformIO (offline),
booted in QEMU mps2-an386, driven with pyserial over a loopback socket."""
import json
import random
import struct
import subprocess
import sys

import pytest

from micromel.link import protocol
from micromel.link.device import open_device

pytestmark = pytest.mark.emulator


@pytest.fixture(scope="module")
def dev(emulated_device):
    return emulated_device


def test_ping_and_info(dev):
    assert dev.ping(b"hello") >= 0
    info = dev.info(refresh=True)
    assert info["protocol"] == str(protocol.PROTOCOL_VERSION)
    assert info["target"] == "emulate"
    assert info["core"] == "cortex-m4f"
    assert info["counter_unit"] == "instructions"
    assert int(info["max_payload"]) == protocol.FIRMWARE_MAX_PAYLOAD


def test_largest_frame_echoes(dev):
    payload = bytes(random.Random(7).randrange(256) for _ in range(protocol.FIRMWARE_MAX_PAYLOAD))
    reply = dev.request(protocol.MSG["PING"], payload, timeout=10)
    assert reply.payload == payload


def _bad_frames(rng: random.Random, n: int):
    """Bit flips, truncations, garbage and oversized lengths."""
    kinds = []
    for _ in range(n):
        kind = rng.choice(["flip", "truncate", "garbage", "oversize", "header"])
        payload = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200)))
        frame = bytearray(protocol.encode(protocol.MSG["PING"], rng.randrange(256), payload))
        if kind == "flip":
            i = rng.randrange(7, len(frame))
            frame[i] ^= 1 << rng.randrange(8)
        elif kind == "header":
            frame[rng.randrange(2, 7)] ^= 1 << rng.randrange(8)
        elif kind == "truncate":
            frame = frame[: rng.randrange(1, len(frame))]
        elif kind == "garbage":
            frame = bytearray(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
        elif kind == "oversize":
            head = struct.pack("<BBH", 1, rng.randrange(256), rng.randrange(4097, 65536))
            frame = bytearray([protocol.SYNC0, protocol.SYNC1]) + head + bytes([protocol.crc8(head)])
            frame += bytes(rng.randrange(256) for _ in range(rng.randrange(0, 50)))
        kinds.append(kind)
        yield kind, bytes(frame)


def test_each_kind_of_bad_frame_gets_error_reply(dev):
    dev.resync()
    good = protocol.encode(1, 200, b"abcdef")
    flipped = bytearray(good)
    flipped[8] ^= 0x10
    head = struct.pack("<BBH", 1, 201, 60000)
    oversize = bytes([protocol.SYNC0, protocol.SYNC1]) + head + bytes([protocol.crc8(head)])
    badhead = bytearray(good)
    badhead[4] ^= 0x01
    for raw, code in [(bytes(flipped), "BAD_CRC"), (oversize, "TOO_LONG"),
                      (bytes(badhead), "BAD_HEADER_CRC")]:
        dev.send_raw(raw)
        errors = [f.error()[0] for f in dev.drain(0.5) if f.is_error]
        assert code in errors, (code, errors)
    # A truncated frame is dropped after the idle timeout with a TRUNCATED error.
    dev.send_raw(good[:9])
    errors = [f.error()[0] for f in dev.drain(2.0) if f.is_error]
    assert "TRUNCATED" in errors
    dev.ping(b"still here")


def test_1000_random_bad_frames_then_ping(dev):
    rng = random.Random(2024)
    before = dev.stats()
    kinds = []
    for kind, raw in _bad_frames(rng, 1000):
        kinds.append(kind)
        dev.send_raw(raw)
    dev.resync()
    assert dev.ping(b"alive after 1000 bad frames") >= 0
    after = dev.stats()
    rejected = sum(after[k] - before[k] for k in ("bad_header", "too_long", "bad_crc", "truncated"))
    assert rejected > 0 and after["skipped_bytes"] > before["skipped_bytes"]
    assert set(kinds) == {"flip", "truncate", "garbage", "oversize", "header"}


def test_two_emulated_devices_at_once():
    with open_device("emulate") as a, open_device("emulate") as b:
        assert a.name != b.name  # distinct loopback ports
        for i in range(20):
            a.send(protocol.MSG["PING"], f"a{i}".encode())
            b.send(protocol.MSG["PING"], f"b{i}".encode())
        ra = [f.payload for f in (a.read_frame() for _ in range(20))]
        rb = [f.payload for f in (b.read_frame() for _ in range(20))]
        assert ra == [f"a{i}".encode() for i in range(20)]
        assert rb == [f"b{i}".encode() for i in range(20)]
        assert a.emulator.proc.pid != b.emulator.proc.pid
    assert not a.emulator.alive() and not b.emulator.alive()


def test_cli_device_info_json(repo_root):
    out = subprocess.run([sys.executable, "-m", "micromel", "device", "info", "--device", "emulate",
                          "--json"], capture_output=True, text=True, cwd=repo_root, timeout=120,
                         env={**__import__("os").environ, "PYTHONPATH": str(repo_root / "python")})
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    # numbers are JSON numbers; names, versions and hashes strings
    assert info["target"] == "emulate" and info["protocol"] == 1
    assert info["max_payload"] == 4096 and info["fe_out_zero_db"] < 0
    assert info["fe_out_step_db"] == 0.5 and isinstance(info["fe_hash"], str)
    assert isinstance(info["firmware"], str) and isinstance(info["compiler"], str)


def test_info_json_keeps_hashes_and_versions_as_text():
    from micromel.link.protocol import info_as_json, parse_info
    info = parse_info(b"protocol=1\nfirmware=1.2\nmodel_hash=12345678\nfe_hash=0badf00d\n"
                      b"fe_out_zero_db=-32\nfe_out_step_db=0.5\nlisten_sources=file,mic\n"
                      b"model=2024\nlabels=007\nfe_tiny=1e-05\n")
    assert info_as_json(info) == {"protocol": 1, "firmware": "1.2", "model_hash": "12345678",
                                  "fe_hash": "0badf00d", "fe_out_zero_db": -32,
                                  "fe_out_step_db": 0.5, "listen_sources": "file,mic",
                                  "model": "2024", "labels": "007", "fe_tiny": 1e-05}


def test_cli_bad_device_is_one_line_error(repo_root):
    out = subprocess.run([sys.executable, "-m", "micromel", "device", "info", "--device",
                          "/dev/does-not-exist"], capture_output=True, text=True, cwd=repo_root,
                         env={**__import__("os").environ, "PYTHONPATH": str(repo_root / "python")})
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "--device /dev/does-not-exist" in out.stderr
    assert "Traceback" not in out.stderr


def test_cli_ping_sends_payloads_of_the_size_asked(monkeypatch, capsys):
    from micromel.cli import main
    from micromel.link.device import Device

    sent = []
    ping = Device.ping
    monkeypatch.setattr(Device, "ping", lambda self, payload=b"", **kw: sent.append(payload)
                        or ping(self, payload, **kw))
    assert main(["device", "ping", "--size", "300", "--count", "2"]) == 0
    assert "2 pings, median" in capsys.readouterr().out
    # (opening the emulated board pings it first)
    assert [len(p) for p in sent[-2:]] == [300, 300] and sent[-1][255:258] == b"\xff\x00\x01"
    with pytest.raises(SystemExit):     # more than any micromel firmware takes: argparse refuses
        main(["device", "ping", "--size", str(protocol.FIRMWARE_MAX_PAYLOAD + 1)])
    assert "must be at most 4096" in capsys.readouterr().err
