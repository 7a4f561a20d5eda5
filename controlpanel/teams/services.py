from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import transaction

from controlpanel.audit.models import AuditAction
from controlpanel.audit.services import audit_record
from controlpanel.teams.models import Membership, Team
from controlpanel.teams.permissions import Perm, Role


def require_perm(*, actor: AbstractBaseUser | None, team: Team, perm: Perm) -> Membership | None:
    """Refuse unless ``actor`` holds ``perm`` in ``team``. ``None`` is the system (workers)."""
    if actor is None:
        return None
    membership = Membership.objects.filter(team=team, user=actor).first()
    if membership is None or not membership.can(perm):
        raise PermissionDenied("Your role in this team cannot do this.")
    return membership


@transaction.atomic
def team_create(*, name: str, owner: AbstractBaseUser) -> Team:
    team = Team.objects.create(name=name.strip())
    Membership.objects.create(team=team, user=owner, role=Role.OWNER)
    audit_record(
        team=team, actor=owner, action=AuditAction.TEAM_CREATED, target=team, summary=f"Created team {team.name}"
    )
    return team
