"""The dashboard's promise, in a browser: a deployment's row changes state by itself (no
reload), and from its page a person follows its logs, scales, stops and deletes it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from controlpanel.deployments.models import Deployment
from controlpanel.deployments.states import State
from controlpanel.teams.permissions import Role
from tests.browser.conftest import shot
from tests.factories import PASSWORD, AccountFactory, MembershipFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_row_goes_live_then_page_follows_scales_stops_and_deletes(page, live_server, panel_worker):
    team = TeamFactory(name="Dashboard team")
    MembershipFactory(team=team, user=UserFactory(username="dina"), role=Role.OWNER)
    AccountFactory(team=team, label="Together sandbox", api_key="sandbox-dash-0001")

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username", exact=True).fill("dina")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    page.goto(f"{live_server.url}/deployments/new/together/")
    page.get_by_label("Name", exact=True).fill("dash-echo")
    page.get_by_label("Image", exact=True).fill("registry.together.ai/proj_dash/echo:1")
    page.get_by_role("button", name="Review cost and create").click()
    page.get_by_role("button", name="Confirm and create").click()
    expect(page.get_by_role("heading", name="dash-echo", exact=True)).to_be_visible()

    # Straight back to the dashboard while it is still on its way: the row must reach
    # Running by itself. A marker on window proves the page was never reloaded.
    page.get_by_role("link", name="Deployments").first.click()
    page.evaluate("window.__noReload = true")
    row = page.locator("tr", has_text="dash-echo")
    expect(row.locator(".badge")).not_to_have_text("Running", timeout=5_000)
    expect(row.locator(".badge")).to_have_text("Running", timeout=45_000)
    assert page.evaluate("window.__noReload") is True
    shot(page, "dashboard-live")

    # Its page: follow the logs, then scale to two replicas.
    row.get_by_role("link", name="dash-echo").click()
    live = page.locator("#deployment-live")
    expect(page.get_by_role("button", name="Stop following")).to_be_visible()
    expect(page.get_by_role("log")).to_contain_text("INFO ready", timeout=20_000)
    page.get_by_role("button", name="Scale", exact=True).click()
    page.get_by_label("Minimum replicas").fill("2")
    page.get_by_label("Maximum replicas").fill("2")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#toasts")).to_contain_text("New replica counts requested; the worker sends it to Together AI.")
    expect(live).to_contain_text("2 ready of 2 wanted", timeout=45_000)
    expect(page.locator("#deployment-live .timeline").first).to_contain_text("Scale to 2–2 replicas")

    # Stop, then delete: each through its confirmation, each seen to land.
    page.get_by_role("button", name="Stop", exact=True).click()
    page.get_by_role("button", name="Stop it").click()
    expect(live.locator(".badge").first).to_have_text("Stopped", timeout=45_000)
    page.get_by_role("button", name="Delete", exact=True).click()
    page.get_by_role("button", name="Delete for good").click()
    expect(live.locator(".badge").first).to_have_text("Deleted", timeout=45_000)
    shot(page, "deployment-deleted")

    deployment = Deployment.objects.get(team=team)
    assert deployment.state == State.DELETED
    assert deployment.spec["min_replicas"] == 2
    page.get_by_role("link", name="Deployments").first.click()
    expect(page.get_by_text("No deployments yet")).to_be_visible()
