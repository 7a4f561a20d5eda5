"""The panel's own 404 and 500 pages while ``DEBUG`` is on (``make run``).

With ``DEBUG`` off Django already renders ``404.html`` and ``500.html``. With it on, it
shows its technical pages instead: useful to whoever writes the code, a dead end for
someone trying the panel. ``PANEL_FRIENDLY_ERRORS`` (on in ``make run``) makes this
middleware answer with the panel's pages there too; the traceback still goes to the log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.urls import Resolver404, get_resolver

logger = logging.getLogger("django.request")


def _page(request: HttpRequest, status: int) -> HttpResponse:
    try:
        body = render_to_string(f"{status}.html", request=request)
    except Exception:  # the error page itself must not fail
        body = "Not found" if status == 404 else "Something went wrong"
    return HttpResponse(body, status=status)


class FriendlyErrorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    @staticmethod
    def active() -> bool:
        return bool(settings.DEBUG and getattr(settings, "PANEL_FRIENDLY_ERRORS", False))

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self.active():
            try:
                get_resolver(getattr(request, "urlconf", None)).resolve(request.path_info)
            except Resolver404:
                # An unknown address: Django would answer with its URL list. (CommonMiddleware,
                # outside this one, still redirects /path to /path/ when that exists.)
                return _page(request, 404)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not self.active():
            return None
        if isinstance(exception, Http404):
            return _page(request, 404)
        if isinstance(exception, PermissionDenied | SuspiciousOperation | BadRequest):
            return None  # Django's own handlers already answer these with the panel's pages
        logger.error("Internal Server Error: %s", request.path, exc_info=exception)
        response = _page(request, 500)
        response._has_been_logged = True  # type: ignore[attr-defined]
        return response
