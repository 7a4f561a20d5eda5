"""A person in a browser: log in, add a sandbox key, create a Together deployment, watch
it become ready without reloading, then stop it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from controlpanel.credentials.models import KeyStatus, ProviderAccount
from controlpanel.deployments.models import Deployment
from controlpanel.teams.permissions import Role
from tests.browser.conftest import shot
from tests.factories import PASSWORD, MembershipFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_login_add_key_deploy_and_see_it_running(page, live_server, panel_worker):
    team = TeamFactory(name="Browser team")
    MembershipFactory(team=team, user=UserFactory(username="bea"), role=Role.OWNER)

    page.goto(f"{live_server.url}/")
    page.get_by_label("Username", exact=True).fill("bea")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Deployments", exact=True)).to_be_visible()
    expect(page.get_by_text("No deployments yet")).to_be_visible()

    # Add a key for the built-in sandbox; it is verified by the worker while we watch.
    page.get_by_role("link", name="Add an API key").click()
    page.get_by_label("Vendor", exact=True).select_option("together")
    page.get_by_label("Label", exact=True).fill("Together sandbox")
    page.get_by_label("API key", exact=True).fill("sandbox-browser-key-0001")
    page.get_by_label("The panel's built-in sandbox", exact=True).check()
    page.get_by_role("button", name="Save and verify").click()
    row = page.locator("tr", has_text="Together sandbox")
    expect(row.get_by_text("Working")).to_be_visible(timeout=30_000)
    expect(row.get_by_text("••••0001").first).to_be_visible()  # the delete dialog names it too
    assert "sandbox-browser-key" not in page.content()
    assert ProviderAccount.objects.get(team=team).status == KeyStatus.OK
    shot(page, "keys")

    # Fill the form; a rule broken while typing is reported on its field.
    page.get_by_role("link", name="New deployment").click()
    page.get_by_role("link", name=re.compile("Together AI")).click()
    page.get_by_label("Name", exact=True).fill("bad name!")
    expect(page.locator("#err-name")).to_contain_text("letters, digits, underscores or hyphens")
    page.get_by_label("Name", exact=True).fill("browser-echo")
    expect(page.locator("#err-name")).to_be_empty()
    page.get_by_label("Image", exact=True).fill("registry.together.ai/proj_browser/echo:1")
    page.get_by_label("GPU type", exact=True).select_option("h100-80gb")
    page.get_by_label("GPUs per replica", exact=True).fill("2")
    expect(page.locator("#price-estimate")).to_contain_text("$6.72")
    page.get_by_label("Autoscaling", exact=True).select_option("HTTPTotalRequests")
    expect(page.get_by_label("Rate window (minutes)", exact=True)).to_be_visible()
    page.get_by_role("button", name="+ Add variable").click()
    page.locator("[name='env-1-name']").fill("MODEL_PATH")
    page.locator("[name='env-1-value']").fill("/models")
    shot(page, "new-deployment-form")
    page.get_by_role("button", name="Review cost and create").click()
    expect(page.get_by_role("alertdialog")).to_contain_text("$6.72/hour")
    shot(page, "confirm-amount")
    page.get_by_role("button", name="Confirm and create").click()

    # Lands on its page, which updates itself through queued -> ... -> running.
    expect(page.get_by_role("heading", name="browser-echo", exact=True)).to_be_visible()
    live = page.locator("#deployment-live")
    expect(live.locator(".badge").first).to_have_text("Running", timeout=45_000)
    expect(live.get_by_text("/deployment-request/browser-echo")).to_be_visible()
    expect(page.locator("#deployment-live .timeline").first).to_contain_text("Submitted from the form")
    expect(page.locator(".logs")).to_contain_text("Started container", timeout=20_000)
    shot(page, "deployment-page")

    # The dashboard shows it, live.
    page.get_by_role("link", name="Deployments").first.click()
    row = page.locator("tr", has_text="browser-echo")
    expect(row.get_by_text("Running")).to_be_visible()
    shot(page, "dashboard")

    # Stop it from its page, through the confirmation.
    row.get_by_role("link", name="browser-echo").click()
    page.get_by_role("button", name="Stop", exact=True).click()
    page.get_by_role("button", name="Stop it").click()
    expect(live.locator(".badge").first).to_have_text("Stopped", timeout=45_000)
    deployment = Deployment.objects.get(team=team)
    assert deployment.spec["environment_variables"] == [{"name": "MODEL_PATH", "value": "/models"}]
    assert deployment.events.filter(to_state="stopping", actor__username="bea").exists()
