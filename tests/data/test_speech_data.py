"""Rules of the speech / non-speech data: the source catalogue, a word's active extent, the
clips' centre-slice labels and the streams' ground truth (no download needed), and a small
build from the real packages when they are in the data cache."""
import re
from pathlib import Path

import numpy as np
import pytest

from micromel.data import debpkg, mixing, scenes, speech, streams
from micromel.data import speech_sources as S
from speech_fakes import FakeLibrary, burst

SR = 16000


def test_catalogue_pins_every_source_and_roles_go_by_package():
    names = [s.name for s in S.SOURCES]
    assert len(names) == len(set(names))
    role_of_package = {}
    for s in S.SOURCES:
        assert re.fullmatch(r"[0-9a-f]{64}", s.sha256), s.name
        assert s.version and s.files > 0 and s.kind in S.KINDS and s.role in S.ROLES
        assert not debpkg.reserved(s.package), s.package
        assert role_of_package.setdefault(s.package, s.role) == s.role, s.package
    # every role has speech and music, and a held-out role has effects
    for role in S.ROLES:
        assert S.select(role, "speech") and S.select(role, "music") and S.select(role, "sfx"), role
    # the telephone prompts train and are never claimed as a held-out evaluation
    assert all(s.role == "train" for s in S.SOURCES if s.package.startswith("asterisk-prompt"))


def test_selection_rules_on_paths():
    hw = S.by_name("hedgewars_voices")
    rels = ["usr/share/games/hedgewars/Data/Sounds/voices/Default/Hello.ogg",
            "usr/share/games/hedgewars/Data/Sounds/voices/Default/Laugh.ogg",
            "usr/share/games/hedgewars/Data/Sounds/voices/Default/Ow2.ogg",
            "usr/share/doc/hedgewars-data/voices/Default/Hello.ogg"]
    assert S.matching(hw, rels) == [rels[0]]
    assert S.group_of(hw, rels[0]) == "Default"
    words, sfx = S.by_name("tuxpaint_words"), S.by_name("tuxpaint_sfx")
    rels = ["usr/share/tuxpaint/stamps/animals/birds/duck_desc_fr.ogg",
            "usr/share/tuxpaint/stamps/animals/birds/duck.ogg",
            "usr/share/tuxpaint/stamps/town/monuments/inukshuk-photo_desc_da.ogg.ogg",
            "usr/share/tuxpaint/stamps/seasonal/hanukkah/dreydl-nun.ogg"]
    assert S.matching(words, rels) == [rels[0]] and S.group_of(words, rels[0]) == "fr"
    assert S.matching(sfx, rels) == [rels[1]]          # no voice is an effect
    f = S.SourceFile(Path("x.ogg"), words, "da")
    assert S.role_of(f) == "val" and S.role_of(S.SourceFile(Path("x.ogg"), words, "fr")) == "train"


def test_active_extent_of_a_word_is_within_28_db_of_its_peak():
    x = np.concatenate([np.zeros(SR // 2), burst(0.3), burst(0.2, 0.3 * 10 ** (-20 / 20)),
                        burst(0.2, 0.3 * 10 ** (-35 / 20)), np.zeros(SR // 2)])
    (a, b), = mixing.active_runs(x)
    assert a == SR // 2 and b == SR // 2 + int(0.5 * SR)      # the -20 dB tail is in, -35 dB out


def test_pauses_shorter_than_0_4_s_join_longer_ones_split():
    gap = lambda s: np.zeros(int(s * SR))   # noqa: E731
    x = np.concatenate([burst(0.2), gap(0.39), burst(0.2), gap(0.41), burst(0.2)])
    runs = mixing.active_runs(x)
    assert [(round(a / SR, 2), round(b / SR, 2)) for a, b in runs] == [(0.0, 0.79), (1.2, 1.4)]
    assert mixing.merge_spans([(0, 10), (15, 20), (30, 40)], 6) == [(0, 20), (30, 40)]


def test_window_label_is_the_coverage_of_its_centre_slice():
    n = speech.window_samples(32)
    a, b = speech.centre_slice(n, 6)
    assert (n, a, b) == (8448, 3456, 4992)      # segment.Timebase: window j's slice
    mask = np.zeros(n, dtype=bool)
    mask[: a + 768] = True                      # half of the slice: speech
    assert speech.window_label(mask, 0, n, 6)
    mask[a + 767] = False                       # one sample less: not
    assert not speech.window_label(mask, 0, n, 6)
    mask[:] = False
    mask[:a] = mask[b:] = True                  # speech all around a silent centre
    assert not speech.window_label(mask, 0, n, 6)


def test_stream_ground_truth_follows_the_placed_words():
    rng = np.random.default_rng(1)
    sc = scenes.make_scene(FakeLibrary(), rng, 30.0, streams.RECIPES["noise"])
    rows = streams.truth_rows(sc)
    sp = [r for r in rows if r[2] == "speech"]
    assert len(sp) >= 2 and any(r[2] == "nonspeech" for r in rows)   # gaps below are checked
    for (a0, b0, *_), (a1, *_) in zip(sp, sp[1:]):
        assert a1 - b0 >= mixing.GAP_S - 1e-9          # separate events are >= 0.4 s apart
    words = sorted((p.start, p.end) for p in sc.placed if p.label == "speech")
    for a, b, lab, tag in sp:
        assert tag.startswith("kajongg_voices/")
        inside = [(s, e) for s, e in words if round(a * SR) <= s and e <= round(b * SR)]
        assert inside and inside[0][0] == round(a * SR) and max(e for _, e in inside) == round(b * SR)
    pcm = mixing.to_int16(sc.pcm).astype(float)
    louder = 0
    for a, b, *_ in sp:                 # louder inside a word than in the bed before it
        seg = pcm[int(a * SR): int(b * SR)]
        before = pcm[max(0, int(a * SR) - 4000): int(a * SR) - 800]
        if len(before) > 1000:
            assert mixing.rms(seg) > mixing.rms(before)
            louder += 1
    assert louder >= 2


def test_clips_are_labelled_by_their_centre(monkeypatch):
    # record each scene and the window starts drawn in it, to label every clip again here
    # from the scene's word spans by interval arithmetic (not through speech_mask/window_label)
    drawn = []
    make_scene, pick_starts = speech.make_scene, speech.pick_starts
    monkeypatch.setattr(speech, "make_scene", lambda *a: drawn.append([make_scene(*a)]) or drawn[-1][0])
    monkeypatch.setattr(speech, "pick_starts", lambda *a: drawn[-1].append(pick_starts(*a)) or drawn[-1][1])
    rng = np.random.default_rng(3)
    n = speech.window_samples(32)
    clips = list(speech.split_clips(FakeLibrary(), 40, n, 6, rng))
    assert len(clips) == 40 and all(len(pcm) == n and pcm.dtype == np.int16 for pcm, _, _ in clips)
    labels = [lab for _, lab, _ in clips]
    assert labels.count("speech") >= 10 and labels.count("nonspeech") >= 10
    windows = [(sc, s) for sc, starts in drawn for s in starts]
    assert len(windows) == len(clips)
    mixed = other_rule = 0
    for (pcm, lab, tag), (sc, s) in zip(clips, windows):
        assert np.array_equal(pcm, mixing.to_int16(sc.pcm)[s:s + n])
        a, b = s + 3456, s + 4992                 # the centre 6 frames (test above)
        union = []                                # the words' spans, merged
        for x, y in sorted(sc.speech_spans()):
            if union and x <= union[-1][1]:
                union[-1][1] = max(union[-1][1], y)
            else:
                union.append([x, y])
        covered = sum(max(0, min(b, y) - max(a, x)) for x, y in union)
        assert lab == ("speech" if 2 * covered >= b - a else "nonspeech"), (covered, lab)
        mixed += 0 < covered < b - a
        whole = sum(max(0, min(s + n, y) - max(s, x)) for x, y in union)
        other_rule += (2 * whole >= n) != (2 * covered >= b - a)
        assert tag.startswith("kajongg_voices/") if lab == "speech" else not tag.startswith("kajongg")
    # some slices are partly speech (the half rule is exercised), and some clips would be
    # labelled otherwise by the coverage of the whole window (so the test tells the two apart)
    assert mixed > 0 and other_rule > 0


needs_packages = pytest.mark.skipif(
    not (debpkg.data_root() / "debian" / "kajongg" / ".micromel-stamp").exists(),
    reason="the Debian packages are not in the data cache (MICROMEL_DATA)")


@needs_packages
def test_small_build_from_the_real_packages(tmp_path):
    man = speech.build_speech(tmp_path / "sp", counts={"train": 12, "val": 6, "test": 6}, quiet=True)
    rows = [r.split(",") for r in man.read_text().splitlines()[1:]]
    assert len(rows) == 24 and {r[2] for r in rows} == {"train", "val", "test"}
    held_out = {s.name for s in S.SOURCES if s.role == "test"}
    trained = {s.name for s in S.SOURCES if s.role == "train"}
    for path, label, split, source in rows:
        name = source.split("/")[0]
        assert (tmp_path / "sp" / path).is_file() and label in speech.LABELS
        assert (name in held_out) == (split == "test") or name == "noise", (split, source)
        if split != "train":
            assert name not in trained or S.role_of(S.SourceFile(Path(), S.by_name(name),
                                                                  source.split("/", 1)[1])) == split
    # a second build with the same settings is a no-op
    assert speech.build_speech(tmp_path / "sp", counts={"train": 12, "val": 6, "test": 6}, quiet=True) == man
