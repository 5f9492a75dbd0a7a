"""A fit that learned one class is named: on stderr when training ends and at the top of the
card (a short run on small data gave a model that answered one class, and nothing said so)."""

import numpy as np

from micromel.train.evaluate import clip_metrics, voted_answers
from micromel.train.run import one_class_note

LABELS = ["a", "b", "c"]


def metrics(true, pred):
    return clip_metrics(np.array(true), np.array(pred), LABELS)


def test_the_voted_clips_their_answers_and_classes():
    assert voted_answers(metrics([0, 0, 1, 2], [1, 1, 1, 1])) == (4, ["b"], 3)
    assert voted_answers(metrics([0, 1, 2, 2], [2, -1, 2, 2])) == (3, ["c"], 2)   # silent aside
    assert voted_answers(metrics([0, 1, 2, 2], [2, 0, 2, 2])) == (4, ["a", "c"], 3)
    # right on every clip it voted: the others were silent, so its voted clips hold one class
    assert voted_answers(metrics([0, 1, 1], [0, -1, -1])) == (1, ["a"], 1)
    assert voted_answers(metrics([0, 1], [-1, -1])) == (0, [], 0)


def test_the_note_reads_val_first_then_test(capsys):
    stuck, fine = metrics([0, 1, 2], [0, 0, 0]), metrics([0, 1, 2], [0, 1, 2])
    assert one_class_note({"val_int8": stuck, "test_int8": fine}) == {
        "split": "val", "class": "a", "clips": 3, "classes": 3}
    err = capsys.readouterr().err
    assert err == ("note: the model answers 'a' for all 3 voted val clips, of 3 classes: it has "
                   "learned one class; train longer (--epochs) or on more data before using it\n")
    assert one_class_note({"test_int8": stuck})["split"] == "test"
    assert "all 3 voted test clips" in capsys.readouterr().err
    # val's voted clips hold one class: test decides
    one_kind = metrics([1, 1, 2], [1, 1, -1])
    assert one_class_note({"val_int8": one_kind, "test_int8": stuck})["split"] == "test"
    assert one_class_note({"val_int8": one_kind, "test_int8": fine}) is None
    assert one_class_note({"val_int8": fine, "test_int8": stuck}) is None
    # a split of one class, or right on every clip it voted: nothing to say
    assert one_class_note({"val_int8": metrics([1, 1, 1], [1, 1, 1])}) is None
    assert one_class_note({"val_int8": metrics([0, 1, 1], [0, -1, -1])}) is None
    capsys.readouterr()
    assert one_class_note({}) is None
    assert capsys.readouterr().err == ""
