"""``Authorization: Bearer <token>``, checked on every request, and the per-token rate limit."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from ninja.security import HttpBearer

from controlpanel.api.errors import ApiError
from controlpanel.api.models import ApiToken
from controlpanel.api.services import api_token_authenticate

WINDOW_SECONDS = 60


def rate_check(token: ApiToken, *, now: float | None = None) -> None:
    """At most ``PANEL_API_RATE_PER_MINUTE`` requests per token in each clock minute,
    counted in Django's cache (Redis when configured: every web process shares it)."""
    limit = settings.PANEL_API_RATE_PER_MINUTE
    if limit <= 0:
        return
    now = time.time() if now is None else now
    window = int(now // WINDOW_SECONDS)
    key = f"api-rate:{token.token_hash[:20]}:{window}"  # not the pk: ids come back in new databases
    cache.add(key, 0, timeout=WINDOW_SECONDS * 2)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=WINDOW_SECONDS * 2)
        count = 1
    if count > limit:
        retry = max(1, int((window + 1) * WINDOW_SECONDS - now))
        raise ApiError(
            429,
            f"This token made more than {limit} requests this minute; try again in {retry} s.",
            headers={"Retry-After": str(retry)},
        )


class TokenAuth(HttpBearer):
    """The token's owner, team and role for this request, read afresh each time: a role
    changed or a member removed counts from the next request."""

    openapi_description = "An API token from the panel's API tokens page (or `manage.py api_token`)."

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        found = api_token_authenticate(raw=token)
        if found is None:
            return None
        api_token, membership = found
        request.user = api_token.user
        request.team = membership.team  # type: ignore[attr-defined]
        request.membership = membership  # type: ignore[attr-defined]
        request.api_token = api_token  # type: ignore[attr-defined]
        rate_check(api_token)
        return api_token
