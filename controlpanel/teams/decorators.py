from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect

from controlpanel.teams.permissions import Perm


def team_required(perm: Perm = Perm.VIEW) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Login, a current team, and ``perm`` in it; else the login page, team set-up or 403."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            membership = request.get_membership()  # type: ignore[attr-defined]
            if membership is None:
                # No team (never had one, or just removed from the last): set one up.
                if getattr(request, "htmx", False):
                    return HttpResponseClientRedirect(reverse("teams:create"))
                return redirect("teams:create")
            if not membership.can(perm):
                raise PermissionDenied(f"Your role ({membership.get_role_display()}) cannot do this.")
            return view(request, *args, **kwargs)

        wrapped.required_perm = perm  # type: ignore[attr-defined]  # read by the URL-walking tests
        return wrapped

    return decorator
