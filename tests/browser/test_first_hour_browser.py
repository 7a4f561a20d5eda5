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


def test_without_a_mail_server_the_invitation_link_stays_with_copy_and_a_new_link_replaces_it(browser, world, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    context = browser.new_context(viewport={"width": DESKTOP, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    log_in(page, world["base"])
    page.get_by_role("link", name="Team", exact=True).click()
    page.get_by_label("Email address", exact=True).fill("vic@example.com")
    page.get_by_role("button", name="Send invitation").click()
    box = page.locator("#invite-link")
    expect(box).to_contain_text("No mail server is set up, so no email went to vic@example.com.")
    expect(box).to_be_focused()
    first = page.get_by_label("The link").input_value()
    assert "/team/join/" in first
    page.wait_for_timeout(5000)  # longer than a toast lives
    expect(box).to_be_visible()
    box.get_by_role("button", name="Copy").click()
    expect(page.locator("#toasts")).to_contain_text("Copied.")
    assert page.evaluate("navigator.clipboard.readText()") == first
    shots(page, "invite-link")

    # Later (the box closed, the page reloaded): the pending row offers a new link.
    page.goto(f"{world['base']}/team/")
    expect(page.locator("#invite-link")).to_be_hidden()
    page.get_by_role("button", name="New link for vic@example.com").click()
    dialog = page.get_by_role("alertdialog", name="New link for vic@example.com?")
    expect(dialog).to_contain_text("the link sent before stops working")
    dialog.get_by_role("button", name="Make a new link").click()
    expect(dialog).to_be_hidden()
    expect(box).to_contain_text("A new link for vic@example.com: the one made before no longer works.")
    second = page.get_by_label("The link").input_value()
    assert second != first
    expect(page.locator("tr", has_text="vic@example.com")).to_have_count(1)
    expect(page.locator("tr", has_text="vic@example.com")).to_contain_text("New link")
    assert page.locator("#invite-link").evaluate("b => b.nextElementSibling.matches('section')")
    shots(page, "invite-new-link")
    box.get_by_role("button", name="Close the invitation link").click()
    expect(box).to_be_hidden()
    assert page.goto(first).status == 404
    expect(page.get_by_text("This invitation link is not valid.")).to_be_visible()
    context.close()


def test_a_role_change_asks_first_and_says_what_owner_means(page, world):
    from controlpanel.teams.models import Membership

    ivan = Membership.objects.get(team=world["team"], user__username="ivan")
    log_in(page, world["base"])
    page.goto(f"{world['base']}/team/")
    select = page.get_by_label("Role of ivan")
    select.select_option("owner")
    dialog = page.get_by_role("alertdialog", name="Make ivan an Owner?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Owners can do everything")
    expect(dialog).to_contain_text("delete the team")
    shots(page, "role-confirm-owner")
    dialog.get_by_role("button", name="Cancel").click()
    expect(select).to_have_value("viewer")
    ivan.refresh_from_db()
    assert ivan.role == Role.VIEWER

    select.select_option("admin")
    expect(page.get_by_role("alertdialog", name="Make ivan an Admin?")).to_be_visible()
    page.keyboard.press("Escape")
    expect(select).to_have_value("viewer")

    select.select_option("deployer")
    page.get_by_role("alertdialog", name="Make ivan a Deployer?").get_by_role(
        "button", name="Make ivan Deployer"
    ).click()
    expect(page.locator("#toasts")).to_contain_text("ivan is now Deployer.")
    ivan.refresh_from_db()
    assert ivan.role == Role.DEPLOYER
    expect(page.get_by_label("Role of ivan")).to_have_value("deployer")


def test_bulk_stop_closes_its_dialog_and_the_outcome_stays(page, world):
    import datetime as dt

    from django.utils import timezone

    from controlpanel.credentials.models import ProviderAccount

    account = world["account"]
    # Not polled meanwhile (a worker may be running for other tests): the sandbox knows
    # neither deployment and would mark them lost.
    ProviderAccount.objects.filter(pk=account.pk).update(next_refresh_at=timezone.now() + dt.timedelta(hours=1))
    DeploymentFactory(
        account=account, name="alpha", state=State.RUNNING, external_id="dep_alpha", price_per_hour="1.20"
    )
    DeploymentFactory(account=account, name="bravo", state=State.STOPPED, external_id="dep_bravo")
    log_in(page, world["base"])
    page.get_by_label("Select alpha").check()
    page.get_by_label("Select bravo").check()
    page.get_by_role("button", name="Stop selected").click()
    dialog = page.get_by_role("dialog", name="Stop 2 deployments?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Stop them").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("dialog")).to_have_count(0)
    outcome = page.locator("#bulk-outcome")
    expect(outcome).to_contain_text("Stop requested for 1 (alpha)")
    expect(outcome).to_contain_text("Not possible for bravo (Not possible while stopped).")
    expect(outcome).to_be_focused()
    page.wait_for_timeout(9000)  # the table re-renders by itself meanwhile; the outcome stays
    expect(outcome).to_contain_text("Stop requested for 1 (alpha)")
    shots(page, "bulk-outcome")
    outcome.get_by_role("button", name="Dismiss this message").click()
    expect(outcome).to_be_empty()
    expect(outcome).to_be_hidden()


def test_keyboard_shortcuts_search_new_and_help_but_not_while_typing(page, world):
    log_in(page, world["base"])
    search = page.get_by_label("Search by name")
    page.keyboard.press("/")
    expect(search).to_be_focused()
    page.keyboard.type("n?")  # typed into the field, not taken as shortcuts
    expect(search).to_have_value("n?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_hidden()
    search.fill("")
    page.locator("h1").click()  # out of the field

    page.keyboard.press("?")
    help = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help).to_be_visible()
    expect(help.get_by_role("heading", name="Keyboard shortcuts")).to_be_visible()
    for key in ("/", "n", "?", "Esc"):
        expect(help.locator("kbd", has_text=key).first).to_be_visible()
    shots(page, "shortcuts-help")
    page.keyboard.press("n")  # a dialog is open: no shortcut
    page.wait_for_timeout(300)
    assert "/deployments/new/" not in page.url
    page.keyboard.press("Escape")
    expect(help).to_be_hidden()

    page.keyboard.press("n")
    expect(page.get_by_role("heading", name="New deployment", exact=True)).to_be_visible()
    assert page.url.endswith("/deployments/new/")


def test_a_viewer_has_no_n_shortcut_and_the_list_does_not_offer_it(page, world):
    log_in(page, world["base"], "ivan")
    page.keyboard.press("n")
    page.wait_for_timeout(300)
    assert "/deployments/new/" not in page.url
    page.get_by_role("button", name="Keyboard shortcuts").click()
    help = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help).to_be_visible()
    expect(help).not_to_contain_text("New deployment")
    help.get_by_role("button", name="Close").click()
    expect(help).to_be_hidden()


def test_a_new_deployment_form_for_a_vendor_without_a_key_says_add_one_first(page, world):
    log_in(page, world["base"])
    page.goto(f"{world['base']}/deployments/new/nosana/")
    expect(page.get_by_role("heading", name="Add a Nosana key first")).to_be_visible()
    expect(page.get_by_label("Key", exact=True)).to_have_count(0)
    shots(page, "no-key")
    page.get_by_role("link", name="Add a Nosana key").click()
    expect(page.get_by_label("Vendor", exact=True)).to_have_value("nosana")


def test_a_vendors_many_events_start_folded_and_stay_open_once_opened(page, world):
    import datetime as dt

    from django.utils import timezone

    from controlpanel.credentials.models import ProviderAccount
    from controlpanel.deployments.models import LogSnapshot

    account = AccountFactory(team=world["team"], vendor="nosana", label="Nosana sandbox")
    # Not polled (a worker may run for other tests): the sandbox does not know nos_1.
    ProviderAccount.objects.filter(pk=account.pk).update(next_refresh_at=timezone.now() + dt.timedelta(hours=1))
    deployment = DeploymentFactory(account=account, name="nos-echo", state=State.RUNNING, external_id="nos_1")
    events = [{"message": f"Job event {i}", "at": f"2026-12-03T13:{i:02d}:00", "kind": "job"} for i in range(57)]
    LogSnapshot.objects.create(
        deployment=deployment, events=events, lines=["ready"], fetched_at=timezone.now(), requested_at=timezone.now()
    )
    log_in(page, world["base"])
    page.goto(f"{world['base']}/deployments/{deployment.pk}/")
    summary = page.locator("summary", has_text="Nosana's events (57), newest first")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("latest: Job event 56")
    oldest = page.locator("details.events li").last
    expect(oldest).to_contain_text("Job event 0")
    expect(oldest).to_be_hidden()
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 2500, f"the page is {height} px tall with the events folded"
    shots(page, "events-folded")
    summary.click()
    expect(oldest).to_be_visible()
    page.wait_for_timeout(4000)  # the logs panel re-renders every 3 s while following
    expect(oldest).to_be_visible()
    items = page.locator("details.events li div").all_inner_texts()
    assert items[0].startswith("Job event 56")
    assert items[-1].startswith("Job event 0")


def test_make_runs_debug_mode_still_shows_the_panels_404_page(page, world, settings):
    settings.DEBUG = True
    settings.PANEL_FRIENDLY_ERRORS = True
    log_in(page, world["base"])
    response = page.goto(f"{world['base']}/no-such-page/")
    assert response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.get_by_text("Django tried these URL patterns")).to_have_count(0)
    shots(page, "friendly-404")
    page.get_by_role("link", name="Back to the dashboard").click()
    expect(page.get_by_role("heading", name="Deployments", exact=True)).to_be_visible()


def test_the_audit_log_shares_its_filters_as_a_link_and_exports_them(browser, world):
    from controlpanel.audit.models import AuditAction
    from controlpanel.audit.services import audit_record

    team, olga = world["team"], world["owner"].user
    for name in ("alpha", "bravo"):
        audit_record(team=team, actor=olga, action=AuditAction.TEAM_SETTINGS, target=team, summary=f"Renamed to {name}")
    audit_record(team=team, actor=olga, action=AuditAction.MEMBER_INVITED, target=team, summary="Invited vic")
    context = browser.new_context(viewport={"width": DESKTOP, "height": 900}, accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    log_in(page, world["base"])
    page.goto(f"{world['base']}/audit/")
    page.get_by_label("What", exact=True).select_option("team.settings")
    expect(page.locator("#audit-table")).to_contain_text("2 entries match these filters")
    expect(page).to_have_url(f"{world['base']}/audit/?actor=&action=team.settings&target=&since=&until=")
    page.get_by_role("button", name="Copy link").click()
    expect(page.locator("#toasts")).to_contain_text("Copied.")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "action=team.settings" in copied
    shots(page, "audit-filtered")
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    text = Path(download.value.path()).read_text()
    assert "Renamed to alpha" in text
    assert "Renamed to bravo" in text
    assert "Invited vic" not in text
    other = context.new_page()
    other.goto(copied)
    expect(other.get_by_label("What", exact=True)).to_have_value("team.settings")
    expect(other.locator("#audit-table")).not_to_contain_text("Invited vic")
    context.close()
