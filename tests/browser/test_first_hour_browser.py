"""Issue 14, "a new user's first hour with no dead ends", in a browser: each place a
first-time user got stuck, walked through at desktop and at phone width. Screenshots
go to UX_SHOTS (default /tmp/ux-shots) as <name>-<width>.png."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from controlpanel.deployments.states import State
from controlpanel.teams.permissions import Role
from tests.factories import PASSWORD, AccountFactory, DeploymentFactory, MembershipFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(os.environ.get("UX_SHOTS", "/tmp/ux-shots"))
DESKTOP, PHONE = 1440, 390


def shots(page, name: str) -> None:
    """The page at desktop and at phone width (whole height, up to 4,000 px)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    for width in (DESKTOP, PHONE):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(100)
        height = page.evaluate("Math.max(document.documentElement.scrollHeight, window.innerHeight)")
        page.set_viewport_size({"width": width, "height": min(int(height), 4000)})
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"))
    page.set_viewport_size(size)


@pytest.fixture
def world(live_server, settings):
    settings.PANEL_SANDBOX_URL = f"{live_server.url}/sandbox"
    team = TeamFactory(name="First hour")
    owner = MembershipFactory(team=team, user=UserFactory(username="olga", email="olga@example.com"), role=Role.OWNER)
    MembershipFactory(team=team, user=UserFactory(username="ivan", email="ivan@example.com"), role=Role.VIEWER)
    account = AccountFactory(team=team, label="Together sandbox")
    return {"team": team, "owner": owner, "account": account, "base": live_server.url}


def log_in(page, base: str, username: str = "olga") -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Deployments", exact=True)).to_be_visible()


def test_the_top_navigation_is_whole_at_phone_width(browser, world):
    context = browser.new_context(viewport={"width": PHONE, "height": 844}, is_mobile=True)
    page = context.new_page()
    log_in(page, world["base"])
    nav = page.get_by_role("complementary", name="Main")
    names = ["Deployments", "New deployment", "Prices", "API keys", "Team", "Audit log", "Password", "Log out"]
    for name in names:
        box = nav.get_by_role("button" if name == "Log out" else "link", name=name, exact=True).bounding_box()
        assert box is not None, name
        assert box["x"] >= 0, name
        assert box["x"] + box["width"] <= PHONE, f"{name} runs past the right edge"
    assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
    nav.get_by_role("link", name="Audit log", exact=True).click()
    expect(page.get_by_role("heading", name="Audit log", exact=True)).to_be_visible()
    shots(page, "nav-audit")
    context.close()
