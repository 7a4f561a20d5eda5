"""bench_refresh: every vendor's twin seeded with a fleet its adapter reads as running,
and the HTTP requests of each poll counted; the fleet mode's JSON line, and its database
that is never the configured one."""

from __future__ import annotations

import json
import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from controlpanel.credentials.models import ProviderAccount
from controlpanel.deployments.models import Deployment
from controlpanel.sandbox.models import SandboxFault, SandboxObject
from controlpanel.teams.models import Team
from providers.registry import SLUGS

pytestmark = pytest.mark.django_db(transaction=True)  # the sandbox answers from server threads

ROW = re.compile(r"^(\w+)\s+(\d+)\s+(all change|steady)\s+[\d.]+\s+[\d.]+\s+(\d+)\s+(\d+)\s+[\d.]+$")


def _rows(output: str) -> dict[tuple[str, str], tuple[int, int]]:
    """(vendor, case) -> (queries, http requests) for 3 deployments."""
    found = {}
    for line in output.splitlines():
        match = ROW.match(line)
        if match:
            vendor, count, case, queries, requests = match.groups()
            assert count == "3"
            found[vendor, case] = (int(queries), int(requests))
    return found


def test_each_vendor_is_seeded_running_and_its_detail_reads_are_counted():
    out = StringIO()
    call_command("bench_refresh", "--deployments", "3", "--rounds", "1", stdout=out)  # raises unless all run

    rows = _rows(out.getvalue())
    vendors = SLUGS
    assert set(rows) == {(v, case) for v in vendors for case in ("all change", "steady")}
    for vendor in vendors:
        assert rows[vendor, "all change"][0] > rows[vendor, "steady"][0]  # every row changed, then none
    # One list for Together; Nosana's list and its public market list (for prices): a
    # running deployment's active_jobs says what its jobs did (deployment-manager list.ts).
    # Fluence (three collections) and Novita (one page, and its product prices) read a
    # detail for every new row, then, steady, only one row's in the rotation.
    assert rows["together", "steady"][1] == 1
    assert rows["nosana", "steady"][1] == 2
    assert (rows["fluence", "all change"][1], rows["fluence", "steady"][1]) == (3 + 3, 3 + 1)
    assert (rows["novita", "all change"][1], rows["novita", "steady"][1]) == (2 + 3, 2 + 1)
    # Nothing is left behind.
    assert not Team.objects.exists()
    assert not ProviderAccount.objects.exists()
    assert not Deployment.objects.exists()
    assert not SandboxObject.objects.exists()


def test_one_vendor_only_and_a_fleet_that_does_not_run_is_refused():
    out = StringIO()
    call_command("bench_refresh", "--vendor", "replicate", "--deployments", "3", "--rounds", "1", stdout=out)
    assert {vendor for vendor, _ in _rows(out.getvalue())} == {"replicate"}

    SandboxFault.objects.create(vendor="fluence", no_capacity=True)  # deploys fail as provisioning ends
    with pytest.raises(CommandError, match="fluence: the 3 seeded deployments read as"):
        call_command("bench_refresh", "--vendor", "fluence", "--deployments", "3", "--rounds", "1", stdout=StringIO())
    assert not Deployment.objects.exists()
    assert not SandboxObject.objects.exists()


FLEET_KEYS = {
    "deployments",
    "accounts",
    "latency_ms",
    "vendor_calls",
    "wall_s",
    "changed_vendor_calls",
    "changed_wall_s",
    "per_item_calls",
    "per_item_wall_s",
    "speedup",
    "by_vendor",
    "within_soft_limit",
}


def _throwaway_name(output: str) -> str:
    match = re.search(r"^throwaway \w+ database (\S+) \(migrated", output, re.MULTILINE)
    assert match, output
    return match.group(1)


def _database_exists(name: str) -> bool:
    if connection.vendor == "sqlite":
        return Path(name).exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        return cursor.fetchone() is not None


def test_the_fleet_mode_ends_with_its_figures_as_json_and_never_writes_the_configured_database():
    configured = connection.settings_dict["NAME"]
    Team.objects.create(name="the configured database's own team")
    out = StringIO()

    call_command("bench_refresh", "--deployments", "20", "--accounts", "5", "--latency-ms", "0", stdout=out)

    output = out.getvalue()
    summary = json.loads(output.strip().splitlines()[-1])
    assert set(summary) == FLEET_KEYS
    assert (summary["deployments"], summary["accounts"], summary["latency_ms"]) == (20, 5, 0)
    assert set(summary["by_vendor"]) == set(SLUGS)  # five accounts, round-robin: one per vendor
    for figures in summary["by_vendor"].values():
        assert set(figures) == {"deployments", "vendor_calls", "wall_s"}
        assert figures["deployments"] == 4
        assert figures["vendor_calls"] >= 1  # at least the list
        assert figures["wall_s"] > 0
    assert summary["vendor_calls"] == sum(f["vendor_calls"] for f in summary["by_vendor"].values())
    assert summary["changed_vendor_calls"] >= 5
    assert summary["per_item_calls"] >= 20  # one get() per deployment, some vendors two requests
    for seconds in ("wall_s", "changed_wall_s", "per_item_wall_s"):
        assert summary[seconds] > 0
    assert summary["speedup"] > 0
    assert summary["within_soft_limit"] is True
    # One in ten of each account's four, rounded up: one each, stopped (deleted on Fluence) at the vendor.
    assert "the panel shows 5 rows not running" in output

    # Its database was another one, and is gone; the configured one holds only what it held.
    throwaway = _throwaway_name(output)
    assert throwaway != configured
    assert connection.settings_dict["NAME"] == configured
    assert not _database_exists(throwaway)
    assert list(Team.objects.values_list("name", flat=True)) == ["the configured database's own team"]
    assert not ProviderAccount.objects.exists()
    assert not Deployment.objects.exists()
    assert not SandboxObject.objects.exists()


def test_the_fleet_mode_takes_one_deployments_count_and_latency_only_with_accounts():
    with pytest.raises(CommandError, match="one --deployments count"):
        call_command("bench_refresh", "--deployments", "10", "20", "--accounts", "2", stdout=StringIO())
    with pytest.raises(CommandError, match="--latency-ms is for the fleet mode"):
        call_command("bench_refresh", "--deployments", "3", "--latency-ms", "50", stdout=StringIO())
    with pytest.raises(CommandError, match="at most --deployments"):
        call_command("bench_refresh", "--deployments", "3", "--accounts", "5", stdout=StringIO())
