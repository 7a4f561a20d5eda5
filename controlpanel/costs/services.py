"""Money's writes: budget thresholds (warn at 80 %, block and maybe stop at 100 %), the
submit task's refusal, and prepaid balances with their warning. Each once, each on the
timeline and the audit log where a deployment or a team is acted on."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from controlpanel.audit.models import AuditAction
from controlpanel.audit.services import audit_record
from controlpanel.costs.models import AlertKind, CostAlert
from controlpanel.costs.rules import budget_view
from controlpanel.costs.selectors import account_burn
from controlpanel.deployments.cost import month_start_of
from controlpanel.deployments.models import Deployment, EventKind
from controlpanel.deployments.services.transitions import deployment_transition, event_record
from controlpanel.deployments.states import State
from controlpanel.deployments.tasks import deployment_action_task
from controlpanel.limits.models import TeamPolicy
from controlpanel.notifications.models import NotificationKind
from controlpanel.notifications.services import notification_publish
from controlpanel.teams.models import Team
from providers.base import Action

logger = logging.getLogger(__name__)

WARN_AT = Decimal("0.8")
# Vendors whose keys report a prepaid balance (Nosana credits, Fluence, Novita).
BALANCE_VENDORS = ("nosana", "fluence", "novita")
# What a budget stop acts on: something that bills now.
STOPPABLE = frozenset({State.PROVISIONING, State.RUNNING, State.UPDATING})


def _alert(*, team: Team, kind: str, key: str, message: str, account_id: int | None = None) -> CostAlert | None:
    """Record a warning once: None when it was given already (the unique constraint decides)."""
    try:
        with transaction.atomic():
            return CostAlert.objects.create(team=team, kind=kind, key=key, message=message[:300], account_id=account_id)
    except IntegrityError:
        return None


def month_key(now: dt.datetime) -> str:
    return f"{month_start_of(now):%Y-%m}"


# --- the submit task's check ----------------------------------------------------------------------


def deployment_refuse_over_budget(*, deployment: Deployment, reason: str) -> None:
    """A queued create the money rules refuse: failed with the reason, nothing sent.
    The caller holds the row's lock."""
    message = f"Not sent: {reason}"
    deployment.last_error = deployment.status_message = message[:1000]
    deployment_transition(
        deployment=deployment, to=State.FAILED, message=message, extra_fields=("last_error", "status_message")
    )
    audit_record(
        team=deployment.team,
        actor=None,
        action=AuditAction.DEPLOYMENT_OVER_BUDGET,
        target=deployment,
        summary=f"Refused {deployment.name} before sending it: {reason}"[:300],
    )
    logger.info("deployment_id=%s refused by the team's money limits", deployment.pk)


# --- budget thresholds ----------------------------------------------------------------------------


def team_budget_check(*, team: Team, policy: TeamPolicy, now: dt.datetime | None = None) -> str:
    """Warn at 80 %, and at 100 % say the budget is used up (and stop what runs, if the team
    chose so), each once a month. Returns what it did: "", "warned" or "reached"."""
    now = now or timezone.now()
    view = budget_view(team=team, now=now)
    if view.budget is None or view.budget <= 0 and view.spent <= 0:
        return ""
    month = month_key(now)
    share = view.spent / view.budget if view.budget else Decimal("1")
    did = ""
    if share >= WARN_AT:
        text = f"{team.name} has spent ${view.spent:.2f} of its ${view.budget:.2f} budget for {month} ({share:.0%})"
        if _alert(team=team, kind=AlertKind.BUDGET_WARN, key=month, message=text):
            audit_record(team=team, actor=None, action=AuditAction.BUDGET_WARNED, target=team, summary=text)
            notification_publish(
                team=team,
                kind=NotificationKind.BUDGET,
                subject=text,
                body=f"See where it went on {settings.PANEL_BASE_URL}/costs/",
                data={"month": month, "spent": str(view.spent), "budget": str(view.budget), "threshold": 80},
                dedupe_key=f"budget:{team.pk}:{month}:80",
            )
            did = "warned"
    if share >= 1:
        stops = "; running deployments are being stopped" if policy.budget_stops_running else ""
        text = f"{team.name}'s budget of ${view.budget:.2f} for {month} is used up (${view.spent:.2f}): new deployments are refused{stops}"
        if _alert(team=team, kind=AlertKind.BUDGET_OVER, key=month, message=text):
            audit_record(team=team, actor=None, action=AuditAction.BUDGET_REACHED, target=team, summary=text[:300])
            notification_publish(
                team=team,
                kind=NotificationKind.BUDGET,
                subject=text,
                body=f"Raise the budget on {settings.PANEL_BASE_URL}/limits/",
                data={"month": month, "spent": str(view.spent), "budget": str(view.budget), "threshold": 100},
                dedupe_key=f"budget:{team.pk}:{month}:100",
            )
            did = "reached"
        if policy.budget_stops_running:
            deployments_stop_for_budget(team=team, now=now)
    return did


def deployments_stop_for_budget(*, team: Team, now: dt.datetime) -> list[int]:
    """Ask for a stop of each deployment that bills now, once (a pending action like a
    person's Stop, sent by the worker). A vendor with no stop (Fluence) is left running and
    its timeline says so, once: deleting would lose its data."""
    acted = []
    due = Deployment.objects.filter(team=team, state__in=STOPPABLE, pending_action="")
    for pk in list(due.values_list("pk", flat=True)[:500]):
        with transaction.atomic():
            deployment = (
                Deployment.objects.select_for_update(of=("self",))
                .select_related("account", "team")
                .filter(pk=pk, state__in=STOPPABLE, pending_action="")
                .first()
            )
            if deployment is None:
                continue
            if deployment.account is None or Action.STOP not in deployment.account.provider_class.actions:
                note = f"budget-nostop:{month_key(now)}"
                if _alert(team=team, kind=AlertKind.BUDGET_OVER, key=f"{note}:{pk}", message=note):
                    event_record(
                        deployment,
                        kind=EventKind.INFO,
                        actor=None,
                        message=(
                            f"The team's budget is used up, but {deployment.get_vendor_display()} has no stop: "
                            "it keeps running (and billing) until someone deletes it"
                        ),
                    )
                continue
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
                message="Stop requested: the team's monthly budget is used up",
            )
            audit_record(
                team=team,
                actor=None,
                action=AuditAction.DEPLOYMENT_STOPPED,
                target=deployment,
                summary=f"Stop {deployment.name}: the team's monthly budget is used up (by the panel)",
            )
            deployment_action_task.delay_on_commit(deployment.pk)
            acted.append(pk)
    return acted


def budgets_check(*, now: dt.datetime | None = None) -> None:
    now = now or timezone.now()
    for policy in TeamPolicy.objects.filter(monthly_budget__isnull=False).select_related("team"):
        try:
            team_budget_check(team=policy.team, policy=policy, now=now)
        except Exception:  # one team's trouble must not stop the others' checks
            logger.exception("budget check failed for team_id=%s", policy.team_id)


# --- prepaid balances -----------------------------------------------------------------------------


def hours_left(balance: Decimal | None, burn: Decimal) -> Decimal | None:
    """About how many hours ``balance`` lasts at ``burn`` per hour (None: not burning)."""
    if balance is None or burn <= 0:
        return None
    return max(balance, Decimal("0")) / burn


def balances_refresh(*, now: dt.datetime | None = None) -> list[int]:
    """Read the balance of every working key whose vendor reports one, at most every
    ``PANEL_BALANCE_REFRESH_SECONDS``. A worker's job: the vendor is called here."""
    from controlpanel.credentials.models import KeyStatus, ProviderAccount
    from controlpanel.credentials.services import provider_for

    now = now or timezone.now()
    stale = now - dt.timedelta(seconds=settings.PANEL_BALANCE_REFRESH_SECONDS)
    accounts = ProviderAccount.objects.filter(vendor__in=BALANCE_VENDORS, status=KeyStatus.OK).exclude(
        balance_checked_at__gte=stale
    )
    read = []
    for account in accounts[:200]:
        # Claim by update: another beat tick skips what this one reads.
        claimed = (
            ProviderAccount.objects.filter(pk=account.pk)
            .exclude(balance_checked_at__gte=stale)
            .update(balance_checked_at=now)
        )
        if not claimed:
            continue
        try:
            with provider_for(account) as provider:
                info = provider.verify()
        except Exception as exc:  # a balance is a nicety: log and try again next time
            logger.warning("balance of account_id=%s not read: %s", account.pk, type(exc).__name__)
            continue
        if info.balance is not None:
            ProviderAccount.objects.filter(pk=account.pk).update(
                balance=info.balance, balance_currency=info.currency, balance_checked_at=now
            )
            read.append(account.pk)
    return read


def balances_warn(*, now: dt.datetime | None = None) -> list[int]:
    """Warn once (banner and notification) when a key's balance would run out within
    ``PANEL_BALANCE_WARN_HOURS`` at its deployments' current burn; a balance that recovers
    clears the warning, so a later shortfall warns again."""
    from controlpanel.credentials.models import ProviderAccount

    now = now or timezone.now()
    threshold = Decimal(settings.PANEL_BALANCE_WARN_HOURS)
    warned = []
    accounts = ProviderAccount.objects.filter(vendor__in=BALANCE_VENDORS, balance__isnull=False).select_related("team")
    burns: dict[int, dict[int, Decimal]] = {}
    for account in accounts:
        if account.team_id not in burns:
            burns[account.team_id] = account_burn(team=account.team, now=now)
        left = hours_left(account.balance, burns[account.team_id].get(account.pk, Decimal("0")))
        key = f"{account.pk}"
        if left is None or left >= threshold:
            CostAlert.objects.filter(
                team=account.team, kind=AlertKind.BALANCE_LOW, key=key, cleared_at__isnull=True
            ).update(cleared_at=now)
            continue
        text = (
            f"“{account.label}” ({account.get_vendor_display()}) has ${account.balance:.2f} left: "
            f"about {left:.1f} hours at the current burn. Top it up before its deployments stop."
        )
        alert = _alert(team=account.team, kind=AlertKind.BALANCE_LOW, key=key, message=text, account_id=account.pk)
        # Given before: again only if it had cleared (claimed by update, so once).
        again = alert is None and CostAlert.objects.filter(
            team=account.team, kind=AlertKind.BALANCE_LOW, key=key, cleared_at__isnull=False
        ).update(cleared_at=None, created_at=now, message=text[:300])
        if alert is None and not again:
            continue
        notification_publish(
            team=account.team,
            kind=NotificationKind.BUDGET,
            subject=text[:200],
            body=f"Keys: {settings.PANEL_BASE_URL}/keys/",
            data={"account_id": account.pk, "balance": str(account.balance), "hours_left": f"{left:.1f}"},
            dedupe_key=f"balance:{account.pk}:{now:%Y-%m-%dT%H:%M}",
        )
        warned.append(account.pk)
    return warned


def costs_sweep() -> None:
    budgets_check()
    balances_refresh()
    balances_warn()
