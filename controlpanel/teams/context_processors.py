from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from controlpanel.teams.permissions import Perm


class _Can:
    """``{% if can.deploy %}`` in templates, answered by the permission table."""

    def __init__(self, membership: Any) -> None:
        self._membership = membership

    def __getattr__(self, name: str) -> bool:
        try:
            perm = Perm(name)
        except ValueError:
            raise AttributeError(name) from None
        return bool(self._membership and self._membership.can(perm))


def team(request: HttpRequest) -> dict[str, Any]:
    get_membership = getattr(request, "get_membership", None)
    if get_membership is None or not request.user.is_authenticated:
        return {}
    membership = get_membership()
    return {"membership": membership, "current_team": membership.team if membership else None, "can": _Can(membership)}
