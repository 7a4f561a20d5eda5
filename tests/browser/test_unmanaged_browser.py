"""An owner follows the dashboard's banner to what the panel does not manage, asks to
adopt one (the page says a worker imports it) and ignores another, then shows it again."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from controlpanel.credentials.services import provider_for
from controlpanel.deployments.services import account_refresh
from controlpanel.teams.permissions import Role
from controlpanel.unmanaged.models import UnmanagedResource
from tests.browser.conftest import shot
from tests.factories import PASSWORD, AccountFactory, MembershipFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CONSOLE_SPEC = {"image": "registry.together.xyz/proj/console:1", "gpu_type": "h100-80gb", "gpu_count": 1}


def test_banner_to_the_list_adopt_and_ignore(page, live_server, settings):
    settings.PANEL_SANDBOX_URL = f"{live_server.url}/sandbox"
    team = TeamFactory(name="Tidy team")
    MembershipFactory(team=team, user=UserFactory(username="uma"), role=Role.OWNER)
    account = AccountFactory(team=team, label="Console key", api_key="sandbox-tidy-0001")
    # Made straight on the twin, as in Together's console; the key's refresh records them
    # (a worker, should one run in this session, lists the same and keeps them).
    with provider_for(account) as vendor:
        for name in ("console-llm", "old-experiment"):
            vendor.create({**CONSOLE_SPEC, "name": name})
    account_refresh(account_id=account.pk)
    assert UnmanagedResource.objects.filter(account=account).count() == 2

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username", exact=True).fill("uma")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("2 resources on your vendor accounts are not managed by the panel")).to_be_visible()
    page.get_by_role("link", name="Adopt or review").click()
    expect(page.get_by_role("heading", name="Not managed by the panel")).to_be_visible()
    shot(page, "unmanaged")

    page.get_by_role("button", name="Adopt console-llm").click()
    expect(page.get_by_text("Adopt requested: a worker reads console-llm")).to_be_visible()
    # "Adopting…", or adopted already if a worker runs: either way no second Adopt.
    expect(page.get_by_role("button", name="Adopt console-llm")).to_have_count(0)

    page.get_by_role("button", name="Ignore old-experiment").click()
    expect(page.get_by_text("Ignored old-experiment")).to_be_visible()
    expect(page.get_by_text("Ignored (1)")).to_be_visible()
    page.get_by_text("Ignored (1)").click()
    page.get_by_role("button", name="Show again").click()
    expect(page.get_by_role("button", name="Ignore old-experiment")).to_be_visible()
    assert UnmanagedResource.objects.get(name="old-experiment").ignored_at is None
