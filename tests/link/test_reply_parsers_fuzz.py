"""The host's parsers of what a device sends, fuzzed with hypothesis (issue 17): whatever the
bytes (a damaged link, a foreign firmware), each parser returns a result or raises a one-line
MicromelError, never another exception; the frame parser finds every valid frame hidden
behind garbage and split at any points, and never returns a frame that was not sent."""
import json
import struct

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from micromel.engine.runner import parse_model_bench
from micromel.errors import MicromelError
from micromel.frontend.link import parse_bench_reply, parse_features_reply
from micromel.hil.results import read_results
from micromel.link import protocol
from micromel.link.audio import AudioResult, parse_audio_reply

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
frames = st.tuples(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=300))


@FAST
@given(st.lists(st.tuples(st.binary(max_size=60), frames), max_size=6), st.data())
def test_frames_behind_garbage_are_all_found(items, data):
    stream, sent = b"", []
    for garbage, (t, seq, payload) in items:
        stream += garbage + protocol.encode(t, seq, payload)
        sent.append(protocol.Frame(t, seq, payload))
    stream += bytes(4096 + protocol.OVERHEAD)     # the host's resync: completes any candidate
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    parser = protocol.Parser(max_payload=4096)
    got = []
    for a, b in zip([0] + cuts, cuts + [len(stream)]):
        got += parser.feed(stream[a:b])
    # every frame sent is found, in order; anything else found was formed by the garbage
    it = iter(got)
    assert all(any(f == s for f in it) for s in sent)


@FAST
@given(st.lists(st.tuples(st.binary(max_size=400), st.one_of(st.none(), frames)), max_size=5),
       st.booleans())
def test_frame_parser_never_fails_and_frames_check_out(items, resync):
    # garbage with some valid frames among it (random bytes alone almost never hold a
    # frame, so the check below would seldom run); with `resync` the host's padding follows,
    # without it a partial candidate may be left for drop_partial
    data = b"".join(g + (protocol.encode(*f) if f else b"") for g, f in items)
    if resync:
        data += bytes(4096 + protocol.OVERHEAD)
    parser = protocol.Parser(max_payload=4096)
    got = list(parser.feed(data)) + parser.drop_partial()
    for f in got:
        assert protocol.encode(f.type, f.seq, f.payload) in data
        f.error()       # any payload, even short: (code, seq, detail)
    if resync:          # then every frame sent is found
        found = [(f.type, f.seq, f.payload) for f in got]
        assert all(f in found for _, f in items if f)


@FAST
@given(st.binary(max_size=600), st.integers(1, 64), st.integers(1, 16))
def test_audio_reply_parser(payload, n_mels, n_classes):
    try:
        parse_audio_reply(payload, n_mels, n_classes, AudioResult())
    except MicromelError:
        pass


@FAST
@given(st.integers(0, 40), st.integers(0, 20), st.booleans(), st.booleans(), st.data())
def test_audio_reply_roundtrip(n_frames, n_windows, with_frames, with_result, data):
    """A well-formed reply (as app_audio.c builds it) parses to what was put in."""
    n_mels, n_classes = 8, 3
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    flags = (protocol.AUDIO_REPLY["FRAMES"] if with_frames else 0) | \
        (protocol.AUDIO_REPLY["RESULT"] if with_result else 0)
    frames_b = rng.integers(-128, 128, (n_frames, n_mels)).astype(np.int8)
    p = struct.pack("<HHB", n_frames, n_windows, flags) + (frames_b.tobytes() if with_frames else b"")
    wins = []
    for i in range(n_windows):
        silent = int(rng.integers(0, 2))
        scores = rng.integers(-128, 128, n_classes).astype(np.int8) if not silent else np.zeros(n_classes, np.int8)
        p += struct.pack("<IB", i, silent) + scores.tobytes()
        wins.append((silent, scores))
    if with_result:
        p += struct.pack("<bH", 1, 2) + struct.pack("<3I", 5, 6, 7)
    out = AudioResult()
    parse_audio_reply(p, n_mels, n_classes, out)
    assert len(out.windows) == n_windows and len(out.frames) == (n_frames if with_frames else 0)
    if with_frames and n_frames:
        assert np.array_equal(out.features(n_mels), frames_b)
    for i, (w, (s, scores)) in enumerate(zip(out.windows, wins)):
        assert w.index == i and w.silent == bool(s)
        assert w.scores is None if s else np.array_equal(w.scores, scores)
    if with_result:
        assert out.vote == 1 and out.n_nonsilent == 2 and out.acc.tolist() == [5, 6, 7]
    else:
        assert out.vote is None and out.acc is None
    try:
        parse_audio_reply(p + b"\x00", n_mels, n_classes, AudioResult())
        raise AssertionError("trailing byte accepted")
    except MicromelError:
        pass


@FAST
@given(st.binary(max_size=400))
def test_info_parser(payload):
    info = protocol.parse_info(payload)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in info.items())


@FAST
@given(st.binary(max_size=300), st.sampled_from([None, 40]))
def test_features_and_bench_reply_parsers(payload, n_mels):
    for parse in (lambda: parse_features_reply(payload, n_mels, "dev"),
                  lambda: parse_bench_reply(payload, "dev"),
                  lambda: parse_model_bench(payload, "dev")):
        try:
            parse()
        except MicromelError:
            pass


@FAST
@given(st.lists(st.one_of(st.binary(max_size=40), st.just(b'{"clip": "a"}\n'),
                          st.just(b'[1]\n'), st.just(b"\xff\xfe\n")), max_size=8))
def test_results_log_reader_keeps_whole_records(tmp_path_factory, chunks):
    path = tmp_path_factory.mktemp("r") / "results.jsonl"
    path.write_bytes(b"".join(chunks))
    records = read_results(path)
    assert all(isinstance(r, dict) and "clip" in r for r in records)
    assert path.read_bytes() == b"".join(json.dumps(r).encode() + b"\n" for r in records) or \
        len(path.read_bytes().splitlines()) == len(records)
