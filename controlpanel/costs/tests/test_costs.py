"""Costs from the timeline through the ORM, the Costs page and its CSV, budgets and
ceilings (form, submit task, thresholds), prepaid balances — on fixed clocks."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from controlpanel.audit.models import AuditAction, AuditEntry
from controlpanel.costs import selectors, services
from controlpanel.costs.models import AlertKind, CostAlert, PriceChange
from controlpanel.deployments.models import Deployment, DeploymentEvent
from controlpanel.deployments.services.submission import deployment_submit
from controlpanel.deployments.services.transitions import apply_remote
from controlpanel.deployments.states import State
from controlpanel.limits.models import TeamPolicy
from controlpanel.notifications.models import Notification, NotificationKind
from controlpanel.notifications.services import channel_create
from controlpanel.teams.permissions import Role
from providers.base import Remote, RemoteState
from tests.factories import AccountFactory, DeploymentFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)
MONTH = NOW.replace(day=1, hour=0, minute=0, second=0)


@pytest.fixture(autouse=True)
def queued(monkeypatch):
    from controlpanel.deployments import tasks
    from controlpanel.notifications import tasks as notification_tasks

    sent: dict[str, list[int]] = {"submit": [], "action": []}
    monkeypatch.setattr(tasks.submit_deployment_task, "delay_on_commit", lambda pk: sent["submit"].append(pk))
    monkeypatch.setattr(tasks.deployment_action_task, "delay_on_commit", lambda pk: sent["action"].append(pk))
    monkeypatch.setattr(notification_tasks.deliver_notification_task, "delay_on_commit", lambda pk: None)
    return sent


def ran(deployment, *moves, price: str | None = None):
    """A timeline: created at the first moment, then (moment, state) after (moment, state)."""
    Deployment.objects.filter(pk=deployment.pk).update(
        created_at=moves[0][0],
        state=moves[-1][1],
        state_changed_at=moves[-1][0],
        estimated_price_per_hour=Decimal(price) if price else None,
    )
    before = State.QUEUED
    for moment, state in moves:
        DeploymentEvent.objects.create(
            deployment=deployment,
            kind="state",
            actor_label="worker",
            from_state=before,
            to_state=state,
            created_at=moment,
        )
        before = state
    deployment.refresh_from_db()
    return deployment


def hours_ago(h: float) -> dt.datetime:
    return NOW - dt.timedelta(hours=h)


def test_deployment_cost_reads_the_timeline_and_the_vendors_prices(account):
    d = ran(DeploymentFactory(account=account), (hours_ago(5), State.RUNNING), (hours_ago(3), State.STOPPED), price="1")
    # The vendor later reported $3/h (while it was stopped: it bills only once running again).
    PriceChange.objects.create(deployment=d, at=hours_ago(2.5), price_per_hour=Decimal("3"), source="vendor")
    DeploymentEvent.objects.create(
        deployment=d, kind="state", actor_label="w", from_state="stopped", to_state="running", created_at=hours_ago(2)
    )
    DeploymentEvent.objects.create(
        deployment=d, kind="state", actor_label="w", from_state="running", to_state="stopped", created_at=hours_ago(1)
    )
    assert selectors.deployment_cost(deployment=d, start=hours_ago(6), end=NOW) == Decimal("5")
    assert selectors.deployment_cost(deployment=d, start=hours_ago(2), end=hours_ago(1.5)) == Decimal("1.5")


def test_apply_remote_keeps_each_vendor_price_once(account):
    d = DeploymentFactory(account=account, state=State.RUNNING, external_id="x")
    remote = Remote(
        external_id="x", name=d.name, state=RemoteState.RUNNING, vendor_state="Ready", price_per_hour=Decimal("2.5")
    )
    apply_remote(d, remote)
    apply_remote(d, remote)
    d.refresh_from_db()
    assert d.vendor_price_per_hour == Decimal("2.5")
    assert list(PriceChange.objects.filter(deployment=d).values_list("price_per_hour", "source")) == [
        (Decimal("2.5000"), "vendor")
    ]


def test_cost_report_breaks_down_per_vendor_key_person_and_deployment(team, owner, account):
    other_key = AccountFactory(team=team, vendor="replicate", label="Replicate key")
    a = ran(
        DeploymentFactory(account=account, created_by=owner, name="alpha"), (hours_ago(2), State.RUNNING), price="2"
    )
    b = ran(
        DeploymentFactory(account=other_key, created_by=owner, name="beta"),
        (hours_ago(3), State.RUNNING),
        (hours_ago(1), State.STOPPED),
        price="1",
    )
    start = min(MONTH, hours_ago(24))
    report = selectors.cost_report(team=team, start=start, end=NOW, now=NOW)
    assert report.total.per_hour == Decimal("2")
    assert report.total.range == Decimal("4") + Decimal("2")
    assert {line.label: line.range for line in report.by["vendor"]} == {
        "Together AI": Decimal("4"),
        "Replicate": Decimal("2"),
    }
    assert {line.label for line in report.by["key"]} == {"Together sandbox", "Replicate key"}
    assert [(line.label, line.range) for line in report.by["person"]] == [("olivia", Decimal("6"))]
    assert [line.extra["pk"] for line in report.by["deployment"]] == [a.pk, b.pk]
    assert sum(v for _, _, v in report.chart) == report.total.range


def test_costs_page_and_csv_show_the_same_figures(client, team, owner, account, make_member):
    ran(
        DeploymentFactory(account=account, created_by=owner, name="=cmd"),
        (hours_ago(2), State.RUNNING),
        (hours_ago(1), State.STOPPED),
        price="3",
    )
    viewer = make_member(Role.VIEWER, username="vera")
    client.force_login(viewer)  # everyone in the team may see it
    day = hours_ago(1).date().isoformat()
    query = {"start": (hours_ago(2)).date().isoformat(), "end": day}
    page = client.get(reverse("costs:page"), query)
    assert page.status_code == 200
    html = page.content.decode()
    assert '<svg id="cost-chart"' in html
    assert '<rect class="cost-bar"' in html
    assert "$3.00" in html
    exported = client.get(reverse("costs:export"), query)
    assert exported["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode())))
    assert rows[0][0] == "breakdown"
    total = next(r for r in rows if r[0] == "total")
    assert Decimal(total[5]) == Decimal("3")
    assert next(r for r in rows if r[0] == "deployment")[:2] == ["deployment", "'=cmd"]  # never a formula
    assert {r[0] for r in rows} == {"breakdown", "total", "vendor", "key", "person", "deployment", "chart"}


def test_costs_page_range_errors_are_on_their_fields(logged_in):
    page = logged_in.get(reverse("costs:page"), {"start": "2026-12-10", "end": "2026-12-01"})
    assert page.status_code == 422
    assert "The end comes before the start." in page.content.decode()
    assert logged_in.get(reverse("costs:page"), {"start": "nope"}).status_code == 422
    assert logged_in.get(reverse("costs:export"), {"start": "nope"}).status_code == 422


# --- budgets and ceilings ------------------------------------------------------------------------


def test_the_submit_task_refuses_over_the_ceiling_and_sends_nothing(team, owner, account, respx_mock):
    TeamPolicy.objects.create(team=team, price_ceiling_per_hour=Decimal("1"))
    d = DeploymentFactory(account=account, state=State.QUEUED, estimated_price_per_hour=Decimal("2.5"))
    deployment_submit(deployment_id=d.pk, task_id="t-1")  # respx: any vendor call would fail the test
    d.refresh_from_db()
    assert d.state == State.FAILED
    assert "above the team's ceiling of $1.00/h" in d.events.first().message
    assert AuditEntry.objects.filter(action=AuditAction.DEPLOYMENT_OVER_BUDGET, target_id=str(d.pk)).exists()
    assert not respx_mock.calls


def test_budget_warns_at_80_then_blocks_and_stops_at_100_once(team, owner, account, queued):
    channel_create(team=team, actor=owner, kind="email", name="money", target="m@example.com", events=["budget"])
    policy = TeamPolicy.objects.create(team=team, monthly_budget=Decimal("10"), budget_stops_running=True)
    start = max(MONTH, hours_ago(5))
    running = ran(DeploymentFactory(account=account, external_id="r-1"), (start, State.RUNNING), price="1")
    spent = (NOW - start).total_seconds() / 3600
    policy.monthly_budget = Decimal(str(round(spent / 0.85, 2)))  # 85 % used
    policy.save()
    assert services.team_budget_check(team=team, policy=policy, now=NOW) == "warned"
    assert services.team_budget_check(team=team, policy=policy, now=NOW) == ""  # once a month
    assert queued["action"] == []
    policy.monthly_budget = Decimal(str(round(spent / 1.2, 2)))  # now over
    policy.save()
    assert services.team_budget_check(team=team, policy=policy, now=NOW) == "reached"
    assert services.team_budget_check(team=team, policy=policy, now=NOW) == ""
    running.refresh_from_db()
    assert running.pending_action == "stop"
    assert queued["action"] == [running.pk]
    assert running.events.first().message == "Stop requested: the team's monthly budget is used up"
    kinds = set(AuditEntry.objects.values_list("action", flat=True))
    assert {AuditAction.BUDGET_WARNED, AuditAction.BUDGET_REACHED, AuditAction.DEPLOYMENT_STOPPED} <= kinds
    assert Notification.objects.filter(kind=NotificationKind.BUDGET).count() == 2
    assert set(CostAlert.objects.values_list("kind", flat=True)) == {AlertKind.BUDGET_WARN, AlertKind.BUDGET_OVER}


def test_a_used_up_budget_holds_back_a_start_and_says_why(team, owner, account, queued):
    from django.core.exceptions import ValidationError

    from controlpanel.deployments.services.actions import deployment_request_action
    from providers.base import Action

    start = max(MONTH, hours_ago(5))
    ran(DeploymentFactory(account=account, external_id="r-1"), (start, State.RUNNING), price="1")
    stopped = ran(DeploymentFactory(account=account, external_id="r-2"), (start, State.STOPPED), price="1")
    policy = TeamPolicy.objects.create(team=team, monthly_budget=Decimal("0.01"))
    with pytest.raises(ValidationError, match="monthly budget of \\$0.01 is used up"):
        deployment_request_action(deployment=stopped, actor=owner, action=Action.START)
    stopped.refresh_from_db()
    assert stopped.state == State.STOPPED
    assert queued["submit"] == []
    policy.monthly_budget = Decimal("1000")
    policy.save()
    deployment_request_action(deployment=stopped, actor=owner, action=Action.START)
    assert queued["submit"] == [stopped.pk]


def test_the_form_says_what_the_budget_leaves_and_puts_the_ceiling_on_the_price_field(logged_in, team, account):
    TeamPolicy.objects.create(team=team, monthly_budget=Decimal("100"), price_ceiling_per_hour=Decimal("0.5"))
    page = logged_in.get(reverse("deployments:create", args=["together"]))
    assert "Budget left this month" in page.content.decode()
    assert "$100.00 of $100.00" in page.content.decode()
    data = {
        "account": account.pk,
        "name": "too-dear",
        "image": "registry.together.ai/proj_it/echo:1",
        "gpu_type": "h100-80gb",
        "gpu_count": "1",
        "min_replicas": "1",
        "max_replicas": "1",
        "env-TOTAL_FORMS": "0",
        "env-INITIAL_FORMS": "0",
        "volumes-TOTAL_FORMS": "0",
        "volumes-INITIAL_FORMS": "0",
    }
    answer = logged_in.post(reverse("deployments:create", args=["together"]), data)
    html = answer.content.decode()
    assert "above the team&#x27;s ceiling of $0.50/h" in html or "above the team's ceiling of $0.50/h" in html
    assert not Deployment.objects.filter(name="too-dear").exists()


# --- balances ------------------------------------------------------------------------------------


def test_a_low_balance_warns_once_with_hours_left_and_again_after_it_recovered(team, owner, queued):
    channel_create(team=team, actor=owner, kind="email", name="money", target="m@example.com", events=["budget"])
    nosana = AccountFactory(team=team, vendor="nosana", label="Nosana credits")
    ran(DeploymentFactory(account=nosana, external_id="n-1"), (hours_ago(1), State.RUNNING), price="2")
    ProviderAccountModel = type(nosana)
    ProviderAccountModel.objects.filter(pk=nosana.pk).update(balance=Decimal("10"), balance_checked_at=NOW)
    [balance] = selectors.team_balances(team=team, now=NOW)
    assert balance.burn == Decimal("2")
    assert balance.hours_left == Decimal("5")
    assert services.balances_warn(now=NOW) == [nosana.pk]
    assert services.balances_warn(now=NOW) == []
    [alert] = selectors.team_alerts(team=team, now=NOW)
    assert "about 5.0 hours at the current burn" in alert.message
    ProviderAccountModel.objects.filter(pk=nosana.pk).update(balance=Decimal("500"))
    assert services.balances_warn(now=NOW) == []
    assert selectors.team_alerts(team=team, now=NOW) == []
    ProviderAccountModel.objects.filter(pk=nosana.pk).update(balance=Decimal("1"))
    assert services.balances_warn(now=NOW + dt.timedelta(minutes=1)) == [nosana.pk]
    assert Notification.objects.filter(kind=NotificationKind.BUDGET).count() == 2
