"""A grid search's points over the machine's cores: `tune` and `evaluate-segments --tune` run
the integer state machine once per point of a grid, over scores the model computed once, so
the points are independent and split across worker processes without changing a result.

The workers are forked (they inherit the scored streams instead of receiving them through
pickles: minutes of window scores), take the points in chunks, and return each point's result
in grid order; the caller sees the same list as the loop `[fn(state, pt) for pt in points]`.
On Linux only: there they die with the process that started them, however it ends
(PR_SET_PDEATHSIG, as the emulators and the training workers), and forking after the model
has run is safe (elsewhere CPython forks no more by default); other systems run the points in
this process. Ctrl-C is the parent's to handle (the workers ignore it, and go when the search
ends however it ends); a worker that dies (the out-of-memory killer) ends the search with a
one-line error, not a hang. (A multiprocessing.Pool hung when a worker died, and a
ProcessPoolExecutor forks replacements from its own thread; hence these few lines.)"""
from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import queue
import signal
import sys
import traceback

from .. import cliargs
from ..errors import MicromelError
from ..link.emulator import die_with_parent

CHUNK = 25          # points per task: small enough to share the work evenly, large enough
                    # that the pipe's traffic stays small beside the state machine's work

_STATE = None       # what every point reads, and
_CHUNKS: list = []  # the points in chunks: set in the parent before the fork (the workers
                    # are sent chunk numbers only: a grid's configs would fill the pipe)


def default_jobs() -> int:
    """The cores this process may run on (1 where the points never leave this process)."""
    if not sys.platform.startswith("linux"):
        return 1
    return len(os.sched_getaffinity(0))


def add_jobs_option(p, when: str = "") -> None:
    """--jobs, for tune and evaluate-segments --tune."""
    p.add_argument("--jobs", type=cliargs.positive_int, default=default_jobs(),
                   help=f"worker processes that try the grid's settings{when} (default "
                        "%(default)s: the cores this process may use; the results do not "
                        "depend on it)")


def _init(parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent)()


def _worker(tasks, results, fn, parent: int) -> None:
    """In a worker: chunk numbers from `tasks` until None; (number, results, None) or (number,
    None, the exception) to `results`. An exception that cannot travel back goes as a
    RuntimeError with the worker's traceback (it would be dropped, and the search would
    wait for it)."""
    _init(parent)
    while (k := tasks.get()) is not None:
        try:
            results.put((k, [fn(_STATE, pt) for pt in _CHUNKS[k]], None))
        except Exception as e:      # noqa: BLE001 - raised again in the parent
            try:
                pickle.loads(pickle.dumps(e))
            except Exception:       # noqa: BLE001
                e = RuntimeError(f"a grid point failed in a worker:\n{traceback.format_exc()}")
            results.put((k, None, e))


def map_points(fn, state, points, jobs: int = 1, done=None) -> list:
    """`[fn(state, pt) for pt in points]` over `jobs` worker processes (fn a module-level
    function). `done(results)` is called in this process each time more results are in, with
    the list of the results so far (in grid order), to report progress as the search runs."""
    global _STATE, _CHUNKS
    points = list(points)
    if jobs <= 1 or len(points) <= CHUNK or not sys.platform.startswith("linux"):
        out = []
        for pt in points:
            out.append(fn(state, pt))
            if done is not None:
                done(out)
        return out
    chunks = [points[i:i + CHUNK] for i in range(0, len(points), CHUNK)]
    ctx = mp.get_context("fork")
    tasks, results = ctx.Queue(), ctx.Queue()
    n = min(jobs, len(chunks))
    _STATE, _CHUNKS = state, chunks
    workers = [ctx.Process(target=_worker, args=(tasks, results, fn, os.getpid()), daemon=True)
               for _ in range(n)]
    try:
        for w in workers:       # forked before this process starts the queues' threads
            w.start()
        for task in [*range(len(chunks)), *[None] * n]:
            tasks.put(task)
        got: dict[int, list] = {}
        out: list = []
        while len(out) < len(points):
            if any(w.exitcode not in (None, 0) for w in workers):
                raise MicromelError(f"a worker of the grid search died (out of memory?); run "
                                    f"again with fewer --jobs than {jobs}")
            try:
                k, part, error = results.get(timeout=0.2)
            except queue.Empty:
                if all(w.exitcode == 0 for w in workers) and results.empty():
                    raise MicromelError("the grid search's workers ended with results "
                                        "missing; run again with --jobs 1") from None
                continue
            if error is not None:
                raise error
            got[k] = part
            while len(out) // CHUNK in got and len(out) < len(points):    # in grid order
                out += got.pop(len(out) // CHUNK)
                if done is not None:
                    done(out)
        return out
    finally:
        _STATE, _CHUNKS = None, []
        # done, a failed point, Ctrl-C or a dead worker: every worker goes now, and this
        # process does not wait at exit for queue data nobody will read
        for w in workers:
            if w.pid is not None:
                w.terminate()
                w.join()
        for q in (tasks, results):
            q.cancel_join_thread()
            q.close()
