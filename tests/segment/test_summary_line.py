"""segment's line per file names every class's events and the share of the file they
cover; it named only --class's ratio (a drums file of kicks read "cymbal ratio 0.000")."""
from pathlib import Path
from types import SimpleNamespace

from micromel.segment.cli import summary_line


def event(start, end, label):
    return SimpleNamespace(start=start, end=end, label=label)


def test_every_class_with_events_and_the_tsv_class():
    res = SimpleNamespace(path=Path("/x/long.wav"), duration=10.0,
                          events=[event(0, 0.5, "kick"), event(1, 1.2, "kick"), event(2, 2.5, "snare")])
    assert summary_line(res, "cymbal") == ("long.wav: 3 events: kick 2 (ratio 0.070), snare 1 "
                                           "(ratio 0.050), cymbal 0 (ratio 0.000)")
    assert summary_line(res, "kick").endswith("kick 2 (ratio 0.070), snare 1 (ratio 0.050)")
    quiet = SimpleNamespace(path=Path("s.wav"), duration=10.0, events=[])
    assert summary_line(quiet, "speech") == "s.wav: 0 events: speech 0 (ratio 0.000)"
