"""Approvals and time limits: every write, with its audit entry and timeline line."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from controlpanel.audit.models import AuditAction
from controlpanel.audit.services import audit_record
from controlpanel.deployments.models import Deployment, EventKind
from controlpanel.deployments.services.transitions import deployment_transition, event_record
from controlpanel.deployments.states import State
from controlpanel.deployments.tasks import deployment_action_task, submit_deployment_task
from controlpanel.limits.clock import hours, minutes
from controlpanel.limits.models import ExpiryAction, TeamPolicy
from controlpanel.limits.rules import team_policy
from controlpanel.notifications.models import NotificationKind
from controlpanel.notifications.services import notification_publish
from controlpanel.teams.models import Team
from controlpanel.teams.permissions import Perm
from controlpanel.teams.services import require_perm
from providers.base import Action
from providers.registry import SLUGS, get_provider_class

logger = logging.getLogger(__name__)

# --- the team's limits ---------------------------------------------------------------------------


@transaction.atomic
def team_policy_update(
    *,
    team: Team,
    actor: AbstractBaseUser,
    approval_above_per_hour: Decimal | None,
    default_ttl_hours: int | None,
    default_ttl_action: str,
    idle_minutes: int | None = None,
    monthly_budget: Decimal | None = None,
    price_ceiling_per_hour: Decimal | None = None,
    budget_stops_running: bool = False,
) -> TeamPolicy:
    require_perm(actor=actor, team=team, perm=Perm.APPROVE)
    policy, _ = TeamPolicy.objects.select_for_update().get_or_create(team=team)
    policy.approval_above_per_hour = approval_above_per_hour
    policy.default_ttl_hours = default_ttl_hours or None
    policy.default_ttl_action = default_ttl_action
    policy.idle_minutes = idle_minutes or None
    policy.monthly_budget = monthly_budget
    policy.price_ceiling_per_hour = price_ceiling_per_hour
    policy.budget_stops_running = budget_stops_running
    policy.save()
    approval = (
        f"approval above ${approval_above_per_hour:.2f}/h" if approval_above_per_hour is not None else "no approvals"
    )
    ttl = f"{default_ttl_action} after {default_ttl_hours} h" if default_ttl_hours else "no default time limit"
    idle = f"scale idle to zero after {idle_minutes} min" if idle_minutes else "no idle rule"
    budget = f"budget ${monthly_budget:.2f} a month" if monthly_budget is not None else "no budget"
    if monthly_budget is not None and budget_stops_running:
        budget += " (stops running deployments when used up)"
    ceiling = f"ceiling ${price_ceiling_per_hour:.2f}/h" if price_ceiling_per_hour is not None else "no ceiling"
    audit_record(
        team=team,
        actor=actor,
        action=AuditAction.TEAM_LIMITS,
        target=team,
        summary=f"Team limits: {approval}; {ttl}; {idle}; {budget}; {ceiling}",
        data={
            "monthly_budget": str(monthly_budget) if monthly_budget is not None else None,
            "price_ceiling_per_hour": str(price_ceiling_per_hour) if price_ceiling_per_hour is not None else None,
            "budget_stops_running": budget_stops_running,
            "approval_above_per_hour": str(approval_above_per_hour) if approval_above_per_hour is not None else None,
            "default_ttl_hours": default_ttl_hours,
            "default_ttl_action": default_ttl_action,
            "idle_minutes": idle_minutes or None,
        },
    )
    return policy


# --- approvals -----------------------------------------------------------------------------------


def _held(deployment: Deployment) -> Deployment:
    return Deployment.objects.select_for_update(of=("self",)).select_related("team").get(pk=deployment.pk)


@transaction.atomic
def deployment_approve(*, deployment: Deployment, actor: AbstractBaseUser) -> Deployment:
    """Let a held deployment go to the worker. A second approval (double click, two admins)
    finds it queued already and changes nothing."""
    require_perm(actor=actor, team=deployment.team, perm=Perm.APPROVE)
    deployment = _held(deployment)
    if deployment.state != State.AWAITING_APPROVAL:
        if deployment.state == State.FAILED:
            raise ValidationError("It was refused already; the deployer can resubmit it.")
        return deployment
    price = f" at about ${deployment.estimated_price_per_hour:.2f}/h" if deployment.estimated_price_per_hour else ""
    deployment_transition(deployment=deployment, to=State.QUEUED, actor=actor, message=f"Approved by {actor}{price}")
    audit_record(
        team=deployment.team,
        actor=actor,
        action=AuditAction.DEPLOYMENT_APPROVED,
        target=deployment,
        summary=f"Approved {deployment.name}{price}",
    )
    submit_deployment_task.delay_on_commit(deployment.pk)
    return deployment


@transaction.atomic
def deployment_refuse(*, deployment: Deployment, actor: AbstractBaseUser, reason: str) -> Deployment:
    require_perm(actor=actor, team=deployment.team, perm=Perm.APPROVE)
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why, so the deployer knows what to change."})
    deployment = _held(deployment)
    if deployment.state != State.AWAITING_APPROVAL:
        raise ValidationError("It is no longer waiting for approval.")
    message = f"Refused by {actor}: {reason}"
    deployment.last_error = deployment.status_message = message[:1000]
    deployment_transition(
        deployment=deployment,
        to=State.FAILED,
        actor=actor,
        message=message,
        extra_fields=("last_error", "status_message"),
    )
    audit_record(
        team=deployment.team,
        actor=actor,
        action=AuditAction.DEPLOYMENT_REFUSED,
        target=deployment,
        summary=f"Refused {deployment.name}: {reason}"[:300],
    )
    return deployment


# --- time limits ---------------------------------------------------------------------------------

# Deployments whose time limit can still act: there may be something billing at the vendor.
EXPIRABLE = frozenset({State.PROVISIONING, State.RUNNING, State.UPDATING, State.STOPPED, State.FAILED})


@transaction.atomic
def deployment_set_time_limit(
    *, deployment: Deployment, actor: AbstractBaseUser, hours_from_now: float | None, action: str
) -> Deployment:
    """Set, move or clear (``None``) a deployment's time limit."""
    require_perm(actor=actor, team=deployment.team, perm=Perm.DEPLOY)
    deployment = Deployment.objects.select_for_update().get(pk=deployment.pk)
    if action == ExpiryAction.STOP and not _can_stop(deployment):
        raise ValidationError({"action": f"{deployment.get_vendor_display()} has no stop: choose delete."})
    if hours_from_now is None:
        deployment.expires_at, deployment.expiry_action, message = None, "", "Time limit removed"
    else:
        deployment.expires_at = timezone.now() + hours(hours_from_now)
        deployment.expiry_action = action
        verb = "stops" if action == ExpiryAction.STOP else "is deleted"
        message = f"Time limit: it {verb} at {deployment.expires_at:%b %-d, %H:%M} UTC ({hours_from_now:g} h from now)"
    deployment.expiry_warned_at = None
    deployment.save(update_fields=["expires_at", "expiry_action", "expiry_warned_at", "updated_at"])
    event_record(deployment, kind=EventKind.INFO, actor=actor, message=message)
    audit_record(
        team=deployment.team,
        actor=actor,
        action=AuditAction.DEPLOYMENT_TTL,
        target=deployment,
        summary=f"{message}: {deployment.name}",
    )
    return deployment


def _can_stop(deployment: Deployment) -> bool:
    return deployment.account is not None and Action.STOP in deployment.account.provider_class.actions


def deployments_warn_expiring(*, now: dt.datetime | None = None) -> list[int]:
    """Tell the team's channels, once per limit, that a time limit is about to act."""
    now = now or timezone.now()
    soon = now + minutes(settings.PANEL_TTL_WARN_MINUTES)
    due = Deployment.objects.filter(
        expires_at__lte=soon, expires_at__gt=now, expiry_warned_at__isnull=True, state__in=EXPIRABLE
    )
    warned = []
    for deployment in due.select_related("team"):
        if not Deployment.objects.filter(pk=deployment.pk, expiry_warned_at__isnull=True).update(expiry_warned_at=now):
            continue  # another sweep warned first
        verb = "stops" if deployment.expiry_action == ExpiryAction.STOP else "is deleted"
        notification_publish(
            team=deployment.team,
            kind=NotificationKind.TTL,
            subject=f"{deployment.name} on {deployment.get_vendor_display()} {verb} at {deployment.expires_at:%H:%M} UTC",
            body=f"Its time limit is reached soon. Extend it on {settings.PANEL_BASE_URL}/deployments/{deployment.pk}/",
            deployment=deployment,
            dedupe_key=f"ttl:{deployment.pk}:{deployment.expires_at.isoformat()}",
        )
        warned.append(deployment.pk)
    return warned


def deployments_expire_due(*, now: dt.datetime | None = None) -> list[int]:
    """Act on every time limit that has passed, once: the stop or delete is a pending action
    like a person's (its worker attempt, retries and sweep), by the panel."""
    now = now or timezone.now()
    due = Deployment.objects.filter(expires_at__lte=now, state__in=EXPIRABLE, pending_action="")
    acted = []
    for pk in list(due.values_list("pk", flat=True)[:500]):
        with transaction.atomic():
            deployment = (
                Deployment.objects.select_for_update(of=("self",))
                .select_related("account", "team")
                .filter(pk=pk, expires_at__lte=now, pending_action="")
                .first()
            )
            if deployment is None:
                continue
            _expire(deployment, now=now)
            acted.append(pk)
    return acted


def _expire(deployment: Deployment, *, now: dt.datetime) -> None:
    action = Action.STOP if deployment.expiry_action == ExpiryAction.STOP and _can_stop(deployment) else Action.DELETE
    if action is Action.STOP and deployment.state == State.STOPPED:
        deployment.expires_at = None  # already stopped: nothing bills, nothing to do
        deployment.save(update_fields=["expires_at", "updated_at"])
        event_record(deployment, kind=EventKind.INFO, actor=None, message="Time limit reached; it was stopped already")
        return
    deployment.expires_at = None
    deployment.pending_action, deployment.pending_params, deployment.pending_actor = action.value, {}, None
    deployment.pending_since = deployment.next_attempt_at = now
    deployment.save(
        update_fields=[
            "expires_at",
            "pending_action",
            "pending_params",
            "pending_actor",
            "pending_since",
            "next_attempt_at",
            "updated_at",
        ]
    )
    verb = "Stop" if action is Action.STOP else "Delete"
    event_record(deployment, kind=EventKind.ACTION, actor=None, message=f"{verb} requested: its time limit was reached")
    audit_record(
        team=deployment.team,
        actor=None,
        action=AuditAction.DEPLOYMENT_STOPPED if action is Action.STOP else AuditAction.DEPLOYMENT_DELETED,
        target=deployment,
        summary=f"{verb} {deployment.name}: its time limit was reached (by the panel)",
    )
    deployment_action_task.delay_on_commit(deployment.pk)
    logger.info("deployment_id=%s time limit reached: %s requested", deployment.pk, action.value)


# --- the idle rule -------------------------------------------------------------------------------


@transaction.atomic
def deployment_set_idle_rule(*, deployment: Deployment, actor: AbstractBaseUser, minutes: int | None) -> Deployment:
    """This deployment's own idle rule: ``None`` follows the team's default, 0 turns it off,
    N scales it to zero after N minutes without work. The clock starts again now."""
    require_perm(actor=actor, team=deployment.team, perm=Perm.DEPLOY)
    deployment = Deployment.objects.select_for_update(of=("self",)).select_related("account").get(pk=deployment.pk)
    if deployment.account is None or deployment.account.provider_class.activity(spec={}, raw={}) is None:
        vendor = deployment.get_vendor_display()
        raise ValidationError({"minutes": f"{vendor} reports no activity, so the panel cannot tell when it idles."})
    deployment.idle_minutes = minutes
    deployment.idle_activity_at = timezone.now()
    deployment.save(update_fields=["idle_minutes", "idle_activity_at", "updated_at"])
    message = f"Idle rule: {idle_rule_words(minutes, team=deployment.team)}"
    event_record(deployment, kind=EventKind.INFO, actor=actor, message=message)
    audit_record(
        team=deployment.team,
        actor=actor,
        action=AuditAction.DEPLOYMENT_IDLE_RULE,
        target=deployment,
        summary=f"{message}: {deployment.name}",
        data={"idle_minutes": minutes},
    )
    return deployment


def idle_rule_words(minutes: int | None, *, team: Team) -> str:
    if minutes is None:
        default = team_policy(team).idle_minutes
        rule = f"scaled to zero after {default} minutes without work" if default else "never scaled to zero"
        return f"the team's default ({rule})"
    if minutes == 0:
        return "never scaled to zero"
    return f"scaled to zero after {minutes} minutes without work"


def _idle_minutes(deployment: Deployment) -> int | None:
    if deployment.idle_minutes is not None:
        return deployment.idle_minutes or None
    return team_policy(deployment.team).idle_minutes or None


def _last_use(deployment: Deployment, seen: dt.datetime | None) -> dt.datetime:
    """The latest of: the vendor's last reported work, what the sweep saw before, when it
    entered its state, and the last action on it (a scale to min 2 starts the clock again)."""
    last_action = deployment.events.filter(kind=EventKind.ACTION).values_list("created_at", flat=True).first()
    moments = [seen, deployment.idle_activity_at, deployment.state_changed_at, last_action]
    return max(m for m in moments if m is not None)


def deployments_scale_idle(*, now: dt.datetime | None = None) -> list[int]:
    """Scale to zero, once, every running deployment kept warm whose vendor has reported no
    work for its idle rule's minutes, through the pending-action machinery (worker attempt,
    retries, sweep). Only a read taken after the deadline counts, so a poll that stalled
    cannot make a busy deployment look idle. The maximum is kept: the next request wakes it."""
    now = now or timezone.now()
    candidates = (
        Deployment.objects.filter(state=State.RUNNING, pending_action="", account__isnull=False)
        .exclude(idle_minutes=0)
        .filter(vendor__in=_vendors_with_activity())
        .select_related("account", "team")
    )
    acted = []
    for deployment in candidates[:2000]:
        rule = _idle_minutes(deployment)
        if rule is None:
            continue
        activity = deployment.account.provider_class.activity(spec=deployment.spec, raw=deployment.raw)
        if activity is None or activity.kept_warm < 1:
            continue
        seen = _latest(activity.last_active_at, deployment.idle_activity_at)
        if seen is not None and seen != deployment.idle_activity_at:
            Deployment.objects.filter(pk=deployment.pk).update(idle_activity_at=seen)  # not updated_at: nobody sees it
            deployment.idle_activity_at = seen
        if activity.busy:
            continue
        deadline = _last_use(deployment, seen) + minutes(rule)
        if now < deadline or deployment.checked_at is None or deployment.checked_at < deadline:
            continue
        if _scale_to_zero(deployment.pk, activity.scale_to_zero, rule=rule, now=now):
            acted.append(deployment.pk)
    return acted


def _latest(*moments: dt.datetime | None) -> dt.datetime | None:
    return max((m for m in moments if m is not None), default=None)


def _vendors_with_activity() -> list[str]:
    return [slug for slug in SLUGS if get_provider_class(slug).activity(spec={}, raw={}) is not None]


def _scale_to_zero(pk: int, params: dict, *, rule: int, now: dt.datetime) -> bool:
    with transaction.atomic():
        deployment = (
            Deployment.objects.select_for_update(of=("self",))
            .select_related("team")
            .filter(pk=pk, state=State.RUNNING, pending_action="")
            .first()
        )
        if deployment is None:
            return False  # a person or another sweep acted first
        deployment.pending_action, deployment.pending_params, deployment.pending_actor = (
            Action.SCALE.value,
            params,
            None,
        )
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
        why = f"no work for {rule} minutes (idle rule); it starts again on the next request"
        target = f"min {params.get('min_instances', 0)}, max {params.get('max_instances')}"
        event_record(
            deployment, kind=EventKind.ACTION, actor=None, message=f"Scale to zero requested ({target}): {why}"
        )
        audit_record(
            team=deployment.team,
            actor=None,
            action=AuditAction.DEPLOYMENT_SCALED,
            target=deployment,
            summary=f"Scale {deployment.name} to zero ({target}): {why} (by the panel)",
            data={"params": params, "idle_minutes": rule},
        )
        deployment_action_task.delay_on_commit(deployment.pk)
    logger.info("deployment_id=%s idle for %s minutes: scale to zero requested", pk, rule)
    return True


def limits_sweep() -> None:
    deployments_warn_expiring()
    deployments_expire_due()
    deployments_scale_idle()
