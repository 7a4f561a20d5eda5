"""The Content-Security-Policy every answer carries.

The panel's pages load only their own files: htmx (served from django-htmx's static
files), ``static/js/panel.js``, ``static/css/panel.css`` and the ``vendors.css`` view.
No inline script, no ``on*=`` handler, no ``style=`` attribute and no ``eval`` (htmx's
``allowEval`` is off in base.html; trigger filters such as ``[document.visibilityState…]``
would need it, so panel.js pauses polls itself). Framing is refused outright.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"


def policy() -> str:
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in settings.PANEL_CSP.items())


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.header = policy()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if HEADER in response:
            return response
        if settings.DEBUG and response.status_code >= 400 and not settings.PANEL_FRIENDLY_ERRORS:
            # Django's technical 404 and traceback pages style themselves inline; they exist
            # only with DEBUG on and the panel's own error pages off.
            return response
        response[HEADER] = self.header
        return response
