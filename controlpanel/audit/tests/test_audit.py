from __future__ import annotations

import pytest
from django.contrib.admin.sites import site
from django.test import RequestFactory

from controlpanel.audit.models import AppendOnlyError, AuditAction, AuditEntry
from controlpanel.audit.services import audit_record


@pytest.fixture
def entry(team, owner):
    return audit_record(
        team=team, actor=owner, action=AuditAction.TEAM_SETTINGS, summary="Renamed the team", target=team
    )


def test_audit_entry_records_actor_target_and_summary(entry, owner, team):
    assert (entry.actor, entry.actor_label, entry.target_type, entry.target_id) == (
        owner,
        "olivia",
        "team",
        str(team.pk),
    )


def test_audit_entries_cannot_be_changed(entry):
    entry.summary = "rewritten"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.filter(pk=entry.pk).update(summary="rewritten")


def test_audit_entries_cannot_be_deleted(entry):
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_admin_offers_no_add_change_or_delete(entry, owner):
    request = RequestFactory().get("/admin/")
    request.user = owner
    model_admin = site._registry[AuditEntry]
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, entry)
    assert not model_admin.has_delete_permission(request, entry)


def test_audit_records_the_request_ip(logged_in, team):
    from django.urls import reverse

    logged_in.post(reverse("teams:create"), {"name": "Second team"}, REMOTE_ADDR="203.0.113.9")
    assert AuditEntry.objects.get(action=AuditAction.TEAM_CREATED, team__name="Second team").ip == "203.0.113.9"


def test_admin_cannot_delete_a_team_and_with_it_its_audit_log(entry, owner, team):
    from controlpanel.teams.models import Team

    request = RequestFactory().get("/admin/")
    request.user = owner
    assert not site._registry[Team].has_delete_permission(request, team)
