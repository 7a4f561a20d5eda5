"""Polling: one ``list()`` per account, writing only what changed."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

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
from controlpanel.deployments.tasks import deployment_action_task
from controlpanel.teams.permissions import Perm
from controlpanel.teams.services import require_perm
from controlpanel.unmanaged.listing import listing_is_complete, unmanaged_record_listing
from providers.base import (
    Action,
    AuthError,
    NotFound,
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
    lease_until = now + dt.timedelta(seconds=settings.PANEL_REFRESH_LEASE_SECONDS)
    claimed = []
    for pk in list(candidates):
        if ProviderAccount.objects.filter(lease_free, pk=pk).update(refresh_lease_until=lease_until):
            claimed.append(pk)
    return claimed


def account_refresh(*, account_id: int) -> None:
    """Poll one account: one ``list()`` for all its deployments, write only what changed."""
    account = ProviderAccount.objects.filter(pk=account_id).first()
    if account is None:
        return
    # Every row of the account that is not deleted: the watched ones are polled, and all
    # of them tell which listed resources are ours (the rest are unmanaged).
    ours = list(Deployment.objects.filter(account=account).exclude(state=State.DELETED).select_related("account"))
    rows = [d for d in ours if d.state in WATCHED and d.external_id]
    error = ""
    try:
        with provider_for(account) as provider:
            listing = provider.list_remotes()
            remotes = {remote.external_id: remote for remote in listing}
            if rows:
                unchanged: list[int] = []
                for deployment in rows:
                    remote = remotes.get(deployment.external_id)
                    if remote is not None and remote_unchanged(deployment, remote):
                        unchanged.append(deployment.pk)
                        if deployment.raw != remote.raw:
                            Deployment.objects.filter(pk=deployment.pk).update(raw=remote.raw)
                        continue
                    _refresh_one(provider, deployment, remote)
                _mark_checked(unchanged)
        if listing_is_complete(listing):
            unmanaged_record_listing(account=account, remotes=remotes.values(), deployments=ours)
        if rows:
            deployments_fail_past_deadline(account=account)
    except AuthError as exc:
        error = f"{account.get_vendor_display()} refused the key: {exc.message}"
        account_mark_refused(account=account, message=error)
    except ProviderError as exc:
        error = exc.message
    except DecryptionError as exc:
        error = str(exc)
    finally:
        _finish_refresh(account, error, watching=bool(rows))


def _mark_checked(pks: list[int], chunk: int = 500) -> None:
    """One UPDATE per few hundred unchanged rows: "checked just now" without touching
    ``updated_at`` (so the dashboard's version stays put) or locking anything."""
    now = timezone.now()
    for start in range(0, len(pks), chunk):
        Deployment.objects.filter(pk__in=pks[start : start + chunk]).update(checked_at=now)


def _refresh_one(provider: Any, deployment: Deployment, remote: Remote | None) -> None:
    if remote is None:
        # Not listed. Ask once more by id before calling it gone: lists can lag.
        try:
            remote = provider.get(deployment.external_id)
        except NotFound:
            remote = None
        except Unsupported:
            return
    with transaction.atomic():
        locked = Deployment.objects.select_for_update().filter(pk=deployment.pk).first()
        if locked is None or locked.state not in WATCHED:
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


def _finish_refresh(account: ProviderAccount, error: str, *, watching: bool) -> None:
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
        next_refresh_at=now + dt.timedelta(seconds=interval),
        last_refreshed_at=now,
        last_refresh_error=error[:500],
        updated_at=now,  # moves the dashboard's version: "checked N s ago" is news too
    )


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
