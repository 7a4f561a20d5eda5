"""Polling: one paged list per account, detail reads only where they add something, writing
only what changed; a list that looks wrong is not written through."""

from __future__ import annotations

import datetime as dt
import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from controlpanel.catalog.services import accounts_claim_catalog_sync
from controlpanel.catalog.tasks import sync_catalog_task
from controlpanel.core.heartbeat import beat
from controlpanel.credentials.crypto import DecryptionError
from controlpanel.credentials.models import KeyStatus, ProviderAccount
from controlpanel.credentials.services import account_mark_refused, provider_for
from controlpanel.deployments.models import Deployment, EventKind
from controlpanel.deployments.services.details import Listed, list_digest, merged_with_stored, plan_details
from controlpanel.deployments.services.sweeps import deployments_sweep_due
from controlpanel.deployments.services.transitions import (
    apply_remote,
    deployment_transition,
    event_record,
    remote_unchanged,
)
from controlpanel.deployments.states import (
    IN_MOTION,
    WATCHED,
    State,
    can_transition,
    state_for_remote,
)
from controlpanel.deployments.tasks import deployment_action_task, refresh_account_task
from controlpanel.teams.permissions import Perm
from controlpanel.teams.services import require_perm
from controlpanel.unmanaged.listing import listing_is_complete, unmanaged_record_listing
from providers.base import (
    Action,
    AuthError,
    Listing,
    NotFound,
    Provider,
    ProviderError,
    Remote,
    RemoteState,
    Unsupported,
)

logger = logging.getLogger(__name__)


def account_claim_due_refresh(*, now: dt.datetime | None = None) -> list[int]:
    """Accounts with deployments to watch whose refresh is due, each leased to one caller.

    The lease is taken with a conditional UPDATE: if it changed no row, another
    sweep took that account first (claim-by-update, as healthchecks does).
    """
    now = now or timezone.now()
    lease_free = Q(refresh_lease_until__isnull=True) | Q(refresh_lease_until__lt=now)
    due = Q(next_refresh_at__isnull=True) | Q(next_refresh_at__lte=now)
    # Accounts with something to watch, and working keys with nothing to watch, whose
    # lists still show what the vendor holds that the panel does not (polled at
    # PANEL_REFRESH_IDLE_SECONDS, see _finish_refresh).
    watching = Q(deployments__state__in=[*WATCHED, State.SUBMITTING])
    candidates = (
        ProviderAccount.objects.filter(lease_free, due)
        .filter(watching | Q(status=KeyStatus.OK))
        .values_list("pk", flat=True)
        .distinct()
    )
    return [pk for pk in list(candidates) if account_claim_refresh(account_id=pk, now=now)]


def account_claim_refresh(*, account_id: int, now: dt.datetime) -> bool:
    """Lease one account's refresh by a conditional UPDATE: False if another holds it."""
    lease_free = Q(refresh_lease_until__isnull=True) | Q(refresh_lease_until__lt=now)
    lease_until = now + dt.timedelta(seconds=settings.PANEL_REFRESH_LEASE_SECONDS)
    return bool(ProviderAccount.objects.filter(lease_free, pk=account_id).update(refresh_lease_until=lease_until))


def account_refresh(*, account_id: int) -> bool:
    """Poll one account: one paged list for all its deployments, detail reads only where
    they add something (``services.details``), writing only what changed.

    Stops between rows once ``PANEL_REFRESH_TIME_BUDGET_SECONDS`` have passed (or if the
    task's soft limit strikes anyway) and hands the rest to a follow-up task: what is left
    is found from the rows themselves (unread rows keep their old digest and oldest detail
    time), so the follow-up, or the next sweep's refresh, simply does it. Returns whether
    the refresh finished."""
    account = ProviderAccount.objects.filter(pk=account_id).first()
    if account is None:
        return True
    # Every row of the account that is not deleted: the watched ones are polled, and all
    # of them tell which listed resources are ours (the rest are unmanaged).
    ours = list(Deployment.objects.filter(account=account).exclude(state=State.DELETED).select_related("account"))
    rows = [d for d in ours if d.state in WATCHED and d.external_id]
    error, finished = "", True
    clock = _Budget(settings.PANEL_REFRESH_TIME_BUDGET_SECONDS)
    try:
        with provider_for(account) as provider:
            finished, listing = _reconcile(account, provider, rows, clock)
        if listing_is_complete(listing):
            unmanaged_record_listing(account=account, remotes=listing.remotes, deployments=ours)
        if rows:
            deployments_fail_past_deadline(account=account)
    except SoftTimeLimitExceeded:
        finished = False  # struck between two writes: each is its own transaction, nothing half-done
        logger.warning("account_id=%s refresh reached the task's soft time limit; continuing later", account.pk)
    except AuthError as exc:
        error = f"{account.get_vendor_display()} refused the key: {exc.message}"
        account_mark_refused(account=account, message=error)
    except ProviderError as exc:
        error = exc.message
    except DecryptionError as exc:
        error = str(exc)
    finally:
        _finish_refresh(account, error, finished=finished, watching=bool(rows))
    return finished


class _Budget:
    """The refresh's own time limit, well inside the task's soft limit."""

    def __init__(self, seconds: float) -> None:
        self.until = time.monotonic() + seconds

    def spent(self) -> bool:
        return time.monotonic() >= self.until


def _reconcile(
    account: ProviderAccount, provider: Provider, rows: list[Deployment], clock: _Budget
) -> tuple[bool, Listing]:
    """Match the list against the rows; the listing, and False when the time budget
    stopped it part-way."""
    listing = provider.listing(known={d.external_id: d.raw for d in rows}, since=account.last_refreshed_at)
    remotes = {remote.external_id: remote for remote in listing.remotes}
    missing = [d for d in rows if d.external_id not in remotes]
    suspect = _suspect_list(account, rows, missing, listing)
    listed = [
        Listed(d, remotes[d.external_id], list_digest(remotes[d.external_id])) for d in rows if d.external_id in remotes
    ]
    if provider.list_is_detailed:
        finished = _apply_listed(provider, listed, clock)
    else:
        finished = _apply_with_details(account, provider, listed, clock)
    if not finished:
        return False, listing
    if suspect:
        return True, listing  # rows kept, not read one by one: the next whole-looking list decides
    for done, deployment in enumerate(missing, start=1):
        _refresh_missing(provider, deployment, complete=listing.complete)
        if done < len(missing) and clock.spent():
            return False, listing
    return True, listing


def _suspect_list(
    account: ProviderAccount, rows: list[Deployment], missing: list[Deployment], listing: Listing
) -> bool:
    """A list that dropped a large share of the rows it should have at once (rows being
    deleted are expected to go) is not written through: logged and said on the key's row."""
    expected = {d.pk for d in rows if d.state != State.DELETING and d.pending_action != Action.DELETE.value}
    gone = [d for d in missing if d.pk in expected]
    share = settings.PANEL_REFRESH_SUSPECT_SHARE
    suspect = len(gone) > settings.PANEL_REFRESH_SUSPECT_MIN and len(gone) * 100 > share * len(expected)
    if suspect:
        message = (
            f"{account.get_vendor_display()}'s list left out {len(gone)} of {len(expected)} deployments at once"
            f"{'' if listing.complete else ' (and did not finish paging)'}: kept as they were until a list "
            "looks whole again"
        )
        logger.warning("account_id=%s suspect list: %s missing of %s; rows kept", account.pk, len(gone), len(expected))
        ProviderAccount.objects.filter(pk=account.pk).update(
            refresh_suspect=message[:500], refresh_suspect_at=account.refresh_suspect_at or timezone.now()
        )
    elif account.refresh_suspect:
        ProviderAccount.objects.filter(pk=account.pk).update(refresh_suspect="", refresh_suspect_at=None)
    return suspect


def _apply_listed(provider: Provider, listed: list[Listed], clock: _Budget) -> bool:
    """A vendor whose list says everything a read by id would: the list is the detail."""
    unchanged: list[int] = []
    try:
        for item in listed:
            deployment, remote = item.deployment, item.remote
            if remote_unchanged(deployment, remote):
                unchanged.append(deployment.pk)
                if deployment.raw != remote.raw:
                    Deployment.objects.filter(pk=deployment.pk).update(raw=remote.raw)
                continue
            _refresh_one(provider, deployment, remote)
            _mark_detailed([deployment.pk], {deployment.pk: item.digest})
            if clock.spent():
                return False  # the rest (all but the unchanged, marked below) next time
    finally:
        _mark_checked(unchanged, detailed=True)
    return True


def _apply_with_details(account: ProviderAccount, provider: Provider, listed: list[Listed], clock: _Budget) -> bool:
    """A vendor whose list says less: details for the rows the plan picks, read a few at a
    time on threads (each call through the account's rate limiter), written here, in order
    of arrival, until the time budget is spent."""
    now = timezone.now()
    plan = plan_details(
        listed,
        now=now,
        last_poll=account.last_refreshed_at,
        period=settings.PANEL_REFRESH_DETAIL_PERIOD_SECONDS,
        budget=settings.PANEL_REFRESH_DETAIL_BUDGET,
    )
    unchanged = [item.deployment.pk for item in plan.steady]
    try:
        for done, item in enumerate(plan.from_list, start=1):
            merged = merged_with_stored(item.remote, item.deployment)
            if item.remote.detail_needed or remote_unchanged(item.deployment, merged):
                unchanged.append(item.deployment.pk)  # its state waits for its detail read
                continue
            _refresh_one(provider, item.deployment, merged)
            if (done < len(plan.from_list) or plan.detail) and clock.spent():
                return False
    finally:
        _mark_checked(unchanged)
    if not plan.detail:
        return True
    pool = ThreadPoolExecutor(max_workers=max(1, settings.PANEL_REFRESH_DETAIL_CONCURRENCY))
    try:
        futures = {pool.submit(provider.detail, item.remote): item for item in plan.detail}
        for done, future in enumerate(as_completed(futures), start=1):
            _apply_detail(provider, futures[future], future)
            if done < len(futures) and clock.spent():
                return False  # at least one row per run, so a follow-up always gets further
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return True


def _apply_detail(provider: Provider, item: Listed, future: Future[Remote]) -> None:
    deployment = item.deployment
    try:
        remote = future.result()
    except AuthError:
        raise
    except ProviderError as exc:
        # Gone between the two calls, or not read this time: the list's view (stored
        # details kept), and the old digest stays, so the next poll reads it again.
        logger.info(
            "deployment_id=%s external_id=%s no detail this time: %s", deployment.pk, deployment.external_id, exc
        )
        if not item.remote.detail_needed:
            _refresh_one(provider, deployment, merged_with_stored(item.remote, deployment))
        return
    if remote_unchanged(deployment, remote):
        fields: dict[str, Any] = {"raw": remote.raw} if deployment.raw != remote.raw else {}
        Deployment.objects.filter(pk=deployment.pk).update(
            checked_at=timezone.now(), detail_checked_at=timezone.now(), list_digest=item.digest, **fields
        )
        return
    _refresh_one(provider, deployment, remote)
    _mark_detailed([deployment.pk], {deployment.pk: item.digest})


def _mark_detailed(pks: list[int], digests: dict[int, str]) -> None:
    now = timezone.now()
    for pk in pks:
        Deployment.objects.filter(pk=pk).update(detail_checked_at=now, list_digest=digests[pk])


def _mark_checked(pks: list[int], chunk: int = 500, *, detailed: bool = False) -> None:
    """One UPDATE per few hundred unchanged rows: "checked just now" without touching
    ``updated_at`` (so the dashboard's version stays put) or locking anything. ``detailed``:
    the list said all a read by id would, so their details are as fresh."""
    now = timezone.now()
    fields = {"checked_at": now, **({"detail_checked_at": now} if detailed else {})}
    for start in range(0, len(pks), chunk):
        Deployment.objects.filter(pk__in=pks[start : start + chunk]).update(**fields)


def _refresh_missing(provider: Provider, deployment: Deployment, *, complete: bool) -> None:
    """A row the list did not have. From an incomplete list that proves nothing; from a
    complete one it is asked for by id, and lost (or deleted) only if that says gone."""
    if not complete:
        logger.info(
            "deployment_id=%s external_id=%s not in an incomplete list; kept",
            deployment.pk,
            deployment.external_id,
        )
        return
    try:
        remote: Remote | None = provider.get(deployment.external_id)
    except NotFound:
        remote = None
    except Unsupported:
        return
    _refresh_one(provider, deployment, remote)
    if remote is not None:
        Deployment.objects.filter(pk=deployment.pk).update(detail_checked_at=timezone.now())


def _refresh_one(provider: Any, deployment: Deployment, remote: Remote | None) -> None:
    """Write what the vendor said of one row (``None``: a read by id said it is gone)."""
    with transaction.atomic():
        locked = Deployment.objects.select_for_update(of=("self",)).filter(pk=deployment.pk).first()
        if locked is None or locked.state not in WATCHED:
            return
        if _moved_since_read(deployment, locked):
            # A stop, scale or delete landed after this poll loaded the row, so what the
            # vendor said may predate it: writing it would undo the action ("Stopping" back
            # to "Running"). The next poll, seconds away, reads the vendor afresh.
            logger.info("deployment_id=%s moved while it was polled; its next poll decides", deployment.pk)
            return
        if remote is not None and _still_not_up_after_deadline(locked, remote):
            apply_remote(locked, remote, target=State.FAILED)  # the vendor's view, not "provisioning" again
            return
        if remote is None or remote.state == RemoteState.DELETED:
            target = State.DELETED if locked.state == State.DELETING else State.LOST
            if can_transition(locked.state, target):
                message = "Deleted" if target == State.DELETED else f"{locked.get_vendor_display()} no longer has it"
                deployment_transition(deployment=locked, to=target, message=message)
            return
        apply_remote(locked, remote)


def _moved_since_read(loaded: Deployment, locked: Deployment) -> bool:
    """Whether the row changed state or took an action after the poll loaded it (before it
    asked the vendor)."""
    return (
        locked.state != loaded.state
        or locked.state_changed_at != loaded.state_changed_at
        or locked.pending_action != loaded.pending_action
    )


# The start of the reason a deployment failed for not coming up in time (see below).
DEADLINE_REASON = "Did not come up within"


def _minutes(seconds: int) -> str:
    minutes = round(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def deployments_fail_past_deadline(*, account: ProviderAccount, now: dt.datetime | None = None) -> list[int]:
    """Fail the account's deployments that have been provisioning longer than the vendor's
    ``provision_deadline``, in plain words, and stop what can be stopped: a rollout that
    never finishes must not bill forever. The stop is a pending action like a person's (its
    worker attempt, retries and the sweep behind it). Returns the rows failed."""
    now = now or timezone.now()
    provider_class = account.provider_class
    deadline = provider_class.provision_deadline
    cutoff = now - dt.timedelta(seconds=deadline)
    overdue = Deployment.objects.filter(account=account, state=State.PROVISIONING, state_changed_at__lt=cutoff)
    failed = []
    for pk in list(overdue.values_list("pk", flat=True)):
        with transaction.atomic():
            deployment = (
                Deployment.objects.select_for_update()
                .filter(pk=pk, state=State.PROVISIONING, state_changed_at__lt=cutoff)
                .first()
            )
            if deployment is None:
                continue
            reason = f"{DEADLINE_REASON} {_minutes(deadline)}"
            deployment.last_error = deployment.status_message = reason
            deployment_transition(
                deployment=deployment, to=State.FAILED, message=reason, extra_fields=("last_error", "status_message")
            )
            _stop_after_deadline(deployment, provider_class, reason=reason, now=now)
            failed.append(pk)
        logger.warning(
            "deployment_id=%s account_id=%s external_id=%s %s",
            pk,
            account.pk,
            deployment.external_id,
            reason.lower(),
        )
    return failed


def _stop_after_deadline(deployment: Deployment, provider_class: Any, *, reason: str, now: dt.datetime) -> None:
    vendor = deployment.get_vendor_display()
    if Action.STOP not in provider_class.actions or not deployment.external_id:
        event_record(
            deployment,
            kind=EventKind.INFO,
            actor=None,
            message=f"{vendor} has no stop: delete it if it should not go on billing",
        )
        return
    if deployment.pending_action:
        return  # a person's action is already on its way; it decides what happens next
    deployment.pending_action, deployment.pending_params, deployment.pending_actor = Action.STOP.value, {}, None
    deployment.pending_since = deployment.next_attempt_at = now
    deployment.save(
        update_fields=[
            "pending_action",
            "pending_params",
            "pending_actor",
            "pending_since",
            "next_attempt_at",
            "updated_at",
        ]
    )
    event_record(
        deployment,
        kind=EventKind.ACTION,
        actor=None,
        message=f"Stop requested: {reason[0].lower()}{reason[1:]}, and it may be billing on {vendor}",
    )
    deployment_action_task.delay_on_commit(deployment.pk)


def _still_not_up_after_deadline(deployment: Deployment, remote: Remote) -> bool:
    """A row failed for not coming up keeps ``failed`` while the vendor still says it is on
    its way (otherwise the next poll would make it provisioning again, and the deadline
    would start over); it recovers once the vendor says it runs."""
    return (
        deployment.state == State.FAILED
        and deployment.last_error.startswith(DEADLINE_REASON)
        and state_for_remote(deployment.state, remote.state) == State.PROVISIONING
    )


def _finish_refresh(account: ProviderAccount, error: str, *, finished: bool = True, watching: bool = True) -> None:
    now = timezone.now()
    moving = (
        Deployment.objects.filter(account=account, state__in=IN_MOTION).exists()
        or Deployment.objects.filter(account=account).exclude(pending_action="").exists()
    )
    if moving or error:
        interval = settings.PANEL_REFRESH_FAST_SECONDS
    elif watching:
        interval = settings.PANEL_REFRESH_SLOW_SECONDS
    else:  # nothing of ours there: listed only for what the panel does not manage
        interval = settings.PANEL_REFRESH_IDLE_SECONDS
    ProviderAccount.objects.filter(pk=account.pk).update(
        refresh_lease_until=None,
        next_refresh_at=now if not finished else now + dt.timedelta(seconds=interval),
        last_refreshed_at=now,
        last_refresh_error=error[:500],
        updated_at=now,  # moves the dashboard's version: "checked N s ago" is news too
    )
    if not finished and account_claim_refresh(account_id=account.pk, now=now):
        # The rest in a follow-up task, holding the lease; should its message be lost, the
        # lease runs out and the sweep hands the account out again (it is due now).
        refresh_account_task.delay(account.pk)
        logger.info("account_id=%s refresh continues in a follow-up task", account.pk)


def refresh_sweep() -> list[int]:
    """Beat's job: prove beat and a worker are alive, re-send lost work (submissions and
    actions, found from the database), start due catalog syncs, and hand out due refreshes
    (one lease per account)."""
    # At call time: unmanaged.services imports this package (a real cycle).
    from controlpanel.unmanaged.services import unmanaged_sweep_adoptions

    beat("beat")
    deployments_sweep_due()
    unmanaged_sweep_adoptions()
    for account_id in accounts_claim_catalog_sync():
        sync_catalog_task.delay(account_id)
    return account_claim_due_refresh()


@transaction.atomic
def account_request_refresh(*, account: ProviderAccount, actor: AbstractBaseUser) -> None:
    """ "Refresh now": make the account due; the next sweep (within seconds) polls it."""
    require_perm(actor=actor, team=account.team, perm=Perm.VIEW)
    ProviderAccount.objects.filter(pk=account.pk).update(next_refresh_at=timezone.now())
