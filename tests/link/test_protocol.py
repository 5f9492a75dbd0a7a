"""Protocol v1: Python codec and the device's C parser (host build) must agree,
and the C parser must survive any byte stream without overflowing or hanging."""
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from micromel.link import host as native
from micromel.link import protocol

FRAME, ERROR = native.HostParser.FRAME, native.HostParser.ERROR


@pytest.fixture()
def parser():
    return native.HostParser()


def test_crc_check_values():
    # Published check values of the two CRCs for b"123456789".
    assert protocol.crc16(b"123456789") == 0x29B1  # CRC-16/CCITT-FALSE
    assert protocol.crc8(b"123456789") == 0xF4  # CRC-8/SMBUS


def test_python_roundtrip():
    cases = [(1, 0, b""), (2, 255, b"\x00"), (0x7F, 3, bytes(range(256)) * 16)]
    stream = b"".join(protocol.encode(t, s, p) for t, s, p in cases)
    got = list(protocol.Parser().feed(stream))
    assert [(f.type, f.seq, f.payload) for f in got] == cases


def test_valid_frames_and_garbage_between(parser):
    data = b"\x00\xffxyz" + protocol.encode(1, 7, b"hello") + b"\xa5garbage\xa5" + protocol.encode(2, 9)
    assert parser.run(data) == [(FRAME, 1, 7, 5), (FRAME, 2, 9, 0)]
    assert parser.stats()["frames"] == 2
    assert parser.stats()["skipped_bytes"] > 0


def test_bad_header_crc(parser):
    f = bytearray(protocol.encode(1, 5, b"abc"))
    f[6] ^= 0x01
    events = parser.run(bytes(f) + protocol.encode(1, 6, b"ok"))
    assert (ERROR, protocol.ERR["BAD_HEADER_CRC"], 0, 0) in events
    assert events[-1] == (FRAME, 1, 6, 2)


def test_bad_payload_crc(parser):
    f = bytearray(protocol.encode(1, 5, b"abcdef"))
    f[9] ^= 0x40
    events = parser.run(bytes(f) + protocol.encode(1, 6))
    assert events[0] == (ERROR, protocol.ERR["BAD_CRC"], 5, 0)
    assert events[-1] == (FRAME, 1, 6, 0)


def test_oversized_length_rejected_at_header(parser):
    import struct
    head = struct.pack("<BBH", 1, 4, parser.max_payload + 1)
    bad = bytes([protocol.SYNC0, protocol.SYNC1]) + head + bytes([protocol.crc8(head)])
    events = parser.run(bad + protocol.encode(1, 8, b"x"))
    assert events[0] == (ERROR, protocol.ERR["TOO_LONG"], 4, parser.max_payload)
    assert events[-1] == (FRAME, 1, 8, 1)
    assert parser.buffered() == 0


def test_truncated_frame_then_idle_recovers_hidden_frame(parser):
    # A frame announcing 100 bytes is cut after 10; a valid PING follows and is
    # swallowed as payload. The idle timeout drops the partial frame and the
    # rescan finds the PING inside it.
    truncated = protocol.encode(1, 1, bytes(100))[:17]
    ping = protocol.encode(1, 2, b"ping")
    assert parser.run(truncated + ping) == []
    events = parser.run(b"", idle=True)
    assert events[0][0:2] == (ERROR, protocol.ERR["TRUNCATED"])
    assert (FRAME, 1, 2, 4) in events
    assert parser.buffered() == 0


def test_max_size_frame(parser):
    payload = bytes(random.Random(1).randrange(256) for _ in range(parser.max_payload))
    assert parser.run(protocol.encode(0x10, 1, payload)) == [(FRAME, 0x10, 1, parser.max_payload)]


def _python_frames(data: bytes):
    return [(f.type, f.seq, len(f.payload)) for f in protocol.Parser(max_payload=4096).feed(data)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(
    st.binary(max_size=40),
    st.builds(lambda t, s, p: protocol.encode(t, s, p), st.integers(0, 255), st.integers(0, 255),
              st.binary(max_size=300)),
    st.builds(lambda t, s, p, cut: protocol.encode(t, s, p)[:cut], st.integers(0, 255),
              st.integers(0, 255), st.binary(max_size=300), st.integers(0, 20)),
), max_size=12))
def test_c_parser_matches_python_parser(chunks):
    """On any mix of frames, truncated frames and garbage, the device parser
    finds exactly the frames the host parser finds, and never overflows."""
    data = b"".join(chunks)
    p = native.HostParser()
    events = p.run(data)
    c_frames = [(t, s, n) for kind, t, s, n in events if kind == FRAME]
    assert c_frames == _python_frames(data)
    assert p.buffered() <= 4096 + protocol.OVERHEAD


def test_app_ping_info_unknown_type():
    app = native.HostApp()
    app.rx(protocol.encode(protocol.MSG["PING"], 11, b"echo me"))
    app.rx(protocol.encode(protocol.MSG["INFO"], 12))
    app.rx(protocol.encode(0x6E, 13))
    frames = list(protocol.Parser().feed(app.read()))
    assert frames[0] == protocol.Frame(protocol.MSG["PING"] | 0x80, 11, b"echo me")
    info = protocol.parse_info(frames[1].payload)
    assert info["protocol"] == str(protocol.PROTOCOL_VERSION)
    assert info["max_payload"] == str(protocol.FIRMWARE_MAX_PAYLOAD)
    assert frames[2].is_error and frames[2].error() == ("UNKNOWN_TYPE", 13, 0x6E)


def test_generated_header_matches_protocol_module(tmp_path):
    from micromel import codegen
    codegen.write_build_headers(tmp_path)
    text = (tmp_path / "mm_proto_ids.h").read_text()
    for name, val in protocol.MSG.items():
        assert f"#define MM_MSG_{name} 0x{val:02X}u" in text
    for prefix, table in (("MM_AUDIO_FLAG", protocol.AUDIO_FLAG), ("MM_AUDIO_REPLY", protocol.AUDIO_REPLY),
                          ("MM_BENCH_PART", protocol.BENCH_PART), ("MM_TAP", protocol.TAP)):
        for name, val in table.items():
            assert f"#define {prefix}_{name} {val}u" in text


def test_host_parser_counts_damaged_frames_in_bounded_memory():
    """A long run over a noisy link damages thousands of frames: the host parser counts them
    (what the request loop watches) and keeps only the latest reasons."""
    p = protocol.Parser()
    bad = bytearray(protocol.encode(1, 5, b"abcdef"))
    bad[9] ^= 0x40
    frames = []
    for k in range(5000):
        frames += list(p.feed(bytes(bad) + protocol.encode(1, k % 256, b"ok")))
    assert len(frames) == 5000 and all(f.payload == b"ok" for f in frames)
    assert p.n_errors == 5000 and len(p.errors) <= 16 and p.errors[-1] == "bad crc"
