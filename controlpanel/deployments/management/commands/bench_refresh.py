"""How much one poll of an account costs, measured end to end, vendor by vendor.

For each vendor and fleet size, seeds a throwaway team whose sandbox account has N
running deployments, serves the sandbox on a local port in this process, and times
``account_refresh`` (the adapter's ``list()`` over HTTP, then reconciling every row).
Prints wall time, the panel's database queries and the HTTP requests the adapter sent
per refresh, in steady state (nothing changed) and with every row changing. Some
adapters read one detail per running deployment on every poll (Nosana its jobs, Fluence
and Novita the instance): that shows in ``http``. ``twin ms`` is how long the sandbox
took to answer those requests; it runs in this process, so that time is inside the
wall time, where a real vendor's would be its network and servers instead.

Together's twin is seeded with rows written directly in its stored shape, as this
benchmark always has, so its numbers stay comparable. The other four are seeded
through the adapter's ``create()`` and the twin's own create route, with the demo
team's documented example (``bootstrap_demo``) under N names, so each object is stored
exactly as that twin stores one. The twin's clock is set back while it creates them,
so they have finished provisioning when polled, and an untimed ``list()`` first checks
that the adapter reads every one as running.

    manage.py bench_refresh --vendor fluence novita --deployments 100 1000 --rounds 5

With ``--accounts`` it measures a whole fleet instead, at a vendor's latency, in a
throwaway database of its own (``_bench_fleet.py`` says how):

    manage.py bench_refresh --deployments 2000 --accounts 10 --latency-ms 50
"""

from __future__ import annotations

import datetime as dt
import queue
import statistics
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any, NamedTuple
from unittest import mock
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from controlpanel.credentials import crypto
from controlpanel.credentials.models import EndpointKind, KeyStatus, ProviderAccount
from controlpanel.credentials.services import provider_for
from controlpanel.deployments.models import Deployment
from controlpanel.deployments.services import account_refresh
from controlpanel.deployments.states import State
from controlpanel.sandbox.core import account_for_key
from controlpanel.sandbox.models import SandboxFault, SandboxObject
from controlpanel.teams.models import Team
from controlpanel.vendors import demo_specs, vendor_module
from providers.base import RemoteState
from providers.registry import SLUGS

VENDORS = SLUGS
# How far each twin's clock is set back while it creates the fleet: well past every
# provisioning step it simulates (a few SANDBOX_PROVISION_SECONDS at most).
BACKDATE = dt.timedelta(minutes=10)
# A twin may name, in ``BENCH_LIFTED``, the per-account limits (credits, balances, instance
# caps) that would refuse most of a fleet of 1,000: they are lifted while the fleet is
# created, by patching the module globals they are read from, in this process only. A
# vendor's demo may name in ``BENCH_SPEC_CHANGES`` what keeps its fleet still while the
# benchmark runs; a twin with ``bench_seed(account, names)`` seeds its fleet directly.


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:  # the benchmark prints its own lines
        pass


class _PooledServer(WSGIServer):
    """Answers on a few long-lived threads, so each keeps its database connection as a
    real server's workers do, instead of opening one per request (Nosana, Fluence and
    Novita polls send hundreds).

    ``latency_s`` holds each request back that long before a thread takes it: a vendor's
    network and servers, waited out on a timer rather than on a pool thread, so any number
    of requests wait at once and the pool stays free for the twin's own work."""

    workers = 4
    latency_s = 0.0

    def server_activate(self) -> None:
        super().server_activate()
        self._requests: queue.SimpleQueue[tuple[Any, Any] | None] = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, daemon=True) for _ in range(self.workers)]
        for thread in self._threads:
            thread.start()

    def process_request(self, request: Any, client_address: Any) -> None:
        if self.latency_s > 0:
            timer = threading.Timer(self.latency_s, self._requests.put, args=((request, client_address),))
            timer.daemon = True
            timer.start()
        else:
            self._requests.put((request, client_address))

    def _work(self) -> None:
        try:
            while (item := self._requests.get()) is not None:
                request, client_address = item
                try:
                    self.finish_request(request, client_address)
                except Exception:
                    self.handle_error(request, client_address)
                finally:
                    self.shutdown_request(request)
        finally:
            connections.close_all()

    def server_close(self) -> None:
        for _ in self._threads:
            self._requests.put(None)
        for thread in self._threads:
            thread.join(timeout=5)
        super().server_close()


class _Counted:
    """The sandbox, counting the requests it answers (in all and per vendor, from the
    ``/sandbox/<vendor>/`` path) and the time it spends on them."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.requests = 0
        self.by_vendor: Counter[str] = Counter()
        self.seconds = 0.0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        started = time.perf_counter()
        try:
            return self.app(environ, start_response)
        finally:
            with self.lock:
                self.requests += 1
                self.by_vendor[_vendor_of(environ.get("PATH_INFO", ""))] += 1
                self.seconds += time.perf_counter() - started


def _vendor_of(path: str) -> str:
    """``together`` for ``/sandbox/together/v1/deployments``."""
    parts = path.split("/")
    return parts[2] if len(parts) > 2 else ""


class _Sample(NamedTuple):
    ms: float
    queries: int
    requests: int
    twin_ms: float


def _backdated(twin: Any) -> Callable[[], Any]:
    """A twin's ``_now`` set back by ``BACKDATE``. The twins work out state from the
    moments they stored (created, provisioned, pulled, started), so a fleet created in
    the past is running now. A twin's clock is epoch seconds or an aware datetime."""
    if isinstance(twin._now(), (int, float)):
        return lambda: time.time() - BACKDATE.total_seconds()
    return lambda: timezone.now() - BACKDATE


def bench_account(vendor: str, team_name: str) -> tuple[ProviderAccount, str]:
    """A throwaway team holding one sandbox key of ``vendor``; its sandbox account's digest."""
    key = f"sandbox-bench-{uuid.uuid4().hex[:10]}"
    team = Team.objects.create(name=team_name)
    account = ProviderAccount.objects.create(
        team=team,
        vendor=vendor,
        label="bench",
        endpoint=EndpointKind.SANDBOX,
        status=KeyStatus.OK,
        encrypted_key=crypto.encrypt(key),
        key_last4=key[-4:],
    )
    return account, account_for_key(key)


def add_rows(account: ProviderAccount, seeded: list[tuple[str, str, dict[str, Any]]]) -> None:
    """The panel's rows for a seeded fleet, provisioning: its first poll makes them running."""
    Deployment.objects.bulk_create(
        Deployment(
            team=account.team,
            account=account,
            vendor=account.vendor,
            name=name,
            spec=spec,
            state=State.PROVISIONING,
            external_id=external_id,
        )
        for name, external_id, spec in seeded
    )


def seed_fleet(
    account: ProviderAccount, sandbox_account: str, names: list[str]
) -> list[tuple[str, str, dict[str, Any]]]:
    """The account's fleet at its vendor's twin, as (name, external id, spec) per deployment."""
    twin = vendor_module(account.vendor, "twin")
    if hasattr(twin, "bench_seed"):
        return twin.bench_seed(sandbox_account, names)
    return _seed_through_twin(account, names)


def _seed_through_twin(account: ProviderAccount, names: list[str]) -> list[tuple[str, str, dict[str, Any]]]:
    vendor = account.vendor
    twin, demo = vendor_module(vendor, "twin"), vendor_module(vendor, "demo")
    seeded = []
    # Module globals, so the server threads answering these creates see them too.
    with ExitStack() as patches:
        patches.enter_context(mock.patch.object(twin, "_now", _backdated(twin)))
        for name, value in getattr(twin, "BENCH_LIFTED", {}).items():
            patches.enter_context(mock.patch.object(twin, name, value))
        with provider_for(account) as provider:
            for name in names:
                spec = account.provider_class.validate(
                    {**demo_specs()[vendor], **getattr(demo, "BENCH_SPEC_CHANGES", {}), "name": name}
                )
                seeded.append((name, provider.create(spec).external_id, spec))
    return seeded


def catch_up(account_id: int, poll: Callable[[], Any], most: int = 100) -> int:
    """Polls until every row's detail has been read once (a first poll of a fleet larger
    than the detail budget leaves some to the next ones): the steady state starts after."""
    polls = 0
    waiting = Deployment.objects.filter(account_id=account_id, detail_checked_at__isnull=True)
    while waiting.exists() and polls < most:
        poll()
        polls += 1
    return polls


def check_running(account: ProviderAccount, count: int) -> None:
    """One untimed poll of the twin: every seeded deployment must read as running
    (the twins that compute state on read also catch up here, not in the timed polls)."""
    with provider_for(account) as provider:
        states = Counter(remote.state.value for remote in provider.list_remotes())
    if states != {RemoteState.RUNNING.value: count}:
        raise CommandError(f"{account.vendor}: the {count} seeded deployments read as {dict(states)}")


class Command(BaseCommand):
    help = "Time one account poll (list + reconcile) against the sandbox, per vendor, at several fleet sizes."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--vendor", dest="vendors", nargs="+", choices=VENDORS, default=list(VENDORS))
        parser.add_argument("--deployments", type=int, nargs="+", default=[100, 1000])
        parser.add_argument("--rounds", type=int, default=5)
        parser.add_argument(
            "--accounts",
            type=int,
            help="the fleet mode: this many sandbox accounts round-robin over the vendors, sharing one "
            "--deployments count, in a throwaway database (see _bench_fleet.py); --rounds is not used",
        )
        parser.add_argument("--latency-ms", type=int, default=0, help="the fleet mode: added to every vendor request")

    def handle(
        self,
        *args: Any,
        vendors: list[str],
        deployments: list[int],
        rounds: int,
        accounts: int | None,
        latency_ms: int,
        **options: Any,
    ) -> None:
        if accounts is not None:
            if len(deployments) != 1:
                raise CommandError("with --accounts, give one --deployments count for the whole fleet")
            # Here, not at the top: the fleet mode imports this module's server and seeding.
            from controlpanel.deployments.management.commands._bench_fleet import fleet_bench

            fleet_bench(
                self.stdout, vendors=vendors, deployments=deployments[0], accounts=accounts, latency_ms=latency_ms
            )
            return
        if latency_ms:
            raise CommandError("--latency-ms is for the fleet mode (--accounts)")
        # CaptureQueriesContext reads this thread's query log, which DEBUG bounds at 9,000
        # entries: once full, new queries go uncounted (an all-change poll of 1,000 rows
        # makes 5,000). A longer log, emptied before each poll, counts every one.
        connection.queries_log = deque(maxlen=1_000_000)
        self.twin = _Counted(WSGIHandler())
        server = make_server("127.0.0.1", 0, self.twin, server_class=_PooledServer, handler_class=_QuietHandler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_port}/sandbox"
        self.stdout.write(f"database: {connection.vendor}; sandbox served in-process at {url}")
        if SandboxFault.objects.exists():
            self.stdout.write("warning: sandbox faults are switched on (sandbox_faults); the numbers include them")
        self.stdout.write(
            f"{'vendor':<10} {'rows':>6} {'case':<11} {'median ms':>10} {'p95 ms':>8} {'queries':>8} {'http':>6} "
            f"{'twin ms':>8}"
        )
        try:
            with override_settings(PANEL_SANDBOX_URL=url, ALLOWED_HOSTS=["*"]):
                for vendor in vendors:
                    for count in deployments:
                        self._bench(vendor, count, rounds)
        finally:
            server.shutdown()
            server.server_close()

    def _bench(self, vendor: str, count: int, rounds: int) -> None:
        account, sandbox_account = bench_account(vendor, f"bench {vendor} {count}")
        team = account.team
        names = [f"bench-{i:05d}" for i in range(count)]
        try:
            seeded = seed_fleet(account, sandbox_account, names)
            check_running(account, count)
            add_rows(account, seeded)
            # The first poll moves every row provisioning -> running (each one a change);
            # later polls find nothing new: the steady state a fleet spends its life in.
            self._report(vendor, count, "all change", [self._one(account.pk)])
            extra = catch_up(account.pk, lambda: self._one(account.pk))
            if extra:
                self.stdout.write(
                    f"{vendor}: {extra} more untimed poll(s) read the details the first left to later "
                    f"(PANEL_REFRESH_DETAIL_BUDGET={settings.PANEL_REFRESH_DETAIL_BUDGET} a poll)"
                )
            self._report(vendor, count, "steady", [self._one(account.pk) for _ in range(rounds)])
        finally:
            Deployment.objects.filter(team=team).delete()
            SandboxObject.objects.filter(vendor=vendor, account=sandbox_account).delete()
            account.delete()
            team.delete()

    def _one(self, account_id: int) -> _Sample:
        requests, seconds = self.twin.requests, self.twin.seconds
        connection.queries_log.clear()  # a full log would hide this poll's queries (see handle)
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            account_refresh(account_id=account_id)
            elapsed = (time.perf_counter() - started) * 1000
        error = ProviderAccount.objects.values_list("last_refresh_error", flat=True).get(pk=account_id)
        if error:
            raise CommandError(f"the poll failed: {error}")
        return _Sample(elapsed, len(queries), self.twin.requests - requests, (self.twin.seconds - seconds) * 1000)

    def _report(self, vendor: str, count: int, case: str, samples: list[_Sample]) -> None:
        times = sorted(s.ms for s in samples)
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        queries = max(s.queries for s in samples)
        requests = max(s.requests for s in samples)
        twin = statistics.median(s.twin_ms for s in samples)
        self.stdout.write(
            f"{vendor:<10} {count:>6} {case:<11} {statistics.median(times):>10.1f} {p95:>8.1f} {queries:>8} "
            f"{requests:>6} {twin:>8.1f}"
        )
