"""The training recipe's cross-source parts: leave-one-source-out and per-source semantics on
tiny manifests, balancing by source, the room-and-microphone steps deterministic per (seed,
clip, copy), stable partners and the per-clip feature cache, a --loso run and its card."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from micromel.clip import rules as win
from micromel.data.datasets import load_dataset
from micromel.errors import MicromelError
from micromel.train import evaluate, features
from micromel.train.config import AugmentConfig


def _wav(path: Path, seed: int, n: int = 8000, decay: float = 8.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000
    x = (rng.standard_normal(n) * 0.3 + np.sin(2 * np.pi * (80 + 40 * seed) * t)) * np.exp(-t * decay)
    sf.write(str(path), (x * 12000).astype(np.int16), 16000, subtype="PCM_16")
    return path


@pytest.fixture()
def manifest(tmp_path) -> Path:
    rows = ["path,label,split,source"]
    k = 0
    for src, kits in (("alpha", ("k1", "k2")), ("beta", ("k3",)), ("", ("k4",))):
        for kit in kits:
            for lab in ("kick", "snare"):
                for split in ("train", "val", "test"):
                    name = f"{lab}/{src or 'none'}_{kit}_{split}.wav"
                    _wav(tmp_path / name, k)
                    k += 1
                    rows.append(f"{name},{lab},{split},{src + '/' + kit + '/x.wav' if src else ''}")
    (tmp_path / "manifest.csv").write_text("\n".join(rows) + "\n")
    return tmp_path / "manifest.csv"


def test_hold_out_source(manifest):
    ds = load_dataset(manifest)
    assert set(ds.source_names()) == {"alpha", "beta", ""}
    held = ds.hold_out("beta")
    names = held.source_names()
    test = [n for (_, _, s), n in zip(held.items, names) if s == "test"]
    assert test == ["beta"] * 6                      # every beta clip, whatever its split was
    assert all(n != "beta" for (_, _, s), n in zip(held.items, names) if s != "test")
    assert len(held.items) == 6 + 2 * (4 + 2)        # the others lose their test clips
    assert held.has_splits and "held out: beta" in held.source
    with pytest.raises(MicromelError, match="gamma: not a source") as e:
        ds.hold_out("gamma")
    assert "alpha, beta" in str(e.value) and "\n" not in str(e.value)


def test_metrics_by_source_and_loso_table():
    by = evaluate.metrics_by_source([0, 1, 0, 1], [0, 1, 1, 1], ["a", "a", "b", ""], ["x", "y"])
    assert list(by) == ["(no source)", "a", "b"]
    assert by["a"]["accuracy"] == 1.0 and by["b"]["accuracy"] == 0.0 and by["a"]["clips"] == 2
    assert by["a"]["macro_f1"] == 1.0 and by["b"]["macro_f1"] is None     # b: one clip, one class
    # a source of one class has no macro-F1 (not one halved by the class it lacks); a source of
    # two classes averages over those two, not over a third it lacks
    by = evaluate.metrics_by_source([1, 1, 1, 1, 0, 1], [1, 1, 1, 0, 0, 2], ["s"] * 4 + ["t"] * 2,
                                    ["x", "y", "z"])
    assert by["s"]["macro_f1"] is None and by["s"]["accuracy"] == 0.75
    assert abs(by["t"]["macro_f1"] - (1.0 + 0.0) / 2) < 1e-12
    assert "-" in evaluate.format_by_source({"by_source": by}).splitlines()[1]
    runs = [{"source": s, "seed": seed, "clips": n, "test_int8": {"accuracy": a}}
            for s, n, seed, a in (("a", 10, 0, 0.9), ("a", 10, 1, 0.8), ("b", 4, 0, 0.5), ("b", 4, 1, 0.75))]
    rows, mean = evaluate.loso_table(runs)
    assert rows[0][:3] == ("a", 10, [0.9, 0.8]) and abs(rows[1][3] - 0.625) < 1e-12
    assert abs(mean - (0.85 + 0.625) / 2) < 1e-12
    assert "mean over 2 held-out sources: 73.8%" in evaluate.format_loso(runs)


def test_epoch_sampler_balances_sources():
    from micromel.train.fit import EpochSampler

    n = 100
    feats = [np.zeros((40, 8), np.int8) for _ in range(n)]
    energy = [np.full(9, 10 ** 12, np.int64) for _ in range(n)]
    cf = features.ClipFeatures(feats, energy, np.zeros(n, np.int32), np.arange(n, dtype=np.int32),
                               np.zeros(n, np.int32))
    for k in range(n):
        cf.feats[k][:] = k
    sources = ["big"] * 90 + ["small"] * 10
    w, fr = win.WindowConfig(32, 16, -65.0), win.Framing(256, 512)
    rng = np.random.default_rng(0)
    x, _ = EpochSampler(cf, w, fr, 1, sources).sample(4000, rng)
    share = np.mean(x[:, 0, 0] >= 90)
    assert 0.45 < share < 0.55                       # class -> source -> clip
    x, _ = EpochSampler(cf, w, fr, 1, None).sample(4000, rng)
    assert np.mean(x[:, 0, 0] >= 90) < 0.15          # class -> clip


@pytest.fixture()
def banks(tmp_path, monkeypatch):
    from micromel.train import banks as banks_mod

    monkeypatch.setenv("MICROMEL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(banks_mod, "ROOMS", 3)
    bed_dir = tmp_path / "beds"
    for k in range(3):
        _wav(bed_dir / f"b{k}.wav", 50 + k, n=16000 * 3, decay=0.0)
    return banks_mod.bed_bank([bed_dir], 16000), banks_mod.room_bank(16000, (0.2, 0.5))


def test_room_steps_are_deterministic_per_seed_clip_copy(banks):
    from micromel.train.augment import augment_waveform

    beds, rooms = banks
    assert len(list(beds.glob("*.wav"))) == 3 and len(list(rooms.glob("*.wav"))) == 3
    cfg = AugmentConfig(bed_p=1.0, reverb_p=1.0, phone_p=0.5, cheap_mic_p=0.5)
    x = np.round(np.sin(np.arange(6000) / 7.0) * 8000 * np.exp(-np.arange(6000) / 2000)).astype(np.int16)

    def aug(seed=0, clip="c1", variant=1):
        return augment_waveform(x, 16000, cfg, seed, clip, variant, beds=str(beds), rooms=str(rooms))

    a = aug()
    aug(seed=5, clip="other", variant=3)             # any draws between: no effect
    assert np.array_equal(a, aug())
    assert not np.array_equal(a, aug(variant=2)) and not np.array_equal(a, aug(clip="c2"))
    assert not np.array_equal(a, aug(seed=1))
    dry = augment_waveform(x, 16000, AugmentConfig(), 0, "c1", 1)
    assert not np.array_equal(a[: len(dry)], dry[: len(a)])    # the steps change the sound


def test_partners_stable_when_a_source_leaves(tmp_path):
    items = [(tmp_path / f"{k}.wav", "kick", "train") for k in range(60)]
    keys = features.clip_keys(items)
    aug = AugmentConfig(background_p=0.7)
    full = features.partners(items, keys, aug, seed=3)
    assert 0.5 * 60 * 4 < len(full) < 0.9 * 60 * 4 and all(str(items[c][0]) != p for (c, _), p in full.items())
    kept = items[:40]                                 # a "source" of 20 clips left out
    fewer = features.partners(kept, features.clip_keys(kept), aug, seed=3)
    gone = {str(p) for p, _, _ in items[40:]}
    for (c, v), p in fewer.items():
        if full[(c, v)] not in gone:
            assert p == full[(c, v)]                  # unchanged unless its partner left
        assert p not in gone
    assert features.partners(items, keys, aug, seed=4) != full


def test_feature_entries_are_shared_between_runs(tmp_path, monkeypatch, manifest):
    monkeypatch.setenv("MICROMEL_CACHE", str(tmp_path / "cache"))
    calls = []
    real = features._extract_one
    monkeypatch.setattr(features, "_extract_one", lambda job: calls.append(job[0]) or real(job))
    ds = load_dataset(manifest)
    fcfg = __import__("micromel.frontend.config", fromlist=["FrontendConfig"]).FrontendConfig()
    w = win.WindowConfig(32, 16, -65.0)
    aug = AugmentConfig(variants=1, background_p=0.0)
    a = features.extract(ds.split("train"), ds.labels, fcfg, w, aug, 0, "t", quiet=True)
    assert len(calls) == 2 * len(ds.split("train"))
    calls.clear()
    held = ds.hold_out("beta")
    b = features.extract(held.split("train"), held.labels, fcfg, w, aug, 0, "t", quiet=True)
    assert calls == [] and len(b) == 2 * len(held.split("train"))
    i = [str(p) for p, _, _ in ds.split("train")].index(str(held.split("train")[0][0]))
    assert np.array_equal(a.feats[2 * i + 1], b.feats[1])    # the same augmented copy
    features.extract(held.split("train"), held.labels, fcfg, w, aug, 7, "t", quiet=True)
    assert len(calls) == len(held.split("train"))    # another seed: new copies, same clean clips


def _two_source_manifest(tmp_path, monkeypatch) -> Path:
    """tmp_path/m.csv: kick and hihat one-shots of Hydrogen's kits in two made-up sources,
    "odd" and "even" (alternate clips), 6 train, 2 val and 2 test clips per class."""
    from micromel.data.debpkg import data_root
    from micromel.data.drums import build_drums

    monkeypatch.setenv("MICROMEL_CACHE", str(tmp_path / "cache"))
    drums = build_drums(data_root() / "drums_hydrogen", sources=("hydrogen",), quiet=True).parent
    rows = list(csv.DictReader(open(drums / "manifest.csv")))
    lines = ["path,label,split,source"]
    for lab in ("kick", "hihat"):
        for split, n in (("train", 6), ("val", 2), ("test", 2)):
            pick = [r for r in rows if r["split"] == split and r["label"] == lab][:n]
            for k, r in enumerate(pick):
                lines.append(f"{drums / r['path']},{lab},{split},{'odd' if k % 2 else 'even'}/x/{k}")
    (tmp_path / "m.csv").write_text("\n".join(lines) + "\n")
    return tmp_path / "m.csv"


def test_loso_run_and_card(tmp_path, monkeypatch):
    from micromel.train import run as train
    from micromel.train.config import TrainConfig

    _two_source_manifest(tmp_path, monkeypatch)
    cfg = TrainConfig(arch="dscnn-m0", epochs=2, epoch_windows=128, patience=5,
                      augment=AugmentConfig(variants=1, reverb_p=0.0), forest=False, balance="source")
    with pytest.raises(MicromelError, match="--loso nope: not a source"):
        train.run(tmp_path / "m.csv", tmp_path / "m", cfg, quiet=True, loso=["nope"])
    m = train.run(tmp_path / "m.csv", tmp_path / "m", cfg, command="pytest", quiet=True, loso=["all"])
    assert [(r["source"], r["seed"], r["clips"]) for r in m["loso"]] == [("even", 0, 10), ("odd", 0, 10)]
    assert m["loso"][0]["train_sources"] == ["odd"] and m["train_sources"] == ["even", "odd"]
    assert set(m["test_int8"]["by_source"]) == {"even", "odd"}
    card = (tmp_path / "m" / "card.md").read_text()
    for needle in ("### Leave one source out", "| even | 10 |", "Mean int8 accuracy over the 2 held-out",
                   "| odd | 2 | yes |", "class -> source -> clip", "2 leave-one-source-out runs"):
        assert needle in card, needle


def test_train_only_keeps_one_sources_training_clips(manifest):
    ds = load_dataset(manifest)
    spec = ds.train_only("beta")
    names = spec.source_names()
    assert {n for (_, _, s), n in zip(spec.items, names) if s == "train"} == {"beta"}
    assert len(spec.split("train")) == 2                          # beta: one kit, two classes
    assert spec.split("val") == ds.split("val") and spec.split("test") == ds.split("test")
    with pytest.raises(MicromelError, match="--specialist beta: no training clips") as e:
        ds.hold_out("beta").train_only("beta")
    assert "alpha" in str(e.value) and "\n" not in str(e.value)


def test_specialist_network_trains_on_its_source_only(tmp_path, monkeypatch):
    """--specialist: the ensemble's last network sees only that source's training clips, the
    first every source's; the card says so; the specialist's source cannot be held out."""
    from micromel.train import run as train
    from micromel.train.config import TrainConfig

    _two_source_manifest(tmp_path, monkeypatch)
    base = dict(arch="dscnn-m0+dscnn-m0", epochs=2, epoch_windows=128, patience=5,
                augment=AugmentConfig(variants=1, reverb_p=0.0), forest=False)
    with pytest.raises(MicromelError, match="at least one network besides the 1 specialist"):
        TrainConfig(**{**base, "arch": "dscnn-m0"}, specialist="odd")
    with pytest.raises(MicromelError, match="besides the 2 specialist network"):
        TrainConfig(**base, specialist="odd", specialist_networks=2)
    with pytest.raises(MicromelError, match="--specialist odd: that source is held out"):
        TrainConfig(**base, specialist="odd", hold_out_source="odd")
    cfg = TrainConfig(**base, specialist="odd")
    with pytest.raises(MicromelError, match="--loso odd: that is the --specialist's source"):
        train.run(tmp_path / "m.csv", tmp_path / "m", cfg, quiet=True, loso=["all"])
    with pytest.raises(MicromelError, match="--specialist nope: no training clips"):
        train.run(tmp_path / "m.csv", tmp_path / "m", TrainConfig(**base, specialist="nope"), quiet=True)
    assert not (tmp_path / "m").exists()                          # nothing written before the check
    m = train.run(tmp_path / "m.csv", tmp_path / "m", cfg, command="pytest", quiet=True,
                  loso=["even"])
    assert [(x["train_clips"], x["train_sources"]) for x in m["members"]] == \
        [(12, ["even", "odd"]), (6, ["odd"])]
    assert m["loso"][0]["train_sources"] == ["odd"]
    card = (tmp_path / "m" / "card.md").read_text()
    assert "**Specialist: `odd`.**" in card and "6 training clips of odd" in card
    assert json.loads((tmp_path / "m" / "config.json").read_text())["train"]["specialist"] == "odd"


def test_reject_splits_data_as_the_model_held_it_out(tmp_path, monkeypatch, capsys):
    """micromel reject on a model trained with --hold-out-source: by default the data is split
    as training split it (the held-out source's clips are the test split; the rule is never
    chosen on them); --hold-out-source '' takes the manifest's splits."""
    from micromel.cli import main
    from micromel.train import run as train
    from micromel.train.config import TrainConfig

    data = _two_source_manifest(tmp_path, monkeypatch)
    cfg = TrainConfig(arch="dscnn-m0", epochs=2, epoch_windows=128, patience=5,
                      augment=AugmentConfig(variants=0), forest=False, hold_out_source="even")
    train.run(data, tmp_path / "m", cfg, quiet=True)
    # the card says which source was held out, and its by-source table that training saw
    # odd (validation clips are odd's only) and not even (every test clip is even's)
    card = (tmp_path / "m" / "card.md").read_text()
    assert "**Held-out source: `even`.**" in card and "No source was held out" not in card
    assert "| even | 10 | no |" in card
    assert main(["reject", str(tmp_path / "m"), str(data), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "(even held out: its clips are the test split)" in out
    assert "of 10 clips (sources: even)" in out and "of 2 clips" in out     # val: odd's 2 only
    assert main(["reject", str(tmp_path / "m"), str(data), "--quiet", "--hold-out-source", ""]) == 0
    out = capsys.readouterr().out
    assert "held out" not in out and "of 4 clips (sources: even, odd)" in out
    # micromel evaluate --by source: a row per source, its clips counted once each
    assert main(["evaluate", str(tmp_path / "m"), str(data), "--split", "all", "--by", "source"]) == 0
    out = capsys.readouterr().out
    table = out[out.index("by source:"):].splitlines()
    assert table[1].split()[:2] == ["source", "clips"]
    assert {ln.split()[0]: int(ln.split()[1]) for ln in table[2:4]} == {"even": 10, "odd": 10}


def test_mixing_a_partner_whose_sound_is_shifted_away_stays_finite():
    """The other clip starts at a random time and is cut to the longer length: when only its
    silent part is left there is nothing to mix (dividing by its zero peak made the whole
    copy NaN, cast to int16 garbage)."""
    import warnings

    from micromel.train.augment import augment_waveform

    x = np.round(np.sin(np.arange(4000) / 5.0) * 9000).astype(np.int16)
    partner = np.zeros(400, np.int16)
    partner[-20:] = 5000                  # silence, then its sound: cut off when it starts late
    cfg = AugmentConfig(shift_p=0.0, eq_p=0.0, noise_p=0.0, peak_dbfs=(-6.0, -6.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        outs = [augment_waveform(x, 16000, cfg, 0, "c", v, background=partner) for v in range(80)]
    for y in outs:   # every copy peaks at the drawn level (-6 dBFS), none is NaN cast to int16
        assert abs(int(np.abs(y).max()) - 16423) <= 2


def test_speed_perturbation_moves_pitch_and_keeps_length_and_centre():
    from micromel.train.augment import augment_waveform, change_speed

    n, sr = 8448, 16000
    t = np.arange(n) / sr
    tone = (0.5 * np.sin(2 * np.pi * 1000.0 * t)).astype(np.float32)
    freqs = np.fft.rfftfreq(n, 1 / sr)
    for r in (0.9, 1.1):
        y = change_speed(tone, sr, r)
        assert len(y) == n
        assert abs(freqs[np.argmax(np.abs(np.fft.rfft(y)))] - 1000.0 * r) < 3.0
    # anchored at the start: an onset stays where it was (a one-shot keeps its attack), a click
    # 1000 samples later moves to 1000 / r
    for r in (0.9, 1.1):
        x = np.zeros(n, np.float32)
        x[10] = x[1010] = 1.0
        peaks = sorted(np.argsort(np.abs(change_speed(x, sr, r)))[-2:])
        assert abs(peaks[0] - 10 / r) <= 1 and abs(peaks[1] - 1010 / r) <= 1
    pcm = np.round(tone * 20000).astype(np.int16)
    cfg = AugmentConfig(shift_p=0.0, eq_p=0.0, noise_p=0.0, peak_dbfs=(-6.0, -6.0))
    on = augment_waveform(pcm, sr, AugmentConfig(**{**cfg.to_dict(), "speed_p": 1.0, "speed": (1.2, 1.2)}), 0, "c", 1)
    assert len(on) == n and abs(freqs[np.argmax(np.abs(np.fft.rfft(on)))] - 1200.0) < 3.0
    assert AugmentConfig().waveform_key() != AugmentConfig(speed_p=0.5).waveform_key()
    with pytest.raises(MicromelError, match="speed"):
        AugmentConfig(speed_p=0.5, speed=(1.2, 0.9))


def test_muffle_step_takes_the_treble_and_is_off_by_default():
    from micromel.train.augment import augment_waveform

    sr, n = 16000, 8448
    rng = np.random.default_rng(0)
    pcm = np.round(rng.normal(0, 3000, n)).astype(np.int16)      # white: every band alike
    quiet = dict(shift_p=0.0, eq_p=0.0, noise_p=0.0, peak_dbfs=(-6.0, -6.0), phone_p=0.0, cheap_mic_p=0.0)
    freqs = np.fft.rfftfreq(n, 1 / sr)

    def treble_share(x):
        p = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
        return p[freqs > 4000].sum() / p.sum()

    off = augment_waveform(pcm, sr, AugmentConfig(**quiet), 0, "c", 1)
    assert treble_share(off) > 0.4
    on = augment_waveform(pcm, sr, AugmentConfig(**quiet, muffle_p=1.0, muffle_hz=(500.0, 1000.0)), 0, "c", 1)
    assert treble_share(on) < 0.01
    assert AugmentConfig().waveform_key() != AugmentConfig(muffle_p=0.25).waveform_key()
    with pytest.raises(MicromelError, match="muffle_hz"):
        AugmentConfig(muffle_p=0.25, muffle_hz=(2000.0, 400.0))


def test_steps_off_leave_the_copies_and_cache_keys_of_before_unchanged():
    """Speed and muffle are off by default, and off they must neither draw from the seeded
    generators nor enter the cache key: the copies and the feature cache of every model
    trained before them stay valid. The digest and the key were computed with the code before
    the two steps existed (b7d2025); the draws that follow (partner's start and level, time
    shift, peak level) would all move if an extra draw came first."""
    import hashlib
    from micromel.train.augment import _chain, augment_waveform

    g = np.random.default_rng(7)
    x = g.integers(-9000, 9000, 8448).astype(np.int16)
    partner = g.integers(-7000, 7000, 5000).astype(np.int16)
    cfg = AugmentConfig(shift_p=1.0, eq_p=0.0, noise_p=0.0, peak_dbfs=(-20.0, -3.0), bed_p=0.0,
                        reverb_p=0.0, phone_p=0.0, cheap_mic_p=0.0, background_p=1.0)
    outs = b"".join(augment_waveform(x, 16000, cfg, 3, f"c{k}", 1, background=partner).tobytes()
                    for k in range(8))
    assert hashlib.sha256(outs).hexdigest()[:16] == "c7265bb582e38083"
    assert AugmentConfig().waveform_key() == "5a2abf111267"
    assert AugmentConfig(speed=(0.5, 0.6), muffle_hz=(500.0, 600.0)).waveform_key() == "5a2abf111267"
    # the muffle step is in the audiomentations chain only when on (a step with p = 0 would
    # still draw its parameters from the global generators)
    assert len(_chain(AugmentConfig(muffle_p=0.5), None, None).transforms) == \
        len(_chain(AugmentConfig(), None, None).transforms) + 1


def test_the_card_says_whether_the_test_sources_were_seen_without_a_held_out_source():
    """No --hold-out-source, yet a dataset that splits by source itself (from-labels, by
    recording) tests on unseen sources: the card said "same-source numbers" above its own
    table of sources marked 'in training: no'."""
    from micromel.train.card import _test_sources_text

    def metrics(test, seen):
        return {"test_int8": {"by_source": {s: {} for s in test}}, "train_sources": seen}
    assert "cross-source numbers" in _test_sources_text(metrics(["rec1", "rec2"], ["rec3"]))
    assert "1 of the test split's 2 sources were not seen" in _test_sources_text(
        metrics(["rec1", "rec3"], ["rec3"]))
    for test in (["rec3"], ["(no source)"], []):
        assert "same-source numbers" in _test_sources_text(metrics(test, ["rec3"]))


def test_clips_shorter_than_the_window_are_noted(tmp_path):
    """A dataset cut for 16-frame windows (from-labels --window-frames 16: 0.272 s) trained at
    the default 32 frames (0.528 s) trained on half padding, without a word."""
    from micromel.train.run import short_clips_note

    items = []
    for k, seconds in enumerate([0.272] * 5 + [1.0] * 2):
        sf.write(tmp_path / f"{k}.wav", np.zeros(int(seconds * 16000), np.int16), 16000)
        items.append((tmp_path / f"{k}.wav", "a", "train"))
    note = short_clips_note(items, 16000, 0.528, 32)
    assert note and "median 0.272 s, the window 0.528 s at --window-frames 32" in note, note
    assert short_clips_note(items, 16000, 0.272, 16) is None
    assert short_clips_note(items[5:], 16000, 0.528, 32) is None


def test_a_dataset_without_a_val_split_is_noted(tmp_path, monkeypatch, capsys):
    """Every epoch runs and the card says "lowest at epoch 0": said before the work starts."""
    from micromel.train import run as train_run
    from micromel.train.config import TrainConfig

    rows = []
    for lab in ("a", "b"):
        sf.write(tmp_path / f"{lab}.wav", np.zeros(16000, np.int16), 16000)
        rows.append(f"{lab}.wav,{lab},train")
    (tmp_path / "manifest.csv").write_text("path,label,split\n" + "\n".join(rows) + "\n")
    monkeypatch.setattr(train_run, "training_features", lambda *a, **k: None)
    monkeypatch.setattr(train_run, "extract", lambda *a, **k: None)
    cfg = TrainConfig()
    train_run.prepare_data(tmp_path, cfg.frontend_config(), cfg)
    assert f"no clip in the val split: no early stopping (every one of the {cfg.epochs} epochs " \
        "runs)" in capsys.readouterr().err


def test_the_converters_held_log_is_shown_only_when_it_fails(capfd):
    """quantize.native_stderr_held: the C++ chatter on descriptor 2 is dropped, and shown
    when the conversion fails, also inside a Python-level redirect of sys.stderr (where
    convert_int8 uses it, a sys.stderr.write was lost)."""
    import contextlib
    import io
    import os

    from micromel.train.quantize import native_stderr_held

    with native_stderr_held():
        os.write(2, b"fully_quantize: 0\n")
    assert "fully_quantize" not in capfd.readouterr().err
    with pytest.raises(RuntimeError, match="conversion failed"):
        with contextlib.redirect_stderr(io.StringIO()), native_stderr_held():
            os.write(2, b"the converter's reason\n")
            raise RuntimeError("conversion failed")
    assert "the converter's reason" in capfd.readouterr().err


def test_zero_columns_hold_a_logit_at_zero():
    """models.build(zero_logits=...): those classes' kernel columns and biases start at 0 and
    stay 0 while the network trains; the other columns train."""
    import keras

    from micromel.train import models

    m = models.build("dscnn-m0", (32, 40, 1), 4, zero_logits=(0, 2))
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 32, 40, 1)).astype(np.float32)
    y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 64)]
    before = m.get_layer("classes").get_weights()
    m.fit(x, y, epochs=2, verbose=0)
    k, b = m.get_layer("classes").get_weights()
    assert not before[0][:, [0, 2]].any() and not k[:, [0, 2]].any() and not b[[0, 2]].any()
    assert np.abs(k[:, [1, 3]] - before[0][:, [1, 3]]).max() > 0 and b[[1, 3]].any()


def test_gate_network_alone_gives_the_gate_class(tmp_path, monkeypatch):
    """--gate LABEL: in the shipped int8 model the classifiers' class layers give LABEL a
    logit of exactly 0 (weights and bias), the gate's every other class, and the gate's bias
    for LABEL is the float one moved by the calibrated amount; the classifiers never trained
    on LABEL; the card and config say so; bad uses are one-line errors before work. LABEL
    ("foreign") sorts first, so its index is not the last."""
    from micromel.engine import tflite
    from micromel.train import gate, run as train
    from micromel.train.config import TrainConfig

    man = _two_source_manifest(tmp_path, monkeypatch)
    lines = man.read_text().splitlines()    # the even source's hi-hats become "foreign"
    man.write_text("\n".join([lines[0]] + [ln.replace(",hihat,", ",foreign,") if "even/" in ln else ln
                                           for ln in lines[1:]]) + "\n")
    base = dict(arch="dscnn-m0+dscnn-m0", epochs=2, epoch_windows=128, patience=5,
                augment=AugmentConfig(variants=1, reverb_p=0.0), forest=False)
    with pytest.raises(MicromelError, match="--gate foreign: needs an ensemble of at least two"):
        TrainConfig(**{**base, "arch": "dscnn-m0"}, gate="foreign")
    with pytest.raises(MicromelError, match="--gate foreign: not with --specialist"):
        TrainConfig(**base, gate="foreign", specialist="odd")
    with pytest.raises(MicromelError, match="--gate snare: not a class of"):
        train.run(man, tmp_path / "m", TrainConfig(**base, gate="snare"), quiet=True)
    assert not (tmp_path / "m").exists()
    # the calibration runs as it is, but its bias is set to 5 (a tiny model's may be 0)
    calibrate, move_bias, moved = gate.calibrate, gate.move_bias, []
    monkeypatch.setattr(gate, "calibrate", lambda *a: {**calibrate(*a), "bias": 5.0})

    def spy(net, g, bias):
        before = float(net.get_layer("classes").get_weights()[1][g])
        move_bias(net, g, bias)
        moved.append((before, float(net.get_layer("classes").get_weights()[1][g])))

    monkeypatch.setattr(gate, "move_bias", spy)
    m = train.run(man, tmp_path / "m", TrainConfig(**base, gate="foreign"), command="pytest", quiet=True)
    assert [x["role"] for x in m["members"]] == ["classifier", "gate"]
    labels = json.loads((tmp_path / "m" / "config.json").read_text())["labels"]
    g = labels.index("foreign")
    assert g == 0
    graph = tflite.read(tmp_path / "m" / "model.tflite")
    fcs = [op for op in graph.ops if op.kind == "FULLY_CONNECTED"]
    assert len(fcs) == 2
    (w_c, b_c), (w_g, b_g) = [(graph.tensor(op.inputs[1]).data, graph.tensor(op.inputs[2]).data)
                              for op in fcs]
    others = [k for k in range(len(labels)) if k != g]
    assert not w_c[g].any() and not b_c[g] and w_c[others].any()
    assert not w_g[others].any() and not b_g[others].any() and w_g[g].any()
    # the int8 gate's bias for LABEL (int32, scale = input scale x the row's weight scale)
    # is the float bias after the move, 5 above the trained one
    (before, after), = moved
    assert after == pytest.approx(before + 5.0, abs=1e-5)
    fc = fcs[1]
    wscale = graph.tensor(fc.inputs[1]).scale
    step = graph.tensor(fc.inputs[0]).scale[0] * wscale[g if len(wscale) > 1 else 0]
    assert abs(float(b_g[g]) * step - after) <= step
    assert 0 <= m["gate"]["val_gate_recall"] <= 1
    card = (tmp_path / "m" / "card.md").read_text()
    assert "**Gate: `foreign`.** Network 1 is the classifier" in card and "moved by 5" in card
    assert json.loads((tmp_path / "m" / "config.json").read_text())["train"]["gate"] == "foreign"


def test_gate_calibration_chooses_by_balanced_accuracy(monkeypatch):
    """gate.calibrate: the bias of the grid that best tells the gate class's validation clips
    from the others' (balanced accuracy of their votes), the smallest among equals; clips
    whose windows are all silent do not count, and without clips of both kinds no bias."""
    from types import SimpleNamespace

    from micromel.train import gate

    # one window per clip; classes 0 and 1 known, 2 the gate. The gate class is ln 60 and
    # ln 10 below the top in its two clips, ln 95 and ln 94 in the known ones: only a bias
    # in (ln 60, ln 94) = (4.09, 4.54) gets all four right, of the grid 4.5
    p = np.array([[0.6, 0.39, 0.01], [0.5, 0.45, 0.05], [0.95, 0.04, 0.01], [0.05, 0.94, 0.01],
                  [0.2, 0.2, 0.6]])
    ns = np.array([True, True, True, True, False])    # the last clip is silent
    model = SimpleNamespace(predict=lambda x, **_: p[ns][: len(x)])
    monkeypatch.setattr(gate, "eval_windows", lambda cf, w, fr: (np.zeros((5, 2, 2)), ns, np.arange(5)))
    cal = gate.calibrate(model, SimpleNamespace(label=np.array([2, 2, 0, 1, 2])), None, None, 2)
    assert cal == {"bias": 4.5, "val_gate_recall": 1.0, "val_known_passed": 1.0}
    # the gate clips silent but one: recall 1 from 2.5 up (ln 10 = 2.30), the known clips
    # pass up to 4.5: the smallest of the equals, 2.5
    ns[0] = False
    cal = gate.calibrate(model, SimpleNamespace(label=np.array([2, 2, 0, 1, 2])), None, None, 2)
    assert cal["bias"] == 2.5 and cal["val_gate_recall"] == 1.0
    # every gate clip silent: no bias, a note (no NaN)
    ns[1] = False
    cal = gate.calibrate(model, SimpleNamespace(label=np.array([2, 2, 0, 1, 2])), None, None, 2)
    assert cal["bias"] == 0.0 and "not all silent" in cal["note"]
    # balanced, not plain accuracy: one gate clip (ln 60 below) and three known ones (ln 95,
    # ln 20, ln 88). Bias 0: recall 0, 3 of 3 pass (balanced 0.5, plain 0.75); 4.5: recall 1,
    # 1 of 3 pass (balanced 0.67, plain 0.5)
    p[:4] = [[0.6, 0.39, 0.01], [0.95, 0.04, 0.01], [0.8, 0.16, 0.04], [0.88, 0.11, 0.01]]
    ns[:] = [True, True, True, True, False]
    cal = gate.calibrate(model, SimpleNamespace(label=np.array([2, 0, 0, 0, 2])), None, None, 2)
    assert cal["bias"] == 4.5 and cal["val_known_passed"] == pytest.approx(1 / 3, abs=1e-4)
    # the best bias at the grid's top is said: the gate clip 15.8 below, the known 17
    z = np.array([[0.0, -5.0, -15.8], [-5.0, 0.0, -17.0]])
    p[:2] = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    ns[:] = [True, True, False, False, False]
    cal = gate.calibrate(model, SimpleNamespace(label=np.array([2, 1, 0, 0, 0])), None, None, 2)
    assert cal["bias"] == gate.BIAS_GRID[-1] == 16.0 and "largest bias tried" in cal["note"]


def test_gate_bias_moves_the_vote():
    """gate.vote_gate: a clip votes the gate class once its logit, moved by the bias, wins the
    summed window probabilities; the classes' order among themselves does not matter."""
    from micromel.train import gate

    # clip 0: two windows where the gate class (1) is 3 and 4 nats below the top class;
    # clip 1: one window where it is 10 below
    logp = np.log(np.array([[0.7, 0.7 * np.exp(-3), 0.3], [0.9, 0.9 * np.exp(-4), 0.1],
                            [0.99, 0.99 * np.exp(-10), 0.01]]))
    own = np.array([0, 0, 1])
    assert gate.vote_gate(logp, own, 2, 1, 0.0).tolist() == [False, False]
    assert gate.vote_gate(logp, own, 2, 1, 5.0).tolist() == [True, False]
    assert gate.vote_gate(logp, own, 2, 1, 12.0).tolist() == [True, True]
