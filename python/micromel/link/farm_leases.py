"""Giving farm places back, whatever ends the process.

labgrid ties an acquisition to "<host>/<user>", not to a process or a connection, and never
expires it; the reservation behind an acquired place does not expire either. So:
- release(): ReleasePlace + CancelReservation, only for places still held under this lease's
  own reservations (after a coordinator restart, or when the user took a place by hand, a place
  may be acquired by the same "<host>/<user>" for someone else's work: it is left alone);
- SignalGuard: SIGTERM/SIGHUP become SystemExit and SIGINT a KeyboardInterrupt (even when the
  process inherited SIGINT ignored, as a job started with `&` by a CI script does), so every
  `finally` and the lease's release run;
- lease files (one per lease, in the user cache): a SIGKILL or a power cut leaves places acquired;
  the next micromel farm run on the host finds the file of the dead process and releases what it
  held (cleanup_stale)."""
from __future__ import annotations

import itertools
import json
import os
import signal
import threading
from pathlib import Path

from ..errors import MicromelError
from ..fileio import write_text_atomic
from ..paths import user_cache
from .labgrid_session import FarmRPCError, LabgridSession

_ids = itertools.count()


def lease_dir() -> Path:
    return user_cache() / "farm-leases"


def _started(pid: int) -> str | None:
    """A process's start time (clock ticks since boot): a pid and its start time name one
    process even when the pid is reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def record(session: LabgridSession, tokens: list[str], places: list[str], path: Path | None = None) -> Path:
    """Write (or rewrite) the lease file of what this process holds."""
    path = path or lease_dir() / f"{os.getpid()}-{next(_ids)}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps({
        "pid": os.getpid(), "started": _started(os.getpid()), "coordinator": session.address,
        "client": session.me, "tokens": list(tokens), "places": list(places)}))
    return path


def release(session: LabgridSession, tokens: list[str], places: list[str], say) -> LabgridSession:
    """Release `places` and cancel `tokens`; returns the session used (a new one when the old
    connection had broken), for the caller to close."""
    if not (tokens or places):
        return session
    if not session.alive():
        session.close()
        try:
            session = LabgridSession(session.address, connect_timeout=5.0)
        except MicromelError as e:
            say(f"could not release {', '.join(places) or 'the reservations'}: {e}; release by hand: "
                "labgrid-client -p PLACE release")
            return session
    live = set()
    for tok in tokens:
        try:
            session.poll(tok)
            live.add(tok)
        except FarmRPCError:
            pass    # unknown: cancelled, expired, or forgotten by a restarted coordinator
    session.sync()
    now = session.places()
    for name in places:
        p = now.get(name)
        if p is None or not p.acquired:
            continue
        if p.acquired != session.me or p.reservation not in live:
            say(f"{name} is held by {p.acquired} under another reservation now; left alone")
            continue
        try:
            session.rpc("ReleasePlace", placename=name)
        except FarmRPCError as e:
            say(f"{name}: {e}")
    for tok in live:
        try:
            session.rpc("CancelReservation", 5, token=tok)
        except FarmRPCError:
            pass
    return session


def cleanup_stale(session: LabgridSession) -> list[str]:
    """Release what dead micromel processes of this client left on this coordinator; returns
    one line per lease cleaned, for the user."""
    done = []
    for f in sorted(lease_dir().glob("*.json")):
        try:
            rec = json.loads(f.read_text())
            pid = int(rec["pid"])
        except (OSError, ValueError, KeyError):
            continue
        if _started(pid) is not None and _started(pid) == rec.get("started"):
            continue    # that process still runs
        if (rec.get("coordinator"), rec.get("client")) != (session.address, session.me):
            continue    # another coordinator or client: not ours to clean
        notes = []
        release(session, rec.get("tokens", []), rec.get("places", []), notes.append)
        f.unlink(missing_ok=True)
        done.append(f"cleaned up after micromel process {pid}, which ended without releasing "
                    f"{', '.join(rec.get('places') or []) or 'its reservations'}" +
                    (f" ({'; '.join(notes)})" if notes else ""))
    return done


class SignalGuard:
    """While installed: SIGTERM and SIGHUP raise SystemExit(128 + signal) in the main thread,
    SIGINT raises KeyboardInterrupt. Python code only runs handlers in the main thread, and only
    the main thread may install them: elsewhere this does nothing."""

    def __init__(self):
        self.old: dict = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread() or self.old:
            return

        def leave(signum, _frame):
            raise SystemExit(128 + signum)

        for s in (signal.SIGTERM, signal.SIGHUP):
            self.old[s] = signal.signal(s, leave)
        self.old[signal.SIGINT] = signal.signal(signal.SIGINT, signal.default_int_handler)

    def restore(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for s, h in self.old.items():
            signal.signal(s, h)
        self.old = {}
