"""Two people in two browsers: the owner invites a viewer by email; the viewer signs up
through the link, looks around and cannot deploy; the owner promotes them to deployer;
they deploy on the Together sandbox; the audit log tells the whole story with names."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from controlpanel.audit.models import AuditAction, AuditEntry
from controlpanel.deployments.models import Deployment
from controlpanel.teams.models import Membership
from controlpanel.teams.permissions import Role
from tests.browser.conftest import shot
from tests.factories import PASSWORD, AccountFactory, MembershipFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIC_PASSWORD = "violet-lantern-orbit-42"


def log_in(page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Deployments", exact=True)).to_be_visible()


def test_invite_a_viewer_promote_them_and_see_it_all_in_the_audit_log(page, browser, live_server, panel_worker):
    team = TeamFactory(name="Browser crew")
    MembershipFactory(team=team, user=UserFactory(username="olga", email="olga@example.com"), role=Role.OWNER)
    AccountFactory(team=team, label="Together sandbox")
    base = live_server.url

    # The owner invites vic as a viewer.
    log_in(page, base, "olga", PASSWORD)
    page.get_by_role("link", name="Team", exact=True).click()
    page.get_by_label("Email address", exact=True).fill("vic@example.com")
    page.get_by_label("Role", exact=True).select_option("viewer")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.locator("#toasts")).to_contain_text("Invitation sent to vic@example.com.")
    expect(page.locator("tr", has_text="vic@example.com")).to_contain_text("Viewer")
    shot(page, "team-invited")

    assert len(mail.outbox) == 1  # sent by the web request, in this process
    link = re.search(r"https?://\S+/team/join/\S+/", mail.outbox[0].body).group(0)

    # vic, in a browser of their own, signs up through the link.
    vic_context = browser.new_context(viewport={"width": 1360, "height": 900})
    vic = vic_context.new_page()
    vic.set_default_timeout(15_000)
    vic_errors: list[str] = []
    vic.on("pageerror", lambda exc: vic_errors.append(str(exc)))
    try:
        vic.goto(link)
        expect(vic.get_by_role("heading", name="Join Browser crew")).to_be_visible()
        expect(vic.get_by_text("olga invited vic@example.com to join as Viewer")).to_be_visible()
        shot(vic, "join-sign-up")
        vic.get_by_label("Username", exact=True).fill("vic")
        vic.get_by_label("Password", exact=True).fill(VIC_PASSWORD)
        vic.get_by_label("Password confirmation", exact=True).fill(VIC_PASSWORD)
        vic.get_by_role("button", name="Create account and join").click()
        expect(vic.get_by_role("heading", name="Deployments", exact=True)).to_be_visible()
        expect(vic.locator("#toasts")).to_contain_text("Welcome to Browser crew. You joined as Viewer.")

        # ...and can log in with what they chose.
        vic.get_by_role("button", name="Log out").click()
        log_in(vic, base, "vic", VIC_PASSWORD)
        expect(vic.locator(".user-line")).to_contain_text("vic · Viewer")
        expect(vic.get_by_role("link", name="New deployment")).to_have_count(0)
        expect(vic.get_by_role("link", name="+ New deployment")).to_have_count(0)
        expect(vic.get_by_role("link", name="Audit log")).to_have_count(0)
        shot(vic, "viewer-dashboard")
        refused = vic.goto(f"{base}/deployments/new/together/")
        assert refused.status == 403
        expect(vic.get_by_role("heading", name="Not allowed")).to_be_visible()

        # The owner makes vic a deployer, right in the members table.
        page.reload()
        page.get_by_label("Role of vic", exact=True).select_option("deployer")
        page.get_by_role("alertdialog", name="Make vic a Deployer?").get_by_role(
            "button", name="Make vic Deployer"
        ).click()
        expect(page.locator("#toasts")).to_contain_text("vic is now Deployer.")
        assert Membership.objects.get(user__username="vic").role == Role.DEPLOYER
        shot(page, "team-promoted")

        # vic deploys on the Together sandbox, through the cost confirmation.
        vic.goto(f"{base}/")
        expect(vic.locator(".user-line")).to_contain_text("vic · Deployer")
        vic.get_by_role("link", name="New deployment", exact=True).click()
        vic.get_by_role("link", name=re.compile("Together AI")).click()
        vic.get_by_label("Name", exact=True).fill("vic-echo")
        vic.get_by_label("Image", exact=True).fill("registry.together.ai/proj_vic/echo:1")
        vic.get_by_label("GPU type", exact=True).select_option("h100-80gb")
        vic.get_by_label("GPUs per replica", exact=True).fill("1")
        vic.get_by_role("button", name="Review cost and create").click()
        expect(vic.get_by_role("alertdialog")).to_contain_text("/hour")
        vic.get_by_role("button", name="Confirm and create").click()
        expect(vic.get_by_role("heading", name="vic-echo", exact=True)).to_be_visible()
        expect(vic.get_by_text("created by vic")).to_be_visible()
        expect(vic.locator("#deployment-live .badge").first).to_have_text("Running", timeout=45_000)
        shot(vic, "deployer-deployed")
        assert Deployment.objects.get(name="vic-echo").created_by.username == "vic"
    finally:
        vic_context.close()
    assert vic_errors == [], f"JavaScript errors on vic's pages: {vic_errors}"

    # The owner reads it all back in the audit log, with names.
    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    table = page.locator("#audit-table")
    expected = [
        ("Member invited", "olga", "Invited vic@example.com as Viewer"),
        ("Member joined", "vic", "vic joined as Viewer (invited by olga)"),
        ("Member re-roled", "olga", "Changed vic's role from Viewer to Deployer"),
        ("Deployment created", "vic", "Created Together AI deployment vic-echo"),
    ]
    for kind, actor, summary in expected:
        row = table.locator("tr", has_text=summary)
        expect(row).to_contain_text(kind)
        expect(row.locator("td").nth(1)).to_have_text(actor)
    shot(page, "audit-log")

    # Only vic's doings, through the filter (htmx swaps the table).
    page.get_by_label("Who", exact=True).select_option("vic")
    expect(table.locator("tbody tr").first).to_contain_text("vic")
    expect(table).not_to_contain_text("Invited vic@example.com")
    expect(table).to_contain_text("Created Together AI deployment vic-echo")
    assert "actor=vic" in page.url
    shot(page, "audit-log-filtered")
    assert set(AuditEntry.objects.filter(team=team).values_list("action", flat=True)) >= {
        AuditAction.MEMBER_INVITED,
        AuditAction.MEMBER_JOINED,
        AuditAction.MEMBER_ROLE_CHANGED,
        AuditAction.DEPLOYMENT_CREATED,
    }
