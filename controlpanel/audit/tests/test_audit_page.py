"""The audit log page: who may see it, its filters and pages, and that it only reads."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from controlpanel.audit.models import AuditAction, AuditEntry
from controlpanel.audit.services import audit_record
from controlpanel.audit.views import PAGE_SIZE
from controlpanel.teams.permissions import Role
from tests.factories import DeploymentFactory

URL = reverse("audit:log")


def backdate(entry: AuditEntry, when: dt.datetime) -> None:
    # Through the base manager: the app's own manager refuses updates, as it should.
    AuditEntry._base_manager.filter(pk=entry.pk).update(created_at=when)


@pytest.fixture
def entries(team, owner, make_member, account):
    vic = make_member(Role.DEPLOYER, username="vic")
    deployment = DeploymentFactory(account=account, name="flux-a")
    made = {
        "key": audit_record(
            team=team,
            actor=owner,
            action=AuditAction.KEY_ADDED,
            target=account,
            summary="Added Together AI key “Together sandbox” (••••0001)",
        ),
        "deploy": audit_record(
            team=team,
            actor=vic,
            action=AuditAction.DEPLOYMENT_CREATED,
            target=deployment,
            summary="Created Together AI deployment flux-a",
        ),
        "stop": audit_record(
            team=team, actor=vic, action=AuditAction.DEPLOYMENT_STOPPED, target=deployment, summary="Stop: flux-a"
        ),
        "system": audit_record(
            team=team,
            actor=None,
            action=AuditAction.KEY_VERIFIED,
            target=account,
            summary="Verified “Together sandbox”: ok",
        ),
    }
    backdate(made["key"], timezone.now() - dt.timedelta(days=10))
    return made


def rows(response) -> list[str]:
    content = response.content.decode()
    table = content[content.index('id="audit-table"') :]
    found = [s for s in ("Added Together", "Created Together", "Stop: flux-a", "Verified") if s in table]
    return sorted(found, key=table.index)  # in the order the page shows them


@pytest.mark.parametrize(
    ("role", "status"), [(Role.OWNER, 200), (Role.ADMIN, 200), (Role.DEPLOYER, 403), (Role.VIEWER, 403)]
)
def test_admins_and_owners_see_the_audit_log(client, make_member, role, status):
    client.force_login(make_member(role))
    assert client.get(URL).status_code == status
    nav = client.get(reverse("deployments:dashboard")).content.decode()
    assert ('href="/audit/"' in nav) is (status == 200)


def test_audit_log_lists_newest_first_with_readable_summaries(logged_in, entries):
    response = logged_in.get(URL)
    assert rows(response) == ["Verified", "Stop: flux-a", "Created Together", "Added Together"]
    content = response.content.decode()
    assert "Deployment created" in content  # the kind's readable name
    assert "<strong>system</strong>" in content


def test_audit_log_filters_by_actor(logged_in, entries):
    assert rows(logged_in.get(URL, {"actor": "vic"})) == ["Stop: flux-a", "Created Together"]


def test_audit_log_filters_by_kind(logged_in, entries):
    assert rows(logged_in.get(URL, {"action": AuditAction.KEY_ADDED})) == ["Added Together"]


def test_audit_log_filters_by_target_reference_and_by_words(logged_in, entries):
    ref = f"deployment:{entries['deploy'].target_id}"
    assert rows(logged_in.get(URL, {"target": ref})) == ["Stop: flux-a", "Created Together"]
    assert rows(logged_in.get(URL, {"target": "together sandbox"})) == ["Verified", "Added Together"]


def test_audit_log_filters_by_date_range(logged_in, entries):
    today = timezone.localdate()
    assert rows(logged_in.get(URL, {"since": today.isoformat()})) == ["Verified", "Stop: flux-a", "Created Together"]
    old = (today - dt.timedelta(days=10)).isoformat()
    assert rows(logged_in.get(URL, {"since": old, "until": old})) == ["Added Together"]


def test_audit_log_rejects_a_backwards_range(logged_in, entries):
    today = timezone.localdate()
    content = logged_in.get(URL, {"since": today.isoformat(), "until": "2000-01-01"}).content.decode()
    assert "The end is before the start." in content


def test_audit_log_paginates_and_keeps_the_filters(logged_in, team, owner):
    for n in range(PAGE_SIZE + 5):
        audit_record(team=team, actor=owner, action=AuditAction.TEAM_SETTINGS, summary=f"Change {n:03d}")
    first = logged_in.get(URL, {"action": AuditAction.TEAM_SETTINGS}).content.decode()
    assert "Change 054" in first
    assert "Change 004" not in first
    assert "?action=team.settings&page=2" in first
    second = logged_in.get(URL, {"action": AuditAction.TEAM_SETTINGS, "page": 2}).content.decode()
    assert "Change 004" in second
    assert "Page 2 of 2" in second


def test_audit_log_htmx_filter_returns_only_the_table(logged_in, entries):
    response = logged_in.get(URL, {"actor": "vic"}, HTTP_HX_REQUEST="true")
    assert b"<html" not in response.content
    assert rows(response) == ["Stop: flux-a", "Created Together"]


def test_audit_log_shows_only_the_current_teams_entries(logged_in, entries, other_team):
    audit_record(
        team=other_team["team"], actor=other_team["user"], action=AuditAction.KEY_ADDED, summary="Their secret business"
    )
    assert "Their secret business" not in logged_in.get(URL).content.decode()
    assert "mallory" not in logged_in.get(URL).content.decode()


def test_audit_log_cannot_be_changed_through_the_page(logged_in, entries):
    before = list(AuditEntry.objects.values())
    for method in ("post", "put", "patch", "delete"):
        assert getattr(logged_in, method)(URL).status_code == 405
    assert list(AuditEntry.objects.values()) == before


# --- the CSV export and the shareable link --------------------------------------------------------

EXPORT = reverse("audit:export")


def csv_rows(response) -> list[list[str]]:
    import csv
    import io

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_export_is_exactly_what_the_filters_show(logged_in, entries):
    response = logged_in.get(EXPORT, {"actor": "vic"})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="audit-')
    header, *rows = csv_rows(response)
    assert header[:5] == ["When (UTC)", "Who", "What", "Action", "Summary"]
    assert [r[4] for r in rows] == ["Stop: flux-a", "Created Together AI deployment flux-a"]
    assert {r[1] for r in rows} == {"vic"}
    page = logged_in.get(URL, {"actor": "vic"}).content.decode()
    assert 'href="/audit/export.csv?actor=vic"' in page


def test_the_export_holds_every_page_not_just_the_first(logged_in, team, owner):
    for i in range(PAGE_SIZE + 7):
        audit_record(team=team, actor=owner, action=AuditAction.TEAM_SETTINGS, target=team, summary=f"Change {i}")
    _header, *rows = csv_rows(logged_in.get(EXPORT))
    assert len(rows) == PAGE_SIZE + 7


def test_the_export_never_holds_the_entries_data_and_defuses_formulas(logged_in, team, owner):
    audit_record(
        team=team,
        actor=owner,
        action=AuditAction.TEAM_SETTINGS,
        target=team,
        summary='=HYPERLINK("http://x")',
        data={"api_key": "sandbox-SECRET-never-exported"},
    )
    response = logged_in.get(EXPORT)
    _header, row = csv_rows(response)
    assert row[4] == '\'=HYPERLINK("http://x")'
    assert "SECRET" not in ",".join(row)


def test_the_export_is_for_those_who_see_the_log(client, make_member, entries):
    client.force_login(make_member(Role.DEPLOYER, username="dee"))
    assert client.get(EXPORT).status_code == 403


def test_the_page_offers_a_link_to_these_filters(logged_in, entries):
    page = logged_in.get(URL, {"action": "deployment.stopped", "page": "1"}).content.decode()
    assert 'data-copy="http://testserver/audit/?action=deployment.stopped"' in page
    fragment = logged_in.get(URL, {"actor": "vic"}, HTTP_HX_REQUEST="true").content.decode()
    assert 'data-copy="http://testserver/audit/?actor=vic"' in fragment
