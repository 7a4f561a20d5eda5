"""A deployer's deployment above the team's price limit waits; an admin approves it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from controlpanel.deployments.models import Deployment
from controlpanel.deployments.states import State
from controlpanel.limits.models import TeamPolicy
from controlpanel.teams.permissions import Role
from tests.browser.conftest import shot
from tests.factories import PASSWORD, AccountFactory, MembershipFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, live_server, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_a_deployment_waits_for_approval_until_an_admin_approves_it(page, live_server):
    team = TeamFactory(name="Careful team")
    MembershipFactory(team=team, user=UserFactory(username="devi"), role=Role.DEPLOYER)
    MembershipFactory(team=team, user=UserFactory(username="ari"), role=Role.ADMIN)
    AccountFactory(team=team, label="Together sandbox", api_key="sandbox-careful-0001")
    TeamPolicy.objects.create(team=team, approval_above_per_hour=Decimal("0.10"))

    log_in(page, live_server, "devi")
    page.goto(f"{live_server.url}/deployments/new/together/")
    page.get_by_label("Name", exact=True).fill("big-echo")
    page.get_by_label("Image", exact=True).fill("registry.together.ai/proj_care/echo:1")
    page.get_by_role("button", name="Review cost and create").click()
    page.get_by_role("button", name="Confirm and create").click()
    expect(page.get_by_text("Waiting for an admin's approval").first).to_be_visible()
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    assert Deployment.objects.get(name="big-echo").state == State.AWAITING_APPROVAL

    log_in(page, live_server, "ari")
    page.goto(f"{live_server.url}/")
    expect(page.get_by_text("1 deployment waits for an admin's approval")).to_be_visible()
    page.get_by_role("link", name="Approve or refuse").click()
    expect(page.get_by_role("heading", name="Waiting for approval")).to_be_visible()
    shot(page, "approvals")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_text("Approved big-echo")).to_be_visible()
    expect(page.get_by_role("heading", name="Nothing is waiting")).to_be_visible()
    assert Deployment.objects.get(name="big-echo").state == State.QUEUED
