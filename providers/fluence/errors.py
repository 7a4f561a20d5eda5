"""What Fluence's error bodies say, for the adapter's ``error_detail`` hook.

``providers.http`` turns the HTTP status into an error type; this module reads the
body. FastAPI's shapes [V]: 422 ``{"detail": [{loc, msg, ...}]}`` onto spec paths;
400 ``{"detail": "..."}`` is a business rule, which is rarely the spec's fault as a 400
is elsewhere: about the key (:class:`AuthError`), a refusal of the moment
(:class:`Rejected`), or about the one field it names (OS image, plan, location...).
The account routes (/v1, /v2) answer ``{"code", "error"}`` instead [I].
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from providers.base import AuthError, ErrorDetail, Rejected
from providers.fluence.rules import RESERVED_ENV
from providers.http import json_or_none

VALUE_ERROR = "Value error, "  # pydantic's prefix on a validator's message: not the vendor's words
# A 400's ``detail`` that is about one field [V: the documented messages; the patterns are ours].
MESSAGE_FIELDS: tuple[tuple[re.Pattern[str], str], ...] = (
    # The most specific first: "Location X is not available for the selected plan" is the location's.
    (re.compile(r"\bOS image\b", re.IGNORECASE), "os_image"),
    (re.compile(r"\blocation\b", re.IGNORECASE), "constraints.location"),
    (re.compile(r"\bSSH_PUBKEY\b"), "container_settings.environment"),
    (re.compile(r"\bssh[ _-]?key\b", re.IGNORECASE), "ssh_key"),
    (re.compile(r"\bplan\b", re.IGNORECASE), "plan_id"),
    (re.compile(r"\bimage\b", re.IGNORECASE), "container_settings.image"),
    (re.compile(r"\bname\b", re.IGNORECASE), "name"),
)
# Refusals of the moment (money, state), not of a field, even when they name one.
REFUSAL_RE = re.compile(
    r"balance|insufficient|fund|already|in progress|being (?:updated|applied)|only active|status", re.IGNORECASE
)
# A key refused: fluencelabs/docs ``docs/build/api/overview.md`` says "If you omit or
# supply an invalid key, you'll get a 403 error" (every revision from 3f4e419, 2025-05-01,
# to 1227924, 2026-02-20; its example body ``{"error": "Auth failed. No such API Key"}``),
# and a key without the scopes is a 403 too; 401 and 403 are ``AuthError`` in
# ``providers.http``. A 400 can be about the key as well (notes §1: some endpoints answer
# a missing key with 400): its words say so, and this reads it as ``AuthError``.
AUTH_RE = re.compile(
    r"api[ _-]?key|not authenticated|unauthori[sz]ed|authentication|invalid token|access token|forbidden|permission",
    re.IGNORECASE,
)
# What a status means when its body says nothing, in the panel's words.
QUIET_WORDS = {
    401: "Fluence refused the API key",
    403: "Fluence refused the API key",
    404: "Instance not found",
    422: "invalid request",
    402: "Fluence refused it (HTTP 402)",
    405: "Fluence refused it (HTTP 405)",
    409: "Fluence refused it (HTTP 409)",
}


def field_for_message(message: str, request_body: Any) -> str:
    """The spec path a 400's words are about, or ``""``: the ``SSH_PUBKEY`` rule lands on
    the very environment row that defined it when the request shows which one."""
    for pattern, path in MESSAGE_FIELDS:
        if not pattern.search(message):
            continue
        if path == "container_settings.environment" and isinstance(request_body, dict):
            rows = (request_body.get("container_settings") or {}).get("environment") or []
            for i, row in enumerate(rows):
                if isinstance(row, dict) and row.get("name") == RESERVED_ENV:
                    return f"{path}.{i}.name"
        return path
    return ""


def loc_path(loc: Any) -> str:
    """``["body", "container_settings", "expose", 0, "port"]`` → ``container_settings.expose.0.port``."""
    parts = [str(p) for p in loc] if isinstance(loc, (list, tuple)) else ([str(loc)] if loc else [])
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts)


def detail_fields(detail: list[Any]) -> dict[str, list[str]]:
    """A FastAPI/pydantic ``detail`` array as spec paths and the vendor's messages."""
    fields: dict[str, list[str]] = {}
    for item in detail:
        if not isinstance(item, dict):
            fields.setdefault("", []).append(str(item))
            continue
        message = str(item.get("msg") or item.get("type") or "invalid")
        message = message.removeprefix(VALUE_ERROR)
        fields.setdefault(loc_path(item.get("loc")), []).append(message)
    return fields


def sent_json(response: httpx.Response) -> Any:
    try:
        request = response.request
    except RuntimeError:  # a response built without a request
        return None
    try:
        return json.loads(request.content or b"null")
    except ValueError:
        return None


def error_detail(response: httpx.Response) -> ErrorDetail | None:
    """The message, the fields and the rare override in a Fluence error body; ``None``
    where it says nothing that the shared reading would not."""
    body = json_or_none(response)
    status = response.status_code
    detail = body.get("detail") if isinstance(body, dict) else body
    if status in (400, 422) and isinstance(detail, list):
        return ErrorDetail(message="invalid request", fields=detail_fields(detail) or None)
    text = detail if isinstance(detail, str) else ""
    if not text and isinstance(body, dict):
        text = next((body[k] for k in ("error", "message") if isinstance(body.get(k), str)), "")
    if status == 400:
        return business_rule(text, sent_json(response)) if text else None
    message = text or QUIET_WORDS.get(status, "")
    return ErrorDetail(message=message) if message else None


def business_rule(text: str, request_body: Any) -> ErrorDetail:
    """A 400's ``detail`` [V], which ``providers.http`` would read as the spec's fault:
    the key's fault (notes §1), a refusal of the moment, or the one field it names."""
    if AUTH_RE.search(text):
        return ErrorDetail(message=text, error=AuthError)
    if REFUSAL_RE.search(text):
        return ErrorDetail(message=text, error=Rejected)
    field = field_for_message(text, request_body)
    if field:
        return ErrorDetail(message=text, fields={field: [text]})
    return ErrorDetail(message=text, error=Rejected)
