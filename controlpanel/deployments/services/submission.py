"""Creating a deployment and the worker's half of sending it to the vendor (create, or start).

A row is locked in one short transaction, the vendor is called with no lock held, and the
answer is saved in a second short transaction that re-reads the row.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from controlpanel.audit.models import AuditAction
from controlpanel.audit.services import audit_record
from controlpanel.credentials.crypto import DecryptionError
from controlpanel.credentials.models import ProviderAccount
from controlpanel.credentials.services import account_mark_refused, key_refused_message, provider_for
from controlpanel.deployments.models import Deployment, EventKind, IdempotencyKey
from controlpanel.deployments.services.sweeps import (
    attempt_claim,
    attempt_release,
    attempt_release_for_retry,
    attempt_retry_at,
    deployments_sweep_submissions,
)
from controlpanel.deployments.services.transitions import MAX_MESSAGE, apply_remote, deployment_transition, event_record
from controlpanel.deployments.states import (
    State,
    state_for_remote,
)
from controlpanel.deployments.tasks import deployment_action_task, submit_deployment_task
from controlpanel.limits.rules import approval_reason, default_expiry
from controlpanel.teams.models import Team
from controlpanel.teams.permissions import Perm
from controlpanel.teams.services import require_perm
from providers.base import (
    Action,
    AuthError,
    ProviderError,
    Remote,
    SpecError,
    Transient,
)

logger = logging.getLogger(__name__)

# A remote created this long before our attempt began is someone else's, not ours to adopt.
ADOPTION_SKEW = dt.timedelta(minutes=2)
# How long a create request's idempotency key answers for the deployment it produced.
IDEMPOTENCY_TTL = dt.timedelta(hours=24)
IDEMPOTENCY_KEY_MAX = 100


@transaction.atomic
def deployment_create(
    *,
    team: Team,
    actor: AbstractBaseUser,
    account: ProviderAccount,
    spec: dict[str, Any],
    estimated_price_per_hour: Decimal | None = None,
    idempotency_key: str = "",
    submitted_via: str = "from the form",
) -> Deployment:
    """Queue a new deployment for the worker to send.

    With an ``idempotency_key`` (the create form's hidden token, or later an API's
    ``Idempotency-Key`` header), a repeated or concurrent request with the same key
    returns the first request's deployment and creates, audits and enqueues nothing.
    """
    require_perm(actor=actor, team=team, perm=Perm.DEPLOY)
    if account.team_id != team.pk:
        raise ValidationError("That key belongs to another team.")
    if idempotency_key:
        earlier = _idempotency_claim(team=team, key=idempotency_key)
        if earlier is not None:
            logger.info("deployment_id=%s returned again for a repeated create request", earlier.pk)
            return earlier
    expires_at, expiry_action = default_expiry(team=team, now=timezone.now())
    deployment = Deployment.objects.create(
        team=team,
        account=account,
        vendor=account.vendor,
        name=str(spec.get("name") or "")[:200],
        spec=spec,
        estimated_price_per_hour=estimated_price_per_hour,
        created_by=actor,
        expires_at=expires_at,
        expiry_action=expiry_action,
    )
    held = approval_reason(team=team, actor=actor, price_per_hour=estimated_price_per_hour)
    if held:
        # Nothing is sent until an admin approves (controlpanel.limits.services).
        deployment_transition(deployment=deployment, to=State.AWAITING_APPROVAL, actor=actor, message=held)
    else:
        deployment_transition(deployment=deployment, to=State.QUEUED, actor=actor, message=f"Submitted {submitted_via}")
    price = f" (about ${estimated_price_per_hour:.2f}/h)" if estimated_price_per_hour else ""
    audit_record(
        team=team,
        actor=actor,
        action=AuditAction.DEPLOYMENT_CREATED,
        target=deployment,
        summary=f"Created {account.get_vendor_display()} deployment {deployment.name} on “{account.label}”{price}",
        data={"vendor": account.vendor, "account_id": account.pk},
    )
    if idempotency_key:
        IdempotencyKey.objects.filter(team=team, key=idempotency_key).update(deployment=deployment)
    if not held:
        submit_deployment_task.delay_on_commit(deployment.pk)
    return deployment


def new_idempotency_key() -> str:
    """A random, unguessable token for one render of a create form."""
    return secrets.token_urlsafe(24)


def _idempotency_claim(*, team: Team, key: str) -> Deployment | None:
    """Take ``key`` for this request, or return what an earlier request with it created.

    Runs inside the create's transaction. The unique (team, key) constraint decides a
    race: on PostgreSQL the second insert waits for the first transaction and fails once
    it commits; on SQLite (IMMEDIATE transactions) the second transaction waits its turn.
    The loser's insert is undone by its savepoint and it reads the winner's deployment.
    """
    if len(key) > IDEMPOTENCY_KEY_MAX:
        raise ValidationError(f"An idempotency key is at most {IDEMPOTENCY_KEY_MAX} characters.")
    now = timezone.now()
    # Cleanup on write (this team's keys), so no beat is needed. An expired key may be used again.
    IdempotencyKey.objects.filter(team=team, created_at__lt=now - IDEMPOTENCY_TTL).delete()
    try:
        with transaction.atomic():
            IdempotencyKey.objects.create(team=team, key=key, created_at=now)
    except IntegrityError:
        earlier = IdempotencyKey.objects.select_related("deployment").filter(team=team, key=key).first()
        if earlier is not None and earlier.action:
            raise ValidationError("This idempotency key was already used for another request.") from None
        if earlier is None or earlier.deployment is None:
            raise ValidationError("This form was just submitted; reload the page to see the result.") from None
        return earlier.deployment
    return None


@dataclass
class _Claim:
    deployment: Deployment
    retrying: bool  # an earlier attempt may have reached the vendor


def _claim_submission(deployment_id: int, task_id: str) -> _Claim | None:
    """Step 1: lock the row and take it, unless it is someone else's or no longer queued."""
    with transaction.atomic():
        deployment = (
            Deployment.objects.select_for_update(of=("self",))
            .select_related("account", "team")
            .filter(pk=deployment_id)
            .first()
        )
        if deployment is None:
            return None
        if deployment.state == State.QUEUED and not deployment.external_id:
            # The team's money limits, again: the budget may have run out since the form.
            from controlpanel.costs.rules import refusal as money_refusal
            from controlpanel.costs.services import deployment_refuse_over_budget

            reason = money_refusal(team=deployment.team, price_per_hour=deployment.estimated_price_per_hour)
            if reason:
                deployment_refuse_over_budget(deployment=deployment, reason=reason)
                return None
        if deployment.state == State.QUEUED:
            deployment.submit_task_id = task_id
            deployment.submit_attempts += 1
            deployment.submit_started_at = timezone.now()
            deployment.last_error = ""
            deployment_transition(
                deployment=deployment,
                to=State.SUBMITTING,
                message=f"Sending to {deployment.get_vendor_display()}",
                extra_fields=("submit_task_id", "submit_attempts", "submit_started_at", "last_error"),
            )
            # A start of an existing resource is safe to repeat; a create is not.
            return _Claim(deployment, retrying=False)
        if deployment.state == State.SUBMITTING and deployment.submit_task_id == task_id:
            return _Claim(deployment, retrying=True)
        return None


def _adoptable(remote: Remote, deployment: Deployment) -> bool:
    if remote.created_at is None or deployment.submit_started_at is None:
        return True
    return remote.created_at >= deployment.submit_started_at - ADOPTION_SKEW


def deployment_submit(*, deployment_id: int, task_id: str) -> None:
    """The worker's half of creating (or starting) a deployment. Idempotent.

    The attempt first claims the row (``sweeps.attempt_claim``): while it holds the claim
    no other attempt, submit or action, runs on the row, and it lets go when it ends.
    Raises ``Transient`` for the task to retry (the task then says when, with
    ``deployment_attempt_retry_later``); every other vendor error fails the deployment
    in the vendor's words.
    """
    if not attempt_claim(deployment_id=deployment_id, attempt_id=task_id):
        return
    retrying = False
    hand_to_delete = False
    try:
        hand_to_delete = _submit_claimed(deployment_id=deployment_id, task_id=task_id)
    except Transient:
        retrying = True  # the task retries; the sweep waits for that retry
        raise
    finally:
        if retrying:
            attempt_release_for_retry(deployment_id=deployment_id, attempt_id=task_id)
        else:
            attempt_release(deployment_id=deployment_id, attempt_id=task_id)
    if hand_to_delete:
        # The row is being deleted and now knows what the create made: the pending delete
        # can run at once instead of waiting for its retry or the sweep.
        deployment_action_task.delay(deployment_id)


def deployment_attempt_retry_later(*, deployment_id: int, countdown: float) -> None:
    """The task scheduled a retry in ``countdown`` s (the attempt already let go of the row):
    tell the sweep when the chain means to try again, so it re-sends only if that retry
    never comes."""
    attempt_retry_at(deployment_id=deployment_id, countdown=countdown)


def _submit_claimed(*, deployment_id: int, task_id: str) -> bool:
    """The submission proper, with the row claimed. True when a late create result was
    recorded on a row being deleted, for its pending delete to take it down."""
    claim = _claim_submission(deployment_id, task_id)
    if claim is None:
        return False
    deployment = claim.deployment
    if deployment.account is None:
        _fail_submission(deployment_id, task_id, "The key this deployment used was deleted.")
        return False
    try:
        with provider_for(deployment.account) as provider:
            if deployment.external_id:
                remote = provider.start(deployment.external_id, deployment.spec) or provider.get(deployment.external_id)
                verb = "Started"
            else:
                remote = None
                verb = "Created"
                if claim.retrying:
                    # An earlier attempt may have created it before failing: adopt, don't pay twice.
                    found = provider.find_by_name(deployment.name)
                    if found is not None and _adoptable(found, deployment):
                        remote = provider.adopt(found, deployment.spec)
                        verb = "Adopted"
                        logger.info("deployment_id=%s adopted external_id=%s", deployment.pk, found.external_id)
                remote = remote or provider.create(deployment.spec)
    except Transient:
        raise
    except SpecError as exc:
        _fail_submission(deployment_id, task_id, exc.message, fields=exc.fields)
    except AuthError as exc:
        vendor = deployment.get_vendor_display()
        account_mark_refused(account=deployment.account, message=f"{vendor} refused the key: {exc.message}")
        _fail_submission(deployment_id, task_id, key_refused_message(account=deployment.account, words=exc.message))
    except ProviderError as exc:
        _fail_submission(deployment_id, task_id, exc.message)
    except DecryptionError as exc:
        _fail_submission(deployment_id, task_id, str(exc))
    else:
        outcome = _save_submission(deployment_id, task_id, remote, verb)
        if outcome == _LATE_FOR_DELETED:
            _delete_orphan(deployment, remote)
        return outcome == _LATE_FOR_DELETING
    return False


# What became of a create result that arrived after the row was asked to be deleted.
_LATE_FOR_DELETING = "deleting"  # recorded on the row; its pending delete takes it down
_LATE_FOR_DELETED = "deleted"  # the row is already gone: delete it at the vendor right here


def _save_submission(deployment_id: int, task_id: str, remote: Remote, verb: str) -> str:
    """Step 3: record what the vendor made, if the row is still ours.

    A result for a row someone deleted meanwhile is never dropped: the vendor made it and
    bills for it, so it is recorded for the pending delete, or deleted by the caller.
    """
    with transaction.atomic():
        deployment = Deployment.objects.select_for_update().filter(pk=deployment_id).first()
        if deployment is not None and deployment.submit_task_id == task_id and not deployment.external_id:
            if deployment.state == State.DELETING:
                deployment.external_id = remote.external_id
                if not deployment.pending_action:  # the delete asked for must still happen
                    deployment.pending_action, deployment.pending_since = Action.DELETE.value, timezone.now()
                deployment.save(update_fields=["external_id", "pending_action", "pending_since", "updated_at"])
                event_record(
                    deployment,
                    kind=EventKind.INFO,
                    actor=None,
                    message=(
                        f"{verb} on {deployment.get_vendor_display()} as {remote.external_id} after the delete "
                        "was asked for; deleting it there"
                    ),
                )
                return _LATE_FOR_DELETING
            if deployment.state == State.DELETED:
                return _LATE_FOR_DELETED
            if deployment.state == State.FAILED:
                # Failed meanwhile (a delete that could not find it yet, a deadline) while this
                # create was on its way: never dropped, or it would bill unseen. Recorded, so
                # the poll follows it from failed to what the vendor says.
                deployment.external_id = remote.external_id
                deployment.save(update_fields=["external_id", "updated_at"])
                event_record(
                    deployment,
                    kind=EventKind.INFO,
                    actor=None,
                    message=(
                        f"{verb} on {deployment.get_vendor_display()} as {remote.external_id} after it had failed; "
                        "following it again"
                    ),
                )
                ProviderAccount.objects.filter(pk=deployment.account_id).update(next_refresh_at=timezone.now())
                return ""
        if deployment is None or deployment.state != State.SUBMITTING or deployment.submit_task_id != task_id:
            logger.warning(
                "deployment_id=%s changed while submitting; not saving %s", deployment_id, remote.external_id
            )
            return ""
        deployment.external_id = remote.external_id
        deployment.error_fields = {}
        deployment.save(update_fields=["external_id", "error_fields", "updated_at"])
        if verb == "Adopted":
            message = f"Adopted what an earlier attempt created ({remote.external_id})"
        else:
            message = f"{verb} on {deployment.get_vendor_display()} as {remote.external_id}"
        event_record(deployment, kind=EventKind.INFO, actor=None, message=message)
        target = state_for_remote(State.SUBMITTING, remote.state) or State.PROVISIONING
        apply_remote(deployment, remote, target=target)
        ProviderAccount.objects.filter(pk=deployment.account_id).update(next_refresh_at=timezone.now())
    return ""


def _delete_orphan(deployment: Deployment, remote: Remote) -> None:
    """A create result for a row already deleted: delete what was made, and say so."""
    vendor = deployment.get_vendor_display()
    try:
        with provider_for(deployment.account) as provider:
            provider.delete(remote.external_id)
    except (ProviderError, DecryptionError) as exc:
        message = str(getattr(exc, "message", exc))
        logger.error(
            "deployment_id=%s account_id=%s external_id=%s created after its delete; delete failed: %s",
            deployment.pk,
            deployment.account_id,
            remote.external_id,
            message,
        )
        event_record(
            deployment,
            kind=EventKind.ERROR,
            actor=None,
            message=(
                f"{vendor} created {remote.external_id} after this deployment was deleted, and deleting it "
                f"failed: {message}. Delete it in {vendor}'s console."
            )[:MAX_MESSAGE],
        )
        return
    logger.warning(
        "deployment_id=%s account_id=%s external_id=%s created after its delete; deleted at the vendor",
        deployment.pk,
        deployment.account_id,
        remote.external_id,
    )
    event_record(
        deployment,
        kind=EventKind.INFO,
        actor=None,
        message=f"{vendor} created {remote.external_id} after this deployment was deleted; deleted it there",
    )


def _fail_submission(
    deployment_id: int, task_id: str, message: str, *, fields: dict[str, list[str]] | None = None
) -> None:
    with transaction.atomic():
        deployment = Deployment.objects.select_for_update().filter(pk=deployment_id).first()
        if deployment is None or deployment.state != State.SUBMITTING or deployment.submit_task_id != task_id:
            return
        deployment.last_error = message[:MAX_MESSAGE]
        deployment.error_fields = fields or {}
        deployment.status_message = message[:MAX_MESSAGE]
        deployment_transition(
            deployment=deployment,
            to=State.FAILED,
            message=message,
            extra_fields=("last_error", "error_fields", "status_message"),
        )


def deployment_submit_gave_up(*, deployment_id: int, task_id: str, message: str) -> None:
    _fail_submission(deployment_id, task_id, f"Gave up after repeated vendor errors: {message}")
    attempt_release(deployment_id=deployment_id, attempt_id=task_id)


@transaction.atomic
def deployment_resubmit(
    *,
    deployment: Deployment,
    actor: AbstractBaseUser,
    spec: dict[str, Any],
    estimated_price_per_hour: Decimal | None = None,
) -> Deployment:
    """Send a deployment the vendor refused again, with a corrected spec (failed → queued)."""
    require_perm(actor=actor, team=deployment.team, perm=Perm.DEPLOY)
    deployment = Deployment.objects.select_for_update().get(pk=deployment.pk)
    if deployment.state != State.FAILED or deployment.external_id:
        raise ValidationError("Only a deployment that never reached the vendor can be resubmitted.")
    deployment.spec = spec
    deployment.name = str(spec.get("name") or deployment.name)[:200]
    deployment.error_fields, deployment.last_error, deployment.status_message = {}, "", ""
    deployment.estimated_price_per_hour = estimated_price_per_hour
    held = approval_reason(team=deployment.team, actor=actor, price_per_hour=estimated_price_per_hour)
    deployment_transition(
        deployment=deployment,
        to=State.AWAITING_APPROVAL if held else State.QUEUED,
        actor=actor,
        message=held or "Resubmitted with changes",
        extra_fields=("spec", "name", "error_fields", "last_error", "status_message", "estimated_price_per_hour"),
    )
    audit_record(
        team=deployment.team,
        actor=actor,
        action=AuditAction.DEPLOYMENT_RETRIED,
        target=deployment,
        summary=f"Resubmitted {deployment.name} with a corrected spec",
    )
    if not held:
        submit_deployment_task.delay_on_commit(deployment.pk)
    return deployment


def deployments_requeue_stale(*, now: dt.datetime | None = None) -> int:
    """Re-send submissions whose message was lost (broker down, worker killed), never one
    whose own attempt chain is alive: see ``sweeps.deployments_sweep_submissions``."""
    return deployments_sweep_submissions(now=now)
