"""A double click on "Confirm and create" makes one deployment, not two paid ones.

The button disables itself and says "Creating…" while the request is in flight (held here
by Playwright until the test has looked), and the form's idempotency token makes the
server answer a second POST of the same render with the first deployment.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from controlpanel.audit.models import AuditAction, AuditEntry
from controlpanel.deployments.models import Deployment
from controlpanel.teams.permissions import Role
from tests.factories import PASSWORD, AccountFactory, MembershipFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def open_confirmation(page, live_server, username: str, name: str) -> None:
    team = TeamFactory(name=f"Team of {username}")
    MembershipFactory(team=team, user=UserFactory(username=username), role=Role.OWNER)
    AccountFactory(team=team, label="Together sandbox", api_key=f"sandbox-{username}-0001")
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/deployments/new/together/")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Image", exact=True).fill("registry.together.ai/proj_once/echo:1")
    page.get_by_role("button", name="Review cost and create").click()
    expect(page.get_by_role("alertdialog")).to_contain_text("Confirm: this spends money")


def test_double_click_on_confirm_creates_one_deployment(page, live_server):
    open_confirmation(page, live_server, "dora", "once-echo")
    held = []
    page.route("**/deployments/new/together/", lambda route: held.append(route))

    page.get_by_role("button", name="Confirm and create").dblclick()
    busy = page.locator("#deployment-form button.btn-primary")
    expect(busy).to_be_disabled()
    expect(busy).to_have_text("Creating…")

    for route in held:
        route.continue_()
    page.unroute("**/deployments/new/together/")
    expect(page.get_by_role("heading", name="once-echo", exact=True)).to_be_visible()
    assert len(held) == 1  # the second click met a disabled button
    assert Deployment.objects.filter(name="once-echo").count() == 1
    assert AuditEntry.objects.filter(action=AuditAction.DEPLOYMENT_CREATED, team__name="Team of dora").count() == 1


def test_the_same_confirmation_posted_twice_creates_one_deployment(page, live_server):
    """What the button cannot stop (a retried request, a script): the server's token."""
    open_confirmation(page, live_server, "dirk", "twice-echo")
    urls = page.evaluate(
        """async () => {
          const form = document.getElementById("deployment-form");
          const send = () => fetch(form.action || location.href, {method: "POST", body: new FormData(form)});
          const answers = await Promise.all([send(), send()]);
          return answers.map((a) => a.url);
        }"""
    )
    deployment = Deployment.objects.get(name="twice-echo")
    assert urls == [f"{live_server.url}/deployments/{deployment.pk}/"] * 2
    assert AuditEntry.objects.filter(action=AuditAction.DEPLOYMENT_CREATED, team__name="Team of dirk").count() == 1
