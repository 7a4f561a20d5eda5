"""How much one poll of an account costs, measured end to end.

Seeds a throwaway team whose sandbox account has N running Together deployments,
serves the sandbox on a local port in this process, and times ``account_refresh``
(one ``list()`` over HTTP, then reconciling every row). Prints wall time and database
queries per refresh, in steady state (nothing changed) and with every row changing.

    manage.py bench_refresh --deployments 100 1000 --rounds 5
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.core.handlers.wsgi import WSGIHandler
from django.core.management.base import BaseCommand
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from controlpanel.credentials import crypto
from controlpanel.credentials.models import EndpointKind, KeyStatus, ProviderAccount
from controlpanel.deployments.models import Deployment
from controlpanel.deployments.services import account_refresh
from controlpanel.deployments.states import State
from controlpanel.sandbox.core import account_for_key
from controlpanel.sandbox.models import SandboxObject
from controlpanel.teams.models import Team


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:  # the benchmark prints its own lines
        pass


class _ThreadingServer(WSGIServer):
    daemon_threads = True

    def process_request(self, request: Any, client_address: Any) -> None:
        threading.Thread(target=self._handle, args=(request, client_address), daemon=True).start()

    def _handle(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        finally:
            self.shutdown_request(request)


def _item(name: str, ready: bool) -> dict[str, Any]:
    now = timezone.now().isoformat(timespec="seconds").replace("+00:00", "Z")
    return {
        "id": f"dep_{name}", "object": "deployment", "name": name, "image": "registry.together.ai/bench/x:1",
        "status": "Ready" if ready else "Updating", "gpu_type": "h100-80gb", "gpu_count": 1, "min_replicas": 1,
        "max_replicas": 1, "desired_replicas": 1, "ready_replicas": 1 if ready else 0, "replica_events": {},
        "created_at": now, "updated_at": now, "_revision": 1,
    }  # fmt: skip


class Command(BaseCommand):
    help = "Time one account poll (list + reconcile) against the sandbox at several fleet sizes."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--deployments", type=int, nargs="+", default=[100, 1000])
        parser.add_argument("--rounds", type=int, default=5)

    def handle(self, *args: Any, deployments: list[int], rounds: int, **options: Any) -> None:
        server = make_server("127.0.0.1", 0, WSGIHandler(), server_class=_ThreadingServer, handler_class=_QuietHandler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_port}/sandbox"
        self.stdout.write(f"database: {connection.vendor}; sandbox served in-process at {url}")
        self.stdout.write(f"{'rows':>6} {'case':<12} {'median ms':>10} {'p95 ms':>8} {'queries':>8}")
        try:
            with override_settings(PANEL_SANDBOX_URL=url, ALLOWED_HOSTS=["*"]):
                for count in deployments:
                    self._bench(count, rounds)
        finally:
            server.shutdown()

    def _bench(self, count: int, rounds: int) -> None:
        key = f"sandbox-bench-{uuid.uuid4().hex[:10]}"
        team = Team.objects.create(name=f"bench {count}")
        account = ProviderAccount.objects.create(
            team=team, vendor="together", label="bench", endpoint=EndpointKind.SANDBOX, status=KeyStatus.OK,
            encrypted_key=crypto.encrypt(key), key_last4=key[-4:],
        )  # fmt: skip
        sandbox_account = account_for_key(key)
        names = [f"bench-{i:05d}" for i in range(count)]
        try:
            SandboxObject.objects.bulk_create(
                SandboxObject(
                    vendor="together",
                    account=sandbox_account,
                    kind="deployment",
                    object_id=f"dep_{n}",
                    name=n,
                    data=_item(n, ready=True),
                )  # fmt: skip
                for n in names
            )
            Deployment.objects.bulk_create(
                Deployment(
                    team=team,
                    account=account,
                    vendor="together",
                    name=n,
                    spec={"name": n},
                    state=State.PROVISIONING,
                    external_id=f"dep_{n}",
                )  # fmt: skip
                for n in names
            )
            # The first poll moves every row provisioning -> running (each one a change);
            # later polls find nothing new: the steady state a fleet spends its life in.
            self._report(count, "all change", [self._one(account.pk)])
            self._report(count, "steady", [self._one(account.pk) for _ in range(rounds)])
        finally:
            Deployment.objects.filter(team=team).delete()
            SandboxObject.objects.filter(vendor="together", account=sandbox_account).delete()
            account.delete()
            team.delete()

    def _one(self, account_id: int) -> tuple[float, int]:
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            account_refresh(account_id=account_id)
            elapsed = (time.perf_counter() - started) * 1000
        return elapsed, len(queries)

    def _report(self, count: int, case: str, samples: list[tuple[float, int]]) -> None:
        times = sorted(t for t, _ in samples)
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        queries = max(q for _, q in samples)
        self.stdout.write(f"{count:>6} {case:<12} {statistics.median(times):>10.1f} {p95:>8.1f} {queries:>8}")
