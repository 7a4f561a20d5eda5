"""Exactly-once in the worker: claims on a row, and the sweep that finds due work in the database.

Every kind of due work (a submission, a pending action) is found from the database, never
from a message in memory: a message can be dropped (a retry during a broker outage), or held
for the visibility timeout by a killed worker.

- An attempt claims its row with a conditional UPDATE (claim by update, as healthchecks does):
  ``attempt_id``/``attempt_claimed_at`` set only where no live claim is held. If no row
  changed, another attempt is at work and this one stands aside. A claim older than the
  task's hard time limit belongs to a killed worker and may be taken over.
- ``next_attempt_at`` is when the row's own chain means to try next: now when it is queued,
  now + countdown when a retry is scheduled. The sweep re-sends only rows whose next
  attempt is overdue by ``PANEL_STALE_WORK_SECONDS`` and that no live attempt holds, so it
  never races a retry chain that is still alive.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from controlpanel.deployments.models import Deployment, EventKind
from controlpanel.deployments.services.transitions import event_record
from controlpanel.deployments.states import State
from controlpanel.deployments.tasks import deployment_action_task, max_countdown, submit_deployment_task
from providers.base import Transient

logger = logging.getLogger(__name__)

CLAIM_FIELDS = ("attempt_id", "attempt_claimed_at", "next_attempt_at")


class RowBusy(Transient):
    """Not the vendor: another attempt holds the row (or its submission has not landed).
    Retried like any transient error, but never given up on: when the retries run out the
    work stays pending, and the sweep sends it again once the row is free."""

    row_busy = True  # read by the task, which cannot import this module at load time


def claim_lifetime() -> dt.timedelta:
    """A task is killed at its hard time limit, so a claim older than that is dead."""
    return dt.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)


def stale_after() -> dt.timedelta:
    return dt.timedelta(seconds=settings.PANEL_STALE_WORK_SECONDS)


def _claim_free(now: dt.datetime) -> Q:
    return Q(attempt_claimed_at__isnull=True) | Q(attempt_claimed_at__lt=now - claim_lifetime())


def attempt_claim(*, deployment_id: int, attempt_id: str, now: dt.datetime | None = None) -> bool:
    """Take the row for one attempt. False: a live attempt holds it (maybe a redelivered copy
    of this very message), so this one must not touch the vendor."""
    now = now or timezone.now()
    claimed = (
        Deployment.objects.filter(_claim_free(now), pk=deployment_id)
        # A redelivery of the attempt that holds the claim is turned away too: the holder may
        # still be running (an acks_late task outliving the visibility timeout).
        .update(attempt_id=attempt_id, attempt_claimed_at=now, next_attempt_at=None)
    )
    if not claimed:
        logger.info("deployment_id=%s claimed by another attempt; attempt %s stands aside", deployment_id, attempt_id)
    return bool(claimed)


def attempt_release(*, deployment_id: int, attempt_id: str, retry_in: float | None = None) -> None:
    """Let go of the row: done (``retry_in=None``), or a retry will come within ``retry_in``
    s, which the sweep leaves alone until it is overdue."""
    next_at = timezone.now() + dt.timedelta(seconds=retry_in) if retry_in is not None else None
    Deployment.objects.filter(pk=deployment_id, attempt_id=attempt_id).update(
        attempt_id="", attempt_claimed_at=None, next_attempt_at=next_at
    )


def attempt_release_for_retry(*, deployment_id: int, attempt_id: str) -> None:
    """The attempt hit a transient error and its task will retry: let go of the row, and
    expect the retry within the longest countdown a task picks (the task then says exactly
    when, ``attempt_retry_at``). One UPDATE, so the sweep never sees the row unclaimed with
    no next attempt."""
    attempt_release(deployment_id=deployment_id, attempt_id=attempt_id, retry_in=max_countdown())


def attempt_retry_at(*, deployment_id: int, countdown: float) -> None:
    """The task scheduled its retry in ``countdown`` s: narrow the sweep's wait to that, unless
    the retry has already claimed or finished the row."""
    Deployment.objects.filter(pk=deployment_id, attempt_id="", next_attempt_at__isnull=False).update(
        next_attempt_at=timezone.now() + dt.timedelta(seconds=countdown)
    )


def _overdue(now: dt.datetime, since_field: str) -> Q:
    """The row's next attempt is overdue by the margin; rows from before the field existed
    (``next_attempt_at`` null) are judged by when the work began."""
    cutoff = now - stale_after()
    return Q(next_attempt_at__lt=cutoff) | Q(next_attempt_at__isnull=True, **{f"{since_field}__lt": cutoff})


def deployments_sweep_submissions(*, now: dt.datetime | None = None) -> int:
    """Re-send submissions whose message was lost, and only those.

    QUEUED rows are sent again as they are: the claim lets one attempt through. SUBMITTING
    rows get a fresh task id, so the new attempt counts as a retry and looks for what the
    lost one may have created before creating anything; the old chain, should it wake,
    finds its task id replaced and stops.
    """
    now = now or timezone.now()
    count = 0
    free = _claim_free(now)
    overdue = _overdue(now, "state_changed_at")
    queued = Deployment.objects.filter(free, overdue, state=State.QUEUED)
    for pk, waiting_since in queued.values_list("pk", "state_changed_at"):
        # Written first, and only by the sweep that finds it still overdue (two sweeps can run
        # at once): the next sweep waits before sending again, longer each time (_resend_at).
        if Deployment.objects.filter(free, overdue, pk=pk, state=State.QUEUED).update(
            next_attempt_at=_resend_at(now, waiting_since)
        ):
            logger.warning("deployment_id=%s queued and not picked up; sent again", pk)
            _note(pk, "No worker picked it up; sent again")
            submit_deployment_task.delay(pk)
            count += 1
    # submit_started_at stays the first attempt's start: the adoption window counts from it,
    # and moving it would refuse (and so pay twice for) what that attempt made.
    stuck = Deployment.objects.filter(free, overdue, state=State.SUBMITTING)
    for pk, old_task_id, waiting_since in stuck.values_list("pk", "submit_task_id", "state_changed_at"):
        new_task_id = str(uuid.uuid4())
        if Deployment.objects.filter(free, overdue, pk=pk, state=State.SUBMITTING, submit_task_id=old_task_id).update(
            submit_task_id=new_task_id, next_attempt_at=_resend_at(now, waiting_since)
        ):
            logger.warning("deployment_id=%s stuck submitting; re-sent as task %s", pk, new_task_id)
            _note(pk, "The attempt sending it went quiet; sent again, looking first for anything it made")
            submit_deployment_task.apply_async((pk,), task_id=new_task_id)
            count += 1
    return count


def deployments_sweep_actions(*, now: dt.datetime | None = None) -> int:
    """Re-send pending actions whose message was lost (``pending_since`` is when one was asked)."""
    now = now or timezone.now()
    count = 0
    free = _claim_free(now)
    due = Deployment.objects.filter(free, _overdue(now, "pending_since")).exclude(pending_action="")
    for pk, action, waiting_since in due.values_list("pk", "pending_action", "pending_since"):
        if (
            Deployment.objects.filter(free, _overdue(now, "pending_since"), pk=pk)
            .exclude(pending_action="")
            .update(next_attempt_at=_resend_at(now, waiting_since))
        ):
            logger.warning("deployment_id=%s pending %s with no attempt alive; sent again", pk, action)
            _note(pk, f"“{action.capitalize()}” was not carried out by any worker; sent again")
            deployment_action_task.delay(pk)
            count += 1
    return count


# However long work has waited, the sweep sends it again at least this often.
MAX_RESEND_WAIT = dt.timedelta(minutes=10)


def _resend_at(now: dt.datetime, waiting_since: dt.datetime | None) -> dt.datetime:
    """When a re-sent piece of work counts as due again: after as long again as it has
    waited so far (at most ``MAX_RESEND_WAIT``). A backlog the workers are merely slow to
    reach is then re-sent a few times, not once per sweep: re-sending every row of a deep
    queue on every pass floods the broker with copies the claims must turn away (found by
    the chaos suite: 300 queued rows, each sent again every 4 s)."""
    waited = now - waiting_since if waiting_since is not None else dt.timedelta(0)
    return now + min(max(waited, dt.timedelta(0)), MAX_RESEND_WAIT)


def _note(pk: int, message: str) -> None:
    """A line on the timeline: people see why the panel tried again."""
    event_record(Deployment(pk=pk), kind=EventKind.INFO, actor=None, message=message)


def deployments_sweep_due(*, now: dt.datetime | None = None) -> int:
    """Beat's job: every kind of due work, found from the database."""
    now = now or timezone.now()
    return deployments_sweep_submissions(now=now) + deployments_sweep_actions(now=now)
