"""Long commands show progress in a log as plain lines (a line every tenth of the work, and
at least once a minute), and as a bar only on a terminal."""
import sys

from micromel.hil import progress


def test_a_log_gets_a_line_every_tenth_and_the_postfix(capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    bar = progress.bar(50, "verify", "clips", initial=20)
    assert isinstance(bar, progress.LogLines)
    bar.set_postfix(mismatches=0, devices=2)
    for _ in range(30):
        bar.update(1)
    bar.close()
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"verify: {n}/50 clips, mismatches 0, devices 2" for n in (25, 30, 35, 40, 45, 50)]
    assert bar.n == bar.total == 50


def test_a_slow_job_still_gets_a_line_a_minute(capsys, monkeypatch):
    clock = iter([0.0, 30.0, 61.0, 62.0])
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    bar = progress.LogLines(1000, "soak", "s audio")
    bar.update(1)       # 30 s: nothing yet
    bar.update(1)       # 61 s: a line although far from the next tenth
    bar.update(1)       # 62 s: not again
    assert capsys.readouterr().err == "soak: 2/1000 s audio\n"
