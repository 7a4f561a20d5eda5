"""An owner follows the dashboard's banner to what the panel does not manage, asks to
adopt one (the page says a worker imports it) and ignores another, then shows it again."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from controlpanel.teams.permissions import Role
from controlpanel.unmanaged.models import UnmanagedResource
from tests.browser.conftest import shot
from tests.factories import PASSWORD, AccountFactory, MembershipFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_banner_to_the_list_adopt_and_ignore(page, live_server):
    team = TeamFactory(name="Tidy team")
    MembershipFactory(team=team, user=UserFactory(username="uma"), role=Role.OWNER)
    account = AccountFactory(team=team, label="Console key", api_key="sandbox-tidy-0001")
    for name, price in (("console-llm", "3.36"), ("old-experiment", None)):
        UnmanagedResource.objects.create(
            team=team,
            account=account,
            vendor="together",
            external_id=f"dep_{name}",
            name=name,
            vendor_state="Ready",
            price_per_hour=price,
        )

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username", exact=True).fill("uma")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("2 resources on your vendor accounts are not managed by the panel")).to_be_visible()
    page.get_by_role("link", name="Adopt or review").click()
    expect(page.get_by_role("heading", name="Not managed by the panel")).to_be_visible()
    expect(page.get_by_text("$3.36/h")).to_be_visible()
    shot(page, "unmanaged")

    page.get_by_role("button", name="Adopt console-llm").click()
    expect(page.get_by_text("Adopt requested: a worker reads console-llm")).to_be_visible()
    expect(page.get_by_text("Adopting…")).to_be_visible()
    expect(page.get_by_role("button", name="Adopt console-llm")).to_have_count(0)

    page.get_by_role("button", name="Ignore old-experiment").click()
    expect(page.get_by_text("Ignored old-experiment")).to_be_visible()
    expect(page.get_by_text("Ignored (1)")).to_be_visible()
    page.get_by_text("Ignored (1)").click()
    page.get_by_role("button", name="Show again").click()
    expect(page.get_by_role("button", name="Ignore old-experiment")).to_be_visible()
    assert UnmanagedResource.objects.get(name="old-experiment").ignored_at is None
