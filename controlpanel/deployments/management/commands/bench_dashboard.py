"""How fast the dashboard answers with a big fleet, measured.

Seeds a throwaway team with N deployments (bulk insert), logs a client in, and times
the requests a person and the live poll make: the first page, a filtered and sorted
page, a deep page, and the unchanged-version poll (204). Prints median and p95 of
``--rounds`` requests each, and the database queries one request makes.

    manage.py bench_dashboard --deployments 10000 --rounds 20
"""

from __future__ import annotations

import random
import statistics
import time
import warnings
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from controlpanel.core.parts import live_version
from controlpanel.credentials import crypto
from controlpanel.credentials.models import EndpointKind, KeyStatus, ProviderAccount
from controlpanel.deployments.models import Deployment, DeploymentEvent
from controlpanel.deployments.selectors import dashboard_version
from controlpanel.deployments.states import State
from controlpanel.teams.models import Membership, Team
from controlpanel.teams.permissions import Role
from providers.registry import SLUGS

STATES = [State.RUNNING] * 6 + [State.STOPPED, State.FAILED, State.PROVISIONING, State.UPDATING]
VENDORS = SLUGS


class Command(BaseCommand):
    help = "Time the dashboard (pages, filters, the 204 poll) for a team with N deployments."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--deployments", type=int, default=10_000)
        parser.add_argument("--rounds", type=int, default=20)

    def handle(self, *args: Any, deployments: int, rounds: int, **options: Any) -> None:
        user, team, accounts = _seed_team()
        try:
            started = time.perf_counter()
            _seed_fleet(team=team, user=user, accounts=accounts, count=deployments)
            self.stdout.write(
                f"database: {connection.vendor}; seeded {deployments} deployments in {time.perf_counter() - started:.1f}s"
            )
            client = Client()
            client.force_login(user)
            self.stdout.write(f"{'request':<26} {'median ms':>10} {'p95 ms':>8} {'queries':>8} {'status':>7}")
            # DEBUG off (no query logging cost); whitenoise's missing-folder warning is noise here.
            warnings.filterwarnings("ignore", message="No directory at")
            with override_settings(DEBUG=False, ALLOWED_HOSTS=["*"]):
                for label, url, params, headers in _cases(team=team, count=deployments):
                    self._case(client, label, url, params, headers, rounds)
            self._spend(team, rounds)
        finally:
            Deployment.objects.filter(team=team).delete()
            ProviderAccount.objects.filter(team=team).delete()
            team.delete()
            user.delete()

    def _spend(self, team: Team, rounds: int) -> None:
        """The dashboard's spend sums from every row's timeline, without the minute's cache
        the dashboard keeps them in (controlpanel.costs.selectors.team_spend)."""
        from controlpanel.costs.selectors import team_spend

        times = []
        for _ in range(max(3, rounds // 4)):
            t0 = time.perf_counter()
            with CaptureQueriesContext(connection) as queries:
                team_spend(team=team)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        label = "spend sums, uncached"
        self.stdout.write(f"{label:<26} {statistics.median(times):>10.1f} {p95:>8.1f} {len(queries):>8} {'-':>7}")

    def _case(self, client: Client, label: str, url: str, params: dict, headers: dict, rounds: int) -> None:
        client.get(url, params, **headers)  # warm caches and templates
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            response = client.get(url, params, **headers)
            times.append((time.perf_counter() - t0) * 1000)
        with CaptureQueriesContext(connection) as queries:
            client.get(url, params, **headers)
        times.sort()
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        self.stdout.write(
            f"{label:<26} {statistics.median(times):>10.1f} {p95:>8.1f} {len(queries):>8} {response.status_code:>7}"
        )


def _seed_team() -> tuple[Any, Team, list[ProviderAccount]]:
    """A throwaway owner and team with one sandbox key per vendor."""
    stamp = timezone.now().strftime("%H%M%S%f")
    user = get_user_model().objects.create_user(f"bench-{stamp}", password=None)
    team = Team.objects.create(name=f"bench dashboard {stamp}")
    Membership.objects.create(team=team, user=user, role=Role.OWNER)
    accounts = [
        ProviderAccount.objects.create(
            team=team,
            vendor=vendor,
            label=f"bench {vendor}",
            endpoint=EndpointKind.SANDBOX,
            status=KeyStatus.OK,
            encrypted_key=crypto.encrypt(f"sandbox-bench-{vendor}"),
            key_last4="0000",
        )
        for vendor in VENDORS
    ]
    return user, team, accounts


def _seed_fleet(*, team: Team, user: Any, accounts: list[ProviderAccount], count: int) -> None:
    """``count`` deployments spread over the keys, mostly running (bulk insert, fixed seed)."""
    rng = random.Random(7)
    now = timezone.now()
    Deployment.objects.bulk_create(
        (
            Deployment(
                team=team,
                account=(account := accounts[i % len(accounts)]),
                vendor=account.vendor,
                name=f"bench-{i:05d}",
                spec={},
                state=(state := rng.choice(STATES)),
                created_by=user,
                external_id=f"ext-{i}",
                replicas_ready=1,
                replicas_desired=1,
                checked_at=now,
                price_per_hour=Decimal(rng.choice(["0.44", "1.68", "3.36", "6.72"]))
                if state == State.RUNNING
                else None,
                cost_since=now if state == State.RUNNING else None,
            )
            for i in range(count)
        ),
        batch_size=1000,
    )
    # Each with the timeline line of its last move, as deployment_transition writes it.
    DeploymentEvent.objects.bulk_create(
        (
            DeploymentEvent(
                deployment_id=pk, kind="state", actor_label="worker", from_state=State.QUEUED, to_state=state
            )
            for pk, state in Deployment.objects.filter(team=team).values_list("pk", "state").iterator()
        ),
        batch_size=1000,
    )


def _cases(*, team: Team, count: int) -> list[tuple[str, str, dict[str, Any], dict[str, str]]]:
    """(label, url, query, headers) of each request timed: what a person and the live poll ask."""
    hx = {"HTTP_HX_REQUEST": "true"}
    pages = count // 50
    return [
        ("first page (full HTML)", "/", {}, {}),
        ("first page (fragment)", "/", {}, hx),
        ("filter+search+sort", "/", {"vendor": VENDORS[0], "state": "running", "q": "bench-01", "sort": "price"}, hx),
        (f"deep page ({pages // 2})", "/", {"page": pages // 2}, hx),
        ("unchanged poll (204)", "/", {"v": live_version(dashboard_version(team=team))}, hx),
    ]
