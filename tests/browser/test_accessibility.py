"""Every page, checked by axe-core (bundled by axe-playwright-python) in light and dark
mode, and at phone width: no serious or critical accessibility violation, and no page
wider than the phone."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone

from controlpanel.catalog.services import catalog_sync
from controlpanel.credentials.services import provider_for
from controlpanel.deployments.services import deployment_transition
from controlpanel.deployments.states import State
from controlpanel.teams.permissions import Role
from controlpanel.unmanaged.listing import unmanaged_record_listing
from controlpanel.unmanaged.models import UnmanagedResource
from providers.registry import SLUGS
from tests.browser.conftest import CHROMIUM_ARGS
from tests.factories import PASSWORD, AccountFactory, DeploymentFactory, MembershipFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
BLOCKING = {"serious", "critical"}


@pytest.fixture
def world(live_server, settings):
    settings.PANEL_SANDBOX_URL = f"{live_server.url}/sandbox"
    team = TeamFactory(name="Accessible team")
    MembershipFactory(team=team, user=UserFactory(username="ada"), role=Role.OWNER)
    account = AccountFactory(team=team, label="Together sandbox", api_key="sandbox-a11y-0001")
    catalog_sync(account_id=account.pk)
    # Every vendor's form, filled from its synced catalog as a team would see it.
    for vendor in (slug for slug in SLUGS if slug != "together"):
        other = AccountFactory(team=team, vendor=vendor, label=f"{vendor} sandbox", api_key=f"sandbox-a11y-{vendor}")
        catalog_sync(account_id=other.pk)
    deployment = DeploymentFactory(account=account, name="a11y-echo", state=State.PROVISIONING, external_id="dep_x")
    deployment_transition(deployment=deployment, to=State.RUNNING, message="Together AI says Ready")
    # Two made straight on the twin (one then ignored), recorded from the twin's list as a
    # refresh would, so a worker's refresh in the same session keeps them.
    with provider_for(account) as vendor:
        for name in ("console-made", "old-experiment"):
            vendor.create({"name": name, "image": "registry.together.xyz/p/console:1", "gpu_type": "h100-80gb"})
        unmanaged_record_listing(account=account, remotes=vendor.list_remotes(), deployments=[deployment])
    UnmanagedResource.objects.filter(name="old-experiment").update(ignored_at=timezone.now())
    return {"team": team, "account": account, "deployment": deployment}


PAGES = [
    ("dashboard", "/"),
    ("new deployment", "/deployments/new/"),
    *((f"{slug} form", f"/deployments/new/{slug}/") for slug in SLUGS),
    ("deployment page", "/deployments/{deployment}/"),
    ("keys", "/keys/"),
    ("add key", "/keys/add/"),
    ("team", "/team/"),
    ("prices", "/prices/"),
    ("deploy anywhere", "/deployments/anywhere/?builtin=vllm-openai"),
    ("templates", "/templates/"),
    ("costs", "/costs/"),
    ("audit log", "/audit/"),
    ("not managed by the panel", "/unmanaged/"),
    ("API tokens", "/account/api-tokens/"),
]


def violations(page) -> list[str]:
    found = Axe().run(page).response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in found
        if v["impact"] in BLOCKING
    ]


def log_in(page, live_server) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username", exact=True).fill("ada")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_passes_axe(browser, live_server, world, scheme):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
    page = context.new_page()
    problems = {}
    page.goto(f"{live_server.url}/accounts/login/")
    problems["login"] = violations(page)
    log_in(page, live_server)
    for name, path in PAGES:
        page.goto(live_server.url + path.format(deployment=world["deployment"].pk))
        page.wait_for_load_state("networkidle")
        problems[name] = violations(page)
    # The confirmation step, which only appears after a valid submit.
    page.goto(f"{live_server.url}/deployments/new/together/")
    page.get_by_label("Name", exact=True).fill("a11y-two")
    page.get_by_label("Image", exact=True).fill("registry.together.ai/p/x:1")
    page.get_by_role("button", name="Review cost and create").click()
    page.get_by_role("alertdialog").wait_for()
    problems["confirmation"] = violations(page)
    context.close()
    assert {name: found for name, found in problems.items() if found} == {}


def test_every_page_fits_a_phone(browser, live_server, world):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    log_in(page, live_server)
    too_wide = {}
    for name, path in PAGES:
        page.goto(live_server.url + path.format(deployment=world["deployment"].pk))
        page.wait_for_load_state("networkidle")
        extra = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        if extra > 0:
            too_wide[name] = extra
    context.close()
    assert too_wide == {}


def test_chromium_flags_keep_the_browser_offline():
    assert "--disable-background-networking" in CHROMIUM_ARGS
