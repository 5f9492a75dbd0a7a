"""Training the networks of an ensemble side by side, one worker process per network.

Trained one after the other, the default recipe's two networks kept 1.37 of this machine's
2 cores busy (TensorFlow does not split such small convolutions well over threads), and the
second network's augmented copies waited for the first network's fit. So each network
trains in a worker of its own, `cores // workers` threads each, and the workers stay up for
the process's life (importing TensorFlow costs seconds; leave-one-source-out runs train
dozens of networks). docs/training.md, "Time", has the measurements.

Every network, one or several, trains in a worker, so the thread count a network trains
with depends only on the machine's cores and the number of networks: the same command on
the same machine gives the same weights. Workers get SIGKILL when the process that started
them dies (PR_SET_PDEATHSIG, like the emulators; strictly, when the thread that first
called fit_members ends: call it from a thread that lives as long as its results matter)."""
from __future__ import annotations

import atexit
import concurrent.futures as cf
import multiprocessing as mp
import os
import signal

from ..errors import MicromelError
from ..link.emulator import die_with_parent
from . import evaluate, models
from .features import training_features
from .fit import fit_cnn, quiet_tf
from .gate import Role

_POOL: dict = {}


def _worker_init(threads: int, parent: int) -> None:
    die_with_parent(parent)()
    # the terminal's Ctrl-C reaches the workers too: they end at once, without a traceback
    # each (an idle worker printed one), and `train` says "interrupted" in one line. Ignoring
    # it instead would keep the process waiting at exit for the network being fitted.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    quiet_tf()
    import tensorflow as tf             # before any op runs: threads are fixed at first use

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def _pool(workers: int, threads: int) -> cf.ProcessPoolExecutor:
    key = (workers, threads)
    if key not in _POOL:
        for old in _POOL.values():          # one pool at a time: the machine is small
            old.shutdown(wait=True)
        _POOL.clear()
        _POOL[key] = cf.ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"),
                                            initializer=_worker_init,
                                            initargs=(threads, os.getpid()))
    return _POOL[key]


@atexit.register
def _shutdown() -> None:
    for p in _POOL.values():
        p.shutdown(wait=False, cancel_futures=True)
    _POOL.clear()


def _worker_pid(_=None) -> int:
    """Which worker ran a job (tests/train/test_members.py)."""
    return os.getpid()


def _fit_member(job: dict):
    """In a worker: the member's training features (drawn here unless given), then fit_cnn.
    Returns the weights (numpy arrays), the history and the best epoch."""
    import keras                        # lazy: TensorFlow

    keras.backend.clear_session()       # a fresh graph per network, however many before
    cf_ = job["train_cf"]
    if cf_ is None:
        cf_ = training_features(job["ds"], job["fcfg"], job["cfg"], job["quiet"])
    watch = None
    if job["watch_cf"] is not None:     # development only: a split to watch, never to select
        ds, fr, w = job["ds"], job["fr"], job["cfg"].window
        watch = lambda m: evaluate.evaluate_float(  # noqa: E731
            m, job["watch_cf"], w, fr, ds.labels)["accuracy"]
    role = job["role"]
    net, history, best_epoch = fit_cnn(cf_, job["val_cf"], len(job["ds"].labels), job["cfg"],
                                       job["fr"], quiet=job["quiet"], watch=watch,
                                       sources=job["sources"], position=job["position"],
                                       zero_logits=role.zero_logits,
                                       skip_classes=role.skip_classes)
    return net.get_weights(), history, best_epoch


def fit_members(ds, fr, fcfg, train_cf, val_cf, cfgs: list, quiet: bool = False,
                watch_cf=None, member_ds: list | None = None,
                roles: list | None = None) -> list[tuple]:
    """Train one network per config in `cfgs` (member k draws its own augmented copies with
    its own seed; member 0 uses `train_cf`, which must be drawn from `ds`), in parallel
    workers. `member_ds[k]`: the dataset member k trains on (default `ds` for all; a
    specialist's is Dataset.train_only). `roles[k]`: member k's gate.Role (classes whose
    logit it holds at 0, classes it never trains on), default none. Returns (keras model,
    history, best epoch) per member, in order."""
    workers = max(1, min(len(cfgs), os.cpu_count() or 1))
    threads = max(1, (os.cpu_count() or 1) // workers)
    member_ds = member_ds or [ds] * len(cfgs)
    roles = roles or [Role()] * len(cfgs)
    jobs = [{"ds": d, "fr": fr, "fcfg": fcfg, "cfg": c, "val_cf": val_cf,
             "train_cf": train_cf if k == 0 else None,
             "sources": d.source_names(d.split("train")), "quiet": quiet,
             "watch_cf": watch_cf, "position": k, "role": r}
            for k, (c, d, r) in enumerate(zip(cfgs, member_ds, roles))]
    pool = _pool(workers, threads)
    try:
        results = list(pool.map(_fit_member, jobs))
    except cf.process.BrokenProcessPool:
        _POOL.clear()                       # a broken pool takes no more work
        pool.shutdown(wait=True)
        raise MicromelError(
            "a training worker died (killed, or out of memory: each network's worker holds "
            "its training features and TensorFlow); free memory or train fewer networks "
            "at once (--arch with one network)") from None
    n_mels = train_cf.feats[0].shape[1]
    out = []
    for c, (weights, history, best_epoch) in zip(cfgs, results):
        net = models.build(c.arch, (c.window.frames, n_mels, 1), len(ds.labels))
        net.set_weights(weights)
        out.append((net, history, best_epoch))
    return out
