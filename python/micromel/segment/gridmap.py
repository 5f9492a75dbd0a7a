"""A grid search's points over the machine's cores: `tune` and `evaluate-segments --tune` run
the integer state machine once per point of a grid, over scores the model computed once, so
the points are independent and split across worker processes without changing a result.

The workers are forked (they inherit the scored streams instead of receiving them through
pickles: minutes of window scores), take the points in chunks, and return each point's result
in grid order; the caller sees the same list as the loop `[fn(state, pt) for pt in points]`.
They die with the process that started them, however it ends (PR_SET_PDEATHSIG, as the
emulators and the training workers), and the pool is torn down when the search ends or fails.
Where fork is not available, or for one job, the points run in this process."""
from __future__ import annotations

import multiprocessing as mp
import os
import sys

from ..link.emulator import die_with_parent

CHUNK = 25          # points per task: small enough to share the work evenly, large enough
                    # that the pipe's traffic stays small beside the state machine's work

_STATE = None       # what every point reads; set in the parent before the fork


def default_jobs() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:      # not Linux
        return os.cpu_count() or 1


def _init(parent: int) -> None:
    if sys.platform.startswith("linux"):
        die_with_parent(parent)()


def _run(task):
    fn, points = task
    return [fn(_STATE, pt) for pt in points]


def map_points(fn, state, points, jobs: int = 1, done=None) -> list:
    """`[fn(state, pt) for pt in points]` over `jobs` worker processes (fn a module-level
    function). `done(results)` is called in this process each time more results are in, with
    the list of the results so far (in grid order), to report progress as the search runs."""
    global _STATE
    points = list(points)
    if jobs <= 1 or len(points) <= CHUNK or "fork" not in mp.get_all_start_methods():
        out = []
        for pt in points:
            out.append(fn(state, pt))
            if done is not None:
                done(out)
        return out
    tasks = [(fn, points[i:i + CHUNK]) for i in range(0, len(points), CHUNK)]
    _STATE = state
    try:
        with mp.get_context("fork").Pool(min(jobs, len(tasks)), initializer=_init,
                                         initargs=(os.getpid(),)) as pool:
            out = []
            for part in pool.imap(_run, tasks):
                out += part
                if done is not None:
                    done(out)
        return out
    finally:
        _STATE = None
