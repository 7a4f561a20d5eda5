from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from controlpanel.teams.models import Invitation, Membership, Team


def membership_for(*, user: AbstractBaseUser, team_id: int | None) -> Membership | None:
    """The user's membership in ``team_id``, or in their first team when that is gone."""
    if not user.is_authenticated:
        return None
    memberships = Membership.objects.select_related("team").filter(user=user, team__deleted_at__isnull=True)
    if team_id is not None:
        found = memberships.filter(team_id=team_id).first()
        if found is not None:
            return found
    return memberships.order_by("created_at", "pk").first()


def team_members(*, team: Team) -> QuerySet[Membership]:
    return Membership.objects.filter(team=team).select_related("user").order_by("created_at", "pk")


def team_member(*, team: Team, pk: int) -> Membership:
    """A member of the team, or 404: another team's membership id looks like none."""
    return get_object_or_404(Membership.objects.select_related("user", "team"), team=team, pk=pk)


def team_pending_invitations(*, team: Team) -> QuerySet[Invitation]:
    return (
        Invitation.objects.filter(
            team=team, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
        )
        .select_related("invited_by")
        .order_by("-created_at", "-pk")
    )


def team_invitation(*, team: Team, pk: int) -> Invitation:
    """An invitation of the team that is still open (pending or expired), or 404."""
    return get_object_or_404(
        Invitation.objects.select_related("team"), team=team, pk=pk, accepted_at__isnull=True, revoked_at__isnull=True
    )
