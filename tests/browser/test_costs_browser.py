"""The Costs page in Chromium: the nav link, the figures, the SVG chart and the CSV download."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from controlpanel.deployments.models import Deployment, DeploymentEvent
from controlpanel.deployments.states import State
from controlpanel.teams.permissions import Role
from tests.browser.conftest import shot
from tests.browser.test_approval_browser import log_in
from tests.factories import AccountFactory, DeploymentFactory, MembershipFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_costs_page_draws_its_chart_and_downloads_what_it_shows(page, live_server):
    team = TeamFactory(name="Counting team")
    viewer = UserFactory(username="cora")
    MembershipFactory(team=team, user=viewer, role=Role.VIEWER)
    account = AccountFactory(team=team, label="Together sandbox", api_key="sandbox-costs-0001")
    now = timezone.now()
    start = max(now.replace(day=1, hour=0, minute=0, second=0, microsecond=0), now - dt.timedelta(hours=3))
    d = DeploymentFactory(account=account, name="counted", created_by=viewer, state=State.STOPPED)
    Deployment.objects.filter(pk=d.pk).update(created_at=start, estimated_price_per_hour=Decimal("6"))
    DeploymentEvent.objects.create(
        deployment=d, kind="state", actor_label="worker", from_state="queued", to_state="running", created_at=start
    )
    DeploymentEvent.objects.create(
        deployment=d,
        kind="state",
        actor_label="worker",
        from_state="running",
        to_state="stopped",
        created_at=start + (now - start) / 2,
    )

    log_in(page, live_server, "cora")
    page.get_by_role("link", name="Costs").click()
    expect(page.get_by_role("heading", name="Costs", exact=True)).to_be_visible()
    expect(page.locator("#cost-chart rect.cost-bar").first).to_be_attached()
    expect(page.locator("table[data-breakdown=deployment]")).to_contain_text("counted")
    shown = page.locator("#range-total").inner_text()
    shot(page, "costs-page")

    with page.expect_download() as download:
        page.locator("#costs-csv").click()
    path = download.value.path()
    with open(path, encoding="utf-8") as exported:
        rows = list(csv.reader(exported))
    total = next(r for r in rows if r[0] == "total")
    assert f"${Decimal(total[5]):,.2f}" == shown
    assert any(r[0] == "deployment" and r[1] == "counted" for r in rows)
    assert any(r[0] == "chart" for r in rows)
