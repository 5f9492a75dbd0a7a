"""The rejection rule's choice on validation clips, its place in a model folder and in the
generated header, and the card section (clip/reject.py, train/reject.py)."""
import json
import shutil

import numpy as np
import pytest

from micromel import codegen
from micromel.clip import header as clip_header
from micromel.clip import reject, rules
from micromel.errors import MicromelError
from micromel.modeldir import ModelDir
from micromel.paths import MODELS_DIR
from micromel.train import reject as reject_run


def test_choose_keeps_the_budget_and_prefers_accuracy():
    # 10 clips: the 2 least sure ones are wrong; a rule rejecting them is the best at <= 20 %
    pred = np.array([0] * 10)
    y = np.array([0] * 8 + [1, 1])
    top = np.array([250, 240, 230, 220, 210, 200, 190, 180, 100, 90])
    margin = top - 5
    rule = reject.choose(pred, top, margin, y, max_reject=0.2)
    p = reject.operating_point(pred, top, margin, y, rule)
    assert p["rejected"] <= 0.2 and p["accuracy_accepted"] == 1.0
    # the strictest among the equally accurate: it rejects exactly the two wrong clips
    assert p["rejected"] == 0.2 and rule.active
    # no rejection allowed: the rule is off
    assert not reject.choose(pred, top, margin, y, max_reject=0.0).active
    with pytest.raises(MicromelError, match="--max-reject"):
        reject.choose(pred, top, margin, y, max_reject=1.5)


def test_choose_a_floor_per_class_only_when_it_pays_and_the_clips_suffice():
    # class 1's calls under 200/256 are wrong, class 0's are right at any probability: one
    # floor for both rejects good class-0 clips, a floor for class 1 alone only bad ones
    rng = np.random.default_rng(0)
    pred = np.array([0] * 200 + [1] * 300)
    top = np.concatenate([rng.integers(130, 256, 200), rng.integers(130, 256, 300)])
    y = np.where((pred == 1) & (top < 200), 0, pred)
    margin = 2 * top - 256
    single = reject.choose(pred, top, margin, y, max_reject=0.4)
    rule = reject.choose(pred, top, margin, y, max_reject=0.4, n_classes=2)
    p1 = reject.operating_point(pred, top, margin, y, single)
    p2 = reject.operating_point(pred, top, margin, y, rule)
    assert not single.class_min_top and rule.class_min_top[1] > top[pred != y].max()
    assert p2["accuracy_accepted"] == 1.0 > p1["accuracy_accepted"] and p2["rejected"] <= 0.4
    floor1 = rule.floors(2)[1]
    assert all(reject.decide([0, t * 3], 3, rule) == (1 if t >= floor1 else reject.UNKNOWN)
               for t in range(7, 256, 7))
    # with fewer than PER_CLASS_MIN_CLIPS clips of a class, one floor for all
    few = np.r_[0:200, 200:300]
    rule_few = reject.choose(pred[few], top[few], margin[few], y[few], 0.4, n_classes=2)
    assert not rule_few.class_min_top


def test_false_accepts_ignore_silent_clips():
    pred, top, margin = np.array([-1, 0, 1, 2]), np.array([-1, 10, 200, 50]), np.array([-1, 0, 150, 10])
    fa = reject.false_accepts(pred, top, margin, reject.RejectConfig(min_top=100))
    assert fa == {"clips": 4, "nonsilent": 3, "false_accept": 1 / 3}
    # a clip voted the other class is rejected whatever its probabilities
    fa = reject.false_accepts(pred, top, margin, reject.RejectConfig(min_top=100, other_class=1))
    assert fa["false_accept"] == 0.0


def test_other_class_rule():
    acc, n = [100, 400, 10], 2              # voted class 1, mean top 200/256
    assert reject.decide(acc, n, reject.RejectConfig()) == 1
    assert reject.decide(acc, n, reject.RejectConfig(other_class=1)) == reject.UNKNOWN
    assert reject.decide(acc, n, reject.RejectConfig(other_class=0)) == 1
    assert reject.decide(acc, 0, reject.RejectConfig(other_class=1)) == reject.SILENCE
    # the closed-set baseline votes among the known classes only (lowest index on ties)
    assert list(reject.closed_set([[100, 400, 10], [5, 9, 5], [0, 0, 0]], [2, 1, 0], 1)) == [0, 0, -1]
    # without an other class it is the clip vote, silence included
    accs, ns = np.array([[3, 9, 1], [0, 0, 0], [7, 7, 2]]), np.array([1, 0, 1])
    assert list(reject.closed_set(accs, ns, -1)) == list(reject.clip_stats(accs, ns)[0])
    # every candidate the choice tries keeps the other class; with none better, the rule is it
    pred, top, margin = np.array([1, 0, 0]), np.array([200, 250, 240]), np.array([50, 200, 200])
    rule = reject.choose(pred, top, margin, np.array([0, 0, 0]), max_reject=0.4, other_class=1)
    assert rule.other_class == 1 and rule.active
    p = reject.operating_point(pred, top, margin, np.array([0, 0, 0]), rule)
    assert p["accuracy_accepted"] == 1.0 and abs(p["rejected"] - 1 / 3) < 1e-9
    with pytest.raises(MicromelError, match="other_class"):
        reject.RejectConfig(other_class=-2)
    assert "other_class" not in reject.RejectConfig(min_top=3).to_dict()   # old dicts, old hashes
    assert "unknown when voted 'x'" in reject.RejectConfig(other_class=1).describe(["w", "x"])


def test_config_round_trip_default_and_hash(tmp_path):
    src = MODELS_DIR / "drums"
    shutil.copytree(src, tmp_path / "m")
    doc = json.loads((tmp_path / "m" / "config.json").read_text())
    doc.pop("reject", None)              # a folder written before rejection existed
    (tmp_path / "m" / "config.json").write_text(json.dumps(doc))
    old = ModelDir.open(tmp_path / "m")
    assert old.reject == reject.RejectConfig() and "reject" not in old.to_config()
    new = old.replace(reject=reject.RejectConfig(min_top=150, min_margin=3)).save()
    again = ModelDir.open(tmp_path / "m")
    assert again.reject == reject.RejectConfig(min_top=150, min_margin=3)
    assert again.hash != old.hash == ModelDir.open(tmp_path / "m").replace(reject=reject.RejectConfig()).hash
    assert new.reject == again.reject
    text = clip_header.c_header(again.frontend, again.window, again.n_classes, again.reject)
    assert "#define MM_CLIP_REJECT_MIN_TOP {150u, 150u, 150u, 150u, 150u}" in text
    assert "#define MM_CLIP_UNKNOWN (-2)" in text
    assert f'#define MM_CLIP_UNKNOWN_NAME "{reject.UNKNOWN_LABEL}"' in text   # one spelling, from Python
    assert f'#define MM_CLIP_SILENT ({rules.SILENCE})' in text                # the no-vote code too
    assert codegen.headers(again)[clip_header.HEADER_NAME] == text
    # a floor per class: saved, hashed, and each class's floor = max(min_top, its own)
    per = again.replace(reject=reject.RejectConfig(min_top=150, class_min_top=(0, 200, 0, 0, 160))).save()
    assert ModelDir.open(tmp_path / "m").reject.class_min_top == (0, 200, 0, 0, 160)
    assert per.hash != again.hash
    assert "#define MM_CLIP_REJECT_MIN_TOP {150u, 200u, 150u, 150u, 160u}" in codegen.headers(
        ModelDir.open(tmp_path / "m"))[clip_header.HEADER_NAME]
    # an other class reaches the header as a signed index; one beyond the labels is refused
    with_other = again.replace(reject=reject.RejectConfig(other_class=2)).save()
    assert ModelDir.open(tmp_path / "m").reject.other_class == 2 and with_other.hash != again.hash
    text = codegen.headers(ModelDir.open(tmp_path / "m"))[clip_header.HEADER_NAME]
    assert "#define MM_CLIP_REJECT_OTHER (2)" in text
    assert "#define MM_CLIP_REJECT_OTHER (-1)" in clip_header.c_header(again.frontend, again.window, 5)
    doc["reject"] = {"other_class": 5}
    (tmp_path / "m" / "config.json").write_text(json.dumps(doc))
    with pytest.raises(MicromelError, match="other_class=5 is not a class index"):
        ModelDir.open(tmp_path / "m")
    doc["reject"] = {"min_top": 300}
    (tmp_path / "m" / "config.json").write_text(json.dumps(doc))
    with pytest.raises(MicromelError, match="min_top=300"):
        ModelDir.open(tmp_path / "m")
    doc["reject"] = {"class_min_top": [10, 20]}
    (tmp_path / "m" / "config.json").write_text(json.dumps(doc))
    with pytest.raises(MicromelError, match="class_min_top has 2 entries"):
        ModelDir.open(tmp_path / "m")
    doc["reject"] = {"class_min_top": [10, 20, 30, 40, 257]}
    (tmp_path / "m" / "config.json").write_text(json.dumps(doc))
    with pytest.raises(MicromelError, match=r"class_min_top\[4\]=257"):
        ModelDir.open(tmp_path / "m")
    doc["reject"] = {"top": 3}
    (tmp_path / "m" / "config.json").write_text(json.dumps(doc))
    with pytest.raises(MicromelError, match="unknown keys"):
        ModelDir.open(tmp_path / "m")


def test_card_section_replaced_not_duplicated():
    r = {"max_reject": 0.15, "rule": {"min_top": 160, "min_margin": 0},
         "val": {}, "unknown": {"paths": ["x"], "clips": 3, "nonsilent": 2, "false_accept": 0.5,
                                "false_accept_off": 1.0}}
    card = "# Card\n\nsome text\n\n## Reproduce\n\nmicromel train\n"
    once = reject_run.card_with_section(card, reject_run.card_section(r))
    r["rule"]["min_top"] = 200
    twice = reject_run.card_with_section(once + "\n## Later\n\nkept\n", reject_run.card_section(r))
    assert twice.count(reject_run.HEADING) == 1 and "200/256" in twice and "160/256" not in twice
    assert twice.startswith(card.rstrip("\n")) and twice.rstrip().endswith("kept")


def test_save_refuses_to_replace_a_rule_silently(tmp_path):
    shutil.copytree(MODELS_DIR / "drums", tmp_path / "m")
    m = ModelDir.open(tmp_path / "m").replace(reject=reject.RejectConfig(min_top=10)).save()
    r = {"max_reject": 0.15, "rule": {"min_top": 20, "min_margin": 0}, "val": {}}
    with pytest.raises(MicromelError, match="--force"):
        reject_run.save_rule(m, r, force=False)
    assert reject_run.save_rule(m, r, force=True).reject.min_top == 20
    assert ModelDir.open(tmp_path / "m").reject.min_top == 20


def test_verify_summary_counts_unknown_clips():
    from micromel.hil.results import summarize

    rec = lambda truth, dev: {"truth": truth, "pred_device": dev, "pred_host": dev,  # noqa: E731
                              "features_match": True, "scores_match": True, "windows": 1,
                              "silent_windows": 0, "clip": f"c{truth}{dev}"}
    records = [rec(0, 0), rec(1, 1), rec(1, 0), rec(0, reject.UNKNOWN)]
    meta = {"model": "m", "model_hash": "h", "data": "d", "split": "test", "mode": "audio",
            "clips": [r["clip"] for r in records]}
    s = summarize(records, ["a", "b"], meta)
    assert s["unknown_device"] == 1 and s["accuracy_device"] == 0.5
    assert s["accuracy_device_accepted"] == round(2 / 3, 6)
    assert s["confusion_device"] == [[1, 0, 1], [1, 1, 0]]


def test_the_report_says_when_the_rule_gains_nothing_on_val():
    """Among equally accurate rules the strictest is chosen (sounds of no known class are what
    rejection is for): on val clips the model gets all right, that rejected a fifth of the
    test clips for no gain, and the report did not say so."""
    from micromel.train.reject import format_report

    def report(acc_with, acc_without, rejected):
        return format_report({"rule": reject.RejectConfig(min_margin=240).to_dict(),
                              "labels": ["a", "b"], "max_reject": 0.15,
                              "val": {"accuracy_accepted": acc_with, "rejected": rejected, "clips": 90},
                              "val_off": {"accuracy_accepted": acc_without, "rejected": 0.0,
                                          "clips": 90}})
    assert "note: on val the rule gains no accuracy (100.0% without it)" in report(1.0, 1.0, 0.089)
    assert "gains no accuracy" not in report(0.95, 0.90, 0.10)
    assert "gains no accuracy" not in report(1.0, 1.0, 0.0)          # nothing rejected
