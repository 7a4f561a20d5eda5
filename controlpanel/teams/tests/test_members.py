"""Members and the team itself: re-role, remove, leave, rename, transfer, delete, and the
rule that a team always keeps an owner. Plus what each role is shown."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from controlpanel.audit.models import AuditAction, AuditEntry
from controlpanel.credentials.models import ProviderAccount
from controlpanel.deployments.states import State
from controlpanel.teams import services
from controlpanel.teams.models import Membership, Team
from controlpanel.teams.permissions import Role, assignable_roles, perm_to_assign
from tests.factories import DeploymentFactory, MembershipFactory, TeamFactory

HX = {"HTTP_HX_REQUEST": "true"}


def membership(user, team):
    return Membership.objects.get(user=user, team=team)


# --- the table's helpers --------------------------------------------------------------------------


def test_only_owners_may_hand_out_the_owner_role():
    assert assignable_roles(Role.OWNER) == list(Role)
    assert assignable_roles(Role.ADMIN) == [Role.ADMIN, Role.DEPLOYER, Role.VIEWER]
    assert assignable_roles(Role.DEPLOYER) == assignable_roles(Role.VIEWER) == []
    assert perm_to_assign(Role.OWNER).value == "manage_team"


# --- re-role ------------------------------------------------------------------------------------


def test_member_change_role_writes_the_change_and_its_audit_entry(team, owner, make_member):
    vic = make_member(Role.VIEWER, username="vic")
    services.member_change_role(membership=membership(vic, team), actor=owner, role=Role.DEPLOYER)
    assert membership(vic, team).role == Role.DEPLOYER
    entry = AuditEntry.objects.get(action=AuditAction.MEMBER_ROLE_CHANGED)
    assert entry.summary == "Changed vic's role from Viewer to Deployer"
    assert entry.data == {"user_id": vic.pk, "from": "viewer", "to": "deployer"}


def test_an_admin_cannot_make_an_owner_or_touch_one(team, owner, make_member):
    admin, vic = make_member(Role.ADMIN), make_member(Role.VIEWER)
    with pytest.raises(PermissionDenied, match="make someone an owner"):
        services.member_change_role(membership=membership(vic, team), actor=admin, role=Role.OWNER)
    with pytest.raises(PermissionDenied, match="change an owner's role"):
        services.member_change_role(membership=membership(owner, team), actor=admin, role=Role.VIEWER)
    with pytest.raises(PermissionDenied, match="remove an owner"):
        services.member_remove(membership=membership(owner, team), actor=admin)
    assert membership(owner, team).role == Role.OWNER
    assert membership(vic, team).role == Role.VIEWER


@pytest.mark.parametrize("role", [Role.DEPLOYER, Role.VIEWER])
def test_deployers_and_viewers_cannot_re_role_or_remove(team, make_member, role):
    actor, vic = make_member(role), make_member(Role.VIEWER)
    with pytest.raises(PermissionDenied):
        services.member_change_role(membership=membership(vic, team), actor=actor, role=Role.ADMIN)
    with pytest.raises(PermissionDenied):
        services.member_remove(membership=membership(vic, team), actor=actor)
    assert membership(vic, team).role == Role.VIEWER


def test_role_change_over_htmx_returns_the_row_and_a_toast(client, team, owner, make_member):
    vic = make_member(Role.VIEWER, username="vic")
    client.force_login(owner)
    response = client.post(reverse("teams:member_role", args=[membership(vic, team).pk]), {"role": "deployer"}, **HX)
    content = response.content.decode()
    assert "<html" not in content
    assert f'id="member-{membership(vic, team).pk}"' in content
    assert '<option value="deployer" selected>' in content
    assert "vic is now Deployer" in response["HX-Trigger"]


# --- the last owner ----------------------------------------------------------------------------


def test_the_last_owner_cannot_be_re_roled(team, owner):
    with pytest.raises(ValidationError, match="always keeps at least one owner"):
        services.member_change_role(membership=membership(owner, team), actor=owner, role=Role.ADMIN)
    assert membership(owner, team).role == Role.OWNER


def test_the_last_owner_cannot_be_removed(team, owner):
    with pytest.raises(ValidationError, match="always keeps at least one owner"):
        services.member_remove(membership=membership(owner, team), actor=owner)
    assert Membership.objects.filter(team=team, role=Role.OWNER).count() == 1


def test_the_last_owner_cannot_leave(client, team, owner):
    client.force_login(owner)
    page = client.post(reverse("teams:leave"), follow=True).content.decode()
    assert "always keeps at least one owner" in page
    assert membership(owner, team).role == Role.OWNER


def test_with_a_second_owner_one_may_step_down_or_leave(team, owner, make_member):
    other = make_member(Role.OWNER)
    services.member_change_role(membership=membership(owner, team), actor=owner, role=Role.ADMIN)
    assert membership(owner, team).role == Role.ADMIN
    with pytest.raises(ValidationError, match="at least one owner"):
        services.member_leave(team=team, actor=other)
    services.member_change_role(membership=membership(owner, team), actor=other, role=Role.OWNER)
    services.member_leave(team=team, actor=other)
    assert list(Membership.objects.filter(team=team, role=Role.OWNER).values_list("user", flat=True)) == [owner.pk]


def test_the_last_owner_error_reaches_the_page_as_a_toast(client, team, owner):
    client.force_login(owner)
    response = client.post(reverse("teams:member_role", args=[membership(owner, team).pk]), {"role": "viewer"}, **HX)
    assert response.status_code == 200  # htmx 2 does not swap 4xx: the row comes back unchanged
    assert "at least one owner" in response["HX-Trigger"]
    assert '<option value="owner" selected>' in response.content.decode()


# --- remove and leave --------------------------------------------------------------------------


def test_remove_takes_a_member_out_and_audits_it(client, team, owner, make_member):
    vic = make_member(Role.DEPLOYER, username="vic")
    client.force_login(owner)
    response = client.post(reverse("teams:member_remove", args=[membership(vic, team).pk]), **HX)
    assert response.content == b""
    assert not Membership.objects.filter(user=vic).exists()
    assert AuditEntry.objects.get(action=AuditAction.MEMBER_REMOVED).summary == "Removed vic (Deployer) from the team"


def test_a_removed_member_loses_access_on_their_very_next_request(client, team, owner, make_member, account):
    vic = make_member(Role.DEPLOYER, username="vic")
    deployment = DeploymentFactory(account=account, name="team-only")
    client.force_login(vic)
    assert client.get(reverse("deployments:detail", args=[deployment.pk])).status_code == 200
    services.member_remove(membership=membership(vic, team), actor=owner)  # the same session, no log-out
    assert client.get(reverse("deployments:detail", args=[deployment.pk]))["Location"] == reverse("teams:create")
    hx = client.get(reverse("deployments:dashboard"), **HX)
    assert hx["HX-Redirect"] == reverse("teams:create")
    assert client.post(reverse("deployments:action", args=[deployment.pk, "stop"])).status_code == 302
    deployment.refresh_from_db()
    assert deployment.pending_action == ""


def test_a_removed_member_still_in_another_team_sees_only_that_one(client, team, owner, make_member, account):
    vic = make_member(Role.DEPLOYER, username="vic")
    elsewhere = TeamFactory(name="Elsewhere")
    MembershipFactory(team=elsewhere, user=vic, role=Role.VIEWER)
    deployment = DeploymentFactory(account=account, name="team-only")
    client.force_login(vic)
    client.post(reverse("teams:switch"), {"team": team.pk})
    services.member_remove(membership=membership(vic, team), actor=owner)
    assert client.get(reverse("deployments:detail", args=[deployment.pk])).status_code == 404
    assert "team-only" not in client.get(reverse("deployments:dashboard")).content.decode()
    assert "<h1>Elsewhere</h1>" in client.get(reverse("teams:detail")).content.decode()


def test_leaving_writes_an_entry_and_drops_access(client, team, owner, make_member):
    vic = make_member(Role.VIEWER, username="vic")
    client.force_login(vic)
    client.post(reverse("teams:leave"))
    assert not Membership.objects.filter(user=vic).exists()
    assert AuditEntry.objects.get(action=AuditAction.MEMBER_REMOVED).summary == "vic left the team"
    assert client.get(reverse("teams:detail"))["Location"] == reverse("teams:create")


# --- rename, transfer, delete --------------------------------------------------------------------


def test_rename_writes_a_settings_entry(client, team, owner):
    client.force_login(owner)
    client.post(reverse("teams:rename"), {"name": "  Acme Research "})
    team.refresh_from_db()
    assert team.name == "Acme Research"
    entry = AuditEntry.objects.get(action=AuditAction.TEAM_SETTINGS)
    assert entry.summary == "Renamed the team from “Acme GPU” to “Acme Research”"


def test_admins_cannot_rename_transfer_or_delete(team, owner, make_member):
    admin = make_member(Role.ADMIN)
    with pytest.raises(PermissionDenied):
        services.team_rename(team=team, actor=admin, name="Mine now")
    with pytest.raises(PermissionDenied):
        services.team_transfer_ownership(team=team, actor=admin, to=membership(admin, team))
    with pytest.raises(PermissionDenied):
        services.team_delete(team=team, actor=admin, confirm_name=team.name)
    team.refresh_from_db()
    assert (team.name, team.deleted_at) == ("Acme GPU", None)


def test_transfer_makes_them_owner_and_you_admin(client, team, owner, make_member):
    vic = make_member(Role.DEPLOYER, username="vic")
    client.force_login(owner)
    client.post(reverse("teams:transfer"), {"member": membership(vic, team).pk})
    assert membership(vic, team).role == Role.OWNER
    assert membership(owner, team).role == Role.ADMIN
    entry = AuditEntry.objects.get(action=AuditAction.OWNERSHIP_TRANSFERRED)
    assert entry.summary == "Transferred ownership to vic (was Deployer); olivia is now an admin"


def test_transfer_to_another_teams_member_is_refused(client, team, owner, other_team, make_member):
    make_member(Role.VIEWER)
    client.force_login(owner)
    theirs = Membership.objects.get(user=other_team["user"])
    page = client.post(reverse("teams:transfer"), {"member": theirs.pk})
    assert "Select a valid choice" in page.content.decode()
    assert membership(owner, team).role == Role.OWNER
    with pytest.raises(ValidationError):
        services.team_transfer_ownership(team=team, actor=owner, to=theirs)
    assert Membership.objects.get(pk=theirs.pk).role == Role.OWNER
    assert membership(owner, team).role == Role.OWNER


def test_delete_needs_the_typed_name(client, team, owner):
    client.force_login(owner)
    page = client.post(reverse("teams:delete"), {"confirm": "acme gpu"}).content.decode()
    assert "exactly to delete it" in page
    team.refresh_from_db()
    assert team.deleted_at is None


def test_delete_is_refused_while_deployments_exist_at_vendors(client, team, owner, account):
    DeploymentFactory(account=account, state=State.RUNNING, external_id="x-1")
    with pytest.raises(ValidationError, match="1 deployment still exists"):
        services.team_delete(team=team, actor=owner, confirm_name="Acme GPU")
    team.refresh_from_db()
    assert team.deleted_at is None


def test_delete_closes_the_team_but_keeps_its_audit_log(client, team, owner, make_member, account):
    vic = make_member(Role.VIEWER, username="vic")
    DeploymentFactory(account=account, state=State.DELETED)
    services.invitation_create(team=team, actor=owner, email="late@example.com", role=Role.VIEWER)
    client.force_login(owner)
    response = client.post(reverse("teams:delete"), {"confirm": "Acme GPU"})
    assert response["Location"] == reverse("deployments:dashboard")
    team.refresh_from_db()
    assert team.deleted_at is not None
    assert not Membership.objects.filter(team=team).exists()
    assert not ProviderAccount.objects.filter(team=team).exists()  # the encrypted keys are gone
    assert team.invitations.get().revoked_at is not None
    entry = AuditEntry.objects.get(action=AuditAction.TEAM_DELETED)
    assert entry.summary == "Deleted the team “Acme GPU” with 2 member(s) and 1 key(s)"
    kept = set(AuditEntry.objects.filter(team=team).values_list("action", flat=True))
    assert kept == {AuditAction.MEMBER_INVITED, AuditAction.TEAM_DELETED}  # the history stays with the closed team
    assert client.get(reverse("deployments:dashboard"))["Location"] == reverse("teams:create")
    client.force_login(vic)
    assert client.get(reverse("teams:detail"))["Location"] == reverse("teams:create")
    assert Team.objects.filter(pk=team.pk, deleted_at__isnull=False).exists()


# --- what each role is shown -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "controls"),
    [
        (Role.OWNER, {"invite", "role_select", "remove", "settings", "audit", "owner_option"}),
        (Role.ADMIN, {"invite", "role_select", "remove", "audit"}),
        (Role.DEPLOYER, set()),
        (Role.VIEWER, set()),
    ],
)
def test_team_page_renders_only_the_controls_a_role_may_use(client, team, owner, make_member, role, controls):
    vic = make_member(Role.VIEWER, username="vic")
    me = owner if role == Role.OWNER else make_member(role)
    client.force_login(me)
    page = client.get(reverse("teams:detail")).content.decode()
    vic_pk = membership(vic, team).pk
    shown = {
        "invite": reverse("teams:invite") in page,
        "role_select": reverse("teams:member_role", args=[vic_pk]) in page,
        "remove": reverse("teams:member_remove", args=[vic_pk]) in page,
        "settings": reverse("teams:settings") in page,
        "audit": reverse("audit:log") in page,
        "owner_option": '<option value="owner"' in page,
    }
    assert {name for name, present in shown.items() if present} == controls
    # Nobody but an owner is offered anything to do to the owner's row.
    owner_pk = membership(owner, team).pk
    assert (reverse("teams:member_role", args=[owner_pk]) in page) is (role == Role.OWNER)
    assert reverse("teams:member_remove", args=[owner_pk]) not in page  # not even to themselves: "Leave" is that


def test_settings_page_is_the_owners(client, team, owner, make_member):
    client.force_login(make_member(Role.ADMIN))
    assert client.get(reverse("teams:settings")).status_code == 403
    client.force_login(owner)
    page = client.get(reverse("teams:settings")).content.decode()
    for action in ("teams:rename", "teams:transfer", "teams:delete"):
        assert reverse(action) in page
