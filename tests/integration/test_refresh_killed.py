"""A refresh killed half-way is finished by the next sweep: a process refreshing a Novita
account (one detail read at a time, the twin slowed down) is killed with SIGKILL while
some rows are written and others not; once its lease runs out, the real worker's sweep
hands the account out again and every row ends up read and running."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import timezone

from controlpanel.credentials.models import ProviderAccount
from controlpanel.deployments.management.commands.bench_refresh import add_rows, seed_fleet
from controlpanel.deployments.models import Deployment
from controlpanel.deployments.states import State
from controlpanel.sandbox.core import account_for_key
from controlpanel.sandbox.models import SandboxFault
from tests.conftest import _test_database_url, wait_for
from tests.factories import AccountFactory, TeamFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
ROWS = 12
REFRESH = (
    "import django; django.setup(); "
    "from controlpanel.deployments.services import account_refresh; "
    "account_refresh(account_id=int(__import__('sys').argv[1]))"
)


def test_a_refresh_killed_half_way_is_finished_by_the_next_sweep(panel_worker, live_server, settings):
    settings.PANEL_SANDBOX_URL = f"{live_server.url}/sandbox"
    key = "sandbox-novita-killed"
    account = AccountFactory(team=TeamFactory(name="Killed refresh"), vendor="novita", api_key=key)
    seeded = seed_fleet(account, account_for_key(key), [f"half-{i:02d}" for i in range(ROWS)])
    # The refresh "in flight" holds the lease, as the sweep gives it to a due account; no
    # other may start. (The worker may have listed the key already, while it had no
    # deployments, and put it off by the idle interval; rows made by a submission would
    # have made it due, as these rows made here must.)
    ProviderAccount.objects.filter(pk=account.pk).update(
        refresh_lease_until=timezone.now() + dt.timedelta(minutes=5), next_refresh_at=timezone.now()
    )
    add_rows(account, seeded)
    SandboxFault.objects.create(vendor="novita", latency_ms=400)
    rows = Deployment.objects.filter(account=account)
    read = rows.filter(detail_checked_at__isnull=False)

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "controlpanel.settings_test",
        "DATABASE_URL": _test_database_url(),
        "PANEL_SANDBOX_URL": f"{live_server.url}/sandbox",
        "PANEL_REFRESH_DETAIL_CONCURRENCY": "1",
    }
    process = subprocess.Popen([sys.executable, "-c", REFRESH, str(account.pk)], cwd=ROOT, env=env)
    try:
        wait_for(lambda: read.count() >= 2, timeout=90, what="the refresh to write a few rows")
        process.send_signal(signal.SIGKILL)  # no finally, no handler: killed half-way
        process.wait(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
    left = ROWS - read.count()
    assert left > 0, "the refresh finished before it could be killed"
    assert rows.filter(state=State.PROVISIONING).count() == left  # the rest untouched, none half-written

    # Its lease runs out (fast-forwarded here: PANEL_REFRESH_LEASE_SECONDS after the claim).
    ProviderAccount.objects.filter(pk=account.pk).update(refresh_lease_until=timezone.now() - dt.timedelta(seconds=1))
    wait_for(
        lambda: read.count() == ROWS and not rows.exclude(state=State.RUNNING).exists(),
        timeout=90,
        what="the worker's sweep to finish the refresh",
    )
    SandboxFault.objects.filter(vendor="novita").delete()
    assert all(d.connection.get("SSH") for d in rows)  # details read, not the list's bare rows
