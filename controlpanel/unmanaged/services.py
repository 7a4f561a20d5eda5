"""Every write about unmanaged resources: adopting one as a deployment (asked for by a
person, carried out by a worker), ignoring one and showing it again."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from controlpanel.audit.models import AuditAction
from controlpanel.audit.services import audit_record
from controlpanel.credentials.crypto import DecryptionError
from controlpanel.credentials.models import ProviderAccount
from controlpanel.credentials.services import provider_for
from controlpanel.deployments.models import Deployment, EventKind
from controlpanel.deployments.services.transitions import apply_remote, event_record
from controlpanel.deployments.states import State, can_transition, state_for_remote
from controlpanel.teams.permissions import Perm
from controlpanel.teams.services import require_perm
from controlpanel.unmanaged.models import UnmanagedResource
from controlpanel.unmanaged.tasks import adopt_unmanaged_task
from providers.base import NotFound, ProviderError, Remote, RemoteState, Transient

logger = logging.getLogger(__name__)


def _stale_before(now: dt.datetime) -> dt.datetime:
    return now - dt.timedelta(seconds=settings.PANEL_STALE_WORK_SECONDS)


# --- adopt: asked for ---------------------------------------------------------------------------


@transaction.atomic
def unmanaged_request_adopt(*, resource: UnmanagedResource, actor: AbstractBaseUser) -> bool:
    """Ask a worker to import ``resource`` as a deployment. Idempotent: the request is
    claimed by one conditional UPDATE, so a second click, or a concurrent one, queues
    nothing more (returns False). A request whose worker never answered (its message
    lost) may be made again after ``PANEL_STALE_WORK_SECONDS``; the beat sweep re-sends
    it by itself too (``unmanaged_sweep_adoptions``)."""
    require_perm(actor=actor, team=resource.team, perm=Perm.DEPLOY)
    now = timezone.now()
    claimed = (
        UnmanagedResource.objects.filter(pk=resource.pk, deployment__isnull=True)
        .filter(Q(adopt_requested_at__isnull=True) | Q(adopt_requested_at__lt=_stale_before(now)))
        .update(adopt_requested_at=now, adopt_requested_by=actor, adopt_error="")
    )
    if claimed:
        adopt_unmanaged_task.delay_on_commit(resource.pk)
    return bool(claimed)


def unmanaged_sweep_adoptions(*, now: dt.datetime | None = None) -> list[int]:
    """Beat's part: adoptions asked for whose worker never finished (a lost message, a
    killed worker) are sent again. Adopting twice is harmless: the worker locks the row
    and adopts once."""
    now = now or timezone.now()
    stale = UnmanagedResource.objects.filter(
        deployment__isnull=True, adopt_requested_at__lt=_stale_before(now)
    ).values_list("pk", flat=True)
    sent = []
    for pk in list(stale[:100]):
        if UnmanagedResource.objects.filter(pk=pk, adopt_requested_at__lt=_stale_before(now)).update(
            adopt_requested_at=now
        ):
            adopt_unmanaged_task.delay_on_commit(pk)
            sent.append(pk)
    return sent


# --- adopt: carried out by a worker ------------------------------------------------------------


def unmanaged_adopt(*, resource_id: int) -> Deployment | None:
    """The worker's half: read the resource's detail from the vendor (no lock held),
    rebuild its spec (``Provider.spec_for_adoption``), then in one short transaction
    create the deployment in the state the vendor reports, with a timeline line and the
    audit entry. From then on the account's refresh polls it like any other. Raises
    :class:`Transient` for the task to retry; other vendor errors end the request with
    the vendor's words on the resource's row."""
    resource = UnmanagedResource.objects.select_related("account").filter(pk=resource_id).first()
    if resource is None or resource.deployment_id or resource.adopt_requested_at is None:
        return None
    account = resource.account
    try:
        with provider_for(account) as provider:
            remote = provider.get(resource.external_id)
            spec = provider.spec_for_adoption(remote)
    except Transient:
        raise
    except NotFound:
        _end_request(resource_id, f"{account.get_vendor_display()} no longer has it")
        return None
    except ProviderError as exc:
        _end_request(resource_id, exc.message)
        return None
    except DecryptionError as exc:
        _end_request(resource_id, str(exc))
        return None
    if remote.state in (RemoteState.DELETED, RemoteState.DELETING):
        _end_request(resource_id, f"{account.get_vendor_display()} says it is {remote.vendor_state or 'ending'}")
        return None
    deployment = _adopt_saved(resource_id, account, remote, spec)
    if deployment is not None:
        ProviderAccount.objects.filter(pk=account.pk).update(next_refresh_at=timezone.now())
    return deployment


def _adopt_saved(resource_id: int, account: ProviderAccount, remote: Remote, spec: dict) -> Deployment | None:
    with transaction.atomic():
        locked = (
            UnmanagedResource.objects.select_for_update(of=("self",))
            .select_related("adopt_requested_by")
            .filter(pk=resource_id)
            .first()
        )
        if locked is None or locked.deployment_id or locked.adopt_requested_at is None:
            return None  # adopted by the other attempt, or no longer listed
        known = (
            Deployment.objects.filter(account=account, external_id=remote.external_id)
            .exclude(state=State.DELETED)
            .first()
        )
        if known is not None:  # a deployment of ours has it after all (a late save): nothing to import
            locked.deployment = known
            locked.save(update_fields=["deployment"])
            return known
        try:
            with transaction.atomic():
                deployment = _create_adopted(locked, account, remote, spec)
        except IntegrityError:  # the same id saved by a submission a moment ago
            return None
        locked.deployment = deployment
        locked.adopt_error = ""
        locked.save(update_fields=["deployment", "adopt_error"])
    logger.info(
        "deployment_id=%s account_id=%s external_id=%s adopted", deployment.pk, account.pk, deployment.external_id
    )
    return deployment


def _create_adopted(resource: UnmanagedResource, account: ProviderAccount, remote: Remote, spec: dict) -> Deployment:
    actor = resource.adopt_requested_by
    vendor = account.get_vendor_display()
    # Created "submitting" with its external id, the state a create's answer lands in, and
    # moved at once to what the vendor reports (below), in this same transaction.
    deployment = Deployment.objects.create(
        team_id=account.team_id,
        account=account,
        vendor=account.vendor,
        name=(remote.name or remote.external_id)[:200],
        spec=spec,
        state=State.SUBMITTING,
        external_id=remote.external_id,
        estimated_price_per_hour=remote.price_per_hour,
        created_by=actor,
    )
    rebuilt = ", ".join(sorted(spec)) or "nothing"
    event_record(
        deployment,
        kind=EventKind.ACTION,
        actor=actor,
        message=(
            f"Adopted from {vendor}: it was made outside the panel (first seen "
            f"{timezone.localtime(resource.first_seen_at):%Y-%m-%d %H:%M}). The spec was rebuilt from "
            f"{vendor}'s answer ({rebuilt}); the panel now watches it"
        ),
    )
    target = state_for_remote(State.SUBMITTING, remote.state)
    if target is None or not can_transition(State.SUBMITTING, target):
        target = State.PROVISIONING  # on its way somewhere: the next poll says where
    apply_remote(deployment, remote, target=target, actor=actor)
    audit_record(
        team=account.team,
        actor=actor,
        action=AuditAction.DEPLOYMENT_ADOPTED,
        summary=(
            f"Adopted “{deployment.name}” from {vendor} (key “{account.label}”, id {remote.external_id}): "
            "made outside the panel, now managed by it"
        ),
        target=deployment,
        data={"external_id": remote.external_id, "vendor": account.vendor, "spec_keys": sorted(spec)},
    )
    return deployment


def _end_request(resource_id: int, message: str) -> None:
    UnmanagedResource.objects.filter(pk=resource_id, deployment__isnull=True).update(
        adopt_requested_at=None, adopt_error=message[:500]
    )


def unmanaged_adopt_failed(*, resource_id: int, message: str) -> None:
    """Retries exhausted: the request ends, saying why; Adopt can be pressed again."""
    _end_request(resource_id, f"Could not reach the vendor: {message}")


# --- ignore and show again -----------------------------------------------------------------------


@transaction.atomic
def unmanaged_ignore(*, resource: UnmanagedResource, actor: AbstractBaseUser) -> bool:
    """Dismiss ``resource`` (owners and admins): out of the banner and the list, still
    recorded and shown under "Ignored". Returns False when it already was."""
    require_perm(actor=actor, team=resource.team, perm=Perm.MANAGE_KEYS)
    changed = UnmanagedResource.objects.filter(pk=resource.pk, ignored_at__isnull=True).update(
        ignored_at=timezone.now(), ignored_by=actor
    )
    if changed:
        audit_record(
            team=resource.team,
            actor=actor,
            action=AuditAction.UNMANAGED_IGNORED,
            summary=f"Ignored “{resource}” on {resource.get_vendor_display()} (id {resource.external_id}), "
            "not managed by the panel",
            target=resource,
        )
    return bool(changed)


@transaction.atomic
def unmanaged_restore(*, resource: UnmanagedResource, actor: AbstractBaseUser) -> bool:
    """Undo an ignore: the resource is listed (and counted in the banner) again."""
    require_perm(actor=actor, team=resource.team, perm=Perm.MANAGE_KEYS)
    changed = UnmanagedResource.objects.filter(pk=resource.pk, ignored_at__isnull=False).update(
        ignored_at=None, ignored_by=None
    )
    if changed:
        audit_record(
            team=resource.team,
            actor=actor,
            action=AuditAction.UNMANAGED_RESTORED,
            summary=f"Showed “{resource}” on {resource.get_vendor_display()} (id {resource.external_id}) again",
            target=resource,
        )
    return bool(changed)
