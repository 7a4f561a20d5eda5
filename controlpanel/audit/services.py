from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import models

from controlpanel.audit.context import current_ip
from controlpanel.audit.models import AuditAction, AuditEntry
from controlpanel.teams.models import Team


def actor_label(actor: AbstractBaseUser | None) -> str:
    if actor is None:
        return "system"
    return actor.get_username()


def audit_record(
    *,
    team: Team,
    actor: AbstractBaseUser | None,
    action: AuditAction,
    summary: str,
    target: models.Model | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry. Call inside the service's transaction, beside the change."""
    return AuditEntry.objects.create(
        team=team,
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_label=actor_label(actor),
        action=action,
        target_type=target._meta.model_name if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_label=str(target)[:200] if target is not None else "",
        summary=summary[:2000],
        ip=current_ip.get(),
        data=data or {},
    )
