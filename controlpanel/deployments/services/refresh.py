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
from controlpanel.credentials.models import ProviderAccount
from controlpanel.credentials.services import account_mark_refused, provider_for
from controlpanel.deployments.models import Deployment
from controlpanel.deployments.services.submission import deployments_requeue_stale
from controlpanel.deployments.services.transitions import apply_remote, deployment_transition, remote_unchanged
from controlpanel.deployments.states import (
    IN_MOTION,
    WATCHED,
    State,
    can_transition,
)
from controlpanel.teams.permissions import Perm
from controlpanel.teams.services import require_perm
from providers.base import (
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
    candidates = (
        ProviderAccount.objects.filter(lease_free, due, deployments__state__in=[*WATCHED, State.SUBMITTING])
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
    rows = list(
        Deployment.objects.filter(account=account, state__in=WATCHED).exclude(external_id="").select_related("account")
    )
    error = ""
    try:
        if rows:
            with provider_for(account) as provider:
                remotes = {remote.external_id: remote for remote in provider.list_remotes()}
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
    except AuthError as exc:
        error = f"{account.get_vendor_display()} refused the key: {exc.message}"
        account_mark_refused(account=account, message=error)
    except ProviderError as exc:
        error = exc.message
    except DecryptionError as exc:
        error = str(exc)
    finally:
        _finish_refresh(account, error)


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
        if remote is None or remote.state == RemoteState.DELETED:
            target = State.DELETED if locked.state == State.DELETING else State.LOST
            if can_transition(locked.state, target):
                message = "Deleted" if target == State.DELETED else f"{locked.get_vendor_display()} no longer has it"
                deployment_transition(deployment=locked, to=target, message=message)
            return
        apply_remote(locked, remote)


def _finish_refresh(account: ProviderAccount, error: str) -> None:
    now = timezone.now()
    moving = (
        Deployment.objects.filter(account=account, state__in=IN_MOTION).exists()
        or Deployment.objects.filter(account=account).exclude(pending_action="").exists()
    )
    interval = settings.PANEL_REFRESH_FAST_SECONDS if moving or error else settings.PANEL_REFRESH_SLOW_SECONDS
    ProviderAccount.objects.filter(pk=account.pk).update(
        refresh_lease_until=None,
        next_refresh_at=now + dt.timedelta(seconds=interval),
        last_refreshed_at=now,
        last_refresh_error=error[:500],
        updated_at=now,  # moves the dashboard's version: "checked N s ago" is news too
    )


def refresh_sweep() -> list[int]:
    """Beat's job: prove beat and a worker are alive, re-send lost submissions, start
    due catalog syncs, and hand out due refreshes (one lease per account)."""
    beat("beat")
    deployments_requeue_stale()
    for account_id in accounts_claim_catalog_sync():
        sync_catalog_task.delay(account_id)
    return account_claim_due_refresh()


@transaction.atomic
def account_request_refresh(*, account: ProviderAccount, actor: AbstractBaseUser) -> None:
    """ "Refresh now": make the account due; the next sweep (within seconds) polls it."""
    require_perm(actor=actor, team=account.team, perm=Perm.VIEW)
    ProviderAccount.objects.filter(pk=account.pk).update(next_refresh_at=timezone.now())
