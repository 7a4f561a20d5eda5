"""Celery tasks: an id in, a service call, and the retry policy. Nothing else."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from providers.base import Transient
from providers.http import backoff_seconds

logger = logging.getLogger(f"{__name__}.celery")

MAX_SUBMIT_RETRIES = 8  # with the backoff below: a little over five minutes in all
MAX_ACTION_RETRIES = 6


def max_countdown() -> float:
    """No retry waits longer (the sweep's estimate until the task says when); a vendor's
    Retry-After longer than this is still honoured, and the task then says so."""
    return float(settings.PANEL_RETRY_MAX_SECONDS)


def _countdown(retries: int, exc: Transient) -> float:
    return backoff_seconds(retries, exc.retry_after, base=settings.PANEL_RETRY_BASE_SECONDS, cap=max_countdown())


@shared_task(bind=True, name="controlpanel.deployments.tasks.submit_deployment_task", max_retries=MAX_SUBMIT_RETRIES)
def submit_deployment_task(self, deployment_id: int) -> None:
    # At call time: the services import this module to queue its tasks (a real cycle).
    from controlpanel.deployments.services import (
        deployment_attempt_retry_later,
        deployment_submit,
        deployment_submit_gave_up,
    )

    try:
        deployment_submit(deployment_id=deployment_id, task_id=self.request.id)
    except Transient as exc:
        if self.request.retries >= self.max_retries:
            deployment_submit_gave_up(deployment_id=deployment_id, task_id=self.request.id, message=exc.message)
            return
        countdown = _countdown(self.request.retries, exc)
        logger.warning("deployment_id=%s submit retry in %.1fs: %s", deployment_id, countdown, exc.message)
        # Written before the retry is sent: should the broker drop it, the sweep re-sends
        # once this time is overdue, and not before (the chain is alive until then).
        deployment_attempt_retry_later(deployment_id=deployment_id, countdown=countdown)
        # retry() keeps the task id, so the next attempt's claim knows it may be a repeat.
        raise self.retry(countdown=countdown, exc=exc) from None


@shared_task(bind=True, name="controlpanel.deployments.tasks.deployment_action_task", max_retries=MAX_ACTION_RETRIES)
def deployment_action_task(self, deployment_id: int) -> None:
    # At call time: the services import this module to queue its tasks (a real cycle).
    from controlpanel.deployments.services import (
        deployment_action_gave_up,
        deployment_attempt_retry_later,
        deployment_run_action,
    )

    try:
        deployment_run_action(deployment_id=deployment_id, task_id=self.request.id)
    except Transient as exc:
        if self.request.retries >= self.max_retries:
            if getattr(exc, "row_busy", False):
                # Not the vendor failing: the row was busy throughout (a killed worker's claim
                # lives until the hard time limit). The action stays pending; the sweep sends
                # it again once the row is free (found by the chaos suite).
                logger.warning("deployment_id=%s action still pending: %s", deployment_id, exc.message)
                return
            deployment_action_gave_up(deployment_id=deployment_id, message=exc.message, task_id=self.request.id)
            return
        countdown = _countdown(self.request.retries, exc)
        # As for submissions: the sweep re-sends only if this retry never comes.
        deployment_attempt_retry_later(deployment_id=deployment_id, countdown=countdown)
        raise self.retry(countdown=countdown, exc=exc) from None


@shared_task(name="controlpanel.deployments.tasks.refresh_accounts_task")
def refresh_accounts_task() -> None:
    """Beat, every few seconds. Leases keep it to one refresh in flight per account."""
    # At call time: the services import this module to queue its tasks (a real cycle).
    from controlpanel.deployments.services import refresh_sweep

    for account_id in refresh_sweep():
        refresh_account_task.delay(account_id)


@shared_task(name="controlpanel.deployments.tasks.refresh_account_task")
def refresh_account_task(account_id: int) -> None:
    # Not retried by Celery: the next sweep is the retry, and the lease expiring
    # covers a worker that died mid-refresh.
    # At call time: the services import this module to queue its tasks (a real cycle).
    from controlpanel.deployments.services import account_refresh

    account_refresh(account_id=account_id)


@shared_task(name="controlpanel.deployments.tasks.fetch_logs_task")
def fetch_logs_task(deployment_id: int) -> None:
    # At call time: the services import this module to queue its tasks (a real cycle).
    from controlpanel.deployments.services import deployment_fetch_logs

    deployment_fetch_logs(deployment_id=deployment_id)
