"""How a window cut from a recording is named (`segment` / `listen --save-uncertain`), and
read back: `<recording>_<start>-<end>` (seconds), so that `dataset from-labels` puts the
window into its recording's split, with its recording's times."""
from __future__ import annotations

import re


_WINDOW_STEM = re.compile(r"^(?P<rec>.+)_(?P<a>\d{5,}\.\d{3})-(?P<b>\d{5,}\.\d{3})$")


def window_stem(recording: str, start_s: float, end_s: float) -> str:
    """The name of a window cut from a recording (segment/listen --save-uncertain), which
    `recording_of` reads back."""
    return f"{recording}_{start_s:09.3f}-{end_s:09.3f}"


def cut_from(stem: str) -> str | None:
    """The file stem a window named by `window_stem` was cut from (one level up), or None
    for a name that is not a window's."""
    m = _WINDOW_STEM.match(stem)
    return m["rec"] if m and float(m["a"]) < float(m["b"]) else None


def recording_of(stem: str) -> tuple[str, float]:
    """(the recording a file belongs to, where the file starts in it, seconds): a window
    named by `window_stem` is part of its recording (a window of a window, of the first);
    any other file is a recording of its own. A recording whose own name ends like a window's
    (`take_00010.000-00020.000`) is read as a window too: from-labels says so per file."""
    at = 0.0
    while (m := _WINDOW_STEM.match(stem)) and float(m["a"]) < float(m["b"]):
        stem, at = m["rec"], at + float(m["a"])
    return stem, at
