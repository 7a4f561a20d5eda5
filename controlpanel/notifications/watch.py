""" "Worker down", told by beat: the one notification no worker can send.

Beat runs with :class:`WatchingScheduler` (``CELERY_BEAT_SCHEDULER``), which on its own
tick, in the beat process, reads the worker heartbeat (the one /healthz and every page's
banner read). When the worker has been silent past ``PANEL_HEARTBEAT_MAX_AGE`` it
publishes "worker down" once per outage and sends it right there, with the transports'
short timeout; when the worker is back it publishes "worker back", which the worker sends.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

from celery.beat import PersistentScheduler
from django.db import close_old_connections
from django.utils import timezone

logger = logging.getLogger(__name__)

CHECK_EVERY_SECONDS = 15.0


def worker_watch(*, started_at: dt.datetime, now: dt.datetime | None = None) -> str:
    """One look at the worker's heartbeat; returns "down", "back" or "" (nothing to tell).

    ``started_at`` is when this beat started: a worker never seen is down only once beat
    itself has waited as long as a worker may be silent (both start together).
    """
    from controlpanel.core.models import Heartbeat
    from controlpanel.core.parts import for_people, worker_max_age
    from controlpanel.notifications.models import Watch

    now = now or timezone.now()
    max_age = dt.timedelta(seconds=worker_max_age())
    latest = Heartbeat.objects.filter(kind="worker").order_by("-seen_at").values_list("seen_at", flat=True).first()
    down = (latest is None and now - started_at > max_age) or (latest is not None and now - latest > max_age)
    watch, _ = Watch.objects.get_or_create(name="worker")
    if down:
        since = latest or started_at
        # Claim by update: two beats (there should be one) tell it once.
        if not Watch.objects.filter(pk=watch.pk, notified_at__isnull=True).update(down_since=since, notified_at=now):
            return ""
        silent = for_people((now - since).total_seconds())
        _tell_everyone(
            subject="The panel's worker is down",
            body=(
                f"No worker has reported for {silent}. Nothing is sent to the vendors and no state is "
                "polled until one runs again; deployments keep running (and billing) at the vendors."
            ),
            dedupe=f"worker-down:{since.isoformat()}",
            send_now=True,
        )
        return "down"
    if watch.notified_at is not None:
        if not Watch.objects.filter(pk=watch.pk, notified_at__isnull=False).update(notified_at=None, down_since=None):
            return ""
        down_for = for_people((now - (watch.down_since or now)).total_seconds())
        _tell_everyone(
            subject="The panel's worker is back",
            body=f"A worker reports again after about {down_for}; queued work is being sent.",
            dedupe=f"worker-back:{now.isoformat()}",
            send_now=False,
        )
        return "back"
    return ""


def _tell_everyone(*, subject: str, body: str, dedupe: str, send_now: bool) -> None:
    from controlpanel.notifications.models import Channel, NotificationKind
    from controlpanel.notifications.services import delivery_send, notification_publish
    from controlpanel.teams.models import Team

    team_ids = {c.team_id for c in Channel.objects.filter(enabled=True) if NotificationKind.WORKER in c.events}
    for team in Team.objects.filter(pk__in=team_ids):
        notification = notification_publish(
            team=team, kind=NotificationKind.WORKER, subject=subject, body=body, dedupe_key=dedupe
        )
        if notification is not None and send_now:
            # No worker will pick these up: send them from here, now.
            for delivery_id in notification.deliveries.values_list("pk", flat=True):
                delivery_send(delivery_id=delivery_id)


class WatchingScheduler(PersistentScheduler):
    """Celery beat's own scheduler, plus a look at the worker's heartbeat every few seconds."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._started_at = timezone.now()
        self._next_check = 0.0

    def tick(self, *args: Any, **kwargs: Any) -> float:
        wait = super().tick(*args, **kwargs)
        if time.monotonic() >= self._next_check:
            self._next_check = time.monotonic() + CHECK_EVERY_SECONDS
            try:
                close_old_connections()
                worker_watch(started_at=self._started_at)
            except Exception:  # a failed look must not stop beat's schedule
                logger.exception("could not check the worker heartbeat")
        return min(wait, CHECK_EVERY_SECONDS)
