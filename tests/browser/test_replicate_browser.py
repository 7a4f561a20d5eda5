"""A person in a browser: log in, create a Replicate deployment through its form (hardware
chosen from the synced, priced catalog), confirm the amount, and watch its page reach
Running without reloading; then scale it to zero and see why Delete has to wait."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from controlpanel.catalog.services import catalog_sync
from controlpanel.deployments.models import Deployment
from controlpanel.teams.permissions import Role
from tests.browser.conftest import shot
from tests.factories import PASSWORD, AccountFactory, MembershipFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VERSION = "da77bc59ee60423279fd632efb4795ab731d9e3ca9705ef3341091fb989b7eaf"


def test_replicate_deploy_through_the_form_and_see_it_running(page, live_server, panel_worker, settings):
    team = TeamFactory(name="Browser Replicate")
    MembershipFactory(team=team, user=UserFactory(username="remy"), role=Role.OWNER)
    account = AccountFactory(team=team, vendor="replicate", label="Replicate sandbox", api_key="sandbox-browser-rep-01")
    settings.PANEL_SANDBOX_URL = f"{live_server.url}/sandbox"  # this process syncs; the worker has its own
    assert catalog_sync(account_id=account.pk) > 0

    page.goto(f"{live_server.url}/")
    page.get_by_label("Username", exact=True).fill("remy")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Deployments", exact=True)).to_be_visible()

    page.get_by_role("link", name="New deployment", exact=True).click()
    page.get_by_role("link", name=re.compile("Replicate")).click()
    # A rule broken while typing is reported on its field, in the panel's words.
    page.get_by_label("Version", exact=True).fill("latest")
    expect(page.locator("#err-version")).to_contain_text("64 hexadecimal characters")
    page.get_by_label("Version", exact=True).fill(VERSION)
    expect(page.locator("#err-version")).to_be_empty()
    page.get_by_label("Name", exact=True).fill("browser-sdxl")
    page.get_by_label("Model", exact=True).fill("stability-ai/sdxl")
    hardware = page.get_by_label("Hardware", exact=True)
    expect(hardware.locator("option", has_text="Nvidia L40S GPU (gpu-l40s) — $3.51/h per instance")).to_have_count(1)
    hardware.select_option("gpu-t4")
    page.get_by_label("Minimum instances", exact=True).fill("1")
    page.get_by_label("Maximum instances", exact=True).fill("2")
    expect(page.locator("#price-estimate")).to_contain_text("$0.81")
    expect(page.locator("#price-estimate")).to_contain_text("1 instance running")
    shot(page, "replicate-form")
    page.get_by_role("button", name="Review cost and create").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("$0.81/hour")
    expect(dialog).to_contain_text("up to $1.62/hour")
    shot(page, "replicate-confirm-amount")
    page.get_by_role("button", name="Confirm and create").click()

    # Its page updates itself through queued -> submitting -> running, and explains the state.
    expect(page.get_by_role("heading", name="browser-sdxl", exact=True)).to_be_visible()
    live = page.locator("#deployment-live")
    expect(live.locator(".badge").first).to_have_text("Running", timeout=45_000)
    expect(live).to_contain_text("Replicate reports no status; derived: 1 instance kept warm")
    expect(live).to_contain_text("/deployments/sandbox-")
    shot(page, "replicate-deployment-page")
    deployment = Deployment.objects.get(team=team)
    assert deployment.spec == {
        "name": "browser-sdxl",
        "model": "stability-ai/sdxl",
        "version": VERSION,
        "hardware": "gpu-t4",
        "min_instances": 1,
        "max_instances": 2,
    }

    # Scale to zero, then Delete says why it must wait, and until when.
    page.get_by_role("button", name="Stop", exact=True).click()
    page.get_by_role("button", name="Stop it").click()
    expect(live.locator(".badge").first).to_have_text("Stopped", timeout=45_000)
    delete = live.get_by_role("button", name="Delete", exact=True)
    expect(delete).to_be_disabled()
    expect(delete).to_have_attribute(
        "title", re.compile(r"offline and unused for 15 minutes: possible from \d\d:\d\d UTC")
    )
    expect(live).to_contain_text("Delete: Replicate deletes a deployment only after")
    shot(page, "replicate-scaled-to-zero")
