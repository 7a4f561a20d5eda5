"""Every write to templates: save, change, delete; each checked against the permission
table and written to the audit log. Callable from views and, later, the API."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from controlpanel.audit.models import AuditAction
from controlpanel.audit.services import audit_record
from controlpanel.blueprints.models import DeploymentTemplate
from controlpanel.teams.models import Team
from controlpanel.teams.permissions import Perm
from controlpanel.teams.services import require_perm
from providers.neutral import strip_secrets
from providers.registry import SLUGS, vendor

NAME_MAX = DeploymentTemplate._meta.get_field("name").max_length


def _clean_name(*, team: Team, name: str, exclude: int | None = None) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError({"name": "Give the template a name."})
    if len(name) > NAME_MAX:
        raise ValidationError({"name": f"At most {NAME_MAX} characters: this has {len(name)}."})
    taken = DeploymentTemplate.objects.filter(team=team, name__iexact=name).exclude(pk=exclude)
    if taken.exists():
        raise ValidationError({"name": f"The team already has a template called “{name}”."})
    return name


@transaction.atomic
def template_create(
    *,
    team: Team,
    actor: AbstractBaseUser,
    name: str,
    vendor_slug: str,
    spec: dict[str, Any],
    description: str = "",
) -> DeploymentTemplate:
    """Save a filled vendor form as a team template. Secret values are never stored:
    env values whose names say they are secrets are emptied, registry passwords dropped,
    and ``to_fill`` names them."""
    require_perm(actor=actor, team=team, perm=Perm.DEPLOY)
    if vendor_slug not in SLUGS:
        raise ValidationError({"vendor": "No such vendor."})
    name = _clean_name(team=team, name=name)
    kept, to_fill = strip_secrets(vendor_slug, spec)
    template = DeploymentTemplate.objects.create(
        team=team,
        name=name,
        description=(description or "").strip()[:2000],
        vendor=vendor_slug,
        spec=kept,
        to_fill=to_fill,
        created_by=actor,
    )
    summary = f"Saved the {vendor(vendor_slug).display_name} template “{name}”"
    if to_fill:
        summary += f" (to fill when used: {', '.join(to_fill)})"
    audit_record(
        team=team,
        actor=actor,
        action=AuditAction.TEMPLATE_CREATED,
        summary=summary,
        target=template,
        data={"vendor": vendor_slug, "to_fill": to_fill},
    )
    return template


def can_manage(*, template: DeploymentTemplate, actor: AbstractBaseUser) -> bool:
    """Its author (while a deployer or more) and admins and owners may change or delete it."""
    try:
        membership = require_perm(actor=actor, team=template.team, perm=Perm.DEPLOY)
    except PermissionDenied:
        return False
    if membership is None:
        return True
    return template.created_by_id == actor.pk or membership.can(Perm.MANAGE_TEMPLATES)


def _require_manage(*, template: DeploymentTemplate, actor: AbstractBaseUser) -> None:
    if not can_manage(template=template, actor=actor):
        raise PermissionDenied("Only its author, admins and owners can change this template.")


@transaction.atomic
def template_update(
    *, template: DeploymentTemplate, actor: AbstractBaseUser, name: str, description: str
) -> DeploymentTemplate:
    _require_manage(template=template, actor=actor)
    template = DeploymentTemplate.objects.select_for_update().get(pk=template.pk)
    old_name, old_description = template.name, template.description
    template.name = _clean_name(team=template.team, name=name, exclude=template.pk)
    template.description = (description or "").strip()[:2000]
    if (template.name, template.description) == (old_name, old_description):
        return template
    template.save(update_fields=["name", "description", "updated_at"])
    changes = []
    if template.name != old_name:
        changes.append(f"renamed “{old_name}” to “{template.name}”")
    if template.description != old_description:
        changes.append("changed its description")
    audit_record(
        team=template.team,
        actor=actor,
        action=AuditAction.TEMPLATE_CHANGED,
        summary=f"Template “{template.name}”: " + " and ".join(changes),
        target=template,
        data={"old_name": old_name} if template.name != old_name else {},
    )
    return template


@transaction.atomic
def template_delete(*, template: DeploymentTemplate, actor: AbstractBaseUser) -> None:
    _require_manage(template=template, actor=actor)
    template = DeploymentTemplate.objects.select_for_update().get(pk=template.pk)  # its name as it is now
    audit_record(
        team=template.team,
        actor=actor,
        action=AuditAction.TEMPLATE_DELETED,
        summary=f"Deleted the template “{template.name}”",
        target=template,  # recorded by type, id and name before the row goes
        data={"vendor": template.vendor},
    )
    template.delete()
