from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from controlpanel.audit.models import AuditAction, AuditEntry
from controlpanel.deployments import services as deployment_services
from controlpanel.deployments.states import State
from controlpanel.limits import services
from controlpanel.limits.models import TeamPolicy
from controlpanel.notifications.models import Notification, NotificationKind
from controlpanel.notifications.services import channel_create
from controlpanel.teams.permissions import Role
from tests.factories import AccountFactory, DeploymentFactory, together_spec

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def queued(monkeypatch):
    """What would reach the broker: submissions and actions, by deployment id."""
    from controlpanel.deployments import tasks
    from controlpanel.notifications import tasks as notification_tasks

    sent: dict[str, list[int]] = {"submit": [], "action": []}
    monkeypatch.setattr(tasks.submit_deployment_task, "delay_on_commit", lambda pk: sent["submit"].append(pk))
    monkeypatch.setattr(tasks.deployment_action_task, "delay_on_commit", lambda pk: sent["action"].append(pk))
    monkeypatch.setattr(notification_tasks.deliver_notification_task, "delay_on_commit", lambda pk: None)
    return sent


@pytest.fixture
def deployer(make_member):
    return make_member(Role.DEPLOYER, username="dana")


@pytest.fixture
def limit(team):
    return TeamPolicy.objects.create(team=team, approval_above_per_hour=Decimal("5.00"))


def create(team, actor, account, price):
    return deployment_services.deployment_create(
        team=team, actor=actor, account=account, spec=together_spec(), estimated_price_per_hour=price
    )


# --- approvals -----------------------------------------------------------------------------------


def test_a_deployer_above_the_limit_waits_and_nothing_is_sent(team, deployer, account, limit, queued):
    deployment = create(team, deployer, account, Decimal("7.50"))
    assert deployment.state == State.AWAITING_APPROVAL
    assert queued["submit"] == []
    event = deployment.events.first()
    assert "about $7.50/h is above the team's $5.00/h limit" in event.message


def test_under_the_limit_or_by_an_admin_goes_straight_through(team, deployer, owner, account, limit, queued):
    assert create(team, deployer, account, Decimal("4.00")).state == State.QUEUED
    assert create(team, owner, account, Decimal("40.00")).state == State.QUEUED
    assert len(queued["submit"]) == 2


def test_an_unknown_price_waits_too(team, deployer, account, limit):
    assert create(team, deployer, account, None).state == State.AWAITING_APPROVAL


def test_approval_queues_it_once_with_an_audit_entry(team, deployer, owner, account, limit, queued):
    deployment = create(team, deployer, account, Decimal("7.50"))
    services.deployment_approve(deployment=deployment, actor=owner)
    services.deployment_approve(deployment=deployment, actor=owner)  # a double click
    deployment.refresh_from_db()
    assert deployment.state == State.QUEUED
    assert queued["submit"] == [deployment.pk]
    assert AuditEntry.objects.filter(action=AuditAction.DEPLOYMENT_APPROVED).count() == 1
    assert deployment.events.first().message.startswith(f"Approved by {owner}")


def test_refusal_needs_a_reason_and_sends_nothing(team, deployer, owner, account, limit, queued):
    deployment = create(team, deployer, account, Decimal("7.50"))
    with pytest.raises(ValidationError):
        services.deployment_refuse(deployment=deployment, actor=owner, reason="  ")
    services.deployment_refuse(deployment=deployment, actor=owner, reason="Use the A100 pool")
    deployment.refresh_from_db()
    assert deployment.state == State.FAILED
    assert deployment.last_error == f"Refused by {owner}: Use the A100 pool"
    assert queued["submit"] == []
    assert AuditEntry.objects.get(action=AuditAction.DEPLOYMENT_REFUSED).summary.endswith("Use the A100 pool")
    with pytest.raises(ValidationError):
        services.deployment_approve(deployment=deployment, actor=owner)


def test_a_refused_deployment_resubmitted_waits_again(team, deployer, owner, account, limit, queued):
    deployment = create(team, deployer, account, Decimal("7.50"))
    services.deployment_refuse(deployment=deployment, actor=owner, reason="too big")
    again = deployment_services.deployment_resubmit(
        deployment=deployment, actor=deployer, spec=together_spec(), estimated_price_per_hour=Decimal("6.00")
    )
    assert again.state == State.AWAITING_APPROVAL
    assert queued["submit"] == []


def test_a_deployer_cannot_approve(team, deployer, account, limit):
    deployment = create(team, deployer, account, Decimal("7.50"))
    with pytest.raises(PermissionDenied):
        services.deployment_approve(deployment=deployment, actor=deployer)


def test_the_deployer_can_withdraw_a_waiting_request(team, deployer, account, limit):
    from providers.base import Action

    deployment = create(team, deployer, account, Decimal("7.50"))
    deployment_services.deployment_request_action(deployment=deployment, actor=deployer, action=Action.DELETE)
    deployment.refresh_from_db()
    assert deployment.state == State.DELETED


def test_approvals_page_and_buttons(client, team, deployer, owner, account, limit, queued):
    deployment = create(team, deployer, account, Decimal("7.50"))
    client.force_login(deployer)
    page = client.get(reverse("limits:approvals")).content.decode()
    assert deployment.name in page
    assert "Approve</button>" not in page
    assert client.post(reverse("limits:approve", args=[deployment.pk])).status_code == 403
    dashboard = client.get(reverse("deployments:dashboard")).content.decode()
    assert "1 deployment waits for an admin's approval" in dashboard

    client.force_login(owner)
    response = client.post(reverse("limits:approve", args=[deployment.pk]), {"next": "approvals"})
    assert response["Location"] == reverse("limits:approvals")
    deployment.refresh_from_db()
    assert deployment.state == State.QUEUED


def test_another_teams_deployment_cannot_be_approved(client, owner, other_team):
    client.force_login(owner)
    theirs = other_team["deployment"]
    assert client.post(reverse("limits:approve", args=[theirs.pk])).status_code == 404


def test_team_limits_are_set_by_admins_and_audited(client, team, owner, deployer):
    client.force_login(deployer)
    data = {"approval_above_per_hour": "5", "default_ttl_hours": "8", "default_ttl_action": "stop"}
    assert client.post(reverse("limits:team"), data).status_code == 403
    client.force_login(owner)
    assert client.post(reverse("limits:team"), {**data, "default_ttl_hours": "-1"}).status_code == 422
    assert client.post(reverse("limits:team"), data).status_code == 302
    policy = TeamPolicy.objects.get(team=team)
    assert policy.approval_above_per_hour == Decimal("5")
    assert policy.default_ttl_hours == 8
    assert "approval above $5.00/h; stop after 8 h" in AuditEntry.objects.get(action=AuditAction.TEAM_LIMITS).summary


# --- time limits ---------------------------------------------------------------------------------


def test_the_team_default_time_limit_applies_at_create(team, owner, account):
    TeamPolicy.objects.create(team=team, default_ttl_hours=8, default_ttl_action="delete")
    deployment = create(team, owner, account, Decimal("1"))
    assert deployment.expiry_action == "delete"
    assert abs((deployment.expires_at - timezone.now()) - dt.timedelta(hours=8)) < dt.timedelta(seconds=5)


def test_a_passed_time_limit_requests_a_stop_once(team, owner, account, queued):
    deployment = DeploymentFactory(account=account, team=team, state=State.RUNNING, external_id="dep-1")
    services.deployment_set_time_limit(deployment=deployment, actor=owner, hours_from_now=2, action="stop")
    assert services.deployments_expire_due() == []
    later = timezone.now() + dt.timedelta(hours=2, seconds=1)
    assert services.deployments_expire_due(now=later) == [deployment.pk]
    assert services.deployments_expire_due(now=later) == []
    deployment.refresh_from_db()
    assert deployment.pending_action == "stop"
    assert deployment.expires_at is None
    assert queued["action"] == [deployment.pk]
    assert deployment.events.first().message == "Stop requested: its time limit was reached"
    entry = AuditEntry.objects.filter(action=AuditAction.DEPLOYMENT_STOPPED).get()
    assert entry.actor is None
    assert "by the panel" in entry.summary


def test_a_vendor_without_stop_is_deleted_and_stop_is_refused_on_the_field(team, owner, queued):
    fluence = AccountFactory(team=team, vendor="fluence", label="Fluence sandbox")
    deployment = DeploymentFactory(account=fluence, team=team, state=State.RUNNING, external_id="vm-1")
    with pytest.raises(ValidationError) as refused:
        services.deployment_set_time_limit(deployment=deployment, actor=owner, hours_from_now=1, action="stop")
    assert "has no stop" in refused.value.message_dict["action"][0]
    services.deployment_set_time_limit(deployment=deployment, actor=owner, hours_from_now=1, action="delete")
    services.deployments_expire_due(now=timezone.now() + dt.timedelta(hours=2))
    deployment.refresh_from_db()
    assert deployment.pending_action == "delete"


def test_extending_moves_the_limit_and_warns_again(team, owner, account):
    channel_create(team=team, actor=owner, kind="email", name="ttl", target="t@example.com", events=["ttl"])
    deployment = DeploymentFactory(account=account, team=team, state=State.RUNNING, external_id="dep-1")
    services.deployment_set_time_limit(deployment=deployment, actor=owner, hours_from_now=0.1, action="stop")
    assert services.deployments_warn_expiring() == [deployment.pk]
    assert services.deployments_warn_expiring() == []  # once per limit
    services.deployment_set_time_limit(deployment=deployment, actor=owner, hours_from_now=0.2, action="stop")
    assert services.deployments_warn_expiring() == [deployment.pk]
    assert Notification.objects.filter(kind=NotificationKind.TTL).count() == 2
    assert AuditEntry.objects.filter(action=AuditAction.DEPLOYMENT_TTL).count() == 2


def test_the_time_scale_makes_hours_pass_in_seconds(settings, team, owner, account):
    settings.PANEL_TIME_SCALE = 3600
    deployment = DeploymentFactory(account=account, team=team, state=State.RUNNING, external_id="dep-1")
    services.deployment_set_time_limit(deployment=deployment, actor=owner, hours_from_now=5, action="stop")
    deployment.refresh_from_db()
    assert deployment.expires_at - timezone.now() < dt.timedelta(seconds=6)


def test_the_page_shows_the_countdown_and_a_viewer_cannot_change_it(client, team, owner, account, make_member):
    deployment = DeploymentFactory(account=account, team=team, state=State.RUNNING, external_id="dep-1")
    services.deployment_set_time_limit(deployment=deployment, actor=owner, hours_from_now=3, action="stop")
    client.force_login(make_member(Role.VIEWER, username="vic"))
    page = client.get(reverse("deployments:detail", args=[deployment.pk])).content.decode()
    assert "Stops" in page
    assert "Remove the limit" not in page
    assert client.post(reverse("limits:time_limit", args=[deployment.pk]), {"clear": "1"}).status_code == 403
    dashboard = client.get(reverse("deployments:dashboard")).content.decode()
    assert "stops in 2" in dashboard  # "2 hours, 59 minutes"
