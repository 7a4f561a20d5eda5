"""A worker heartbeat written to the database, for /healthz.

A Celery bootstep with a timer: the worker itself writes every few seconds, whether
or not it has tasks, so /healthz can tell "no worker" from "an idle worker".
"""

from __future__ import annotations

import logging
import socket
from typing import Any

from celery import bootsteps
from django.db import close_old_connections
from django.utils import timezone

logger = logging.getLogger(__name__)

INTERVAL_SECONDS = 10.0


def beat(kind: str, hostname: str | None = None) -> None:
    # Not at the top: controlpanel.celery imports this module before the app registry is ready.
    from controlpanel.core.models import Heartbeat

    Heartbeat.objects.update_or_create(
        kind=kind, hostname=hostname or socket.gethostname(), defaults={"seen_at": timezone.now()}
    )


class HeartbeatStep(bootsteps.StartStopStep):
    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.tref = None

    def start(self, worker: Any) -> None:
        self._beat(worker)
        self.tref = worker.timer.call_repeatedly(INTERVAL_SECONDS, self._beat, (worker,), priority=10)

    def stop(self, worker: Any) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None

    def _beat(self, worker: Any) -> None:
        try:
            # The timer runs outside any task, so Celery's per-task connection handling
            # does not cover it: drop a connection the database has closed meanwhile.
            close_old_connections()
            beat("worker", worker.hostname)
        except Exception:  # a failed heartbeat must not kill the worker; /healthz shows it stale
            logger.exception("could not write the worker heartbeat")
