"""``parts`` on every logged-in page: is the worker (and beat) running?"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from controlpanel.core.parts import parts_status


def parts(request: HttpRequest) -> dict[str, Any]:
    """Lazy: the heartbeats are read (through the cache) only if the page shows them."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"parts": SimpleLazyObject(parts_status)}
