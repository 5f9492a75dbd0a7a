"""Progress of a long command (verify, stream-check, soak, demo): a bar on a terminal, plain
lines in a log or a pipe, where a bar's carriage returns make one long line and an error
printed after it lands on its end. A CI log still shows that the job moves: a line at every
tenth of the work and at least once a minute while it runs."""
from __future__ import annotations

import sys
import time

EVERY_S = 60.0      # a log line at least this often while the work moves


class LogLines:
    """tqdm's update/set_postfix/close, n and total, as lines on stderr."""

    def __init__(self, total: int, desc: str, unit: str, initial: int = 0):
        self.total, self.desc, self.unit, self.n = total, desc, unit, initial
        self.step = max(1, total // 10)
        self.next_n = (initial // self.step + 1) * self.step
        self.last = time.monotonic()
        self.postfix = ""

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if n and (self.n >= self.next_n or now - self.last >= EVERY_S):
            print(f"{self.desc}: {self.n}/{self.total} {self.unit}{self.postfix}",
                  file=sys.stderr, flush=True)
            self.next_n = (self.n // self.step + 1) * self.step
            self.last = now

    def set_postfix(self, **values) -> None:
        self.postfix = "".join(f", {k} {v}" for k, v in values.items())

    def close(self) -> None:
        pass


def bar(total: int, desc: str, unit: str, initial: int = 0):
    """A progress display of `total` units: tqdm on a terminal, LogLines elsewhere."""
    if sys.stderr.isatty():
        from tqdm import tqdm   # lazy: only on a terminal

        return tqdm(total=total, initial=initial, unit=unit, desc=desc, dynamic_ncols=True)
    return LogLines(total, desc, unit, initial)
