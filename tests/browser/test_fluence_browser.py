"""A person in a browser: log in, create a Fluence container through its form (a plan
from the synced catalog, a country it runs in, a default image that fills the image and
ports), confirm the 3 hours of rent taken on create, and watch its page reach Running
without reloading, with its SSH command. On the way, the form shows only the sections of
the kind chosen, and a VM offer shows only the OS images it has."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from controlpanel.catalog.services import catalog_sync
from controlpanel.credentials.services import account_verify
from controlpanel.deployments.models import Deployment
from controlpanel.teams.permissions import Role
from tests.browser.conftest import shot
from tests.factories import PASSWORD, AccountFactory, MembershipFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SEED_PLAN = "075e40d4-2766-4347-833b-205245fe3629"  # A100 80 GB, $1.22/h, US and CA in the twin
VM_ONE_OS = "d8312018-c50c-4278-89db-69e40013414d"  # offers Ubuntu Server 22.04 only
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBrowserTestKeyOnly fiona@laptop"


def test_fluence_container_through_the_form_and_see_it_running(page, live_server, panel_worker, settings):
    team = TeamFactory(name="Browser Fluence")
    MembershipFactory(team=team, user=UserFactory(username="fiona"), role=Role.OWNER)
    account = AccountFactory(team=team, vendor="fluence", label="Fluence sandbox", api_key="sandbox-browser-flu-01")
    settings.PANEL_SANDBOX_URL = f"{live_server.url}/sandbox"  # this process verifies and syncs; the worker has its own
    account_verify(account_id=account.pk)
    assert catalog_sync(account_id=account.pk) > 0

    page.goto(f"{live_server.url}/")
    page.get_by_label("Username", exact=True).fill("fiona")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Deployments", exact=True)).to_be_visible()
    page.get_by_role("link", name="New deployment", exact=True).click()
    page.get_by_role("link", name=re.compile("Fluence")).click()

    # No serious accessibility problem on the form (axe-core, as the accessibility suite checks).
    serious = [v["id"] for v in Axe().run(page).response["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == []

    # A VM shows its own sections; an offer shows only the OS images it has.
    kind = page.get_by_label("What to rent", exact=True)
    kind.select_option("vm")
    expect(page.get_by_label("Operating system", exact=True)).to_be_visible()
    expect(page.get_by_label("GPU plan", exact=True)).to_be_hidden()
    page.get_by_label("Offer", exact=True).select_option(VM_ONE_OS)
    os_image = page.get_by_label("Operating system", exact=True)
    expect(os_image.locator("option:not([hidden])")).to_have_count(2)  # the prompt and Ubuntu Server 22.04
    expect(page.locator("#price-estimate")).to_contain_text("$1.07")  # the offer's price, before submit
    shot(page, "fluence-form-vm")

    # Back to a container: its plan, a country the plan runs in, and a default image.
    kind.select_option("container")
    expect(page.get_by_label("Operating system", exact=True)).to_be_hidden()
    plan = page.get_by_label("GPU plan", exact=True)
    expect(plan.locator("option", has_text="1× A100 80 GB SXM")).not_to_have_count(0)
    plan.select_option(SEED_PLAN)
    location = page.get_by_label("Location", exact=True)
    expect(location.locator("option:not([hidden])")).to_have_text(["Any: Fluence chooses", "CA", "US"])
    location.select_option("US")
    # A rule broken while typing is reported on its field, in the panel's words.
    page.get_by_label("Name", exact=True).fill("Browser_Box")
    expect(page.locator("#err-name")).to_contain_text("lowercase letters, digits or hyphens")
    page.get_by_label("Name", exact=True).fill("browser-box")
    expect(page.locator("#err-name")).to_be_empty()
    page.get_by_label("Start from a default image", exact=True).select_option("debian-ssh-11")
    page.get_by_label("SSH public key", exact=True).fill(KEY)
    expect(page.locator("#price-estimate")).to_contain_text("$1.22")
    expect(page.locator("#price-estimate")).to_contain_text("1 h charged now, 2 h held as reserve")
    shot(page, "fluence-form")

    page.get_by_role("button", name="Review cost and create").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("$1.22/hour")
    expect(dialog).to_contain_text("$3.66")
    expect(dialog).to_contain_text("3 hours of rent")
    # The default image filled what was left empty, shown before anything is sent.
    expect(page.get_by_label("Image", exact=True)).to_have_value("docker.io/fluencelabs/debian-ssh-root:11")
    expect(page.locator("[name='ports-0-port']")).to_have_value("22")
    shot(page, "fluence-confirm-amount")
    page.get_by_role("button", name="Confirm and create").click()

    expect(page.get_by_role("heading", name="browser-box", exact=True)).to_be_visible()
    live = page.locator("#deployment-live")
    expect(live.locator(".badge").first).to_have_text("Running", timeout=45_000)
    expect(live).to_contain_text(re.compile(r"ssh -p \d+ root@"))
    expect(live.get_by_role("button", name="Stop", exact=True)).to_have_count(0)  # Fluence has no stop
    expect(live.get_by_role("button", name="Restart", exact=True)).to_be_enabled()
    shot(page, "fluence-deployment-page")
    deployment = Deployment.objects.get(team=team)
    assert deployment.spec == {
        "kind": "container",
        "plan_id": SEED_PLAN,
        "name": "browser-box",
        "container_settings": {
            "image": "docker.io/fluencelabs/debian-ssh-root:11",
            "expose": [{"port": "22", "protocol": "tcp"}],
        },
        "constraints": {"location": "US"},
        "ssh_key": KEY,
    }
