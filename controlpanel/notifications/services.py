"""Every write of the notifications app: channels, publishing, dispatch, delivery.

Nothing here sends inline from a poll or a view: publishing writes rows and queues a
delivery task on commit; a worker claims the delivery (claim by update) and sends it;
a beat sweep re-queues what is due from the database. The one exception is "worker
down", which no worker can send: beat sends it itself (see ``watch.py``).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from controlpanel.audit.models import AuditAction
from controlpanel.audit.services import audit_record
from controlpanel.credentials import crypto
from controlpanel.deployments.models import Deployment, DeploymentEvent, EventKind
from controlpanel.deployments.states import State
from controlpanel.notifications import transports
from controlpanel.notifications.models import (
    Channel,
    ChannelKind,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    DispatchCursor,
    Notification,
    NotificationKind,
)
from controlpanel.teams.models import Team
from controlpanel.teams.permissions import Perm
from controlpanel.teams.services import require_perm

logger = logging.getLogger(__name__)

# --- channels ------------------------------------------------------------------------------------


def _hint(kind: str, target: str) -> str:
    """What a page may show of a target: a URL's host and the last few characters (a Slack
    webhook URL is a credential), or the email addresses themselves."""
    if kind == ChannelKind.EMAIL:
        return target[:120]
    parts = urlsplit(target)
    return f"{parts.scheme}://{parts.netloc}/…{target[-4:]}"[:120]


@transaction.atomic
def channel_create(
    *, team: Team, actor: AbstractBaseUser, kind: str, name: str, target: str, events: Iterable[str]
) -> tuple[Channel, str]:
    """A new channel; returns it and, for a webhook, its signing secret (shown once)."""
    require_perm(actor=actor, team=team, perm=Perm.MANAGE_NOTIFICATIONS)
    secret = f"whsec_{secrets.token_urlsafe(32)}" if kind == ChannelKind.WEBHOOK else ""
    channel = Channel(
        team=team,
        kind=kind,
        name=name,
        target_encrypted=crypto.encrypt(target),
        target_hint=_hint(kind, target),
        secret_encrypted=crypto.encrypt(secret) if secret else "",
        events=sorted(set(events)),
        created_by=actor,
    )
    try:
        with transaction.atomic():
            channel.save()
    except IntegrityError:
        raise ValidationError({"name": "This team already has a channel with that name."}) from None
    audit_record(
        team=team,
        actor=actor,
        action=AuditAction.CHANNEL_ADDED,
        summary=f"Added the {channel.get_kind_display()} channel “{name}”",
        target=channel,
        data={"kind": kind, "events": channel.events, "target": channel.target_hint},
    )
    return channel, secret


@transaction.atomic
def channel_update(*, channel: Channel, actor: AbstractBaseUser, events: Iterable[str], enabled: bool) -> Channel:
    """Change what a channel hears, or switch it on or off. Switching a failing channel on
    clears its failure count: a person fixed the receiver and says to try again."""
    require_perm(actor=actor, team=channel.team, perm=Perm.MANAGE_NOTIFICATIONS)
    channel.events = sorted(set(events))
    channel.enabled = enabled
    if enabled:
        channel.consecutive_failures, channel.failing_since, channel.failure_reason = 0, None, ""
    channel.save(update_fields=["events", "enabled", "consecutive_failures", "failing_since", "failure_reason"])
    audit_record(
        team=channel.team,
        actor=actor,
        action=AuditAction.CHANNEL_CHANGED,
        summary=f"{'Switched on' if enabled else 'Switched off'} the channel “{channel.name}”",
        target=channel,
        data={"events": channel.events, "enabled": enabled},
    )
    return channel


@transaction.atomic
def channel_delete(*, channel: Channel, actor: AbstractBaseUser) -> None:
    require_perm(actor=actor, team=channel.team, perm=Perm.MANAGE_NOTIFICATIONS)
    audit_record(
        team=channel.team,
        actor=actor,
        action=AuditAction.CHANNEL_DELETED,
        summary=f"Deleted the channel “{channel.name}”",
        target=channel,  # recorded by type, id and name before the row goes
        data={"kind": channel.kind, "target": channel.target_hint},
    )
    channel.delete()


@transaction.atomic
def channel_send_test(*, channel: Channel, actor: AbstractBaseUser) -> Delivery:
    """A test message to this channel alone, through the same worker path as the rest."""
    require_perm(actor=actor, team=channel.team, perm=Perm.MANAGE_NOTIFICATIONS)
    notification = Notification.objects.create(
        team=channel.team,
        kind=channel.events[0] if channel.events else NotificationKind.STATE,
        subject=f"Test message from the GPU control panel to “{channel.name}”",
        body=f"Sent by {actor} to check that this channel works.",
        data={"test": True},
    )
    delivery = Delivery.objects.create(channel=channel, notification=notification)
    _queue([delivery.pk])
    return delivery


# --- publishing ----------------------------------------------------------------------------------


def notification_publish(
    *,
    team: Team,
    kind: NotificationKind | str,
    subject: str,
    body: str = "",
    deployment: Deployment | None = None,
    data: dict[str, Any] | None = None,
    dedupe_key: str = "",
) -> Notification | None:
    """Tell ``team``'s channels that subscribe to ``kind``. With a ``dedupe_key`` the same
    thing published twice (two workers, a retried task) is told once. Deliveries are
    queued when the caller's transaction commits. Returns None when nobody listens."""
    channels = list(_listening(team_ids=[team.pk], kind=kind))
    if not channels:
        return None
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                team=team,
                kind=kind,
                subject=subject[:200],
                body=body,
                deployment=deployment,
                data=data or {},
                dedupe_key=dedupe_key[:200],
            )
    except IntegrityError:
        return None  # told already
    deliveries = Delivery.objects.bulk_create(Delivery(channel=c, notification=notification) for c in channels)
    _queue([d.pk for d in deliveries])
    return notification


def _listening(*, team_ids: Iterable[int], kind: str) -> Iterable[Channel]:
    # JSON containment is not on every database (SQLite): filter the few channels in Python.
    candidates = Channel.objects.filter(team_id__in=list(team_ids), enabled=True, failing_since__isnull=True)
    return [channel for channel in candidates if kind in channel.events]


def _queue(delivery_ids: list[int]) -> None:
    from controlpanel.notifications.tasks import deliver_notification_task

    for pk in delivery_ids:
        deliver_notification_task.delay_on_commit(pk)


# --- from the deployments' timeline --------------------------------------------------------------

# A state change people want to hear about, and which kind of news it is.
STATE_NEWS = {
    State.RUNNING: NotificationKind.STATE,
    State.STOPPED: NotificationKind.STATE,
    State.DELETED: NotificationKind.STATE,
    State.FAILED: NotificationKind.FAILURE,
    State.LOST: NotificationKind.FAILURE,
}
# A row committed a little after a later one got its id would be skipped by a cursor that
# read right up to now; reading only lines older than this leaves them time to commit.
DISPATCH_LAG = dt.timedelta(seconds=5)
DISPATCH_BATCH = 2000


def _news(event: DeploymentEvent) -> tuple[str, str] | None:
    """(kind, subject) of a timeline line worth telling, or None."""
    deployment = event.deployment
    where = f"{deployment.name} on {deployment.get_vendor_display()}"
    if event.kind == EventKind.STATE and event.to_state in STATE_NEWS:
        label = State(event.to_state).label
        return STATE_NEWS[State(event.to_state)], f"{where} is {label.lower()}"
    if event.kind == EventKind.ERROR:
        return NotificationKind.FAILURE, f"{where}: {event.message}"[:200]
    return None


def notifications_dispatch(*, now: dt.datetime | None = None) -> int:
    """Read the timeline lines written since the last dispatch and turn the ones some
    channel listens for into notifications: one pass over the event table per sweep, in
    bulk, so a poll that changes 5,000 rows costs the poll nothing. Returns how many
    notifications it made."""
    now = now or timezone.now()
    with transaction.atomic():
        cursor, _ = DispatchCursor.objects.get_or_create(name="deployment-events")
        cursor = DispatchCursor.objects.select_for_update().get(pk=cursor.pk)  # one dispatcher at a time
        events = list(
            DeploymentEvent.objects.filter(pk__gt=cursor.last_event_id, created_at__lte=now - DISPATCH_LAG)
            .select_related("deployment")
            .order_by("pk")[:DISPATCH_BATCH]
        )
        if not events:
            return 0
        cursor.last_event_id = events[-1].pk
        cursor.save(update_fields=["last_event_id"])
        made = _notify_events(events)
    return made


def _notify_events(events: list[DeploymentEvent]) -> int:
    team_ids = {event.deployment.team_id for event in events}
    channels = list(Channel.objects.filter(team_id__in=team_ids, enabled=True, failing_since__isnull=True))
    if not channels:
        return 0
    made = 0
    deliveries: list[Delivery] = []
    for event in events:
        news = _news(event)
        if news is None:
            continue
        kind, subject = news
        listeners = [c for c in channels if c.team_id == event.deployment.team_id and kind in c.events]
        if not listeners:
            continue
        notification = Notification.objects.create(
            team_id=event.deployment.team_id,
            kind=kind,
            subject=subject,
            body=_event_body(event),
            deployment=event.deployment,
            source_event=event,
            data=_event_data(event),
        )
        deliveries += [Delivery(channel=c, notification=notification) for c in listeners]
        made += 1
    created = Delivery.objects.bulk_create(deliveries)
    _queue([d.pk for d in created])
    return made


def _event_body(event: DeploymentEvent) -> str:
    lines = [event.message] if event.message else []
    lines.append(f"{settings.PANEL_BASE_URL}/deployments/{event.deployment_id}/")
    return "\n".join(lines)


def _event_data(event: DeploymentEvent) -> dict[str, Any]:
    deployment = event.deployment
    return {
        "deployment": {
            "id": deployment.pk,
            "name": deployment.name,
            "vendor": deployment.vendor,
            "state": deployment.state,
            "external_id": deployment.external_id,
        },
        "event": {
            "id": event.pk,
            "kind": event.kind,
            "from_state": event.from_state,
            "to_state": event.to_state,
            "message": event.message,
            "actor": event.actor_label,
            "at": event.created_at.isoformat(),
        },
    }


# --- delivery ------------------------------------------------------------------------------------


def backoff(attempts: int) -> float:
    """Seconds before try ``attempts + 1``: 10 s, 20 s, 40 s … capped at an hour."""
    return float(min(settings.PANEL_NOTIFY_RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1), 3600))


def _claim(delivery_id: int, now: dt.datetime) -> Delivery | None:
    claimable = Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now) | Q(
        status=DeliveryStatus.SENDING, claimed_until__lt=now
    )
    claimed = Delivery.objects.filter(claimable, pk=delivery_id).update(
        status=DeliveryStatus.SENDING,
        claimed_until=now + dt.timedelta(seconds=settings.PANEL_NOTIFY_TIMEOUT_SECONDS * 3),
        attempts=F("attempts") + 1,
    )
    if not claimed:
        return None  # sent, not due yet, or another worker has it
    return Delivery.objects.select_related("channel", "notification").get(pk=delivery_id)


def delivery_send(*, delivery_id: int, now: dt.datetime | None = None) -> Delivery | None:
    """Claim one delivery and try it once; schedule the next try or give up. Returns the
    delivery after the try, or None if it was not ours to send."""
    now = now or timezone.now()
    delivery = _claim(delivery_id, now)
    if delivery is None:
        return None
    channel = delivery.channel
    if not channel.enabled or channel.is_failing:
        Delivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.SKIPPED, claimed_until=None, last_error="The channel is off or failing"
        )
        return delivery
    started = time.monotonic()
    try:
        answer = _send(delivery)
    except transports.TransportError as exc:
        _record_attempt(delivery, ok=False, answer=exc.answer, error=exc.message, started=started)
        _failed(delivery, exc, now=now)
    else:
        _record_attempt(delivery, ok=True, answer=answer, error="", started=started)
        Delivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.DELIVERED, delivered_at=timezone.now(), claimed_until=None, last_error=""
        )
        Channel.objects.filter(pk=channel.pk).update(consecutive_failures=0, last_delivered_at=timezone.now())
    delivery.refresh_from_db()
    return delivery


def _send(delivery: Delivery) -> transports.Answer:
    channel, notification = delivery.channel, delivery.notification
    target = crypto.decrypt(channel.target_encrypted)
    if channel.kind == ChannelKind.WEBHOOK:
        return transports.send_webhook(
            url=target,
            secret=crypto.decrypt(channel.secret_encrypted),
            payload=webhook_payload(notification),
            delivery_id=delivery.pk,
        )
    if channel.kind == ChannelKind.SLACK:
        return transports.send_slack(url=target, subject=notification.subject, body=notification.body)
    addresses = [address.strip() for address in target.split(",") if address.strip()]
    return transports.send_email(addresses=addresses, subject=notification.subject, body=notification.body)


def webhook_payload(notification: Notification) -> dict[str, Any]:
    return {
        "id": notification.pk,
        "kind": notification.kind,
        "team": {"id": notification.team_id, "name": notification.team.name},
        "subject": notification.subject,
        "body": notification.body,
        "data": notification.data,
        "created_at": notification.created_at.isoformat(),
    }


def _record_attempt(delivery: Delivery, *, ok: bool, answer: transports.Answer, error: str, started: float) -> None:
    DeliveryAttempt.objects.create(
        delivery=delivery,
        ok=ok,
        status_code=answer.status_code,
        response=answer.text[:500],
        error=error[:500],
        duration_ms=round((time.monotonic() - started) * 1000),
    )


def _failed(delivery: Delivery, exc: transports.TransportError, *, now: dt.datetime) -> None:
    give_up = exc.permanent or delivery.attempts >= settings.PANEL_NOTIFY_MAX_ATTEMPTS
    if give_up:
        Delivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.FAILED, claimed_until=None, last_error=exc.message[:500]
        )
    else:
        wait = backoff(delivery.attempts)
        Delivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.PENDING,
            claimed_until=None,
            next_attempt_at=now + dt.timedelta(seconds=wait),
            last_error=exc.message[:500],
        )
        from controlpanel.notifications.tasks import deliver_notification_task

        deliver_notification_task.apply_async((delivery.pk,), countdown=wait)
    _channel_failed(delivery.channel, exc.message)


def _channel_failed(channel: Channel, message: str) -> None:
    """Count a failed try against the channel; past the limit it is marked failing and its
    waiting deliveries are dropped, rather than retried for ever."""
    Channel.objects.filter(pk=channel.pk).update(consecutive_failures=F("consecutive_failures") + 1)
    marked = Channel.objects.filter(
        pk=channel.pk,
        failing_since__isnull=True,
        consecutive_failures__gte=settings.PANEL_NOTIFY_FAILING_AFTER,
    ).update(failing_since=timezone.now(), failure_reason=message[:500])
    if marked:
        Delivery.objects.filter(channel=channel, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.SKIPPED, last_error="The channel was marked failing"
        )
        logger.warning("notification channel_id=%s marked failing: %s", channel.pk, message)


def deliveries_due(*, now: dt.datetime | None = None, limit: int = 500) -> list[int]:
    """Deliveries whose try is overdue (a lost task message, a killed worker): the sweep
    queues them again. Found from the database, never from memory."""
    now = now or timezone.now()
    stale = now - dt.timedelta(seconds=settings.PANEL_STALE_WORK_SECONDS)
    due = Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=stale) | Q(
        status=DeliveryStatus.SENDING, claimed_until__lt=now
    )
    return list(Delivery.objects.filter(due).order_by("next_attempt_at").values_list("pk", flat=True)[:limit])


def notifications_sweep() -> None:
    """Beat's pass: turn new timeline lines into notifications and re-queue lost deliveries."""
    notifications_dispatch()
    from controlpanel.notifications.tasks import deliver_notification_task

    for pk in deliveries_due():
        deliver_notification_task.delay(pk)
