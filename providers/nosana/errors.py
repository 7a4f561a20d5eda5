"""What Nosana's error bodies say, for ``providers.http`` to type by status.

401 is the bare JSON string ``"Unauthorized"``; everything else is ``{"error": "..."}``;
a 400 lists ``path: message`` pairs joined by ``, `` [V]. Wrong-state actions come back
as HTTP 500 ``{"error": "Deployment is in the incorrect state."}`` [V]: that 500, and the
other refusals below, are no outage, so they are the one override here (``Rejected``,
not retried). A rule the server states without a field path, at 400 or 500, is put on
the field it is about.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from providers.base import ErrorDetail, Rejected, SpecError
from providers.http import json_or_none

# Messages the server sends without a field path, and the field each is about [V: src/errors].
MESSAGE_FIELDS = {
    "Rotation time must be at least 10 minutes less than timeout.": "rotation_time",
    "Timeout for infinite deployments must be at least 1 hour.": "timeout",
}
# 500s that are refusals, not outages: retrying cannot help [V: src/errors].
REFUSALS = (
    "Deployment is in the incorrect state.",
    "Cannot modify an archived deployment.",
    "Vault not found.",
)
INCORRECT_STATE = REFUSALS[0]
# The server's word for a refused key; said here too when a 401 comes with no body.
UNAUTHORIZED = "Unauthorized"

_FIELD_AT = re.compile(r"(?:^|,\s+)(?P<path>/?[A-Za-z_][\w-]*(?:/[\w-]+)*):\s")


def error_detail(response: httpx.Response) -> ErrorDetail | None:
    """The message, the fields it names, and the override for a 500 that is a refusal."""
    message = error_text(json_or_none(response))
    if not message:
        return ErrorDetail(UNAUTHORIZED) if response.status_code in (401, 403) else None
    server_error = response.is_server_error
    if message in MESSAGE_FIELDS:  # 400 or 500: the rule is the same field's
        return ErrorDetail(message, {MESSAGE_FIELDS[message]: [message]}, SpecError if server_error else None)
    if message in REFUSALS or "insufficient" in message.lower():
        # Wrong state, archived, no funds: well-formed but refused, and not worth retrying.
        return ErrorDetail(message, error=Rejected if server_error else None)
    if server_error:
        return None  # a genuine outage: the shared reading of the body says it
    return ErrorDetail(message, parse_field_errors(message) if _FIELD_AT.match(message) else None)


def error_text(body: Any) -> str:
    if isinstance(body, dict):
        for key in ("error", "message"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
    if isinstance(body, str):
        return body
    return ""


def parse_field_errors(message: str) -> dict[str, list[str]]:
    """``"replicas: must be >= 1, job_definition/ops/0/args/image: required"`` →
    ``{"replicas": [...], "job_definition.ops.0.args.image": [...]}`` [V: the 400 shape]."""
    matches = list(_FIELD_AT.finditer(message))
    if not matches or matches[0].start() != 0:
        return {MESSAGE_FIELDS.get(message, ""): [message]}
    fields: dict[str, list[str]] = {}
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(message)
        path = match.group("path").strip("/").removeprefix("body/").replace("/", ".")
        fields.setdefault(path, []).append(message[match.end() : end].strip())
    return fields


def in_job_definition(path: str) -> str:
    """A create-revision error's path: its body is the bare job definition, so the
    server's paths start inside it."""
    if path in ("", "body") or path in MESSAGE_FIELDS.values() or path.startswith("job_definition"):
        return "job_definition" if path in ("", "body") else path
    return f"job_definition.{path}"
