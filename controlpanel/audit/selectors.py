"""Reads of the audit log, always through the team."""

from __future__ import annotations

import datetime as dt
import re

from django.db.models import Q, QuerySet
from django.utils import timezone

from controlpanel.audit.models import AuditEntry
from controlpanel.teams.models import Team

TARGET_REF = re.compile(r"^(?P<type>[a-z_]+):(?P<id>[\w-]+)$")


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def team_audit_entries(
    *,
    team: Team,
    actor: str = "",
    action: str = "",
    target: str = "",
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> QuerySet[AuditEntry]:
    """The team's entries, newest first. ``target`` is ``type:id`` (one object, as the
    page links it) or words found in the target's name; ``until`` includes that day."""
    entries = AuditEntry.objects.filter(team=team)
    if actor:
        entries = entries.filter(actor_label=actor)
    if action:
        entries = entries.filter(action=action)
    if target:
        ref = TARGET_REF.match(target.strip())
        if ref:
            entries = entries.filter(target_type=ref["type"], target_id=ref["id"])
        else:
            entries = entries.filter(Q(target_label__icontains=target.strip()) | Q(summary__icontains=target.strip()))
    if since:
        entries = entries.filter(created_at__gte=_day_start(since))
    if until:
        entries = entries.filter(created_at__lt=_day_start(until + dt.timedelta(days=1)))
    return entries.order_by("-created_at", "-pk")


def team_audit_actors(*, team: Team) -> list[str]:
    """Everyone who appears in the log, former members and the system included."""
    labels = AuditEntry.objects.filter(team=team).values_list("actor_label", flat=True).distinct()
    return sorted(set(labels), key=str.lower)
