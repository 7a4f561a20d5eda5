"""Puts the current team on every request: ``request.team`` and ``request.membership``.

The team is chosen with the switcher and kept in the session; if the user has left
it (or was removed), the first team they still belong to takes its place, so a
removed member loses access on their very next request.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

from controlpanel.teams.selectors import membership_for

SESSION_KEY = "team_id"


class CurrentTeamMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        cache: dict[str, object] = {}

        def membership():
            if "m" not in cache:
                cache["m"] = membership_for(user=request.user, team_id=request.session.get(SESSION_KEY))
            return cache["m"]

        # Plain attributes resolved on first use: most requests (static, sandbox) never ask.
        request.get_membership = membership  # type: ignore[attr-defined]
        request.membership = SimpleLazyObject(membership)  # type: ignore[attr-defined]
        request.team = SimpleLazyObject(lambda: membership().team if membership() else None)  # type: ignore[attr-defined]
        return self.get_response(request)
