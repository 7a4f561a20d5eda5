from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from controlpanel.notifications.models import Channel, Delivery, DeliveryAttempt
from controlpanel.teams.models import Team


def team_channels(*, team: Team) -> QuerySet[Channel]:
    return Channel.objects.filter(team=team)


def team_channel(*, team: Team, pk: int) -> Channel:
    """One of the team's channels, or 404 (another team's is as good as absent)."""
    return get_object_or_404(Channel, team=team, pk=pk)


def channel_deliveries(*, channel: Channel, limit: int = 50) -> list[Delivery]:
    """The delivery log: the latest deliveries, each with its tries and their answers."""
    return list(
        Delivery.objects.filter(channel=channel)
        .select_related("notification")
        .prefetch_related(Prefetch("attempt_log", queryset=DeliveryAttempt.objects.order_by("-at", "-pk")))
        .order_by("-created_at", "-pk")[:limit]
    )
