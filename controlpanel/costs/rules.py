"""What the team's money limits say about a new deployment: read by the deployment form
(before anything is saved) and again by the submit task (before anything is sent)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from controlpanel.costs.selectors import team_month_spend
from controlpanel.limits.rules import team_policy
from controlpanel.teams.models import Team


@dataclass(frozen=True)
class BudgetView:
    """The price panel's line: the month's budget, what is spent, and what is left."""

    budget: Decimal | None
    spent: Decimal
    ceiling: Decimal | None

    @property
    def left(self) -> Decimal | None:
        return None if self.budget is None else max(self.budget - self.spent, Decimal("0"))

    @property
    def used_up(self) -> bool:
        return self.budget is not None and self.spent >= self.budget

    def hours_at(self, price: Decimal | None) -> Decimal | None:
        """How many hours at ``price`` the budget leaves."""
        if self.left is None or not price:
            return None
        return (self.left / price).quantize(Decimal("0.1"))


def budget_view(*, team: Team, now: dt.datetime | None = None) -> BudgetView:
    policy = team_policy(team)
    spent = team_month_spend(team=team, now=now) if policy.monthly_budget is not None else Decimal("0")
    return BudgetView(budget=policy.monthly_budget, spent=spent, ceiling=policy.price_ceiling_per_hour)


def ceiling_reason(*, team: Team, price_per_hour: Decimal | None) -> str:
    """Why a deployment at ``price_per_hour`` is over the team's ceiling, or ``""``."""
    ceiling = team_policy(team).price_ceiling_per_hour
    if ceiling is None:
        return ""
    if price_per_hour is None:
        return f"Its price is not known, and the team allows at most ${ceiling:.2f}/h per deployment."
    if price_per_hour > ceiling:
        return f"About ${price_per_hour:.2f}/h is above the team's ceiling of ${ceiling:.2f}/h per deployment."
    return ""


def budget_reason(*, team: Team, now: dt.datetime | None = None) -> str:
    """Why no new deployment may start this month, or ``""``."""
    view = budget_view(team=team, now=now or timezone.now())
    if view.used_up:
        return (
            f"The team's monthly budget of ${view.budget:.2f} is used up (${view.spent:.2f} spent this month); "
            "new deployments wait for next month or a higher budget."
        )
    return ""


def start_reason(*, team: Team, now: dt.datetime | None = None) -> str:
    """Why a stopped deployment may not start again this month, or ``""``: a start spends
    money as a new deployment does, so a used-up budget holds it back too."""
    view = budget_view(team=team, now=now or timezone.now())
    if view.used_up:
        return (
            f"The team's monthly budget of ${view.budget:.2f} is used up (${view.spent:.2f} spent this month): "
            "starting it would spend more. An admin can raise the budget on Team → Limits."
        )
    return ""


def refusal(*, team: Team, price_per_hour: Decimal | None) -> str:
    """The first money rule a new deployment breaks, in words, or ``""``."""
    return ceiling_reason(team=team, price_per_hour=price_per_hour) or budget_reason(team=team)
