"""A person in a browser: describe a workload once on Deploy anywhere, see the offers of
two vendors' keys side by side with their prices and what differs, choose Novita's, and land
on Novita's form filled in and checked, with the missing secret named on its row; filling it
in leads to the cost confirmation (nothing is sent before it)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from controlpanel.blueprints.models import DeploymentTemplate
from controlpanel.catalog.services import catalog_sync
from controlpanel.credentials.services import account_verify
from controlpanel.deployments.models import Deployment
from controlpanel.teams.permissions import Role
from tests.browser.conftest import shot
from tests.factories import PASSWORD, AccountFactory, MembershipFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_deploy_anywhere_compares_offers_and_opens_the_chosen_vendors_form(page, live_server, settings):
    settings.PANEL_SANDBOX_URL = f"{live_server.url}/sandbox"
    team = TeamFactory(name="Browser anywhere")
    MembershipFactory(team=team, user=UserFactory(username="ana"), role=Role.OWNER)
    together = AccountFactory(team=team, vendor="together", label="Together sandbox", api_key="sandbox-anywhere-t1")
    novita = AccountFactory(team=team, vendor="novita", label="Novita sandbox", api_key="sandbox-anywhere-n1")
    account_verify(account_id=novita.pk)  # its clusters and templates, as the form reads them
    assert catalog_sync(account_id=together.pk) > 0
    assert catalog_sync(account_id=novita.pk) > 0

    page.goto(f"{live_server.url}/")
    page.get_by_label("Username", exact=True).fill("ana")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Deploy anywhere", exact=True).click()
    expect(page.get_by_role("heading", name="Deploy anywhere")).to_be_visible()

    page.get_by_label("Name", exact=True).fill("vllm-anywhere")
    page.get_by_label("Image", exact=True).fill("docker.io/vllm/vllm-openai:latest")
    page.get_by_label("Command", exact=True).fill("--model Qwen/Qwen2.5-7B-Instruct")
    page.get_by_label("Environment", exact=True).fill("HF_TOKEN=")
    page.get_by_label("Exposed port", exact=True).fill("8000")
    page.get_by_label("GPU model", exact=True).select_option("H100 80GB")
    page.get_by_role("button", name="Find offers").click()

    together_row = page.locator("tr[data-offer='together:h100-80gb']")
    novita_row = page.locator("tr[data-offer^='novita:']")
    expect(together_row).to_contain_text("Together sandbox")
    expect(novita_row).to_have_count(1)
    expect(novita_row).to_contain_text("H100")
    expect(novita_row).to_contain_text("$")
    shot(page, "deploy-anywhere-offers")

    novita_row.get_by_role("button", name="Choose").click()
    expect(page.get_by_role("heading", name="New Novita AI deployment")).to_be_visible()
    expect(page.locator("#anywhere-chosen")).to_contain_text("From deploy anywhere")
    expect(page.get_by_label("Image", exact=True)).to_have_value("docker.io/vllm/vllm-openai:latest")
    expect(page.locator("[name='command']")).to_have_value("--model Qwen/Qwen2.5-7B-Instruct")
    expect(page.locator("[name='ports-0-port']")).to_have_value("8000")
    expect(page.locator("[name='env-0-key']")).to_have_value("HF_TOKEN")
    expect(page.locator("#err-env-0-value")).to_contain_text("HF_TOKEN has no value")

    page.locator("[name='env-0-value']").fill("hf_browser_token")
    # Kept for the team as a template: the token's value is not.
    page.locator("#save-template summary").click()
    page.get_by_label("Template name", exact=True).fill("vLLM on H100")
    page.get_by_role("button", name="Save template").click()
    expect(page.locator("#template-saved")).to_contain_text("to fill in when used: HF_TOKEN")
    template = DeploymentTemplate.objects.get(team=team)
    assert (template.name, template.vendor, template.to_fill) == ("vLLM on H100", "novita", ["HF_TOKEN"])
    assert "hf_browser_token" not in repr(template.spec)

    page.get_by_role("button", name="Review cost and create").click()
    expect(page.get_by_role("heading", name="Confirm: this spends money")).to_be_visible()
    assert Deployment.objects.filter(team=team).count() == 0  # nothing made before the confirmation
