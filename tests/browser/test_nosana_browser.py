"""A person in a browser: log in, create a Nosana deployment through its form (market
from the synced catalog, the credits it reserves named before confirming), watch it
reach Running on its page without reloading, scale it, then stop it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from controlpanel.catalog.services import catalog_sync
from controlpanel.deployments.models import Deployment
from controlpanel.teams.permissions import Role
from tests.browser.conftest import shot
from tests.conftest import wait_for
from tests.factories import PASSWORD, AccountFactory, MembershipFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

M4090 = "97G9NnvBDQ2WpKu6fasoMsAKmfj63C9rhysJnkeWodAf"


def test_nosana_deploy_through_the_form_and_see_it_running(page, live_server, panel_worker, settings):
    settings.PANEL_SANDBOX_URL = f"{live_server.url}/sandbox"  # for the catalog sync this test runs itself
    team = TeamFactory(name="Browser Nosana")
    MembershipFactory(team=team, user=UserFactory(username="noor"), role=Role.OWNER)
    account = AccountFactory(team=team, vendor="nosana", label="Nosana sandbox", api_key="sandbox-browser-nosana-0001")
    assert catalog_sync(account_id=account.pk) >= 14

    page.goto(f"{live_server.url}/")
    page.get_by_label("Username", exact=True).fill("noor")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Deployments", exact=True)).to_be_visible()

    page.get_by_role("link", name="New deployment", exact=True).click()
    page.get_by_role("link", name=re.compile("Nosana")).click()
    expect(page.get_by_role("heading", name="New Nosana deployment")).to_be_visible()

    # A rule broken while typing is reported on its field.
    page.get_by_label("Strategy", exact=True).select_option("INFINITE")
    expect(page.get_by_label("Rotation time (minutes)", exact=True)).to_be_visible()
    page.get_by_label("Timeout (minutes)", exact=True).fill("30")
    expect(page.locator("#err-timeout")).to_contain_text("must be at least 1 hour")
    page.get_by_label("Strategy", exact=True).select_option("SIMPLE")
    expect(page.get_by_label("Rotation time (minutes)", exact=True)).to_be_hidden()
    page.get_by_label("Timeout (minutes)", exact=True).fill("60")
    expect(page.locator("#err-timeout")).to_be_empty()

    page.get_by_label("Name", exact=True).fill("browser-llm")
    market = page.get_by_label("GPU market", exact=True)
    expect(market.locator(f"option[value='{M4090}']")).to_contain_text("RTX 4090")
    expect(market.locator(f"option[value='{M4090}']")).to_contain_text("$0.4400/h")
    market.select_option(M4090)
    page.get_by_label("Replicas", exact=True).fill("2")
    expect(page.locator("#price-estimate")).to_contain_text("$0.88")
    page.get_by_label("Image", exact=True).fill("docker.io/vllm/vllm-openai:v0.5.4")
    page.get_by_label("Command style", exact=True).select_option("words")
    page.get_by_label("Command", exact=True).fill("--model Qwen/Qwen2.5-1.5B-Instruct")
    page.get_by_label("Required VRAM (GB)", exact=True).fill("16")
    page.locator("[name='ports-0-port']").fill("8000")
    page.locator("[name='ports-0-type']").select_option("api")
    page.locator("[name='env-0-name']").fill("MODE")
    page.locator("[name='env-0-value']").fill("fast")
    shot(page, "nosana-new-deployment-form")

    page.get_by_role("button", name="Review cost and create").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("$0.88/hour")
    expect(dialog).to_contain_text("Credits reserved when it starts: 2 replicas × 60 minutes")
    expect(dialog).to_contain_text("$100.00")  # the account's credit balance
    shot(page, "nosana-confirm-amount")
    page.get_by_role("button", name="Confirm and create").click()

    # Its page updates itself through queued → submitting → provisioning → running.
    expect(page.get_by_role("heading", name="browser-llm", exact=True)).to_be_visible()
    live = page.locator("#deployment-live")
    expect(live.locator(".badge").first).to_have_text("Running", timeout=45_000)
    expect(live.locator(".timeline")).to_contain_text("Submitted from the form")
    expect(page.locator("#logs-panel")).to_contain_text("listed on the market", timeout=20_000)
    shot(page, "nosana-deployment-page")
    deployment = Deployment.objects.get(team=team)
    assert deployment.spec["job_definition"]["ops"][0]["args"]["cmd"] == ["--model", "Qwen/Qwen2.5-1.5B-Instruct"]

    # Scale asks for one count, as Nosana does.
    page.get_by_role("button", name="Scale", exact=True).click()
    page.get_by_label("Replicas", exact=True).fill("3")
    page.get_by_role("button", name="Apply").click()
    wait_for(lambda: Deployment.objects.get(pk=deployment.pk).spec["replicas"] == 3, what="the scale to be accepted")

    # Stop it from its page, through the confirmation.
    expect(live.locator(".badge").first).to_have_text("Running", timeout=45_000)
    page.get_by_role("button", name="Stop", exact=True).click()
    page.get_by_role("button", name="Stop it").click()
    expect(live.locator(".badge").first).to_have_text("Stopped", timeout=45_000)
    shot(page, "nosana-stopped")
    assert Deployment.objects.get(pk=deployment.pk).events.filter(to_state="stopping", actor__username="noor").exists()
