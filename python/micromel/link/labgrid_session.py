"""One connection to a labgrid coordinator, driven from micromel's synchronous code. The only
module that touches labgrid's internals (farm.py asks it for places, resources and RPCs).

labgrid's own `ClientSession` (what `labgrid-client` uses) runs on a private asyncio loop in a
daemon thread, so its message pump stays live while micromel streams clips (place and resource
updates arrive, a lost coordinator is noticed at once) and signals still reach the main
thread. ClientSession and the generated protobuf module are not a stable labgrid API: labgrid
25.0 and 26.0 have the same RPCs and Reservation message (24.x is the old crossbar client and
cannot work), hence `labgrid>=25,<27` in the `farm` extra; widen it after checking a new
major. labgrid is optional (pip install 'micromel[farm]'): it is imported only here, inside
functions, and only when a `labgrid:` device is used."""
from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import threading
from urllib.parse import urlsplit

from ..errors import MicromelError

DEFAULT_PORT = 20408   # labgrid's coordinator port


def coordinator_address() -> str:
    """labgrid's convention: $LG_COORDINATOR (micromel --coordinator sets it), else the
    default port on this host. Parsed here as labgrid parses it (urlsplit), so a bad port
    or host is one line before any session, not a traceback from labgrid's proxy code."""
    address = os.environ.get("LG_COORDINATOR") or f"127.0.0.1:{DEFAULT_PORT}"
    try:
        parts = urlsplit("//" + address)
        parts.port          # raises ValueError for a port that is not a number 0-65535
        ok = bool(parts.hostname)
    except ValueError as e:
        ok, why = False, str(e)
    else:
        why = "no host"
    if not ok:
        raise MicromelError(f"coordinator {address} ($LG_COORDINATOR or micromel --coordinator): "
                            f"{why}; give HOST, HOST:PORT or [IPv6]:PORT")
    return address


def require_labgrid(what: str) -> None:
    if importlib.util.find_spec("labgrid") is None:
        raise MicromelError(f"{what}: labgrid is not installed; pip install 'micromel[farm]' "
                            "(docs/farm.md)")


class _WithoutLabgrid(logging.Handler):
    """labgrid's client logs through the root logger ("ERROR:root:coordinator is unavailable",
    and module-level logging.error installs a stderr handler for every later message): where
    nothing configured logging, its records are dropped (micromel says what went wrong in one
    line of its own) and everything else goes where Python's default would send it."""

    def __init__(self, package_dir: str):
        super().__init__(logging.WARNING)
        self.package_dir = package_dir

    def emit(self, record: logging.LogRecord) -> None:
        if not record.pathname.startswith(self.package_dir):
            logging.lastResort.handle(record)


def _quiet_labgrid() -> None:
    root = logging.getLogger()
    if not root.handlers:       # a program that configured logging keeps its own
        spec = importlib.util.find_spec("labgrid")
        root.addHandler(_WithoutLabgrid(os.path.dirname(spec.origin)))


class FarmRPCError(MicromelError):
    """The coordinator refused a request (its own words in the message)."""


class LabgridSession:
    """A started labgrid ClientSession with its own loop thread and its own gRPC connection."""

    def __init__(self, address: str | None = None, connect_timeout: float = 10.0):
        require_labgrid("--device labgrid:...")
        _quiet_labgrid()
        self.address = address or coordinator_address()
        self.session = None
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run():
            asyncio.set_event_loop(self.loop)   # grpc.aio binds a channel to the running loop
            self.loop.call_soon(ready.set)
            self.loop.run_forever()

        self._thread = threading.Thread(target=run, name="labgrid-client", daemon=True)
        self._thread.start()
        ready.wait()
        self.session = self._run(self._make())
        try:
            # ClientSession.start() waits forever for an unreachable coordinator (gRPC retries)
            self._run(self.session.start(), connect_timeout)
        except Exception as e:  # noqa: BLE001 - any failure to connect is one user-facing line
            self.close()
            why = str(e) or type(e).__name__
            raise MicromelError(f"cannot reach the labgrid coordinator at {self.address} "
                                f"($LG_COORDINATOR or micromel --coordinator): {why}") from None

    def _run(self, coro, timeout: float | None = None):
        async def bounded():
            return await (asyncio.wait_for(coro, timeout) if timeout is not None else coro)

        return asyncio.run_coroutine_threadsafe(bounded(), self.loop).result()

    async def _make(self):
        import grpc
        from labgrid.remote.client import ClientSession
        from labgrid.remote.generated import labgrid_coordinator_pb2_grpc
        from labgrid.util.proxy import proxymanager

        address = proxymanager.get_grpc_address(self.address, default_port=DEFAULT_PORT)
        session = ClientSession(address, asyncio.get_running_loop())
        # gRPC shares one TCP connection between channels of equal arguments in a process, and
        # the coordinator keys clients by peer address (a second stream from the same peer
        # kills the first). Two sessions in one process (a lease held while another waits,
        # or cleaning up a stale lease) need their own connection: a local subchannel pool.
        await session.channel.close()
        session.channel = grpc.aio.insecure_channel(address, options=[
            ("grpc.keepalive_time_ms", 7500), ("grpc.keepalive_timeout_ms", 10000),
            ("grpc.http2.ping_timeout_ms", 10000), ("grpc.http2.max_pings_without_data", 0),
            ("grpc.use_local_subchannel_pool", 1)])
        session.stub = labgrid_coordinator_pb2_grpc.CoordinatorStub(session.channel)
        return session

    # -- what farm.py uses ------------------------------------------------------------------
    @property
    def me(self) -> str:
        """How the coordinator names this client: <LG_HOSTNAME|host>/<LG_USERNAME|user>.
        Every process of one user on one host is the same client to labgrid."""
        return f"{self.session.gethostname()}/{self.session.getuser()}"

    def alive(self) -> bool:
        return not self.session.stopping.is_set()

    def places(self) -> dict:
        """Place name -> labgrid Place (tags, acquired, reservation, acquired_resources)."""
        return dict(self.session.places)

    def resource(self, path: tuple):
        """(exporter, group, cls, name) -> labgrid ResourceEntry (params, avail, extra) or None
        when its exporter is gone."""
        exporter, group, _, name = path
        return self.session.resources.get(exporter, {}).get(group, {}).get(name)

    def forward(self, entry, host: str, port: int) -> tuple[str, int]:
        """Where to connect to a resource: through an SSH forward when its exporter is isolated
        (extra.proxy_required) or $LG_PROXY is set, as labgrid's own drivers do."""
        extra = entry.extra or {}
        proxy = extra.get("proxy") if extra.get("proxy_required") else os.environ.get("LG_PROXY")
        if not proxy:
            return host, port
        from labgrid.util.ssh import sshmanager

        return "localhost", sshmanager.request_forward(proxy, host, port)

    def sync(self) -> None:
        """Wait until the coordinator's updates up to now have arrived."""
        self._run(self.session.sync_with_coordinator(), 10)

    def rpc(self, name: str, timeout: float = 10.0, **fields):
        """Call a coordinator RPC by name: rpc("AcquirePlace", placename="p")."""
        import grpc
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb

        request = getattr(pb, f"{name}Request")(**fields)

        async def call():   # made inside the loop thread: grpc.aio calls bind to the running loop
            return await getattr(self.session.stub, name)(request)

        try:
            return self._run(call(), timeout)
        except grpc.aio.AioRpcError as e:
            raise FarmRPCError(f"the labgrid coordinator refused {name}: {e.details()}") from None
        except (asyncio.TimeoutError, TimeoutError):
            raise FarmRPCError(f"the labgrid coordinator did not answer {name} "
                               f"within {timeout:.0f} s") from None

    def reserve(self, tags: dict[str, str]) -> str:
        """A reservation of one place matching `tags` (the coordinator implements one place per
        reservation); returns its token."""
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb

        flt = {"main": pb.Reservation.Filter(filter=tags)}
        return self.rpc("CreateReservation", filters=flt, prio=0).reservation.token

    def poll(self, token: str) -> tuple[str, str | None]:
        """(state name, allocated place or None) of a reservation; polling also keeps a waiting
        or allocated reservation from expiring (60 s after the last poll)."""
        from labgrid.remote.common import Reservation

        res = Reservation.from_pb2(self.rpc("PollReservation", token=token).reservation)
        return res.state.name, (res.allocations.get("main") or [None])[0]

    def owners(self) -> dict[str, str]:
        """Reservation token -> owner, for messages."""
        return {r.token: r.owner for r in self.rpc("GetReservations", 5).reservations}

    def close(self) -> None:
        """Idempotent; a closed session's loop is stopped, nothing may run on it afterwards."""
        if not self.loop.is_running():
            return
        for step in ("stop", "close") if self.session is not None else ():
            try:
                self._run(getattr(self.session, step)(), 5)
            except Exception:  # noqa: BLE001,S110 - closing a broken session: nothing to save
                pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
