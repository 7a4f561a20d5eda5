"""bench_dashboard: a throwaway team's fleet, every timed request answered, and nothing left behind."""

from __future__ import annotations

import re
from io import StringIO

from django.contrib.auth import get_user_model
from django.core.management import call_command

from controlpanel.credentials.models import ProviderAccount
from controlpanel.deployments.models import Deployment
from controlpanel.teams.models import Team

ROW = re.compile(r"^(.+?)\s+[\d.]+\s+[\d.]+\s+(\d+)\s+(\d{3})$")


def test_bench_dashboard_times_each_request_and_cleans_up(db):
    out = StringIO()
    call_command("bench_dashboard", "--deployments", "120", "--rounds", "2", stdout=out)

    output = out.getvalue()
    assert "seeded 120 deployments" in output
    statuses = {m.group(1): m.group(3) for m in map(ROW.match, output.splitlines()) if m}
    assert statuses == {
        "first page (full HTML)": "200",
        "first page (fragment)": "200",
        "filter+search+sort": "200",
        "deep page (1)": "200",
        "unchanged poll (204)": "204",
    }
    assert not Team.objects.exists()
    assert not ProviderAccount.objects.exists()
    assert not Deployment.objects.exists()
    assert not get_user_model().objects.filter(username__startswith="bench-").exists()
