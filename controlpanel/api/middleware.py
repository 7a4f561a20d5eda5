"""Under /api/, an error Django or ninja answered in another format (a wrong method's
empty 405, say) is given the API's one JSON shape, keeping its status and headers."""

from __future__ import annotations

import json
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from controlpanel.api.errors import error_body

MESSAGES = {405: "This endpoint does not take that method; the Allow header lists the ones it takes."}


class ApiErrorShapeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.path.startswith("/api/")
            and response.status_code >= 400
            and not response.get("Content-Type", "").startswith("application/json")
            and not getattr(response, "streaming", False)
        ):
            status = response.status_code
            message = MESSAGES.get(status, response.reason_phrase or "Error")
            response.content = json.dumps(error_body(status, message)).encode()
            response["Content-Type"] = "application/json"
        return response
