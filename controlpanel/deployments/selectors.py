"""Every read of deployments, always through the team."""

from __future__ import annotations

from django.db.models import Max, QuerySet
from django.shortcuts import get_object_or_404

from controlpanel.credentials.models import ProviderAccount
from controlpanel.deployments.models import Deployment, DeploymentEvent
from controlpanel.deployments.states import State
from controlpanel.teams.models import Team


def team_deployments(*, team: Team, include_deleted: bool = False) -> QuerySet[Deployment]:
    deployments = Deployment.objects.filter(team=team).select_related("account", "created_by")
    if not include_deleted:
        deployments = deployments.exclude(state=State.DELETED)
    return deployments


def team_deployment(*, team: Team, pk: int) -> Deployment:
    """The team's deployment or 404: another team's id looks exactly like a missing one."""
    return get_object_or_404(Deployment.objects.select_related("account", "created_by"), team=team, pk=pk)


def deployment_events(*, deployment: Deployment, limit: int = 200) -> QuerySet[DeploymentEvent]:
    return deployment.events.select_related("actor").order_by("-created_at", "-pk")[:limit]


def live_deployment_count(*, account: ProviderAccount) -> int:
    return Deployment.objects.filter(account=account).exclude(state__in=[State.DELETED, State.FAILED]).count()


def dashboard_version(*, team: Team) -> str:
    """Changes whenever anything the dashboard shows changes: a deployment, or an
    account's status or last refresh. Two indexed aggregates, no rows fetched."""
    deployments = Deployment.objects.filter(team=team).aggregate(v=Max("updated_at"))["v"]
    accounts = ProviderAccount.objects.filter(team=team).aggregate(v=Max("updated_at"))["v"]
    stamp = lambda value: f"{value.timestamp():.6f}" if value else "0"  # noqa: E731
    return f"{stamp(deployments)}-{stamp(accounts)}"
