"""Every read about money: deployments' histories from the timeline, and spend aggregated
per team, vendor, key, person and deployment. Always team-scoped."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from controlpanel.costs import billing
from controlpanel.costs.billing import History, Terms
from controlpanel.costs.models import PriceChange
from controlpanel.deployments.cost import month_start_of
from controlpanel.deployments.models import Deployment, DeploymentEvent, EventKind
from controlpanel.teams.models import Team
from providers.registry import vendor

# A deployment in one of these may be billing now; one in any other state has cost nothing
# since it last changed state.
BILLED_ANY = frozenset().union(*billing.BILLED_STATES.values())


def day_start_of(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass
class Row:
    """One deployment as the cost sums need it."""

    pk: int
    name: str
    vendor: str
    state: str
    account_id: int | None
    account_label: str
    creator: str
    history: History


FIELDS = (
    "pk",
    "vendor",
    "state",
    "created_at",
    "estimated_price_per_hour",
    "vendor_price_per_hour",
    "price_per_hour",
    "account_id",
)
LABELS = ("name", "account__label", "created_by__username")


def deployment_rows(
    *, team: Team, start: dt.datetime, end: dt.datetime, pks: list[int] | None = None, labels: bool = True
) -> list[Row]:
    """Every deployment of ``team`` that may have cost something in ``[start, end)``, with its
    history. Three queries (four with Novita subscriptions), whatever the fleet's size.

    A deployment in a state no vendor bills, with no state change since ``start``, has cost
    nothing since then and is not read (a stopped Novita subscription aside: it renews)."""
    changed = DeploymentEvent.objects.filter(deployment=OuterRef("pk"), kind=EventKind.STATE, created_at__gte=start)
    rows_qs = Deployment.objects.filter(team=team, created_at__lt=end).filter(
        Q(state__in=BILLED_ANY) | Q(vendor="novita", state="stopped") | Exists(changed)
    )
    if pks is not None:
        rows_qs = rows_qs.filter(pk__in=pks)
    rows = list(rows_qs.order_by().values_list(*FIELDS, *(LABELS if labels else ())))
    if not rows:
        return []
    ids = rows_qs.values("pk")
    events: dict[int, list[tuple[dt.datetime, str, str]]] = defaultdict(list)
    for pk, at, before, after in (
        DeploymentEvent.objects.filter(deployment__in=ids, kind=EventKind.STATE)
        .order_by("created_at", "pk")
        .values_list("deployment_id", "created_at", "from_state", "to_state")
    ):
        events[pk].append((at, before, after))
    prices: dict[int, list[tuple[dt.datetime, Decimal]]] = defaultdict(list)
    for pk, at, price in (
        PriceChange.objects.filter(deployment__in=ids)
        .order_by("at", "pk")
        .values_list("deployment_id", "at", "price_per_hour")
    ):
        prices[pk].append((at, price))
    specs: dict[int, dict] = {}
    if any(r[1] == "novita" for r in rows):
        specs = dict(rows_qs.filter(vendor="novita").values_list("pk", "spec"))
    no_terms = Terms()
    out = []
    for r in rows:
        pk, vendor_slug, state, created, estimated, reported, current, account_id = r[:8]
        timeline = events.get(pk, ())
        first = timeline[0][1] if timeline else state
        states = [(created, first), *((at, after) for at, _, after in timeline)]
        price_list = [(created, estimated)] if estimated is not None else []
        price_list += prices.get(pk, ())
        if not price_list and (reported or current) is not None:
            price_list.append((created, reported or current))
        terms = Terms.from_spec(vendor_slug, specs.get(pk) or {}) if vendor_slug == "novita" else no_terms
        history = History(vendor=vendor_slug, states=states, prices=price_list, terms=terms)
        name, account_label, creator = r[8:] if labels else ("", "", "")
        out.append(
            Row(
                pk=pk,
                name=name,
                vendor=vendor_slug,
                state=state,
                account_id=account_id,
                account_label=account_label or "(key deleted)",
                creator=creator or "(nobody)",
                history=history,
            )
        )
    return out


def deployment_history(*, deployment: Deployment) -> History | None:
    rows = deployment_rows(
        team=deployment.team,
        start=deployment.created_at,
        end=timezone.now() + dt.timedelta(seconds=1),
        pks=[deployment.pk],
    )
    return rows[0].history if rows else None


def deployment_cost(*, deployment: Deployment, start: dt.datetime, end: dt.datetime) -> Decimal:
    """What one deployment cost in ``[start, end)``, as its vendor bills it."""
    history = deployment_history(deployment=deployment)
    return billing.cost_between(history, start, end) if history else Decimal("0")


def deployment_cost_summary(*, deployment: Deployment) -> dict[str, Decimal]:
    """The deployment page's figures: so far, this month, and the burn now."""
    now = timezone.now()
    history = deployment_history(deployment=deployment)
    if history is None:
        return {"total": Decimal("0"), "month": Decimal("0"), "per_hour": Decimal("0")}
    return {
        "total": billing.cost_between(history, deployment.created_at, now),
        "month": billing.cost_between(history, month_start_of(now), now),
        "per_hour": billing.rate_at(history, now),
    }


# --- aggregates ----------------------------------------------------------------------------------

DIMENSIONS = ("vendor", "key", "person", "deployment")


@dataclass
class Line:
    """One row of a breakdown: what it burns per hour now, and costs today, this month and in
    the chosen range."""

    label: str
    per_hour: Decimal = Decimal("0")
    today: Decimal = Decimal("0")
    month: Decimal = Decimal("0")
    range: Decimal = Decimal("0")
    extra: dict[str, Any] = field(default_factory=dict)

    def add(self, other: Line) -> None:
        self.per_hour += other.per_hour
        self.today += other.today
        self.month += other.month
        self.range += other.range


@dataclass
class Report:
    now: dt.datetime
    start: dt.datetime
    end: dt.datetime
    total: Line
    by: dict[str, list[Line]]
    chart: list[tuple[dt.datetime, dt.datetime, Decimal]]


def _key(row: Row, dimension: str) -> tuple[Any, str]:
    if dimension == "vendor":
        return row.vendor, vendor(row.vendor).display_name
    if dimension == "key":
        return row.account_id, row.account_label
    if dimension == "person":
        return row.creator, row.creator
    return row.pk, row.name


def _chart_step(start: dt.datetime, end: dt.datetime) -> dt.timedelta:
    span = end - start
    if span <= dt.timedelta(days=2):
        return dt.timedelta(hours=1)
    if span <= dt.timedelta(days=92):
        return dt.timedelta(days=1)
    return dt.timedelta(days=7)


def cost_report(*, team: Team, start: dt.datetime, end: dt.datetime, now: dt.datetime | None = None) -> Report:
    """Spend of ``team``: per hour now, today, this month and ``[start, end)``, per vendor, key,
    person and deployment, and the range cut into hours, days or weeks for the chart."""
    now = now or timezone.now()
    today, month = day_start_of(now), month_start_of(now)
    rows = deployment_rows(team=team, start=min(start, month), end=max(end, now))
    total = Line("Total")
    groups: dict[str, dict[Any, Line]] = {d: {} for d in DIMENSIONS}
    for row in rows:
        h = row.history
        line = Line(
            row.name,
            per_hour=billing.rate_at(h, now),
            today=billing.cost_between(h, today, now),
            month=billing.cost_between(h, month, now),
            range=billing.cost_between(h, start, end),
        )
        if not (line.per_hour or line.today or line.month or line.range):
            continue
        total.add(line)
        for dimension in DIMENSIONS:
            key, label = _key(row, dimension)
            group = groups[dimension].setdefault(key, Line(label))
            group.add(line)
            if dimension == "deployment":
                group.extra = {"pk": row.pk, "vendor": row.vendor, "state": row.state}
    cuts = billing.buckets(start, end, _chart_step(start, end))
    values = billing.series((r.history for r in rows), cuts)
    by = {d: sorted(g.values(), key=lambda line: (-line.range, -line.month, line.label)) for d, g in groups.items()}
    return Report(
        now=now,
        start=start,
        end=end,
        total=total,
        by=by,
        chart=[(a, b, v) for (a, b), v in zip(cuts, values, strict=True)],
    )


def team_spend(*, team: Team, now: dt.datetime | None = None) -> dict[str, dict[str, Decimal]]:
    """Per vendor: the burn now (per hour) and this month so far (UTC), for the dashboard."""
    now = now or timezone.now()
    month = month_start_of(now)
    per_hour: dict[str, Decimal] = defaultdict(Decimal)
    spent: dict[str, Decimal] = defaultdict(Decimal)
    for row in deployment_rows(team=team, start=month, end=now + dt.timedelta(microseconds=1), labels=False):
        rate = billing.rate_at(row.history, now)
        cost = billing.cost_between(row.history, month, now)
        if rate:
            per_hour[row.vendor] += rate
        if cost or row.vendor in spent:
            spent[row.vendor] += cost
    return {"per_hour": dict(per_hour), "month": dict(spent)}


def team_month_spend(*, team: Team, now: dt.datetime | None = None) -> Decimal:
    return sum(team_spend(team=team, now=now)["month"].values(), Decimal("0"))


def account_burn(*, team: Team, now: dt.datetime | None = None) -> dict[int, Decimal]:
    """USD per hour each key's deployments burn now."""
    now = now or timezone.now()
    burn: dict[int, Decimal] = defaultdict(Decimal)
    for row in deployment_rows(team=team, start=now, end=now + dt.timedelta(microseconds=1), labels=False):
        if row.account_id is not None:
            burn[row.account_id] += billing.rate_at(row.history, now)
    return dict(burn)


# --- balances and warnings -----------------------------------------------------------------------


@dataclass
class Balance:
    account: Any
    burn: Decimal
    hours_left: Decimal | None


def team_balances(*, team: Team, now: dt.datetime | None = None) -> list[Balance]:
    """Each key whose vendor reported a prepaid balance, with about how long it lasts."""
    from controlpanel.credentials.models import ProviderAccount

    accounts = list(ProviderAccount.objects.filter(team=team, balance__isnull=False).order_by("vendor", "label"))
    if not accounts:
        return []
    burn = account_burn(team=team, now=now)
    out = []
    for account in accounts:
        rate = burn.get(account.pk, Decimal("0"))
        left = max(account.balance, Decimal("0")) / rate if rate > 0 else None
        out.append(Balance(account=account, burn=rate, hours_left=left))
    return out


def team_alerts(*, team: Team, now: dt.datetime | None = None) -> list[Any]:
    """This month's budget warnings and the balance warnings still standing: the banners."""
    from controlpanel.costs.models import AlertKind, CostAlert

    now = now or timezone.now()
    return list(
        CostAlert.objects.filter(team=team, cleared_at__isnull=True, created_at__gte=month_start_of(now))
        .filter(kind__in=[AlertKind.BUDGET_WARN, AlertKind.BUDGET_OVER, AlertKind.BALANCE_LOW])
        .exclude(key__contains="budget-nostop")
        .order_by("-created_at")[:5]
    )


def money_context(*, team: Team) -> dict[str, Any]:
    from controlpanel.costs.rules import budget_view

    return {"balances": team_balances(team=team), "budget": budget_view(team=team)}
