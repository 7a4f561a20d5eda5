"""``cost_alerts`` on every logged-in page: budget thresholds crossed this month and keys
about to run out of balance (controlpanel.costs.services writes them, once each)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject


def cost_alerts(request: HttpRequest) -> dict[str, Any]:
    get_membership = getattr(request, "get_membership", None)
    if get_membership is None or not request.user.is_authenticated:
        return {}

    def alerts() -> list[Any]:
        from controlpanel.costs.selectors import team_alerts

        membership = get_membership()
        return team_alerts(team=membership.team) if membership else []

    return {"cost_alerts": SimpleLazyObject(alerts)}
