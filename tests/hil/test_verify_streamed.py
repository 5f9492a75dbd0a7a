"""verify compares a clip as it streams (hil/checks.py: FrameDiff, WindowDiff, HostClip): the
same record for a clip given whole or in chunks of any size, and every difference found and
placed where it is, whatever the order in which the two sides deliver."""
import numpy as np
import pytest
import soundfile as sf

from micromel.audio import load_audio
from micromel.hil.checks import (BACKLOG, Clip, ClipReader, ClipUnreadable, FrameDiff, WindowDiff,
                                 check_clip_audio)
from micromel.clip.reference import Reference
from micromel.link.model_device import open_model_device


def _deliver(diff, host_parts, dev_parts, rng):
    """Hand both sides' parts to `diff` in a random interleaving (each side in order)."""
    hi = di = 0
    while hi < len(host_parts) or di < len(dev_parts):
        if di == len(dev_parts) or (hi < len(host_parts) and rng.random() < 0.5):
            diff.add(host=host_parts[hi])
            hi += 1
        else:
            diff.add(dev=dev_parts[di])
            di += 1


def _split(x, rng):
    return np.split(x, np.sort(rng.integers(0, len(x) + 1, rng.integers(0, 6))))


def test_frame_diff_finds_the_first_difference_and_counts_them():
    rng = np.random.default_rng(0)
    for trial in range(200):
        host = rng.integers(-128, 128, (rng.integers(0, 40), 5)).astype(np.int8)
        dev = host.copy()
        flips = rng.integers(0, 3) if len(host) else 0
        where = [(int(rng.integers(len(host))), int(rng.integers(5))) for _ in range(flips)]
        for f, m in where:
            dev[f, m] = ~dev[f, m]
        if trial % 7 == 0 and len(dev):
            dev = dev[:-1]      # one frame short
        d = FrameDiff(5)
        _deliver(d, _split(host, rng), _split(dev, rng), rng)
        got = d.result()
        if len(dev) != len(host):
            assert got == {"frames_host": len(host), "frames_device": len(dev)}
            continue
        idx = np.argwhere(host != dev)
        if not len(idx):
            assert got is None
        else:
            f, m = idx[0]
            assert got == {"count": len(idx), "first_index": [int(f), int(m)],
                           "host": int(host[f, m]), "device": int(dev[f, m])}


def test_window_diff_keeps_three_differences_and_the_first_score_window():
    rng = np.random.default_rng(1)
    n = 30
    wins = [np.full((2, 3), i, np.int8) for i in range(n)]
    host = [(w, None if i % 5 == 0 else np.array([i, -i], np.int8)) for i, w in enumerate(wins)]
    dev = [s if s is None else s.copy() for _, s in host]
    dev[3] = None                              # silent on the device only
    dev[7] = np.array([1, 1], np.int8)         # other scores
    dev[8] = np.array([2, 2], np.int8)
    dev[9] = np.array([3, 3], np.int8)
    d = WindowDiff()
    _deliver(d, [host[i:i + 4] for i in range(0, n, 4)], [dev[i:i + 3] for i in range(0, n, 3)], rng)
    assert d.n_diffs == 4
    assert d.result() == [{"window": 3, "silent_host": False, "silent_device": True},
                          {"window": 7, "host": [7, -7], "device": [1, 1]},
                          {"window": 8, "host": [8, -8], "device": [2, 2]}]
    w, window = d.first_score_window
    assert w == 7 and np.array_equal(window, wins[7])
    short = WindowDiff()
    short.add(host=host[:4], dev=dev[:2])
    assert short.result()[0] == {"windows_host": 4, "windows_device": 2}


def test_a_clip_in_chunks_gives_the_record_of_the_whole_clip(model, dataset):
    """On the firmware's C built for this computer: real drum clips (one shorter than a
    window, one digital silence) whole and in uneven chunks; every record bit-exact."""
    ref = Reference(model)
    rng = np.random.default_rng(2)
    dev = open_model_device("native", model)      # `--device native`
    names = ["clip01.wav", "clip03.wav", "short.wav", "silence.wav"]
    for name in names:
        pcm = load_audio(dataset.parent / name, 16000)
        clip = Clip(name, dataset.parent / name, ref.labels[0])
        whole = check_clip_audio(dev, ref, clip, pcm)
        chunked = check_clip_audio(dev, ref, clip, _split(pcm, rng))
        assert whole == chunked, name
        assert whole["features_match"] and whole["scores_match"], (name, whole)
        assert whole["windows"] == len(ref.clip(pcm).scores)


def test_a_side_far_behind_holds_at_most_the_backlog_and_still_pairs_by_index():
    """A device that sends nothing for a long while (or drops frames) must not make the check
    hold the whole clip: past BACKLOG the oldest are only counted, and what comes later is
    still compared with the frame or window of the same index."""
    n = 3 * BACKLOG + 17
    host = np.zeros((n, 2), np.int8)
    dev = host.copy()
    dev[n - 5, 1] = 9
    d = FrameDiff(2)
    for i in range(0, n, 1000):
        d.add(host=host[i:i + 1000])
        assert len(d.host) <= BACKLOG
    for i in range(0, n, 333):
        d.add(dev=dev[i:i + 333])
    assert d.result() == {"count": 1, "first_index": [n - 5, 1], "host": 0, "device": 9}
    w = WindowDiff()
    win = np.zeros((1, 1), np.int8)
    w.add(host=[(win, np.array([i % 100], np.int8)) for i in range(n)])
    assert len(w.host) <= BACKLOG
    w.add(dev=[np.array([i % 100], np.int8) for i in range(n - 3)] + [np.array([7], np.int8)] * 3)
    assert w.n_diffs == 3 and w.diffs[0]["window"] == n - 3
    assert w.first_score_window[0] == n - 3


def test_an_empty_or_unreadable_clip_and_a_failing_reference_are_clip_errors(model, dataset, tmp_path):
    """Not the device's fault, so verify records them per clip and goes on (hil/verify.py)."""
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.int16), 16000, subtype="PCM_16")
    with pytest.raises(ClipUnreadable, match="no samples"):
        list(ClipReader(empty, 16000).chunks())
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF not really")
    with pytest.raises(ClipUnreadable, match="junk.wav"):
        list(ClipReader(junk, 16000).chunks())
    ref = Reference(model)

    def broken(window):
        raise RuntimeError("interpreter gone")

    ref.scores = broken
    path = dataset.parent / "clip01.wav"
    dev = open_model_device("native", model)
    with pytest.raises(ClipUnreadable, match="host reference failed.*interpreter gone"):
        check_clip_audio(dev, ref, Clip("clip01.wav", path, ref.labels[0]), load_audio(path, 16000))
