"""The pages work under the Content-Security-Policy: none of them logs a violation, in what
they load or in what htmx swaps in afterwards."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from controlpanel.deployments.states import State
from controlpanel.teams.permissions import Role
from tests.browser.test_team_browser import log_in
from tests.factories import PASSWORD, AccountFactory, DeploymentFactory, MembershipFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Chromium reports each refusal both as a console error and as a DOM event; catch both.
LISTEN = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + (e.sourceFile || "") + ":" + e.lineNumber);
});
"""


def test_pages_log_no_csp_violation(page, live_server):
    team = TeamFactory(name="Strict <b>policy</b>")
    MembershipFactory(team=team, user=UserFactory(username="cora"), role=Role.OWNER)
    account = AccountFactory(team=team, label="Together <i>sandbox</i>")
    hostile = DeploymentFactory(
        team=team, account=account, state=State.RUNNING, name="<img src=x onerror=alert(1)>", external_id="dep-csp-1"
    )
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if "Content Security Policy" in m.text else None)
    page.add_init_script(LISTEN)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    log_in(page, live_server.url, "cora", PASSWORD)
    visited = {
        "/": "Deployments",
        "/deployments/new/": "New deployment",
        "/deployments/new/together/": "New deployment",
        f"/deployments/{hostile.pk}/": "<img src=x onerror=alert(1)>",
        "/keys/": "API keys",
        "/team/": "Strict <b>policy</b>",
        "/team/settings/": "Strict <b>policy</b>",
        "/team/notifications/": "Notifications",
        "/prices/": "Prices",
        "/audit/": "Audit log",
    }
    for path, text in visited.items():
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, path
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        expect(page.locator("main")).to_contain_text(text, ignore_case=True)  # hostile names show as text
        if path == "/deployments/new/together/":
            # htmx validates as one types: a swap under the policy
            name = page.get_by_label("Name", exact=True)
            name.fill("csp-check <script>")
            name.blur()
            page.wait_for_load_state("networkidle")
        if path == "/":
            # one live poll swaps the table in again
            with page.expect_response(lambda r: r.request.headers.get("hx-request") == "true", timeout=30_000):
                pass
        violations = page.evaluate("window.__csp")
        assert violations == [], f"{path}: {violations}"
    assert console == []
    assert dialogs == []  # no hostile string ran
