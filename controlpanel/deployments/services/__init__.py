"""Every write to deployments: transitions, submission, actions, polling.

Vendor calls happen only here and only outside transactions: a row is locked in one
short transaction, the vendor is called with no lock held, and the answer is saved
in a second short transaction that re-reads the row.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from controlpanel.audit.models import AuditAction
from controlpanel.audit.services import actor_label, audit_record
from controlpanel.core.heartbeat import beat
from controlpanel.credentials.crypto import DecryptionError
from controlpanel.credentials.models import ProviderAccount
from controlpanel.credentials.services import account_mark_refused, provider_for
from controlpanel.deployments.models import Deployment, DeploymentEvent, EventKind, LogSnapshot, month_start_of
from controlpanel.deployments.states import (
    IN_MOTION,
    WATCHED,
    InvalidTransition,
    State,
    can_transition,
    state_for_remote,
)
from controlpanel.teams.models import Team
from controlpanel.teams.permissions import Perm
from controlpanel.teams.services import require_perm
from providers.base import (
    Action,
    AuthError,
    NotFound,
    ProviderError,
    Remote,
    RemoteState,
    SpecError,
    Transient,
    Unsupported,
)

logger = logging.getLogger(__name__)

MAX_MESSAGE = 2000
# A row left in SUBMITTING or QUEUED this long has lost its message; the sweep re-sends it.
STALE_SUBMISSION = dt.timedelta(seconds=90)
# A remote created this long before our attempt began is someone else's, not ours to adopt.
ADOPTION_SKEW = dt.timedelta(minutes=2)


# --- transitions -----------------------------------------------------------------------------


COST_FIELDS = ("cost_accrued", "cost_since", "cost_month", "cost_month_accrued")


def _accrue_cost(deployment: Deployment, now: dt.datetime) -> None:
    """Fold the running rate into the totals before the rate or state changes: all of it
    into ``cost_accrued``, and the part since the 1st (UTC) into this month's figure."""
    month_start = month_start_of(now)
    if deployment.cost_month != month_start.date():
        deployment.cost_month, deployment.cost_month_accrued = month_start.date(), Decimal("0")
    if deployment.price_per_hour and deployment.cost_since:
        hours = Decimal((now - deployment.cost_since).total_seconds()) / Decimal(3600)
        deployment.cost_accrued += deployment.price_per_hour * hours
        in_month = max(deployment.cost_since, month_start)
        if now > in_month:
            deployment.cost_month_accrued += (
                deployment.price_per_hour * Decimal((now - in_month).total_seconds()) / Decimal(3600)
            )
    deployment.cost_since = now


def _event(
    deployment: Deployment,
    *,
    kind: str,
    actor: AbstractBaseUser | None,
    message: str = "",
    from_state: str = "",
    to_state: str = "",
) -> DeploymentEvent:
    return DeploymentEvent.objects.create(
        deployment=deployment,
        kind=kind,
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_label=actor_label(actor) if actor is not None else "worker",
        from_state=from_state,
        to_state=to_state,
        message=message[:MAX_MESSAGE],
    )


def deployment_transition(
    *,
    deployment: Deployment,
    to: State,
    actor: AbstractBaseUser | None = None,
    message: str = "",
    extra_fields: tuple[str, ...] = (),
) -> bool:
    """Move ``deployment`` to ``to`` and record it. The only code that assigns ``state``.

    Returns False when it is already there; raises ``InvalidTransition`` for a move
    the table does not allow. ``extra_fields`` are saved in the same UPDATE.
    """
    current = State(deployment.state)
    if current == to:
        if extra_fields:
            deployment.save(update_fields=[*extra_fields, "updated_at"])
        return False
    if not can_transition(current, to):
        raise InvalidTransition(current, to)
    now = timezone.now()
    _accrue_cost(deployment, now)
    if to in (State.STOPPED, State.DELETED, State.FAILED, State.LOST):
        deployment.price_per_hour = None  # nothing bills in these states
    deployment.state = to
    deployment.state_changed_at = now
    deployment.save(
        update_fields=[
            "state", "state_changed_at", *COST_FIELDS, "price_per_hour", *extra_fields, "updated_at"
        ]
    )  # fmt: skip
    _event(deployment, kind=EventKind.STATE, actor=actor, from_state=current, to_state=to, message=message)
    logger.info(
        "deployment_id=%s external_id=%s %s -> %s",
        deployment.pk,
        deployment.external_id or "-",
        current.value,
        to.value,
    )
    return True


# --- create and submit -------------------------------------------------------------------------


@transaction.atomic
def deployment_create(
    *,
    team: Team,
    actor: AbstractBaseUser,
    account: ProviderAccount,
    spec: dict[str, Any],
    estimated_price_per_hour: Decimal | None = None,
) -> Deployment:
    require_perm(actor=actor, team=team, perm=Perm.DEPLOY)
    if account.team_id != team.pk:
        raise ValidationError("That key belongs to another team.")
    from controlpanel.deployments.tasks import submit_deployment_task

    deployment = Deployment.objects.create(
        team=team,
        account=account,
        vendor=account.vendor,
        name=str(spec.get("name") or "")[:200],
        spec=spec,
        estimated_price_per_hour=estimated_price_per_hour,
        created_by=actor,
    )
    deployment_transition(deployment=deployment, to=State.QUEUED, actor=actor, message="Submitted from the form")
    price = f" (about ${estimated_price_per_hour:.2f}/h)" if estimated_price_per_hour else ""
    audit_record(
        team=team, actor=actor, action=AuditAction.DEPLOYMENT_CREATED, target=deployment,
        summary=f"Created {account.get_vendor_display()} deployment {deployment.name} on “{account.label}”{price}",
        data={"vendor": account.vendor, "account_id": account.pk},
    )  # fmt: skip
    submit_deployment_task.delay_on_commit(deployment.pk)
    return deployment


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

    Raises ``Transient`` for the task to retry; every other vendor error fails the
    deployment in the vendor's words.
    """
    claim = _claim_submission(deployment_id, task_id)
    if claim is None:
        return
    deployment = claim.deployment
    if deployment.account is None:
        _fail_submission(deployment_id, task_id, "The key this deployment used was deleted.")
        return
    try:
        with provider_for(deployment.account) as provider:
            if deployment.external_id:
                remote = provider.start(deployment.external_id, deployment.spec) or provider.get(deployment.external_id)
                verb = "Started"
            else:
                remote = None
                if claim.retrying:
                    # An earlier attempt may have created it before failing: adopt, don't pay twice.
                    found = provider.find_by_name(deployment.name)
                    if found is not None and _adoptable(found, deployment):
                        remote = provider.adopt(found, deployment.spec)
                        logger.info("deployment_id=%s adopted external_id=%s", deployment.pk, found.external_id)
                remote = remote or provider.create(deployment.spec)
                verb = "Created"
    except Transient:
        raise
    except SpecError as exc:
        _fail_submission(deployment_id, task_id, exc.message, fields=exc.fields)
    except AuthError as exc:
        account_mark_refused(account=deployment.account, message=exc.message)
        _fail_submission(deployment_id, task_id, f"{deployment.get_vendor_display()} refused the key: {exc.message}")
    except ProviderError as exc:
        _fail_submission(deployment_id, task_id, exc.message)
    except DecryptionError as exc:
        _fail_submission(deployment_id, task_id, str(exc))
    else:
        _save_submission(deployment_id, task_id, remote, verb)


def _save_submission(deployment_id: int, task_id: str, remote: Remote, verb: str) -> None:
    """Step 3: record what the vendor made, if the row is still ours."""
    with transaction.atomic():
        deployment = Deployment.objects.select_for_update().filter(pk=deployment_id).first()
        if deployment is None or deployment.state != State.SUBMITTING or deployment.submit_task_id != task_id:
            logger.warning(
                "deployment_id=%s changed while submitting; not saving %s", deployment_id, remote.external_id
            )
            return
        deployment.external_id = remote.external_id
        deployment.error_fields = {}
        deployment.save(update_fields=["external_id", "error_fields", "updated_at"])
        _event(
            deployment, kind=EventKind.INFO, actor=None,
            message=f"{verb} on {deployment.get_vendor_display()} as {remote.external_id}",
        )  # fmt: skip
        target = state_for_remote(State.SUBMITTING, remote.state) or State.PROVISIONING
        _apply_remote(deployment, remote, target=target)
        ProviderAccount.objects.filter(pk=deployment.account_id).update(next_refresh_at=timezone.now())


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


# --- applying what the vendor says --------------------------------------------------------------


def _visible(remote: Remote) -> dict[str, Any]:
    """The fields of a row that the vendor's answer sets and people see."""
    return {
        "vendor_state": remote.vendor_state[:100],
        "status_message": remote.message[:MAX_MESSAGE],
        "replicas_ready": remote.replicas_ready,
        "replicas_desired": remote.replicas_desired,
        "endpoints": [e.as_dict() for e in remote.endpoints],
        "endpoint_url": remote.primary_url[:500],
        "connection": dict(remote.connection),
    }


def _unchanged(deployment: Deployment, remote: Remote) -> bool:
    """True when the vendor's answer changes nothing anyone sees: no field, no price,
    no state move the table allows. Most rows of a steady fleet, on most polls."""
    if any(getattr(deployment, name) != value for name, value in _visible(remote).items()):
        return False
    if remote.price_per_hour is not None and remote.price_per_hour != deployment.price_per_hour:
        return False
    target = state_for_remote(deployment.state, remote.state)
    return target is None or target == deployment.state or not can_transition(deployment.state, target)


def _apply_remote(deployment: Deployment, remote: Remote, *, target: State | None = None, actor=None) -> bool:
    """Copy the vendor's view onto the row, moving state if the table allows.

    Saves only when something visible changed (``raw`` alone is written without
    touching ``updated_at``, so the dashboard's version does not move for it).
    """
    now = timezone.now()
    visible = _visible(remote)
    changed = [name for name, value in visible.items() if getattr(deployment, name) != value]
    for name in changed:
        setattr(deployment, name, visible[name])
    if remote.price_per_hour is not None and remote.price_per_hour != deployment.price_per_hour:
        _accrue_cost(deployment, now)
        deployment.price_per_hour = remote.price_per_hour
        changed += ["price_per_hour", *COST_FIELDS]
    raw_changed = deployment.raw != remote.raw
    deployment.raw = remote.raw
    deployment.checked_at = now

    target = target if target is not None else state_for_remote(deployment.state, remote.state)
    moved = False
    if target is not None and target != deployment.state:
        if can_transition(deployment.state, target):
            deployment_transition(
                deployment=deployment,
                to=target,
                actor=actor,
                message=remote.message or f"{deployment.get_vendor_display()} says {remote.vendor_state}",
                extra_fields=tuple(dict.fromkeys([*changed, "raw", "checked_at"])),
            )
            moved = True
        else:
            logger.warning(
                "deployment_id=%s external_id=%s: vendor state %s does not follow %s; kept",
                deployment.pk, deployment.external_id, remote.vendor_state, deployment.state,
            )  # fmt: skip
    if not moved:
        if changed:
            deployment.save(update_fields=[*dict.fromkeys(changed), "raw", "checked_at", "updated_at"])
        else:
            fields = {"checked_at": now, **({"raw": remote.raw} if raw_changed else {})}
            Deployment.objects.filter(pk=deployment.pk).update(**fields)
    return moved or bool(changed)


# --- polling ------------------------------------------------------------------------------------


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


def deployments_requeue_stale(*, now: dt.datetime | None = None) -> int:
    """Re-send submissions whose message was lost (broker down, worker killed).

    QUEUED rows are simply sent again: the claim lets only one through. SUBMITTING
    rows get a fresh task id, so the new task's claim counts as a retry and looks for
    what the lost attempt may have created before creating anything.
    """
    from controlpanel.deployments.tasks import submit_deployment_task

    now = now or timezone.now()
    cutoff = now - STALE_SUBMISSION
    count = 0
    for pk in Deployment.objects.filter(state=State.QUEUED, state_changed_at__lt=cutoff).values_list("pk", flat=True):
        # Touch it so the next sweep waits another interval before sending again.
        Deployment.objects.filter(pk=pk, state=State.QUEUED).update(state_changed_at=now)
        submit_deployment_task.delay(pk)
        count += 1
    stuck = Deployment.objects.filter(state=State.SUBMITTING, submit_started_at__lt=cutoff)
    for pk, old_task_id in stuck.values_list("pk", "submit_task_id"):
        new_task_id = str(uuid.uuid4())
        if Deployment.objects.filter(pk=pk, state=State.SUBMITTING, submit_task_id=old_task_id).update(
            submit_task_id=new_task_id, submit_started_at=now
        ):
            logger.warning("deployment_id=%s stuck submitting; re-sent as task %s", pk, new_task_id)
            submit_deployment_task.apply_async((pk,), task_id=new_task_id)
            count += 1
    return count


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
                    if remote is not None and _unchanged(deployment, remote):
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
        _apply_remote(locked, remote)


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
    from controlpanel.catalog.services import accounts_claim_catalog_sync
    from controlpanel.catalog.tasks import sync_catalog_task

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


# --- actions people take ---------------------------------------------------------------------------

ACTION_STATES: dict[Action, frozenset[State]] = {
    Action.START: frozenset({State.STOPPED}),
    # Failed too: a vendor may keep a failed deployment alive and billing (Nosana's ERROR
    # and INSUFFICIENT_FUNDS, which it retries), and stop is how to end that.
    Action.STOP: frozenset({State.PROVISIONING, State.RUNNING, State.UPDATING, State.FAILED}),
    Action.RESTART: frozenset({State.RUNNING}),
    Action.SCALE: frozenset({State.RUNNING, State.UPDATING, State.PROVISIONING}),
    Action.UPDATE: frozenset({State.RUNNING, State.UPDATING, State.STOPPED, State.FAILED}),
    Action.DELETE: frozenset(set(State) - {State.DELETED, State.DELETING}),
    Action.ARCHIVE: frozenset({State.STOPPED}),
}
AUDIT_FOR_ACTION = {
    Action.START: AuditAction.DEPLOYMENT_STARTED,
    Action.STOP: AuditAction.DEPLOYMENT_STOPPED,
    Action.RESTART: AuditAction.DEPLOYMENT_RESTARTED,
    Action.SCALE: AuditAction.DEPLOYMENT_SCALED,
    Action.UPDATE: AuditAction.DEPLOYMENT_UPDATED,
    Action.DELETE: AuditAction.DEPLOYMENT_DELETED,
    Action.ARCHIVE: AuditAction.DEPLOYMENT_DELETED,
}


def action_refusal(deployment: Deployment, action: Action) -> str:
    """Why ``action`` cannot be taken now, in plain words; ``""`` when it can."""
    if deployment.account is None and action is not Action.DELETE:
        return "The key this deployment used was deleted."
    if deployment.account is not None and action not in deployment.account.provider_class.actions:
        return f"{deployment.get_vendor_display()} has no {action.value} for deployments."
    if deployment.pending_action:
        return f"Waiting for the vendor to finish “{deployment.pending_action}”."
    if deployment.state not in ACTION_STATES[action]:
        return f"Not possible while {deployment.get_state_display().lower()}."
    if action is Action.STOP and not deployment.external_id:
        return f"It never reached {deployment.get_vendor_display()}: there is nothing to stop."
    if deployment.account is not None and deployment.external_id:
        # The vendor's own preconditions (e.g. Replicate deletes only after 15 minutes offline).
        return deployment.account.provider_class.action_blocked(
            action, spec=deployment.spec, raw=deployment.raw, since=deployment.state_changed_at
        )
    return ""


def _describe(action: Action, params: dict[str, Any]) -> str:
    if action is Action.SCALE:
        if "replicas" in params:
            return f"Scale to {params['replicas']} replicas"
        unit = "instances" if "min_instances" in params else "replicas"  # Replicate scales instances
        return f"Scale to {params.get(f'min_{unit}')}–{params.get(f'max_{unit}')} {unit}"
    return {Action.UPDATE: "Update the spec"}.get(action, action.value.capitalize())


@transaction.atomic
def deployment_request_action(
    *, deployment: Deployment, actor: AbstractBaseUser, action: Action, params: dict[str, Any] | None = None
) -> Deployment:
    """Record what a person asked for and hand it to a worker.

    Start re-enters the submission path (stopped → queued). Deleting something that
    never reached the vendor, or that the vendor already forgot, is done right here.
    Everything else becomes a pending action for ``deployment_run_action``.
    """
    require_perm(actor=actor, team=deployment.team, perm=Perm.DEPLOY)
    deployment = (
        Deployment.objects.select_for_update(of=("self",)).select_related("account", "team").get(pk=deployment.pk)
    )
    reason = action_refusal(deployment, action)
    if reason:
        raise ValidationError(reason)
    params = params or {}
    summary = f"{_describe(action, params)}: {deployment.name}"
    audit_record(
        team=deployment.team, actor=actor, action=AUDIT_FOR_ACTION[action], target=deployment,
        summary=summary, data={"params": _safe_params(params)},
    )  # fmt: skip

    if action is Action.START:
        from controlpanel.deployments.tasks import submit_deployment_task

        deployment_transition(deployment=deployment, to=State.QUEUED, actor=actor, message="Start requested")
        submit_deployment_task.delay_on_commit(deployment.pk)
        return deployment
    if action is Action.DELETE and (not deployment.external_id or deployment.state in (State.LOST, State.QUEUED)):
        deployment_transition(deployment=deployment, to=State.DELETING, actor=actor, message="Delete requested")
        deployment_transition(
            deployment=deployment, to=State.DELETED, actor=actor, message="Nothing to delete at the vendor"
        )
        return deployment

    from controlpanel.deployments.tasks import deployment_action_task

    deployment.pending_action = action.value
    deployment.pending_params = params
    deployment.pending_actor = actor
    deployment.pending_since = timezone.now()
    deployment.last_error = ""
    deployment.save(
        update_fields=["pending_action", "pending_params", "pending_actor", "pending_since", "last_error", "updated_at"]
    )
    _event(deployment, kind=EventKind.ACTION, actor=actor, message=f"{_describe(action, params)} requested")
    deployment_action_task.delay_on_commit(deployment.pk)
    return deployment


def _safe_params(params: dict[str, Any]) -> dict[str, Any]:
    """Params for the audit log: a new spec is summarised, never copied (env values)."""
    if "spec" in params:
        return {"spec_fields": sorted(params["spec"])}
    return params


def deployment_run_action(*, deployment_id: int) -> None:
    """The worker's half of an action. Raises ``Transient`` for the task to retry."""
    deployment = Deployment.objects.select_related("account", "pending_actor").filter(pk=deployment_id).first()
    if deployment is None or not deployment.pending_action or deployment.account is None:
        return
    if deployment.state == State.SUBMITTING:
        # Not at the vendor yet (no id): try again once the submission has landed.
        raise Transient("waiting for the submission to finish")
    action, params, actor = Action(deployment.pending_action), deployment.pending_params, deployment.pending_actor
    new_spec = dict(deployment.spec)
    try:
        with provider_for(deployment.account) as provider:
            remote: Remote | None
            if action is Action.STOP:
                remote = provider.stop(deployment.external_id, deployment.spec)
            elif action is Action.RESTART:
                remote = provider.restart(deployment.external_id, deployment.spec)
            elif action is Action.SCALE:
                remote = provider.scale(deployment.external_id, params)
                new_spec.update(params)
            elif action is Action.UPDATE:
                new_spec = params["spec"]
                if params.get("redeploy"):
                    remote = provider.redeploy(deployment.external_id, new_spec)
                else:
                    remote = provider.update(deployment.external_id, new_spec, deployment.spec)
            elif action is Action.DELETE:
                provider.delete(deployment.external_id)
                remote = None
            elif action is Action.ARCHIVE:
                provider.archive(deployment.external_id)
                remote = None
            else:
                raise Unsupported(f"unknown action {action}")
    except Transient:
        raise
    except SpecError as exc:
        _finish_action(deployment_id, actor, error=exc.message, fields=exc.fields)
    except AuthError as exc:
        account_mark_refused(account=deployment.account, message=exc.message)
        _finish_action(deployment_id, actor, error=f"{deployment.get_vendor_display()} refused the key: {exc.message}")
    except NotFound:
        _finish_action(deployment_id, actor, error=None, gone=True)
    except ProviderError as exc:
        _finish_action(deployment_id, actor, error=exc.message)
    except DecryptionError as exc:
        _finish_action(deployment_id, actor, error=str(exc))
    else:
        _finish_action(deployment_id, actor, error=None, remote=remote, spec=new_spec)


def _finish_action(
    deployment_id: int,
    actor: AbstractBaseUser | None,
    *,
    error: str | None,
    fields: dict[str, list[str]] | None = None,
    remote: Remote | None = None,
    spec: dict[str, Any] | None = None,
    gone: bool = False,
) -> None:
    with transaction.atomic():
        deployment = (
            Deployment.objects.select_for_update(of=("self",))
            .select_related("account")
            .filter(pk=deployment_id)
            .first()
        )
        if deployment is None or not deployment.pending_action:
            return
        action = Action(deployment.pending_action)
        described = _describe(action, deployment.pending_params)
        deployment.pending_action, deployment.pending_params, deployment.pending_since = "", {}, None
        deployment.pending_actor = None
        clear = ["pending_action", "pending_params", "pending_since", "pending_actor"]
        if error is not None:
            deployment.last_error = f"{described} failed: {error}"[:MAX_MESSAGE]
            deployment.error_fields = fields or {}
            deployment.save(update_fields=[*clear, "last_error", "error_fields", "updated_at"])
            _event(deployment, kind=EventKind.ERROR, actor=actor, message=deployment.last_error)
            return
        deployment.last_error, deployment.error_fields = "", {}
        if spec is not None:
            deployment.spec = spec
            deployment.name = str(spec.get("name") or deployment.name)[:200]
        deployment.save(update_fields=[*clear, "last_error", "error_fields", "spec", "name", "updated_at"])
        _event(
            deployment,
            kind=EventKind.ACTION,
            actor=actor,
            message=f"{described}: accepted by {deployment.get_vendor_display()}",
        )
        if gone or action in (Action.DELETE, Action.ARCHIVE):
            # Archive is the panel's delete for a vendor that keeps a read-only record
            # (Nosana): the poll sees the archived status as deleted and finishes it.
            to = State.DELETING
            accepted = "Archive accepted" if action is Action.ARCHIVE else "Delete accepted"
            deployment_transition(deployment=deployment, to=to, actor=actor, message=accepted)
            if gone:
                deployment_transition(
                    deployment=deployment, to=State.DELETED, actor=actor, message="The vendor no longer has it"
                )
        elif remote is not None:
            target = state_for_remote(deployment.state, remote.state)
            if action is Action.STOP and target in (State.RUNNING, State.UPDATING):
                target = State.STOPPING  # the vendor took the stop; its status lags
            _apply_remote(deployment, remote, target=target, actor=actor)
        elif action is Action.STOP:
            deployment_transition(deployment=deployment, to=State.STOPPING, actor=actor, message="Stop accepted")
        if deployment.account_id:
            ProviderAccount.objects.filter(pk=deployment.account_id).update(next_refresh_at=timezone.now())


def deployment_action_gave_up(*, deployment_id: int, message: str) -> None:
    _finish_action(deployment_id, None, error=f"the vendor kept failing ({message})")


__all__ = [
    "InvalidTransition",
    "account_claim_due_refresh",
    "account_refresh",
    "account_request_refresh",
    "action_refusal",
    "deployment_create",
    "deployment_request_action",
    "deployment_run_action",
    "deployment_submit",
    "deployment_transition",
    "refresh_sweep",
]


# --- logs ---------------------------------------------------------------------------------------------

LOG_LINES_KEPT = 500
EVENTS_KEPT = 200
LOG_REFETCH = dt.timedelta(seconds=2)


def deployment_request_logs(*, deployment: Deployment) -> LogSnapshot:
    """Make sure a fresh fetch is on its way; return what we have now."""
    from controlpanel.deployments.tasks import fetch_logs_task

    snapshot, _ = LogSnapshot.objects.get_or_create(deployment=deployment)
    now = timezone.now()
    if deployment.external_id and (snapshot.requested_at is None or now - snapshot.requested_at > LOG_REFETCH):
        LogSnapshot.objects.filter(pk=snapshot.pk).update(requested_at=now)
        fetch_logs_task.delay_on_commit(deployment.pk)
    return snapshot


def _vendor_events(provider: Any, deployment: Deployment) -> dict[str, Any]:
    """The vendor's own history (Nosana's events and job changes) for the logs card.
    Its failure keeps the events shown last time and does not cost the logs."""
    try:
        events = provider.events(deployment.external_id)
    except ProviderError as exc:
        logger.info("deployment_id=%s vendor events unavailable: %s", deployment.pk, exc.message)
        return {}
    return {"events": _event_rows(events)}


def _event_rows(events: list[Any]) -> list[dict[str, str]]:
    return [
        {"message": e.message[:MAX_MESSAGE], "at": e.at.isoformat() if e.at else "", "kind": e.kind}
        for e in events[-EVENTS_KEPT:]
    ]


def deployment_fetch_logs(*, deployment_id: int) -> None:
    """Fetch the vendor's log lines and, where it keeps one, its event history (Nosana's
    jobs, Replicate's recent predictions) for the deployment page."""
    deployment = Deployment.objects.select_related("account").filter(pk=deployment_id).first()
    if deployment is None or deployment.account is None or not deployment.external_id:
        return
    actions = deployment.account.provider_class.actions
    values: dict[str, Any] = {"error": "", "fetched_at": timezone.now()}
    try:
        with provider_for(deployment.account) as provider:
            if Action.LOGS in actions:
                values["lines"] = provider.logs(deployment.external_id).lines[-LOG_LINES_KEPT:]
                if Action.EVENTS in actions:
                    values.update(_vendor_events(provider, deployment))  # extra: its failure keeps the logs
            elif Action.EVENTS in actions:
                values["events"] = _event_rows(provider.events(deployment.external_id))  # the only source: errors show
            else:
                raise Unsupported("no logs")
    except Unsupported:
        values["error"] = f"{deployment.get_vendor_display()} offers no logs for this deployment."
    except ProviderError as exc:
        values["error"] = exc.message[:500]
    LogSnapshot.objects.update_or_create(deployment=deployment, defaults=values)


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
    from controlpanel.deployments.tasks import submit_deployment_task

    deployment.spec = spec
    deployment.name = str(spec.get("name") or deployment.name)[:200]
    deployment.error_fields, deployment.last_error, deployment.status_message = {}, "", ""
    deployment.estimated_price_per_hour = estimated_price_per_hour
    deployment_transition(
        deployment=deployment, to=State.QUEUED, actor=actor, message="Resubmitted with changes",
        extra_fields=("spec", "name", "error_fields", "last_error", "status_message", "estimated_price_per_hour"),
    )  # fmt: skip
    audit_record(
        team=deployment.team, actor=actor, action=AuditAction.DEPLOYMENT_RETRIED, target=deployment,
        summary=f"Resubmitted {deployment.name} with a corrected spec",
    )  # fmt: skip
    submit_deployment_task.delay_on_commit(deployment.pk)
    return deployment


@dataclass
class BulkResult:
    done: list[str]
    refused: dict[str, str]


def deployment_bulk_action(*, team: Team, actor: AbstractBaseUser, action: Action, ids: list[int]) -> BulkResult:
    """The same action on several of the team's deployments, each on its own: one that
    cannot (wrong state, vendor rule) is reported with its reason; the rest go ahead.
    Ids of other teams' deployments are ignored as if they did not exist."""
    require_perm(actor=actor, team=team, perm=Perm.DEPLOY)
    result = BulkResult(done=[], refused={})
    for deployment in (
        Deployment.objects.filter(team=team, pk__in=ids).select_related("account", "team").order_by("name")
    ):
        try:
            deployment_request_action(deployment=deployment, actor=actor, action=action)
        except ValidationError as exc:
            result.refused[deployment.name] = exc.messages[0]
        else:
            result.done.append(deployment.name)
    return result
