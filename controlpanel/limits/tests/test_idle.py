"""The idle rule: a Replicate deployment kept warm with no prediction for N minutes is
scaled to zero (min 0, max kept) once, through the pending-action machinery."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from controlpanel.audit.models import AuditAction, AuditEntry
from controlpanel.deployments.states import State
from controlpanel.limits import services
from controlpanel.limits.models import TeamPolicy
from controlpanel.teams.permissions import Role
from tests.factories import AccountFactory, DeploymentFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def queued(monkeypatch):
    from controlpanel.deployments import tasks

    sent: list[int] = []
    monkeypatch.setattr(tasks.deployment_action_task, "delay_on_commit", lambda pk: sent.append(pk))
    return sent


def raw(*, low: int = 1, high: int = 3, predictions: list[dict] | None = None) -> dict:
    """A deployment as Replicate answers it, with the poll's summary of its predictions."""
    return {
        "owner": "acme",
        "name": "sdxl",
        "current_release": {
            "number": 1,
            "model": "stability-ai/sdxl",
            "version": "abc",
            "configuration": {"hardware": "gpu-a40-large", "min_instances": low, "max_instances": high},
        },
        "recent_predictions": predictions or [],
    }


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def replicate(team):
    return AccountFactory(team=team, vendor="replicate", label="Replicate sandbox")


@pytest.fixture
def warm(replicate):
    """Running since T0 with one instance kept warm, last read at T0 + 40 minutes."""
    return DeploymentFactory(
        account=replicate,
        state=State.RUNNING,
        state_changed_at=T0,
        external_id="acme/sdxl",
        spec={"name": "sdxl", "min_instances": 1, "max_instances": 3},
        raw=raw(),
        checked_at=at(40),
        vendor_state="idle",
    )


def policy(team, minutes):
    return TeamPolicy.objects.create(team=team, idle_minutes=minutes)


def test_idle_for_the_team_minutes_is_scaled_to_zero_once_keeping_the_maximum(team, warm, queued):
    policy(team, 30)
    assert services.deployments_scale_idle(now=at(29)) == []
    assert services.deployments_scale_idle(now=at(31)) == [warm.pk]
    assert services.deployments_scale_idle(now=at(32)) == []  # pending already: once
    warm.refresh_from_db()
    assert (warm.pending_action, warm.pending_params) == ("scale", {"min_instances": 0, "max_instances": 3})
    assert warm.pending_actor is None
    assert queued == [warm.pk]
    event = warm.events.first()
    assert event.message.startswith("Scale to zero requested (min 0, max 3): no work for 30 minutes (idle rule)")
    entry = AuditEntry.objects.get(action=AuditAction.DEPLOYMENT_SCALED)
    assert entry.actor is None
    assert "by the panel" in entry.summary


def test_a_recent_prediction_keeps_it_warm_and_is_remembered(team, warm):
    policy(team, 30)
    warm.raw = raw(
        predictions=[{"id": "p1", "status": "succeeded", "created_at": iso(at(19)), "completed_at": iso(at(20))}]
    )
    warm.save()
    assert services.deployments_scale_idle(now=at(45)) == []  # 25 minutes after the prediction
    warm.refresh_from_db()
    assert warm.idle_activity_at == at(20)
    # The prediction ages out of the vendor's window; the sweep still knows it.
    warm.raw, warm.checked_at = raw(), at(51)
    warm.save()
    assert services.deployments_scale_idle(now=at(49)) == []
    assert services.deployments_scale_idle(now=at(51)) == [warm.pk]


def test_work_in_progress_or_nothing_kept_warm_is_left_alone(team, warm, replicate):
    policy(team, 5)
    warm.raw = raw(predictions=[{"id": "p1", "status": "processing", "created_at": iso(at(1))}])
    warm.save()
    cold = DeploymentFactory(
        account=replicate,
        state=State.RUNNING,
        state_changed_at=T0,
        external_id="acme/cold",
        raw=raw(low=0),
        checked_at=at(40),
    )
    assert services.deployments_scale_idle(now=at(40)) == []
    cold.refresh_from_db()
    assert cold.pending_action == ""


def test_a_stale_read_does_not_count_as_idle(team, warm):
    policy(team, 30)
    warm.checked_at = at(10)  # the poll stalled: what happened since is unknown
    warm.save()
    assert services.deployments_scale_idle(now=at(60)) == []


def test_the_deployments_own_rule_overrides_the_team(team, owner, warm):
    policy(team, 30)
    services.deployment_set_idle_rule(deployment=warm, actor=owner, minutes=0)
    warm.refresh_from_db()
    warm.checked_at = timezone.now() + dt.timedelta(hours=2)
    warm.save()
    assert services.deployments_scale_idle(now=timezone.now() + dt.timedelta(hours=2)) == []
    services.deployment_set_idle_rule(deployment=warm, actor=owner, minutes=10)
    assert services.deployments_scale_idle(now=timezone.now() + dt.timedelta(minutes=9)) == []
    assert services.deployments_scale_idle(now=timezone.now() + dt.timedelta(minutes=11)) == [warm.pk]
    entries = AuditEntry.objects.filter(action=AuditAction.DEPLOYMENT_IDLE_RULE).order_by("pk")
    assert [e.summary for e in entries] == [
        f"Idle rule: never scaled to zero: {warm.name}",
        f"Idle rule: scaled to zero after 10 minutes without work: {warm.name}",
    ]


def test_a_vendor_that_reports_no_use_has_no_idle_rule(team, owner, account):
    deployment = DeploymentFactory(account=account, state=State.RUNNING, external_id="dep-1")
    with pytest.raises(ValidationError) as refused:
        services.deployment_set_idle_rule(deployment=deployment, actor=owner, minutes=10)
    assert "reports no activity" in refused.value.message_dict["minutes"][0]


def test_the_time_scale_makes_minutes_pass_in_seconds(settings, team, warm):
    settings.PANEL_TIME_SCALE = 600  # a minute in a tenth of a second
    policy(team, 30)
    assert services.deployments_scale_idle(now=T0 + dt.timedelta(seconds=2)) == []
    assert services.deployments_scale_idle(now=T0 + dt.timedelta(seconds=4)) == [warm.pk]


def test_the_page_offers_the_rule_and_validates_it_on_the_field(client, team, owner, warm, make_member):
    policy(team, 30)
    client.force_login(owner)
    page = client.get(reverse("deployments:detail", args=[warm.pk])).content.decode()
    assert "Idle rule" in page
    assert "the team's default (30 minutes)" in page
    url = reverse("limits:idle_rule", args=[warm.pk])
    response = client.post(url, {"rule": "minutes", "minutes": ""}, follow=True)
    assert "How many minutes without a prediction?" in response.content.decode()
    assert client.post(url, {"rule": "minutes", "minutes": "15"}).status_code == 302
    warm.refresh_from_db()
    assert warm.idle_minutes == 15
    assert warm.events.first().message == "Idle rule: scaled to zero after 15 minutes without work"
    client.force_login(make_member(Role.VIEWER, username="vic"))
    assert client.post(url, {"rule": "never"}).status_code == 403


def test_team_default_is_set_on_team_limits(client, team, owner):
    client.force_login(owner)
    data = {"approval_above_per_hour": "", "default_ttl_hours": "", "default_ttl_action": "stop"}
    assert client.post(reverse("limits:team"), {**data, "idle_minutes": "0"}).status_code == 422
    assert client.post(reverse("limits:team"), {**data, "idle_minutes": "20"}).status_code == 302
    assert TeamPolicy.objects.get(team=team).idle_minutes == 20
    assert AuditEntry.objects.get(action=AuditAction.TEAM_LIMITS).summary.endswith(
        "scale idle to zero after 20 min; no budget; no ceiling"
    )
