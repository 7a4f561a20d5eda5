"""bench_refresh: every vendor's twin seeded with a fleet its adapter reads as running,
and the HTTP requests of each poll counted."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

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
    # Fluence and Novita (the instance) read one detail per running deployment besides their lists.
    assert rows["together", "steady"][1] == 1
    assert rows["nosana", "steady"][1] == 2
    for vendor in ("fluence", "novita"):
        assert rows[vendor, "steady"][1] > 3
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
