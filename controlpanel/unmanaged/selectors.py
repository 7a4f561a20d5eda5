"""Every read about unmanaged resources; always team-scoped."""

from __future__ import annotations

from django.db.models import Count, QuerySet
from django.shortcuts import get_object_or_404

from controlpanel.teams.models import Team
from controlpanel.unmanaged.models import UnmanagedResource


def unmanaged_open(*, team: Team) -> QuerySet[UnmanagedResource]:
    """Not adopted, not ignored: what the page lists and the banner counts."""
    return UnmanagedResource.objects.filter(team=team, deployment__isnull=True, ignored_at__isnull=True)


def unmanaged_ignored(*, team: Team) -> QuerySet[UnmanagedResource]:
    return UnmanagedResource.objects.filter(team=team, deployment__isnull=True, ignored_at__isnull=False)


def unmanaged_count(*, team: Team) -> int:
    return unmanaged_open(team=team).count()


def unmanaged_counts_by_account(*, team: Team) -> dict[int, int]:
    rows = unmanaged_open(team=team).values("account_id").annotate(n=Count("pk"))
    return {row["account_id"]: row["n"] for row in rows}


def team_unmanaged(*, team: Team, pk: int) -> UnmanagedResource:
    """One of the team's resources; another team's id is a 404."""
    return get_object_or_404(UnmanagedResource.objects.select_related("account", "deployment"), team=team, pk=pk)
