"""A person in a browser: log in, create a Novita GPU instance through its form (a product
from the synced, priced catalog, a volume from the key's list), see on-demand, spot and
monthly compared before submitting, confirm the amount, and watch its page reach Running
with its connection details; then stop it and see it stopped."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from controlpanel.catalog.services import catalog_sync
from controlpanel.credentials.services import account_verify
from controlpanel.deployments.models import Deployment
from controlpanel.teams.permissions import Role
from tests.browser.conftest import shot
from tests.factories import PASSWORD, AccountFactory, MembershipFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

A100 = "A100-80GB.14c240g"
VOLUME = "d4e82677-3f80-4020-a731-d15b1c589aa8"


def test_novita_deploy_through_the_form_and_see_it_running(page, live_server, panel_worker, settings):
    settings.PANEL_SANDBOX_URL = f"{live_server.url}/sandbox"  # this process verifies and syncs; the worker has its own
    team = TeamFactory(name="Browser Novita")
    MembershipFactory(team=team, user=UserFactory(username="nadia"), role=Role.OWNER)
    account = AccountFactory(team=team, vendor="novita", label="Novita sandbox", api_key="sandbox-browser-novita-01")
    account_verify(account_id=account.pk)  # the key's clusters, registry credentials and volumes
    assert catalog_sync(account_id=account.pk) > 0

    page.goto(f"{live_server.url}/")
    page.get_by_label("Username", exact=True).fill("nadia")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Deployments", exact=True)).to_be_visible()

    page.get_by_role("link", name="New deployment", exact=True).click()
    page.get_by_role("link", name=re.compile("Novita")).click()
    expect(page.get_by_role("heading", name="New Novita AI deployment")).to_be_visible()

    page.get_by_label("Name", exact=True).fill("browser-llama")
    product = page.get_by_label("GPU product", exact=True)
    expect(product.locator(f"option[value='{A100}']")).to_contain_text("$1.60/GPU-h on demand · spot $0.80/GPU-h")
    product.select_option(A100)
    page.get_by_label("GPUs", exact=True).fill("1")
    page.get_by_label("Root disk (GB)", exact=True).fill("100")
    page.get_by_label("Image", exact=True).fill("docker.io/vllm/vllm-openai:latest")

    # A rule broken while typing is reported on its row, in the panel's words.
    port = page.locator("[name='ports-0-port']")
    port.fill("2222")
    expect(page.locator("#err-ports-0-port")).to_contain_text("2222, 2223 and 2224 are reserved by Novita.")
    port.fill("8000")
    expect(page.locator("#err-ports-0-port")).to_be_empty()
    page.locator("[name='ports-0-type']").select_option("http")
    page.get_by_role("button", name="+ Add port").click()
    page.locator("[name='ports-1-port']").fill("22")
    page.locator("[name='ports-1-type']").select_option("tcp")
    page.locator("[name='env-0-key']").fill("HF_TOKEN")
    page.locator("[name='env-0-value']").fill("hf_xxx")
    volume = page.locator("[name='volumes-0-Id']")
    expect(volume.locator(f"option[value='{VOLUME}']")).to_contain_text("llama-weights")
    volume.select_option(VOLUME)

    # Monthly shows its own fields; on demand hides them again.
    billing = page.get_by_label("Billing", exact=True)
    billing.select_option("monthly")
    expect(page.get_by_label("Months", exact=True)).to_be_visible()
    billing.select_option("onDemand")
    expect(page.get_by_label("Months", exact=True)).to_be_hidden()
    # Jupyter's port only once the tool is ticked.
    expect(page.get_by_label("Jupyter port", exact=True)).to_be_hidden()
    page.get_by_label("Jupyter", exact=True).check()
    expect(page.get_by_label("Jupyter port", exact=True)).to_be_visible()
    page.get_by_label("Jupyter", exact=True).uncheck()
    expect(page.get_by_label("Jupyter port", exact=True)).to_be_hidden()

    estimate = page.locator("#price-estimate")
    expect(estimate).to_contain_text("$1.60")
    expect(estimate).to_contain_text("Compare: on demand $1.60/h")
    expect(estimate).to_contain_text("spot $0.80/h, but Novita can reclaim it")
    expect(estimate).to_contain_text("a month, prepaid at creation")
    shot(page, "novita-form")

    page.get_by_role("button", name="Review cost and create").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("$1.60/hour")
    expect(dialog).to_contain_text("Account balance")
    shot(page, "novita-confirm-amount")
    page.get_by_role("button", name="Confirm and create").click()

    # Its page updates itself through queued -> provisioning (creating, pulling) -> running.
    expect(page.get_by_role("heading", name="browser-llama", exact=True)).to_be_visible()
    live = page.locator("#deployment-live")
    expect(live.locator(".badge").first).to_have_text("Running", timeout=45_000)
    expect(live).to_contain_text("ssh root@")
    expect(live).to_contain_text("/sandbox/novita/proxy/")
    shot(page, "novita-deployment-page")
    deployment = Deployment.objects.get(team=team)
    assert deployment.spec == {
        "name": "browser-llama",
        "productId": A100,
        "kind": "gpu",
        "gpuNum": 1,
        "rootfsSize": 100,
        "imageUrl": "docker.io/vllm/vllm-openai:latest",
        "ports": "8000/http, 22/tcp",
        "envs": [{"key": "HF_TOKEN", "value": "hf_xxx"}],
        "networkStorages": [{"Id": VOLUME, "mountPoint": "/network"}],
        "billingMode": "onDemand",
    }

    # Stop: Novita's exited, and Start is offered again.
    page.get_by_role("button", name="Stop", exact=True).click()
    page.get_by_role("button", name="Stop it").click()
    expect(live.locator(".badge").first).to_have_text("Stopped", timeout=45_000)
    expect(live).to_contain_text("exited")
    expect(live.get_by_role("button", name="Start", exact=True)).to_be_enabled()
    shot(page, "novita-stopped")
