"""The drum sources beyond Hydrogen: GM key and file-name labels, soundfont rendering, the
one-shot cut, near-duplicates within and across families, and a dataset build on two small
real packages (stk, exadrums). The big soundfonts are not downloaded in tests."""
from __future__ import annotations

import collections
import csv
import struct

import numpy as np
import pytest

from micromel.data import debpkg, drum_sources, drums, oneshot, soundfont
from micromel.data.drum_sources import SAMPLE_FOLDERS, gm_key_label, name_label
from micromel.errors import MicromelError


def test_gm_keys():
    by_label = collections.defaultdict(set)
    for key, label in soundfont.GM_DRUM_KEYS.items():
        by_label[label].add(key)
    assert by_label == {"kick": {35, 36}, "snare": {38, 40}, "hihat": {42, 44, 46},
                        "tom": {41, 43, 45, 47, 48, 50},
                        "cymbal": {49, 51, 52, 53, 55, 57, 59}}
    assert 37 not in soundfont.GM_DRUM_KEYS        # side stick


@pytest.mark.parametrize("stem,label", [
    ("035_Kick_1", "kick"), ("038_Snare_1", "snare"), ("044_Hi-Hat_Pedal", "hihat"),
    ("041_Tom_Low_2", "tom"), ("053_Cymbal_Ride_Bell", "cymbal"), ("037_Stick_Rim", None),
    ("039_Clap_Hand", None), ("054_Tombourine", None), ("Drum_000", None),
])
def test_freepats_labels(stem, label):
    assert gm_key_label(stem) == label


def _rules(name, pattern_part=""):
    return next(f.rules for f in SAMPLE_FOLDERS if f.name == name and pattern_part in f.pattern)


@pytest.mark.parametrize("folder,part,stem,label", [
    ("lmms", "drums", "bassdrum_acoustic01", "kick"), ("lmms", "drums", "kick_hardcore01", "kick"),
    ("lmms", "drums", "snare_muffled02", "snare"), ("lmms", "drums", "nasty_snare01", "snare"),
    ("lmms", "drums", "hihat_foot_pedal01", "hihat"), ("lmms", "drums", "hihat_opened03", "hihat"),
    ("lmms", "drums", "tom_low01", "tom"), ("lmms", "drums", "crash02", "cymbal"),
    ("lmms", "drums", "ride01", "cymbal"),
    # not drums: claps, clavs, rims and side sticks, shakers, wood, zaps, a bass
    ("lmms", "drums", "clap03", None), ("lmms", "drums", "clav01", None),
    ("lmms", "drums", "snare_rim01", None), ("lmms", "drums", "sidestick01", None),
    ("lmms", "drums", "nasty_rim01", None), ("lmms", "drums", "shaker02", None),
    ("lmms", "drums", "wood01", None), ("lmms", "drums", "zap01", None),
    ("lmms", "drums", "nasty_bass01", None),
    ("lmms", "beats", "rave_hihat02", "hihat"), ("lmms", "beats", "rave_kick01", "kick"),
    ("exadrums", "", "BD_Acou_01", "kick"), ("exadrums", "", "Snr_Acou_01", "snare"),
    ("exadrums", "", "HiHat", "hihat"), ("exadrums", "", "RideBell", "cymbal"),
    ("exadrums", "", "Crash_High", "cymbal"), ("exadrums", "", "Tom03", "tom"),
    ("stk", "", "bassdrum", "kick"), ("stk", "", "snardrum", "snare"), ("stk", "", "hihatcym", "hihat"),
    ("stk", "", "tomlowdr", "tom"), ("stk", "", "ridecymb", "cymbal"), ("stk", "", "cowbell1", None),
    ("stk", "", "tambourn", None), ("stk", "", "mand1", None), ("stk", "", "sinewave", None),
    ("chuck", "", "kick_04", "kick"), ("chuck", "", "snare-chili", "snare"),
    ("chuck", "", "hihat-open", "hihat"), ("chuck", "", "clap_01", None),
    ("chuck", "", "cowbell_01", None), ("chuck", "", "stereo_fx_01", None), ("chuck", "", "click_02", None),
])
def test_sample_folder_rules(folder, part, stem, label):
    assert name_label(stem, _rules(folder, part)) == label


def test_every_package_is_pinned_and_none_reserved():
    debs = [d for f in drum_sources.FAMILIES for d in drum_sources.family_debs(f)]
    assert len({d.package for d in debs}) == len(debs) == 12
    for d in debs:
        assert len(d.sha256) == 64 and int(d.sha256, 16) >= 0 and d.version
        assert not debpkg.reserved(d.package)
    # one family per shared sample pool: every soundfont's family is known
    assert {s.family for s in drum_sources.SOUNDFONTS} == {"generaluser", "fluid", "gmsmall"}


def test_check_sources():
    assert drums.check_sources(["samples", "hydrogen"]) == ["hydrogen", "samples"]
    with pytest.raises(MicromelError, match="choose among") as e:
        drums.check_sources(["hydrogen", "musescore"])
    assert "\n" not in str(e.value)


# --- soundfonts ---------------------------------------------------------------------------

def test_midi_file_timing():
    smf, onsets = soundfont.midi_file(25, [(36, 127), (38, 55)])
    assert smf[:4] == b"MThd" and struct.unpack(">IHHH", smf[4:14]) == (6, 0, 1, 480)
    assert smf[14:18] == b"MTrk" and struct.unpack(">I", smf[18:22])[0] == len(smf) - 22
    assert onsets == [1.0, 1.0 + soundfont.STEP_S]
    assert bytes([0xC9, 25]) in smf and bytes([0x99, 38, 55]) in smf    # channel 10


@pytest.fixture(scope="module")
def timgm6mb():
    deb = next(s for s in drum_sources.SOUNDFONTS if s.deb.package == "timgm6mb-soundfont")
    return debpkg.fetch(deb.deb.package, quiet=True, sha256=deb.deb.sha256) / deb.path


def test_drum_presets(timgm6mb):
    presets = soundfont.drum_presets(timgm6mb)
    assert presets[0] == (0, "Standard") and (25, "TR 808") in presets and len(presets) == 7
    assert 48 not in dict(presets)      # GS's Orchestra set: timpani on the tom/hat/cymbal keys


def test_render_kit(timgm6mb):
    notes = [(36, 127), (36, 55), (42, 127)]
    a = soundfont.render_kit(timgm6mb, 0, notes)
    assert all(np.array_equal(x, y) for x, y in zip(a, soundfont.render_kit(timgm6mb, 0, notes)))
    assert len(a) == 3 and all(len(x) == soundfont.CUT_S * soundfont.RENDER_RATE for x in a)
    peaks = [float(np.max(np.abs(x))) for x in a]
    assert peaks[1] < 0.7 * peaks[0]                       # velocity 55 is softer
    for x in a:     # the note starts at once, and nothing of the next note leaks in
        assert np.max(np.abs(x[:441])) > 0.05 * np.max(np.abs(x))
        assert np.max(np.abs(x[-441:])) < 1e-3


# --- one-shots and near-duplicates ---------------------------------------------------------

def _hit(seed=0, f0=180.0, n=12000):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000
    return (np.sin(2 * np.pi * f0 * t) + 0.3 * rng.standard_normal(n)) * np.exp(-t * 12)


def test_cut_oneshot():
    x = np.concatenate([np.zeros(4000), 0.3 * _hit(), np.zeros(40000)])
    y = oneshot.cut_oneshot(x)
    assert y.dtype == np.int16 and abs(int(np.max(np.abs(y))) - round(32767 * 10 ** (-1 / 20))) <= 1
    assert np.argmax(np.abs(y) > 1000) < 0.004 * 16000          # the leading silence is gone
    assert len(y) < 4000 + 12000 and y[-1] == 0                 # the silent tail too, faded
    assert len(oneshot.cut_oneshot(np.tile(_hit(), 5))) == oneshot.MAX_SECONDS * 16000
    assert oneshot.cut_oneshot(np.full(1000, 1e-5)) is None


def test_near_duplicates():
    nd = oneshot.NearDuplicates()
    a = oneshot.cut_oneshot(_hit(0))
    nd.add(oneshot.fingerprint(a), "a", "tom")
    quiet_late = np.concatenate([np.zeros(700, np.int16), (a // 4).astype(np.int16)])
    assert nd.find(oneshot.fingerprint(quiet_late), "tom") == "a"    # level and delay ignored
    assert nd.find(oneshot.fingerprint(quiet_late), "kick") is None  # another group
    repitched = oneshot.cut_oneshot(oneshot.to_mono_16k(a.astype(float), 12000))
    assert nd.find(oneshot.fingerprint(repitched), "tom") is None
    assert nd.find(oneshot.fingerprint(oneshot.cut_oneshot(_hit(1, 240.0))), "tom") is None
    for k in range(100):                                     # grows past its first block
        nd.add(oneshot.fingerprint(oneshot.cut_oneshot(_hit(k + 2, 100.0 + 7 * k))), f"h{k}", "tom")
    assert nd.find(oneshot.fingerprint(quiet_late), "tom") == "a"


def test_family_rows_drop_near_duplicates(tmp_path):
    earlier = oneshot.NearDuplicates()
    kept = oneshot.cut_oneshot(_hit(0))
    earlier.add(oneshot.fingerprint(kept), "kick/hydrogen_kit__k.wav")
    shots = [drum_sources.OneShot("fluid", "tom", "K", "same_as_earlier", kept // 2, "x"),
             drum_sources.OneShot("fluid", "tom", "K", "new", oneshot.cut_oneshot(_hit(5, 90.0)), "x"),
             drum_sources.OneShot("fluid", "tom", "K2", "layer", oneshot.cut_oneshot(_hit(5, 90.0)) // 3, "x"),
             drum_sources.OneShot("fluid", "snare", "K2", "other_label", oneshot.cut_oneshot(_hit(5, 90.0)), "x")]
    notes = []
    rows = drums._family_rows(tmp_path, shots, earlier, notes)
    assert [r["path"] for r, _ in rows] == ["tom/fluid__K__new.wav", "snare/fluid__K2__other_label.wav"]
    assert rows[0][0]["source"] == "fluid/K/new" and rows[0][0]["split"] in ("train", "val")
    assert len(notes) == 2 and "kick/hydrogen_kit__k.wav" in notes[0] and "fluid__K__new" in notes[1]
    assert (tmp_path / "tom" / "fluid__K__new.wav").is_file()


# --- a build on real packages (the two small sample folders) ------------------------------

def test_build_small_family(tmp_path, monkeypatch):
    small = tuple(f for f in SAMPLE_FOLDERS if f.name in ("stk", "exadrums"))
    monkeypatch.setattr(drum_sources, "SAMPLE_FOLDERS", small)
    manifest = drums.build_drums(tmp_path / "d", sources=("samples",), quiet=True)
    rows = list(csv.DictReader(open(manifest)))
    by = collections.Counter((r["source"].split("/")[1], r["label"]) for r in rows)
    assert by == {("stk", "kick"): 1, ("stk", "snare"): 1, ("stk", "hihat"): 1, ("stk", "tom"): 3,
                  ("stk", "cymbal"): 2, ("exadrums", "kick"): 1, ("exadrums", "snare"): 1,
                  ("exadrums", "hihat"): 1, ("exadrums", "tom"): 2, ("exadrums", "cymbal"): 3}
    assert all(r["source"].startswith("samples/") and r["split"] in ("train", "val") for r in rows)
    assert "tambourn.raw: no rule gives a drum class" in (tmp_path / "d" / "excluded.txt").read_text()
    stamp = (tmp_path / "d" / ".micromel-dataset").read_text()
    assert "stk 4.6.2+dfsg-2 71c70c87" in stamp and "sources samples" in stamp
    assert drums.build_drums(tmp_path / "d", sources=("samples",), quiet=True) == manifest


# --- background beds (no download: the selection rules on made-up trees) ------------------

def test_bed_sources_pinned_and_selected(tmp_path):
    from micromel.data import beds

    for s in beds.BED_SOURCES:
        assert len(s.deb.sha256) == 64 and not debpkg.reserved(s.deb.package)
    city = next(s for s in beds.BED_SOURCES if s.deb.package == "lincity-ng-data")
    lmms = next(s for s in beds.BED_SOURCES if s.deb.package == "lmms-common")
    for rel in ("usr/share/games/lincity-ng/sounds/TraficHigh1.wav",
                "usr/share/games/lincity-ng/sounds/RocketExplosion1.wav",
                "usr/share/games/lincity-ng/sounds/Build2.wav",
                "usr/share/lmms/samples/stringsnpads/juno_pad01.ogg",
                "usr/share/lmms/samples/drums/kick01.ogg", "usr/share/lmms/samples/latin/conga.ogg"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    assert [p.name for p in beds.bed_files(city, tmp_path)] == ["TraficHigh1.wav"]   # no explosions, no hammering
    assert [p.name for p in beds.bed_files(lmms, tmp_path)] == ["juno_pad01.ogg"]     # no drums, no latin percussion
