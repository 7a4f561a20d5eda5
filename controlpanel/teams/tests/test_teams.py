from __future__ import annotations

import pytest
from django.urls import reverse

from controlpanel.teams.models import Membership, Team
from controlpanel.teams.permissions import ROLE_PERMISSIONS, Perm, Role
from tests.factories import MembershipFactory, TeamFactory


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.OWNER, set(Perm)),
        (
            Role.ADMIN,
            {
                Perm.VIEW,
                Perm.DEPLOY,
                Perm.MANAGE_KEYS,
                Perm.MANAGE_MEMBERS,
                Perm.VIEW_AUDIT,
                Perm.MANAGE_NOTIFICATIONS,
                Perm.APPROVE,
                Perm.MANAGE_TEMPLATES,
            },
        ),
        (Role.DEPLOYER, {Perm.VIEW, Perm.DEPLOY}),
        (Role.VIEWER, {Perm.VIEW}),
    ],
)
def test_permission_table(role, allowed):
    assert set(ROLE_PERMISSIONS[role]) == allowed


def test_switcher_changes_the_current_team(logged_in, owner, team):
    second = TeamFactory(name="Second")
    MembershipFactory(team=second, user=owner, role=Role.VIEWER)
    logged_in.post(reverse("teams:switch"), {"team": second.pk, "next": "/team/"})
    page = logged_in.get(reverse("teams:detail")).content.decode()
    assert "<h1>Second</h1>" in page


def test_switcher_ignores_a_team_you_are_not_in(logged_in, other_team):
    logged_in.post(reverse("teams:switch"), {"team": other_team["team"].pk})
    assert "Other Co</h1>" not in logged_in.get(reverse("teams:detail")).content.decode()


def test_switcher_refuses_offsite_redirects(logged_in, team):
    response = logged_in.post(reverse("teams:switch"), {"team": team.pk, "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_removed_member_loses_access_at_once(client, make_member, team):
    user = make_member(Role.DEPLOYER)
    client.force_login(user)
    assert client.get(reverse("deployments:dashboard")).status_code == 200
    Membership.objects.filter(user=user).delete()
    response = client.get(reverse("deployments:dashboard"))
    assert response.status_code == 302
    assert response["Location"] == reverse("teams:create")


def test_creating_a_team_makes_you_its_owner(logged_in, owner):
    logged_in.post(reverse("teams:create"), {"name": "Research"})
    team = Team.objects.get(name="Research")
    assert Membership.objects.get(team=team, user=owner).role == Role.OWNER
