from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from controlpanel.teams.models import Membership, Team


def membership_for(*, user: AbstractBaseUser, team_id: int | None) -> Membership | None:
    """The user's membership in ``team_id``, or in their first team when that is gone."""
    if not user.is_authenticated:
        return None
    memberships = Membership.objects.select_related("team").filter(user=user)
    if team_id is not None:
        found = memberships.filter(team_id=team_id).first()
        if found is not None:
            return found
    return memberships.order_by("created_at", "pk").first()


def user_teams(*, user: AbstractBaseUser) -> QuerySet[Team]:
    return Team.objects.filter(memberships__user=user).order_by("name", "pk")


def team_members(*, team: Team) -> QuerySet[Membership]:
    return Membership.objects.filter(team=team).select_related("user").order_by("created_at", "pk")
