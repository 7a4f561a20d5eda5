from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from controlpanel.core.models import Heartbeat
from controlpanel.credentials import crypto
from controlpanel.credentials.services import account_mark_refused
from controlpanel.deployments.models import DeploymentEvent, EventKind
from controlpanel.deployments.services.transitions import deployment_transition
from controlpanel.deployments.states import State
from controlpanel.notifications import services, watch
from controlpanel.notifications.models import Channel, Delivery, Notification, NotificationKind
from tests.factories import DeploymentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def queued(monkeypatch):
    from controlpanel.notifications import tasks

    sent: list = []
    monkeypatch.setattr(tasks.deliver_notification_task, "delay_on_commit", lambda pk: sent.append(pk))
    monkeypatch.setattr(tasks.deliver_notification_task, "delay", lambda pk: sent.append(pk))
    return sent


@pytest.fixture
def channel(team, owner):
    made, _ = services.channel_create(
        team=team, actor=owner, kind="email", name="ops", target="ops@example.com", events=["state", "failure"]
    )
    return made


def later():
    return timezone.now() + dt.timedelta(seconds=10)


def test_state_changes_become_notifications_in_one_pass(team, account, channel, queued):
    deployments = [DeploymentFactory(account=account, team=team, state=State.PROVISIONING) for _ in range(3)]
    for deployment in deployments:
        deployment_transition(deployment=deployment, to=State.RUNNING, message="ready")
    deployment_transition(deployment=deployments[0], to=State.FAILED, message="out of memory")

    assert services.notifications_dispatch(now=later()) == 4
    subjects = sorted(Notification.objects.values_list("subject", flat=True))
    assert f"{deployments[0].name} on Together AI is failed" in subjects
    assert Notification.objects.filter(kind=NotificationKind.FAILURE).count() == 1
    assert len(queued) == Delivery.objects.count() == 4
    # Read once: the next pass finds nothing new.
    assert services.notifications_dispatch(now=later()) == 0


def test_lines_too_fresh_wait_for_the_next_pass(team, account, channel):
    deployment = DeploymentFactory(account=account, team=team, state=State.PROVISIONING)
    deployment_transition(deployment=deployment, to=State.RUNNING)
    assert services.notifications_dispatch(now=timezone.now()) == 0
    assert services.notifications_dispatch(now=later()) == 1


def test_only_what_a_channel_listens_for_is_told(team, owner, account):
    services.channel_create(team=team, actor=owner, kind="email", name="f", target="f@example.com", events=["failure"])
    deployment = DeploymentFactory(account=account, team=team, state=State.PROVISIONING)
    deployment_transition(deployment=deployment, to=State.RUNNING)
    assert services.notifications_dispatch(now=later()) == 0
    deployment_transition(deployment=deployment, to=State.LOST, message="gone")
    assert services.notifications_dispatch(now=later()) == 1


def test_other_teams_channels_hear_nothing(team, account, other_team):
    Channel.objects.create(
        team=other_team["team"], kind="email", name="theirs", target_encrypted="x", target_hint="x", events=["state"]
    )
    deployment = DeploymentFactory(account=account, team=team, state=State.PROVISIONING)
    deployment_transition(deployment=deployment, to=State.RUNNING)
    assert services.notifications_dispatch(now=later()) == 0
    assert not Notification.objects.exists()


def test_error_lines_are_failures(team, account, channel):
    deployment = DeploymentFactory(account=account, team=team, state=State.RUNNING)
    DeploymentEvent.objects.create(
        deployment=deployment, kind=EventKind.ERROR, actor_label="worker", message="Together AI answered 500"
    )
    assert services.notifications_dispatch(now=later()) == 1
    assert Notification.objects.get().kind == NotificationKind.FAILURE


def test_a_refused_key_is_told_once(team, owner, account):
    services.channel_create(
        team=team, actor=owner, kind="email", name="keys", target="k@example.com", events=["key_refused"]
    )
    account_mark_refused(account=account, message="Together AI refused the key: invalid api key")
    account_mark_refused(account=account, message="Together AI refused the key: invalid api key")
    notification = Notification.objects.get()
    assert notification.kind == NotificationKind.KEY_REFUSED
    assert account.label in notification.subject
    assert crypto.decrypt(account.encrypted_key) not in notification.body + notification.subject


def test_publish_with_a_dedupe_key_tells_once(team, channel):
    first = services.notification_publish(team=team, kind="state", subject="x", dedupe_key="budget:2026-12:80")
    second = services.notification_publish(team=team, kind="state", subject="x", dedupe_key="budget:2026-12:80")
    assert first is not None
    assert second is None
    assert Delivery.objects.count() == 1


def test_worker_down_is_sent_by_beat_once_and_back_once(team, owner):
    from django.core import mail

    services.channel_create(team=team, actor=owner, kind="email", name="w", target="w@example.com", events=["worker"])
    started = timezone.now() - dt.timedelta(minutes=10)
    Heartbeat.objects.create(kind="worker", hostname="w1", seen_at=timezone.now() - dt.timedelta(minutes=5))

    assert watch.worker_watch(started_at=started) == "down"
    assert watch.worker_watch(started_at=started) == ""  # once per outage
    # Sent from beat itself, with no worker: already in the outbox.
    assert [m.subject for m in mail.outbox] == ["The panel's worker is down"]

    Heartbeat.objects.filter(hostname="w1").update(seen_at=timezone.now())
    assert watch.worker_watch(started_at=started) == "back"
    assert watch.worker_watch(started_at=started) == ""
    assert Notification.objects.filter(subject="The panel's worker is back").count() == 1


def test_a_worker_never_seen_is_down_only_after_beat_waited(team, owner):
    services.channel_create(team=team, actor=owner, kind="email", name="w", target="w@example.com", events=["worker"])
    assert watch.worker_watch(started_at=timezone.now()) == ""
    assert watch.worker_watch(started_at=timezone.now() - dt.timedelta(minutes=5)) == "down"
