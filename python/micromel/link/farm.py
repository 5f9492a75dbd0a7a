"""Boards in a labgrid farm as micromel devices (docs/farm.md).

    --device labgrid:PLACE                         that place
    --device labgrid:TAG=VALUE[,TAG=VALUE...][,N]  N places (default 1) whose tags match

`resolve_args()` is the one step every command's `--device` goes through (cli.main calls it
around every command): the farm specs among the values are reserved, waited for (up to
--farm-wait seconds), acquired and replaced by one `labgrid:PLACE` spec per board, held by this
process until the command ends, also on errors and signals. Everything after that sees plain
device specs: `open_device("labgrid:PLACE")` opens the board's UART (a labgrid
NetworkSerialPort: raw TCP or RFC 2217), after flashing it when the caller has a firmware
(farm_flash.py); verify shards clips over the boards exactly as over local devices.

How labgrid is used, and why (measured in the issue-19 prototype; docs/farm.md):
- one reservation per board: the coordinator implements one place per reservation; a place
  name is reserved as the tag name=PLACE (every place has it), so `labgrid:PLACE` waits its
  turn like any other request;
- the reservations are polled every second while waiting (that also keeps them from expiring);
  on timeout they are cancelled and the message names who holds the places;
- acquisitions never expire in labgrid: release on exit, on errors, on SIGINT/SIGTERM/SIGHUP
  (farm_leases.SignalGuard) and, after a SIGKILL, by the next micromel run on the host (lease
  files, farm_leases.cleanup_stale);
- a coordinator restart forgets every acquisition: the board links (direct TCP to the
  exporter host) keep working, a watcher re-acquires the places, and a board whose place
  someone else took meanwhile is dropped like a board that died (its clip goes back to the
  queue)."""
from __future__ import annotations

import argparse
import os
import re
import socket
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from .. import cliargs
from ..errors import MicromelError
from . import farm_leases
from .labgrid_session import FarmRPCError, LabgridSession, coordinator_address

PREFIX = "labgrid:"
DEFAULT_WAIT = 300.0          # seconds to wait for busy places (micromel --farm-wait)
RELOCK_EVERY = 3.0            # seconds between attempts to get places back after a restart
_TAG_KEY = re.compile(r"[a-z][a-z0-9_]+")   # labgrid's rule for tag names


class PlacesBusy(MicromelError):
    """The places were not free within the wait."""


def is_farm_spec(spec) -> bool:
    return isinstance(spec, str) and spec.startswith(PREFIX)


@dataclass(frozen=True)
class FarmSpec:
    text: str                  # as given, for messages
    tags: dict[str, str]       # the reservation filter
    count: int
    place: str | None = None   # labgrid:PLACE


def parse_spec(spec: str) -> FarmSpec:
    """'labgrid:PLACE' or 'labgrid:TAG=VALUE[,TAG=VALUE...][,N]'."""
    usage = "use labgrid:PLACE or labgrid:TAG=VALUE[,TAG=VALUE...][,N]"
    parts = spec[len(PREFIX):].split(",") if is_farm_spec(spec) else []
    count = 1
    if len(parts) > 1 and parts[-1].strip().isdigit():
        count = int(parts.pop())
        if count < 1:
            raise MicromelError(f"--device {spec}: the number of boards must be at least 1")
    if not parts or not all(parts):
        raise MicromelError(f"--device {spec}: {usage}")
    if all("=" in p for p in parts):
        tags = dict(p.split("=", 1) for p in parts)
        bad = [k for k in tags if not _TAG_KEY.fullmatch(k)]
        if bad or len(tags) < len(parts) or not all(tags.values()):
            raise MicromelError(f"--device {spec}: tag names are lower case letters, digits and _ "
                                f"(two or more, a letter first), each given once with a value; {usage}")
        return FarmSpec(spec, tags, count)
    if len(parts) == 1 and count == 1:
        return FarmSpec(spec, {"name": parts[0]}, 1, place=parts[0])
    raise MicromelError(f"--device {spec}: {usage}")


@dataclass
class FarmBoard:
    """One acquired place: where its UART is, and what else it offers."""
    place: str
    url: str                              # what pyserial opens: socket://H:P or rfc2217://H:P
    tags: dict[str, str]
    token: str                            # the reservation it was acquired under
    ctl: tuple[str, int] | None = None    # an emulated board's control port (farm_board.py)
    lost: str | None = None               # why it may no longer be used
    links: list = field(default_factory=list)

    @property
    def spec(self) -> str:
        return f"{PREFIX}{self.place}"

    def attach(self, link) -> None:
        """Remember an open link to the board, so that losing the place can cut it."""
        self.links.append(link)

    def drop(self, reason: str) -> None:
        """The place is no longer ours: wake whoever reads the board (their read fails like a
        lost link: the clip in flight goes back to the queue)."""
        self.lost = reason
        for link in self.links:
            sock = getattr(link, "_socket", None)   # pyserial's socket:// and rfc2217:// links
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


_held: dict[str, FarmBoard] = {}     # place -> board, for every lease open in this process


def held_board(spec: str) -> FarmBoard:
    board = _held.get(spec[len(PREFIX):])
    if board is None:
        raise MicromelError(f"--device {spec}: not acquired by this process; the micromel command "
                            "acquires farm boards itself (in Python: with farm.hold(specs) as specs)")
    if board.lost:
        raise MicromelError(f"--device {spec}: {board.lost}")
    return board


def wait_seconds() -> float:
    """How long to wait for a held place: $MICROMEL_FARM_WAIT (micromel --farm-wait sets it),
    checked as the option is."""
    text = os.environ.get("MICROMEL_FARM_WAIT") or str(DEFAULT_WAIT)
    try:
        return cliargs.non_negative_float(text)
    except argparse.ArgumentTypeError as e:
        raise MicromelError(f"MICROMEL_FARM_WAIT={text}: {e}; set it to a number of seconds "
                            ">= 0, or give micromel --farm-wait SECONDS") from None


def _say(text: str) -> None:
    print(f"micromel: farm: {text}", file=sys.stderr, flush=True)


def _matches(place, spec: FarmSpec) -> bool:
    if spec.place is not None:
        return place.name == spec.place
    return all(place.tags.get(k) == v for k, v in spec.tags.items())


class FarmLease:
    """Reserve, wait for, acquire and resolve the boards of some farm specs; close() releases."""

    def __init__(self, specs: list[FarmSpec], wait: float | None = None, say=_say):
        self.specs = specs
        self.wait = wait_seconds() if wait is None else wait
        coordinator_address()      # checked here, before labgrid is needed or asked
        self.say = say
        self.session: LabgridSession | None = None
        self.tokens: list[str] = []
        self.acquired: list[str] = []
        self.boards: list[FarmBoard] = []
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._closed = False
        self._record = None
        self._signals = farm_leases.SignalGuard()

    # -- open -----------------------------------------------------------------------------
    def open(self) -> list[list[FarmBoard]]:
        """The boards of each spec, in order. On any failure everything is given back."""
        self._signals.install()
        try:
            return self._open()
        except BaseException:
            self.close()
            raise

    def _open(self) -> list[list[FarmBoard]]:
        self.session = LabgridSession()
        for line in farm_leases.cleanup_stale(self.session):
            self.say(line)
        places = self.session.places()
        for spec in self.specs:
            found = sorted(p.name for p in places.values() if _matches(p, spec))
            if len(found) < spec.count:
                raise MicromelError(
                    f"--device {spec.text}: the farm at {self.session.address} has "
                    f"{len(found)} matching place(s) ({', '.join(found) or 'none'}), {spec.count} wanted; "
                    f"its places: {', '.join(sorted(places)) or 'none'}")
        for spec in self.specs:   # one reservation per board, all before waiting for any
            for _ in range(spec.count):
                self.tokens.append(self.session.reserve(spec.tags))   # kept at once: close() cancels
        self._record = farm_leases.record(self.session, self.tokens, self.acquired)
        allocated = self._wait_for(self.tokens)
        for tok in self.tokens:
            self.session.rpc("AcquirePlace", placename=allocated[tok])
            self.acquired.append(allocated[tok])
            farm_leases.record(self.session, self.tokens, self.acquired, self._record)
        self.session.sync()
        self.boards = [self._resolve(allocated[tok], tok) for tok in self.tokens]
        _held.update((b.place, b) for b in self.boards)
        threading.Thread(target=self._watch, name="farm-watch", daemon=True).start()
        out, it = [], iter(self.boards)
        for spec in self.specs:
            out.append([next(it) for _ in range(spec.count)])
        return out

    def _wait_for(self, tokens: list[str]) -> dict[str, str]:
        deadline = time.monotonic() + self.wait
        allocated: dict[str, str] = {}
        told = False
        while True:
            for tok in tokens:
                state, place = self.session.poll(tok)
                if state in ("allocated", "acquired"):
                    allocated[tok] = place
                elif state in ("expired", "invalid"):
                    raise MicromelError(f"farm: reservation {tok} became {state}; try again")
            if len(allocated) == len(tokens):
                return allocated
            if not self.session.alive():
                raise MicromelError(f"farm: lost the labgrid coordinator at {self.session.address} "
                                    "while waiting for places")
            if time.monotonic() >= deadline:
                raise PlacesBusy(f"--device {', '.join(s.text for s in self.specs)}: only "
                                 f"{len(allocated)} of {len(tokens)} place(s) free after "
                                 f"{self.wait:.0f} s (micromel --farm-wait); {self.holders()}")
            if not told:
                self.say(f"waiting up to {self.wait:.0f} s for {len(tokens) - len(allocated)} "
                         f"place(s): {self.holders()}")
                told = True
            time.sleep(1.0)

    def holders(self) -> str:
        """Who holds the places these specs match, for messages."""
        owners = {}
        try:
            owners = self.session.owners()
        except FarmRPCError:
            pass
        out = []
        for p in sorted(self.session.places().values(), key=lambda p: p.name):
            if not any(_matches(p, s) for s in self.specs):
                continue
            if p.acquired:
                out.append(f"{p.name} acquired by {p.acquired}")
            elif p.reservation and p.reservation not in self.tokens:
                out.append(f"{p.name} reserved for {owners.get(p.reservation, '?')} "
                           f"(reservation {p.reservation}, not yet acquired)")
            else:
                out.append(f"{p.name} free")
        return "; ".join(out) or "no matching place"

    def _resolve(self, name: str, token: str) -> FarmBoard:
        """The place's serial port ('uart' preferred) and an emulated board's 'ctl' port."""
        place = self.session.places()[name]
        ports = {}
        for path in place.acquired_resources:
            entry = self.session.resource(tuple(path))
            if entry is None or path[2] != "NetworkSerialPort" or not entry.avail:
                continue   # an orphaned resource (its exporter is gone) or another kind
            host, port = self.session.forward(entry, entry.params["host"], int(entry.params["port"]))
            ports[path[3]] = (host, port, entry.params.get("protocol", "rfc2217"))
        ctl = ports.pop("ctl", None)
        if not ports:
            raise MicromelError(f"--device {PREFIX}{name}: the place has no available "
                                "NetworkSerialPort (is its exporter running? labgrid-client "
                                f"-p {name} show)")
        host, port, proto = ports.get("uart") or ports[sorted(ports)[0]]
        scheme = "socket" if proto == "raw" else "rfc2217"
        return FarmBoard(name, f"{scheme}://{host}:{port}", dict(place.tags), token,
                         ctl=ctl[:2] if ctl else None)

    # -- a coordinator restart ------------------------------------------------------------
    def _watch(self) -> None:
        warned = False
        while not self._stop.wait(1.0):
            with self._lock:
                if self._closed or self.session is None or self.session.alive():
                    continue
                if not warned:
                    self.say(f"lost the labgrid coordinator at {self.session.address}: the boards keep "
                             "running on their open links, but their places are not protected "
                             "until micromel gets them back")
                    warned = True
                try:
                    self._relock()
                    warned = False
                except MicromelError:
                    pass    # still down: try again
            self._stop.wait(RELOCK_EVERY)

    def _relock(self) -> None:
        """A restarted coordinator has forgotten every reservation and acquisition: reserve and
        acquire the same places again; a place someone else got first is lost to this run."""
        self.session.close()
        self.session = LabgridSession(self.session.address, connect_timeout=5.0)
        self.tokens, self.acquired = [], []
        for b in self.boards:
            if b.lost:
                continue
            tok = None
            try:
                tok = self.session.reserve({"name": b.place})
                state, place = self.session.poll(tok)   # the scheduler allocates at once if free
                if state != "allocated" or place != b.place:
                    raise FarmRPCError(self._taken_by(b.place))
                self.session.rpc("AcquirePlace", placename=b.place)
                self.tokens.append(tok)
                self.acquired.append(b.place)
                b.token = tok
            except FarmRPCError as e:
                if tok is not None:   # a waiting reservation would block the place for its next user
                    try:
                        self.session.rpc("CancelReservation", 5, token=tok)
                    except FarmRPCError:
                        pass
                b.drop(f"place {b.place} lost after a coordinator restart: {e}")
                self.say(f"{b.spec}: {b.lost}; its clips go to the other boards")
        farm_leases.record(self.session, self.tokens, self.acquired, self._record)
        self.say(f"got {len(self.acquired)} place(s) back after the coordinator restart: "
                 f"{', '.join(self.acquired) or 'none'}")

    def _taken_by(self, name: str) -> str:
        p = self.session.places().get(name)
        return f"taken by {p.acquired}" if p is not None and p.acquired else "reserved by someone else"

    # -- release --------------------------------------------------------------------------
    def close(self) -> None:
        """Release every place and cancel every reservation of this lease; idempotent (called
        from finally, from the signal path, at exit)."""
        self._stop.set()
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for b in self.boards:
                _held.pop(b.place, None)
            try:
                if self.session is not None:
                    self.session = farm_leases.release(self.session, self.tokens, self.acquired, self.say)
                if self._record is not None:
                    self._record.unlink(missing_ok=True)
            finally:
                if self.session is not None:
                    self.session.close()
                self._signals.restore()


@contextmanager
def hold(specs: list[str], wait: float | None = None):
    """The device specs with every farm spec replaced by its boards' `labgrid:PLACE` specs,
    held until the block ends; local specs (and boards already held) pass through."""
    todo = {i: parse_spec(s) for i, s in enumerate(specs)
            if is_farm_spec(s) and s[len(PREFIX):] not in _held}
    places = [f.place for f in todo.values() if f.place]
    for place in places:
        if places.count(place) > 1:
            raise MicromelError(f"--device {PREFIX}{place}: a place given twice cannot take two "
                                "devices' share of the work")
    if not todo:
        yield list(specs)
        return
    lease = FarmLease(list(todo.values()), wait)
    try:
        got = dict(zip(todo, lease.open()))
        out = []
        for i, s in enumerate(specs):
            out += [b.spec for b in got[i]] if i in got else [s]
        yield out
    finally:
        lease.close()


@contextmanager
def resolve_args(args):
    """cli.main's hook: resolve the command's --device value(s) (a str, or a list for verify)
    in place, hold the boards while the command runs."""
    value = getattr(args, "device", None)
    specs = value if isinstance(value, list) else [value] if isinstance(value, str) else []
    farm = [s for s in specs if is_farm_spec(s)]
    if not farm:
        yield
        return
    if isinstance(value, str) and parse_spec(value).count != 1:
        raise MicromelError(f"--device {value}: this command uses one board; drop the count")
    with hold(specs) as resolved:
        args.device = resolved[0] if isinstance(value, str) else resolved
        yield
