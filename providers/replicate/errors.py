"""What Replicate's error bodies say: RFC 7807 problem details
``{type?, title?, status?, detail?, instance?}`` [V].

``providers.http`` turns the status into an error type; this hook only gives the
vendor's words and the field they are about. No override is needed: a 409 on create
names the field ``name`` (so it is a SpecError there), and every other status means
what the shared table says.
"""

from __future__ import annotations

import re

import httpx

from providers.base import ErrorDetail
from providers.http import json_or_none
from providers.replicate.rules import CREATE_FIELDS

_FIELD_RE = re.compile(r"\b(" + "|".join(sorted(CREATE_FIELDS, key=len, reverse=True)) + r")\b")


def field_named_in(detail: str) -> str:
    """The create field a 422's ``detail`` is about (the one it names first), or ``""``."""
    match = _FIELD_RE.search(detail or "")
    return match.group(1) if match else ""


def _is_create(response: httpx.Response) -> bool:
    try:
        request = response.request
    except RuntimeError:  # a response built without a request
        return False
    return request.method == "POST" and request.url.path.rstrip("/").endswith("/deployments")


def error_detail(response: httpx.Response) -> ErrorDetail | None:
    """The problem's ``detail`` (else its ``title``) as the message, on the field a
    400/422 names; ``None`` leaves a body without one to the shared reading."""
    body = json_or_none(response)
    if not isinstance(body, dict):
        return None
    detail = body.get("detail") or body.get("title") or ""
    detail = detail if isinstance(detail, str) else str(detail)
    if not detail:
        return None
    status = response.status_code
    if status in (400, 422):
        field = field_named_in(detail)
        return ErrorDetail(detail, fields={field: [detail]} if field else None)
    if status == 409 and _is_create(response):
        # A duplicate name on create [I: 409, as for duplicate model names, issue #323];
        # elsewhere (delete before 15 minutes offline) a refusal of the current state.
        return ErrorDetail(detail, fields={"name": [detail]})
    if status in (402, 409):
        return ErrorDetail(detail)  # insufficient credit, or the current state refuses it
    return None  # 401/403/404/429/5xx: the shared reading finds the same detail
