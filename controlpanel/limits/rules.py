"""What a team's limits say about a new deployment; read by the submission service."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from controlpanel.limits.clock import hours
from controlpanel.limits.models import TeamPolicy
from controlpanel.teams.models import Membership, Team
from controlpanel.teams.permissions import Perm


def team_policy(team: Team) -> TeamPolicy:
    """The team's limits; a team that never set any has the defaults (none)."""
    try:
        return team.policy
    except TeamPolicy.DoesNotExist:
        return TeamPolicy(team=team)


def approval_reason(*, team: Team, actor: AbstractBaseUser, price_per_hour: Decimal | None) -> str:
    """Why this create must wait for an admin, or ``""``. Those who may approve are not held;
    a create with no estimate is held, since nobody can say it is under the limit."""
    limit = team_policy(team).approval_above_per_hour
    if limit is None:
        return ""
    membership = Membership.objects.filter(team=team, user=actor).first()
    if membership is not None and membership.can(Perm.APPROVE):
        return ""
    if price_per_hour is None:
        return (
            "Waiting for an admin's approval: its price is not known, "
            f"and the team approves anything above ${limit:.2f}/h"
        )
    if price_per_hour > limit:
        return (
            f"Waiting for an admin's approval: about ${price_per_hour:.2f}/h is above the team's ${limit:.2f}/h limit"
        )
    return ""


def default_expiry(*, team: Team, now: dt.datetime) -> tuple[dt.datetime | None, str]:
    policy = team_policy(team)
    if not policy.default_ttl_hours:
        return None, ""
    return now + hours(policy.default_ttl_hours), policy.default_ttl_action


# States a time limit can be set in: something may run (and bill) at the vendor, or soon will.
TIME_LIMIT_STATES = frozenset(
    {"queued", "submitting", "provisioning", "running", "updating", "stopped", "failed", "awaiting_approval"}
)


def limits_context(deployment: Any) -> dict[str, Any]:
    """What the deployment page needs for its approval banner and time-limit card."""
    provider_class = deployment.account.provider_class if deployment.account else None
    policy = team_policy(deployment.team)
    reports_use = provider_class is not None and provider_class.activity(spec={}, raw={}) is not None
    return {
        "time_limit_states": TIME_LIMIT_STATES,
        "can_stop": provider_class is not None and "stop" in {a.value for a in provider_class.actions},
        "ttl_hours_default": policy.default_ttl_hours or 8,
        "idle": _idle_context(deployment, provider_class, policy) if reports_use else None,
    }


def _idle_context(deployment: Any, provider_class: Any, policy: TeamPolicy) -> dict[str, Any]:
    """The idle rule's card: the rule that applies, and whether it can act now."""
    own = deployment.idle_minutes
    minutes = (own or None) if own is not None else policy.idle_minutes
    activity = provider_class.activity(spec=deployment.spec, raw=deployment.raw)
    if not minutes:
        now = "it is never scaled to zero for idling"
    elif activity.kept_warm < 1:
        now = "nothing is kept warm (min instances 0), so there is nothing to scale down"
    else:
        now = (
            f"with no prediction for {minutes} minutes it is scaled to zero (min 0, max kept), "
            "and the next request starts it again"
        )
    return {
        "own": own,
        "minutes": minutes,
        "team_minutes": policy.idle_minutes,
        "rule": "team" if own is None else "never" if own == 0 else "minutes",
        "now": now,
    }
