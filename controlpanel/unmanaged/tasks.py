"""Celery tasks: an id in, a service call, and the retry policy. Nothing else."""

from __future__ import annotations

import logging

from celery import shared_task

from providers.base import Transient
from providers.http import backoff_seconds

logger = logging.getLogger(f"{__name__}.celery")

MAX_ADOPT_RETRIES = 5


@shared_task(bind=True, name="controlpanel.unmanaged.tasks.adopt_unmanaged_task", max_retries=MAX_ADOPT_RETRIES)
def adopt_unmanaged_task(self, resource_id: int) -> None:
    # At call time: the services import this module to queue its tasks (a real cycle).
    from controlpanel.unmanaged.services import unmanaged_adopt, unmanaged_adopt_failed

    try:
        unmanaged_adopt(resource_id=resource_id)
    except Transient as exc:
        if self.request.retries >= self.max_retries:
            unmanaged_adopt_failed(resource_id=resource_id, message=exc.message)
            return
        countdown = backoff_seconds(self.request.retries, exc.retry_after, base=2.0, cap=60.0)
        logger.warning("unmanaged_id=%s adopt retry in %.1fs: %s", resource_id, countdown, exc.message)
        raise self.retry(countdown=countdown, exc=exc) from None
