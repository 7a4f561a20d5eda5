"""With the worker gone quiet, every page says so and queued work says what it waits
for; once the worker reports again, an open page drops both by itself."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from controlpanel.deployments.states import State
from controlpanel.teams.permissions import Role
from tests.browser.conftest import shot
from tests.browser.test_team_browser import log_in
from tests.factories import PASSWORD, AccountFactory, DeploymentFactory, MembershipFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def heartbeats(monkeypatch):
    """The heartbeats the banner reads, set by the test.

    A session worker started by an earlier browser test may still be writing real
    heartbeats every 10 s; the live server runs in this process, so the read the banner
    makes is stood in for here rather than racing that worker."""
    from controlpanel.core import parts

    seen: dict[str, dt.datetime] = {}
    monkeypatch.setattr(parts, "_read", lambda: (seen.get("worker"), seen.get("beat")))

    def worker_seen(seconds_ago: float) -> None:
        at = timezone.now() - dt.timedelta(seconds=seconds_ago)
        seen.update(worker=at, beat=at)

    return worker_seen


def test_banner_and_waiting_rows_while_the_worker_is_down_then_gone_when_it_is_back(page, live_server, heartbeats):
    heartbeats(130)
    team = TeamFactory(name="Quiet worker")
    MembershipFactory(team=team, user=UserFactory(username="wanda"), role=Role.OWNER)
    account = AccountFactory(team=team, label="Together sandbox")
    DeploymentFactory(account=account, name="waiting-one", state=State.QUEUED)

    log_in(page, live_server.url, "wanda", PASSWORD)
    banner = page.locator("#parts-banner")
    expect(banner).to_contain_text(
        "The worker has not been seen for 2 minutes: new deployments and actions wait until it is back."
    )
    row = page.locator("tr", has_text="waiting-one")
    expect(row).to_contain_text("Waits for the worker")
    shot(page, "worker-down-banner")

    # Another page says it too; the deployment page names what waits.
    page.get_by_role("link", name="API keys").click()
    expect(banner).to_contain_text("The worker has not been seen for")
    page.go_back()
    page.get_by_role("link", name="waiting-one").click()
    expect(page.locator("#waits-for-worker")).to_contain_text("Queued: it waits for the worker")

    # The worker reports again: the open page drops the banner and the hint by itself.
    heartbeats(0)
    expect(page.locator("#parts-message")).to_have_count(0, timeout=40_000)
    expect(page.locator("#waits-for-worker")).to_have_count(0, timeout=40_000)
