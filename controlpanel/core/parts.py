"""Whether the worker and beat are running, in words for people, for every page.

Read from the same heartbeat rows as /healthz, with the same limits. Every page asks, so
the last-seen times are cached for a few seconds (``PANEL_PARTS_CACHE_SECONDS``): one
query per interval, not one per page. Ages are worked out at render time from the
cached times, so a cached answer never makes the worker look fresher than it is.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.db.models import Max
from django.utils import timezone

logger = logging.getLogger(__name__)

WORKER, BEAT = "worker", "beat"


def worker_max_age() -> int:
    """Seconds of silence after which the worker counts as down (as /healthz says)."""
    return int(settings.PANEL_HEARTBEAT_MAX_AGE)


def beat_max_age() -> int:
    """Beat writes its heartbeat from the sweep, every ``PANEL_SWEEP_SECONDS``: ten missed is down."""
    return max(worker_max_age(), int(settings.PANEL_SWEEP_SECONDS * 10))


def for_people(seconds: float) -> str:
    """``2 minutes``, ``45 seconds``, ``3 hours``: a silence, said the way a person would."""
    seconds = max(0, round(seconds))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size * 1.5 or (unit == "minute" and seconds >= 60):
            count = round(seconds / size)
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} second{'' if seconds == 1 else 's'}"


@dataclass(frozen=True)
class PartsStatus:
    """The last time each background part reported, and what that means now."""

    worker_seen_at: dt.datetime | None
    beat_seen_at: dt.datetime | None
    now: dt.datetime
    unknown: bool = False  # the heartbeat table could not be read

    def _silence(self, seen_at: dt.datetime | None) -> float | None:
        return None if seen_at is None else (self.now - seen_at).total_seconds()

    @property
    def worker_down(self) -> bool:
        silence = self._silence(self.worker_seen_at)
        return not self.unknown and (silence is None or silence > worker_max_age())

    @property
    def beat_down(self) -> bool:
        silence = self._silence(self.beat_seen_at)
        return not self.unknown and (silence is None or silence > beat_max_age())

    @property
    def kind(self) -> str:
        """``worker``, ``beat`` or ``ok``: what the banner is about (its poll asks whether this changed)."""
        return WORKER if self.worker_down else BEAT if self.beat_down else "ok"

    @property
    def worker_silence(self) -> str:
        """``has not been seen for 2 minutes``: for "the worker, which ...", beside waiting work."""
        if self.worker_seen_at is None:
            return "has not reported yet"
        return f"has not been seen for {for_people(self._silence(self.worker_seen_at) or 0)}"

    @property
    def message(self) -> str:
        """One sentence for the banner; ``""`` when everything runs."""
        if self.worker_down:
            # Beat's heartbeat is written by a worker too: with no worker, this says it all.
            if self.worker_seen_at is None:
                return "No worker has reported yet: new deployments and actions wait until one is running."
            silence = for_people(self._silence(self.worker_seen_at) or 0)
            return f"The worker has not been seen for {silence}: new deployments and actions wait until it is back."
        if self.beat_down:
            if self.beat_seen_at is None:
                return (
                    "The scheduler (beat) has not run yet: states are not polled from the vendors "
                    "and lost messages are not re-sent until it is running."
                )
            silence = for_people(self._silence(self.beat_seen_at) or 0)
            return (
                f"The scheduler (beat) has not run for {silence}: states are not polled from the vendors "
                "and lost messages are not re-sent until it is back."
            )
        return ""


def _cache_key() -> str:
    # The heartbeat lives in the database: one answer per database (test runs in parallel
    # each have their own).
    return f"panel:parts:{connection.settings_dict.get('NAME')}"


def _read() -> tuple[dt.datetime | None, dt.datetime | None]:
    """One query: the latest heartbeat of each kind."""
    from controlpanel.core.models import Heartbeat

    rows = Heartbeat.objects.filter(kind__in=(WORKER, BEAT)).values("kind").annotate(latest=Max("seen_at"))
    latest = {row["kind"]: row["latest"] for row in rows}
    return latest.get(WORKER), latest.get(BEAT)


def _cached(key: str) -> Any:
    # The cache is Redis when the broker is: with Redis down, every page still renders
    # (and says the worker is down) by reading the database instead.
    try:
        return cache.get(key)
    except Exception as exc:  # any cache backend's connection error
        logger.warning("heartbeat cache unreadable (%s); reading the database", type(exc).__name__)
        return None


def _remember(key: str, seen: tuple[dt.datetime | None, dt.datetime | None], timeout: int) -> None:
    try:
        cache.set(key, seen, timeout)
    except Exception as exc:  # as above: a cache that is down only costs the query next time
        logger.warning("heartbeat cache unwritable (%s)", type(exc).__name__)


def parts_status() -> PartsStatus:
    """The worker's and beat's state now, from heartbeats at most a few seconds old."""
    now = timezone.now()
    timeout = int(settings.PANEL_PARTS_CACHE_SECONDS)
    key = _cache_key()
    seen = _cached(key) if timeout > 0 else None
    if seen is None:
        try:
            seen = _read()
        except DatabaseError:
            # The page itself will say the database is in trouble; no banner guess here.
            logger.warning("could not read the heartbeats for the banner", exc_info=True)
            return PartsStatus(worker_seen_at=None, beat_seen_at=None, now=now, unknown=True)
        if timeout > 0:
            _remember(key, seen, timeout)
    worker_seen_at, beat_seen_at = seen
    return PartsStatus(worker_seen_at=worker_seen_at, beat_seen_at=beat_seen_at, now=now)


def live_version(version: str) -> str:
    """A live poll's version (dashboard, deployment page) also says whether the worker is
    down: when it stops or comes back, waiting rows gain or lose "waits for the worker"
    though no row changed. Polls compare against this, not the bare version."""
    return f"{version}-w" if parts_status().worker_down else version
