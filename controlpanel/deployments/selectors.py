"""Every read of deployments, always through the team."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Max, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from controlpanel.credentials.models import ProviderAccount
from controlpanel.deployments.models import Deployment, DeploymentEvent, IdempotencyKey, LogSnapshot
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


def deployment_for_idempotency_key(*, team: Team, key: str) -> Deployment | None:
    """The deployment a create request with this key already produced, if any."""
    if not key:
        return None
    found = IdempotencyKey.objects.filter(team=team, key=key, action="", deployment__isnull=False).select_related(
        "deployment"
    )
    row = found.first()
    return row.deployment if row else None


def deployment_log_snapshot(*, deployment: Deployment) -> LogSnapshot | None:
    """What the last logs fetch brought (lines, vendor events, revisions), if any."""
    return LogSnapshot.objects.filter(deployment=deployment).first()


def deployment_events(*, deployment: Deployment, limit: int = 200) -> QuerySet[DeploymentEvent]:
    return deployment.events.select_related("actor").order_by("-created_at", "-pk")[:limit]


def names_in_use(*, account: ProviderAccount, prefix: str) -> set[str]:
    """Names starting with ``prefix`` that the account's deployments still hold at the
    vendor: not deleted, and not a submission the vendor never accepted."""
    return set(
        Deployment.objects.filter(account=account, name__startswith=prefix)
        .exclude(state=State.DELETED)
        .exclude(state=State.FAILED, external_id="")
        .values_list("name", flat=True)
    )


def free_name(*, account: ProviderAccount, name: str, limit: int = 100) -> str:
    """``name`` if no deployment of the account holds it, else the first free ``name-N``
    (N from 2), within ``limit`` characters."""
    taken = names_in_use(account=account, prefix=name[: max(limit - 4, 1)])
    if name not in taken:
        return name
    n = 2
    while (candidate := f"{name[: limit - len(str(n)) - 1]}-{n}") in taken:
        n += 1
    return candidate


def live_deployment_count(*, account: ProviderAccount) -> int:
    return Deployment.objects.filter(account=account).exclude(state__in=[State.DELETED, State.FAILED]).count()


def dashboard_version(*, team: Team) -> str:
    """Changes whenever anything the dashboard shows changes: a deployment, or an
    account's status or last refresh. Two indexed aggregates, no rows fetched."""
    deployments = Deployment.objects.filter(team=team).aggregate(v=Max("updated_at"))["v"]
    accounts = ProviderAccount.objects.filter(team=team).aggregate(v=Max("updated_at"))["v"]
    stamp = lambda value: f"{value.timestamp():.6f}" if value else "0"  # noqa: E731
    return f"{stamp(deployments)}-{stamp(accounts)}"


# --- the dashboard -------------------------------------------------------------------------

SORTS: dict[str, str] = {
    "name": "name",
    "vendor": "vendor",
    "state": "state",
    "replicas": "replicas_ready",
    "price": "price_per_hour",
    "age": "created_at",
    "checked": "checked_at",
}


def dashboard_deployments(
    *,
    team: Team,
    user: Any,
    vendor: str = "",
    state: str = "",
    account_id: int | None = None,
    creator_id: int | None = None,
    mine: bool = False,
    query: str = "",
    sort: str = "age",
    descending: bool = True,
) -> QuerySet[Deployment]:
    """The team's deployments as the dashboard's filters, search and sort ask.

    Every order ends with ``-pk`` so pages are stable while rows update; null prices and
    never-checked rows sort last either way.
    """
    rows = team_deployments(team=team)
    if vendor:
        rows = rows.filter(vendor=vendor)
    if state == "active":
        rows = rows.exclude(state__in=[State.STOPPED, State.FAILED, State.LOST])
    elif state:
        rows = rows.filter(state=state)
    if account_id:
        rows = rows.filter(account_id=account_id)
    if mine:
        rows = rows.filter(created_by=user)
    elif creator_id:
        rows = rows.filter(created_by_id=creator_id)
    if query:
        rows = rows.filter(name__icontains=query)
    field = F(SORTS.get(sort, "created_at"))
    order = field.desc(nulls_last=True) if descending else field.asc(nulls_last=True)
    return rows.order_by(order, "-pk")


def dashboard_counts(*, team: Team) -> dict[str, dict[str, int]]:
    """How many deployments the team has in each state and with each vendor (deleted aside)."""
    rows = team_deployments(team=team).order_by()
    return {
        "state": dict(rows.values_list("state").annotate(n=Count("pk")).values_list("state", "n")),
        "vendor": dict(rows.values_list("vendor").annotate(n=Count("pk")).values_list("vendor", "n")),
    }


SPEND_CACHE_SECONDS = 60


def dashboard_spend(*, team: Team) -> dict[str, dict[str, Decimal]]:
    """Spend per vendor: the rate now (per hour) and this month so far (UTC months), from
    each deployment's timeline as its vendor bills it (``controlpanel.costs``)."""
    from django.core.cache import cache

    from controlpanel.costs.selectors import team_spend

    # The sums read every billing row of the team: kept for a minute at most, and only while
    # nothing on the dashboard changed (a new state or price moves the version).
    bucket = int(timezone.now().timestamp() // SPEND_CACHE_SECONDS)
    key = f"costs:dashboard-spend:{team.pk}:{dashboard_version(team=team)}:{bucket}"
    spend = cache.get(key)
    if spend is None:
        spend = team_spend(team=team)
        cache.set(key, spend, SPEND_CACHE_SECONDS)
    return spend
