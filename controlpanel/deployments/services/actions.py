"""Actions people take (stop, restart, scale, update, delete...): the request and the worker's half."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from controlpanel.audit.models import AuditAction
from controlpanel.audit.services import audit_record
from controlpanel.credentials.crypto import DecryptionError
from controlpanel.credentials.models import ProviderAccount
from controlpanel.credentials.services import account_mark_refused, provider_for
from controlpanel.deployments.models import Deployment, EventKind
from controlpanel.deployments.services.sweeps import (
    RowBusy,
    attempt_claim,
    attempt_release,
    attempt_release_for_retry,
)
from controlpanel.deployments.services.transitions import MAX_MESSAGE, apply_remote, deployment_transition, event_record
from controlpanel.deployments.states import (
    State,
    state_for_remote,
)
from controlpanel.deployments.tasks import deployment_action_task, submit_deployment_task
from controlpanel.teams.permissions import Perm
from controlpanel.teams.services import require_perm
from providers.base import (
    Action,
    AuthError,
    NotFound,
    Provider,
    ProviderError,
    Rejected,
    Remote,
    RemoteState,
    SpecError,
    Transient,
    Unsupported,
)

logger = logging.getLogger(__name__)


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
    if action is Action.UPDATE and "rollback" in params:
        return f"Roll back to revision {params['rollback']}"
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
    never reached the vendor, or that the vendor already forgot, is done right here; a
    row with no id whose create began may exist at the vendor, so its delete is a pending
    action that looks for it by name. Everything else becomes a pending action for
    ``deployment_run_action``.
    """
    require_perm(actor=actor, team=deployment.team, perm=Perm.DEPLOY)
    deployment = (
        Deployment.objects.select_for_update(of=("self",)).select_related("account", "team").get(pk=deployment.pk)
    )
    reason = action_refusal(deployment, action)
    if not reason and action is Action.START:
        # Here, not in action_refusal (which every page render asks): the month's spend is
        # read once, when someone presses Start. At call time: costs reads deployments.
        from controlpanel.costs.rules import start_reason

        reason = start_reason(team=deployment.team)
    if reason:
        raise ValidationError(reason)
    params = params or {}
    summary = f"{_describe(action, params)}: {deployment.name}"
    audit_record(
        team=deployment.team,
        actor=actor,
        action=AuditAction.DEPLOYMENT_ROLLED_BACK if "rollback" in params else AUDIT_FOR_ACTION[action],
        target=deployment,
        summary=summary,
        data={"params": _safe_params(params)},
    )

    if action is Action.START:
        deployment_transition(deployment=deployment, to=State.QUEUED, actor=actor, message="Start requested")
        submit_deployment_task.delay_on_commit(deployment.pk)
        return deployment
    if action is Action.DELETE and _create_may_have_reached_vendor(deployment):
        # No external id does not mean nothing was made: an attempt may have created it and
        # not yet saved (or lost) the answer. The worker looks for it by name and deletes what
        # it finds; a create result that lands later is deleted too (submission._save_submission).
        deployment_transition(
            deployment=deployment,
            to=State.DELETING,
            actor=actor,
            message=(
                f"Delete requested; a create may have reached {deployment.get_vendor_display()}, "
                "so the worker looks for it by name and deletes what it finds"
            ),
        )
    elif action is Action.DELETE and (not deployment.external_id or deployment.state == State.LOST):
        deployment_transition(deployment=deployment, to=State.DELETING, actor=actor, message="Delete requested")
        deployment_transition(
            deployment=deployment, to=State.DELETED, actor=actor, message="Nothing to delete at the vendor"
        )
        return deployment

    deployment.pending_action = action.value
    deployment.pending_params = params
    deployment.pending_actor = actor
    deployment.pending_since = timezone.now()
    deployment.next_attempt_at = deployment.pending_since
    deployment.last_error = ""
    deployment.save(
        update_fields=[
            "pending_action",
            "pending_params",
            "pending_actor",
            "pending_since",
            "next_attempt_at",
            "last_error",
            "updated_at",
        ]
    )
    event_record(deployment, kind=EventKind.ACTION, actor=actor, message=f"{_describe(action, params)} requested")
    deployment_action_task.delay_on_commit(deployment.pk)
    return deployment


def _create_may_have_reached_vendor(deployment: Deployment) -> bool:
    """No external id, yet an attempt to create it began (and may have made something)."""
    return not deployment.external_id and deployment.submit_attempts > 0 and deployment.state != State.LOST


def _safe_params(params: dict[str, Any]) -> dict[str, Any]:
    """Params for the audit log: a new spec is summarised, never copied (env values)."""
    if "spec" in params:
        return {"spec_fields": sorted(params["spec"])}
    return params


# --- the vendor call behind each action ---------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    remote: Remote | None  # the vendor's answer, when its call returns one worth applying
    spec: dict[str, Any]  # the spec the row keeps once the vendor has accepted


def _stop(provider: Provider, deployment: Deployment, params: dict[str, Any]) -> _Outcome:
    return _Outcome(provider.stop(deployment.external_id, deployment.spec), dict(deployment.spec))


def _restart(provider: Provider, deployment: Deployment, params: dict[str, Any]) -> _Outcome:
    return _Outcome(provider.restart(deployment.external_id, deployment.spec), dict(deployment.spec))


def _scale(provider: Provider, deployment: Deployment, params: dict[str, Any]) -> _Outcome:
    return _Outcome(provider.scale(deployment.external_id, params), {**deployment.spec, **params})


def _update(provider: Provider, deployment: Deployment, params: dict[str, Any]) -> _Outcome:
    """A new spec; with ``redeploy`` set, the same spec rolled out again (the vendor's redeploy)."""
    if "rollback" in params:  # an older revision re-applied (Together's /rollback)
        remote, spec = provider.rollback(deployment.external_id, str(params["rollback"]), dict(deployment.spec))
        return _Outcome(remote, spec)
    spec = params["spec"]
    if params.get("redeploy"):
        return _Outcome(provider.redeploy(deployment.external_id, spec), spec)
    return _Outcome(provider.update(deployment.external_id, spec, deployment.spec), spec)


def _delete(provider: Provider, deployment: Deployment, params: dict[str, Any]) -> _Outcome:
    found = None
    if not deployment.external_id:
        found = _find_what_the_create_made(provider, deployment)  # raises NotFound when nothing was
    if deployment.state == State.DELETING:
        # The panel's own delete of what a create made (asked for before the create's answer
        # came): nobody checked the vendor's preconditions, as action_refusal does for a person.
        _stop_first_if_needed(provider, deployment, found)
    provider.delete(deployment.external_id)
    return _Outcome(None, dict(deployment.spec))


# What the vendor says of a resource that will be deletable once it has settled or stopped.
_WAIT_TO_DELETE = frozenset({RemoteState.PROVISIONING, RemoteState.UPDATING, RemoteState.STOPPING})


def _stop_first_if_needed(provider: Provider, deployment: Deployment, remote: Remote | None) -> None:
    """Where the vendor deletes only what is stopped (Nosana: STOPPED; Replicate: offline),
    stop it first and retry the delete (``Transient``) until it can be done; the resource
    bills no longer once it is stopped, whatever happens to the delete."""
    if remote is None:
        if not provider.action_blocked(Action.DELETE, spec=deployment.spec, raw=deployment.raw, since=None):
            return  # deletable as last seen: the vendor's answer to the delete says the rest
        remote = provider.get(deployment.external_id)
    blocked = provider.action_blocked(Action.DELETE, spec=deployment.spec, raw=remote.raw, since=None)
    if not blocked:
        return
    # Kept, so the retry knows from the row that it must look again before deleting.
    Deployment.objects.filter(pk=deployment.pk).update(raw=remote.raw)
    stoppable = Action.STOP in provider.actions and not provider.action_blocked(
        Action.STOP, spec=deployment.spec, raw=remote.raw, since=None
    )
    if stoppable and remote.state not in (RemoteState.STOPPING, RemoteState.STOPPED):
        provider.stop(deployment.external_id, deployment.spec)
        event_record(
            deployment,
            kind=EventKind.INFO,
            actor=None,
            message=f"Stopped it first ({blocked[:300]}); the delete follows once it has stopped",
        )
        raise Transient("stopped first; deleting once it has stopped")
    if remote.state in _WAIT_TO_DELETE or (stoppable and remote.state is RemoteState.STOPPING):
        raise Transient(f"waiting to delete: {blocked}")
    if remote.state is RemoteState.STOPPED and Action.STOP in provider.actions:
        raise Transient(f"stopped; waiting to delete: {blocked}")
    raise Rejected(blocked)


def _find_what_the_create_made(provider: Provider, deployment: Deployment) -> Remote:
    """A delete of a row whose create may have reached the vendor: find it by name, as
    adoption does, and record it on the row (so the poll confirms the delete)."""
    from controlpanel.deployments.services.submission import _adoptable  # one rule for "ours"

    vendor = deployment.get_vendor_display()
    found = provider.find_by_name(deployment.name)
    if found is None or not _adoptable(found, deployment):
        event_record(
            deployment,
            kind=EventKind.INFO,
            actor=None,
            message=f"Nothing named {deployment.name} at {vendor}: the create never got there",
        )
        raise NotFound(f"no {deployment.name} at {vendor}")
    with transaction.atomic():
        Deployment.objects.filter(pk=deployment.pk, external_id="").update(external_id=found.external_id)
        deployment.external_id = found.external_id
        event_record(
            deployment,
            kind=EventKind.INFO,
            actor=None,
            message=f"Found {found.external_id} at {vendor} by name (the create had got there); deleting it",
        )
    logger.warning(
        "deployment_id=%s account_id=%s external_id=%s found by name while deleting",
        deployment.pk,
        deployment.account_id,
        found.external_id,
    )
    return found


def _archive(provider: Provider, deployment: Deployment, params: dict[str, Any]) -> _Outcome:
    provider.archive(deployment.external_id)  # the poll sees the archived status and finishes it
    return _Outcome(None, dict(deployment.spec))


# Start is not here: it re-enters the submission path (see ``deployment_request_action``).
VENDOR_CALLS: dict[Action, Callable[[Provider, Deployment, dict[str, Any]], _Outcome]] = {
    Action.STOP: _stop,
    Action.RESTART: _restart,
    Action.SCALE: _scale,
    Action.UPDATE: _update,
    Action.DELETE: _delete,
    Action.ARCHIVE: _archive,
}


def deployment_run_action(*, deployment_id: int, task_id: str = "") -> None:
    """The worker's half of an action. Raises ``Transient`` for the task to retry.

    The attempt claims the row first (``sweeps.attempt_claim``); a row another attempt holds
    (a submission still in flight, a redelivered copy) is retried later, never run twice.
    """
    attempt_id = task_id or str(uuid.uuid4())
    if not Deployment.objects.filter(pk=deployment_id).exclude(pending_action="").exists():
        return
    if not attempt_claim(deployment_id=deployment_id, attempt_id=attempt_id):
        raise RowBusy("another attempt is at work on this deployment")
    retrying = False
    try:
        _run_claimed_action(deployment_id=deployment_id)
    except Transient:
        retrying = True  # the task retries; the sweep waits for that retry
        raise
    finally:
        if retrying:
            attempt_release_for_retry(deployment_id=deployment_id, attempt_id=attempt_id)
        else:
            attempt_release(deployment_id=deployment_id, attempt_id=attempt_id)


def _run_claimed_action(*, deployment_id: int) -> None:
    deployment = Deployment.objects.select_related("account", "pending_actor").filter(pk=deployment_id).first()
    if deployment is None or not deployment.pending_action:
        return
    if deployment.account is None:
        # Said, not left pending: the sweep would otherwise send it again and again.
        _finish_action(deployment_id, deployment.pending_actor, error="The key this deployment used was deleted.")
        return
    if deployment.state == State.SUBMITTING:
        # Not at the vendor yet (no id): try again once the submission has landed.
        raise RowBusy("waiting for the submission to finish")
    action, params, actor = Action(deployment.pending_action), deployment.pending_params, deployment.pending_actor
    try:
        with provider_for(deployment.account) as provider:
            call = VENDOR_CALLS.get(action)
            if call is None:
                raise Unsupported(f"unknown action {action}")
            outcome = call(provider, deployment, params)
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
        _finish_action(deployment_id, actor, error=None, remote=outcome.remote, spec=outcome.spec)


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
    """Record how the pending action ended: refused (``error``), or accepted and the row moved."""
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
        if error is not None:
            _record_refusal(deployment, actor, message=f"{described} failed: {error}", fields=fields)
            if deployment.state == State.DELETING:
                # The delete of what a create may have made did not happen: say so, rather
                # than leave the row "deleting" with nothing pending (found by the chaos suite);
                # the next poll then shows what the vendor has, and it can be deleted again.
                deployment_transition(
                    deployment=deployment,
                    to=State.FAILED,
                    actor=None,
                    message=f"Not deleted: {error}"[:MAX_MESSAGE],
                )
            return
        _record_acceptance(deployment, actor, described=described, spec=spec)
        _move_after_acceptance(deployment, actor, action=action, remote=remote, gone=gone)
        if deployment.account_id:
            ProviderAccount.objects.filter(pk=deployment.account_id).update(next_refresh_at=timezone.now())


PENDING_FIELDS = ("pending_action", "pending_params", "pending_since", "pending_actor")


def _record_refusal(
    deployment: Deployment, actor: AbstractBaseUser | None, *, message: str, fields: dict[str, list[str]] | None
) -> None:
    deployment.last_error = message[:MAX_MESSAGE]
    deployment.error_fields = fields or {}
    deployment.save(update_fields=[*PENDING_FIELDS, "last_error", "error_fields", "updated_at"])
    event_record(deployment, kind=EventKind.ERROR, actor=actor, message=deployment.last_error)


def _record_acceptance(
    deployment: Deployment, actor: AbstractBaseUser | None, *, described: str, spec: dict[str, Any] | None
) -> None:
    deployment.last_error, deployment.error_fields = "", {}
    if spec is not None:
        deployment.spec = spec
        deployment.name = str(spec.get("name") or deployment.name)[:200]
    deployment.save(update_fields=[*PENDING_FIELDS, "last_error", "error_fields", "spec", "name", "updated_at"])
    event_record(
        deployment,
        kind=EventKind.ACTION,
        actor=actor,
        message=f"{described}: accepted by {deployment.get_vendor_display()}",
    )


def _move_after_acceptance(
    deployment: Deployment, actor: AbstractBaseUser | None, *, action: Action, remote: Remote | None, gone: bool
) -> None:
    """The state an accepted action leads to, as far as the vendor's answer shows it."""
    if gone or action in (Action.DELETE, Action.ARCHIVE):
        # Archive is the panel's delete for a vendor that keeps a read-only record
        # (Nosana): the poll sees the archived status as deleted and finishes it.
        accepted = "Archive accepted" if action is Action.ARCHIVE else "Delete accepted"
        deployment_transition(deployment=deployment, to=State.DELETING, actor=actor, message=accepted)
        if gone:
            deployment_transition(
                deployment=deployment, to=State.DELETED, actor=actor, message="The vendor no longer has it"
            )
    elif remote is not None:
        target = state_for_remote(deployment.state, remote.state)
        if action is Action.STOP and target in (State.RUNNING, State.UPDATING, State.PROVISIONING):
            target = State.STOPPING  # the vendor took the stop; its status lags
        apply_remote(deployment, remote, target=target, actor=actor)
    elif action is Action.STOP:
        deployment_transition(deployment=deployment, to=State.STOPPING, actor=actor, message="Stop accepted")


def deployment_action_gave_up(*, deployment_id: int, message: str, task_id: str = "") -> None:
    if _still_looking(deployment_id, message):
        # The delete stays pending: the sweep sends it again (found from the database).
        if task_id:
            attempt_release(deployment_id=deployment_id, attempt_id=task_id)
        return
    _finish_action(deployment_id, None, error=f"the vendor kept failing ({message})")
    if task_id:
        attempt_release(deployment_id=deployment_id, attempt_id=task_id)


def _still_looking(deployment_id: int, message: str) -> bool:
    """A delete of a row whose create may have reached the vendor, and that has not yet
    found what it made, is never given up on: failing the row would drop the create's late
    answer (found by the chaos suite). It stays pending, and the sweep sends it again."""
    with transaction.atomic():
        deployment = Deployment.objects.select_for_update(of=("self",)).filter(pk=deployment_id).first()
        if deployment is None or deployment.pending_action != Action.DELETE.value:
            return False
        if deployment.state != State.DELETING or deployment.external_id:
            return False
        deployment.pending_since = timezone.now()  # the sweep waits its margin from here
        deployment.save(update_fields=["pending_since", "updated_at"])
        event_record(
            deployment,
            kind=EventKind.INFO,
            actor=None,
            message=(
                f"{deployment.get_vendor_display()} kept failing ({message}) while the worker looked for what "
                "the create made; it looks again shortly"
            )[:MAX_MESSAGE],
        )
    return True
