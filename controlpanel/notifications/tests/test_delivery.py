from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest
import respx
from django.core import mail
from django.utils import timezone

from controlpanel.notifications import services
from controlpanel.notifications.models import Channel, Delivery, DeliveryStatus, Notification
from controlpanel.notifications.tests.receiver import Receiver
from controlpanel.notifications.transports import sign

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def queued(monkeypatch):
    """Record what would be queued instead of reaching a broker."""
    from controlpanel.notifications import tasks

    queued: list = []
    monkeypatch.setattr(tasks.deliver_notification_task, "delay_on_commit", lambda pk: queued.append(pk))
    monkeypatch.setattr(tasks.deliver_notification_task, "delay", lambda pk: queued.append(pk))
    monkeypatch.setattr(
        tasks.deliver_notification_task, "apply_async", lambda args, countdown=0: queued.append((args[0], countdown))
    )
    return queued


def make_channel(team, owner, kind: str, target: str, events=("state",)) -> tuple[Channel, str]:
    return services.channel_create(team=team, actor=owner, kind=kind, name=f"{kind} one", target=target, events=events)


def publish(team, **extra) -> Notification:
    notification = services.notification_publish(
        team=team, kind="state", subject="web-1 on Together AI is running", body="it runs", **extra
    )
    assert notification is not None
    return notification


def test_signed_webhook_is_retried_with_backoff_and_verifies_at_the_receiver(team, owner, settings, queued):
    settings.PANEL_NOTIFY_RETRY_BASE_SECONDS = 10
    with Receiver(answers=[500, 200]) as receiver:
        channel, secret = make_channel(team, owner, "webhook", receiver.url)
        receiver.secret = secret
        delivery = publish(team).deliveries.get()

        first = services.delivery_send(delivery_id=delivery.pk)
        assert first.status == DeliveryStatus.PENDING
        assert first.attempts == 1
        assert first.next_attempt_at > timezone.now() + dt.timedelta(seconds=9)
        assert (delivery.pk, 10.0) in queued
        # Not due yet: a second worker picking it up early sends nothing.
        assert services.delivery_send(delivery_id=delivery.pk) is None

        later = first.next_attempt_at + dt.timedelta(seconds=1)
        second = services.delivery_send(delivery_id=delivery.pk, now=later)
    assert second.status == DeliveryStatus.DELIVERED
    assert [r["signature_ok"] for r in receiver.received] == [True, True]
    payload = receiver.payloads()[0]
    assert payload["kind"] == "state"
    assert payload["subject"] == "web-1 on Together AI is running"
    assert payload["team"]["name"] == team.name
    headers = receiver.received[0]["headers"]
    assert headers["X-Panel-Delivery"] == str(delivery.pk)
    attempts = list(second.attempt_log.order_by("at"))
    assert [(a.ok, a.status_code) for a in attempts] == [(False, 500), (True, 200)]
    assert attempts[0].response == "receiver says no"
    channel.refresh_from_db()
    assert channel.consecutive_failures == 0
    assert channel.last_delivered_at is not None


def test_a_forged_or_stale_signature_fails_the_receivers_check():
    receiver = Receiver(secret="whsec_x")
    body = b'{"a":1}'
    now = str(int(timezone.now().timestamp()))
    assert receiver.verify({"X-Panel-Timestamp": now, "X-Panel-Signature": sign("whsec_x", now, body)}, body)
    assert not receiver.verify({"X-Panel-Timestamp": now, "X-Panel-Signature": sign("other", now, body)}, body)
    old = str(int(timezone.now().timestamp()) - 3600)
    assert not receiver.verify({"X-Panel-Timestamp": old, "X-Panel-Signature": sign("whsec_x", old, body)}, body)
    receiver.server.server_close()


def test_a_4xx_is_not_retried(team, owner, queued):
    with Receiver(answers=[410]) as receiver:
        make_channel(team, owner, "webhook", receiver.url)
        delivery = publish(team).deliveries.get()
        done = services.delivery_send(delivery_id=delivery.pk)
    assert done.status == DeliveryStatus.FAILED
    assert "410" in done.last_error
    assert not [q for q in queued if isinstance(q, tuple)]


def test_a_429_is_retried(team, owner):
    with Receiver(answers=[429]) as receiver:
        make_channel(team, owner, "webhook", receiver.url)
        delivery = publish(team).deliveries.get()
        assert services.delivery_send(delivery_id=delivery.pk).status == DeliveryStatus.PENDING


def test_backoff_doubles_and_is_capped(settings):
    settings.PANEL_NOTIFY_RETRY_BASE_SECONDS = 10
    assert [services.backoff(n) for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
    assert services.backoff(30) == 3600


def test_gives_up_after_the_last_attempt(team, owner, settings):
    settings.PANEL_NOTIFY_MAX_ATTEMPTS = 2
    with Receiver(answers=[503, 503]) as receiver:
        make_channel(team, owner, "webhook", receiver.url)
        delivery = publish(team).deliveries.get()
        services.delivery_send(delivery_id=delivery.pk)
        later = timezone.now() + dt.timedelta(hours=1)
        assert services.delivery_send(delivery_id=delivery.pk, now=later).status == DeliveryStatus.FAILED


def test_a_channel_that_keeps_failing_is_marked_and_not_retried(team, owner, settings):
    settings.PANEL_NOTIFY_FAILING_AFTER = 3
    with Receiver(answers=[500] * 5) as receiver:
        channel, _ = make_channel(team, owner, "webhook", receiver.url)
        deliveries = [publish(team, dedupe_key=f"n{i}").deliveries.get() for i in range(4)]
        for delivery in deliveries[:3]:
            services.delivery_send(delivery_id=delivery.pk)
    channel.refresh_from_db()
    assert channel.is_failing
    assert "500" in channel.failure_reason
    assert {d.status for d in Delivery.objects.filter(pk__in=[d.pk for d in deliveries])} == {DeliveryStatus.SKIPPED}
    # Nobody is told through a failing channel any more, until a person switches it on again.
    assert services.notification_publish(team=team, kind="state", subject="later") is None
    services.channel_update(channel=channel, actor=owner, events=["state"], enabled=True)
    channel.refresh_from_db()
    assert not channel.is_failing
    assert channel.consecutive_failures == 0


def test_slack_gets_its_documented_text_shape(team, owner):
    url = "https://hooks.slack.com/services/T000/B000/XXXX"
    make_channel(team, owner, "slack", url)
    delivery = services.notification_publish(
        team=team, kind="state", subject="web <1> is running", body="on Together & co"
    ).deliveries.get()
    with respx.mock() as mock:
        route = mock.post(url).mock(return_value=httpx.Response(200, text="ok"))
        assert services.delivery_send(delivery_id=delivery.pk).status == DeliveryStatus.DELIVERED
    assert json.loads(route.calls[0].request.content) == {"text": "*web &lt;1&gt; is running*\non Together &amp; co"}


def test_email_goes_to_every_address(team, owner):
    make_channel(team, owner, "email", "ops@example.com, oncall@example.com")
    delivery = publish(team).deliveries.get()
    assert services.delivery_send(delivery_id=delivery.pk).status == DeliveryStatus.DELIVERED
    assert mail.outbox[-1].to == ["ops@example.com", "oncall@example.com"]
    assert mail.outbox[-1].subject == "web-1 on Together AI is running"


def test_a_timeout_is_retried(team, owner, settings):
    make_channel(team, owner, "webhook", "https://receiver.example/hook")
    delivery = publish(team).deliveries.get()
    with respx.mock() as mock:
        mock.post("https://receiver.example/hook").mock(side_effect=httpx.ReadTimeout("slow"))
        done = services.delivery_send(delivery_id=delivery.pk)
    assert done.status == DeliveryStatus.PENDING
    assert "Timed out" in done.last_error


def test_a_lost_delivery_is_found_by_the_sweep(team, owner, settings):
    make_channel(team, owner, "email", "ops@example.com")
    delivery = publish(team).deliveries.get()
    assert services.deliveries_due() == []
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - dt.timedelta(minutes=10))
    assert services.deliveries_due() == [delivery.pk]
    # A worker killed mid-send: its claim lapses and the sweep finds it too.
    Delivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.SENDING, claimed_until=timezone.now() - dt.timedelta(seconds=1)
    )
    assert services.deliveries_due() == [delivery.pk]


def test_the_target_and_secret_are_encrypted_at_rest(team, owner):
    channel, secret = make_channel(team, owner, "webhook", "https://receiver.example/hook?token=abc")
    row = json.dumps(Channel.objects.values().get(pk=channel.pk), default=str)
    assert "token=abc" not in row
    assert secret not in row
    assert channel.target_hint == "https://receiver.example/…=abc"  # the host and the last four only
