"""What a Together error body says (the adapter's ``error_detail`` hook).

``ErrorData`` is ``{"error": {message, type, param, code}}``; the deployment routes
declare a bare object, so a string ``error`` or a top-level ``message`` is read too [I].
``param`` names the offending field when Together says which one. Which error type a
status means is ``providers.http``'s to decide: Together's statuses mean what they say.
"""

from __future__ import annotations

import httpx

from providers.base import ErrorDetail
from providers.http import json_or_none


def error_detail(response: httpx.Response) -> ErrorDetail | None:
    body = json_or_none(response)
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        message, param = error.get("message") or "", error.get("param") or ""
    elif isinstance(error, str):
        message, param = error, ""
    elif isinstance(body, dict) and isinstance(body.get("message"), str):
        message, param = body["message"], ""
    else:
        return None  # not Together's shape: http.py reads what it can
    return ErrorDetail(message=message, fields={str(param): [message]} if param else None)
