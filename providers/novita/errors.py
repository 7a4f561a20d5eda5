"""Novita's error bodies: what they say, for ``providers.http`` to type by status.

The body is ``{code, reason, message, metadata}`` [I: Novita's other APIs], or the same
nested as ``{"error": {code, message}}`` [C: Novita's generic clients], read defensively
(notes §4): the error name from ``reason`` (or a string ``code``), the text from
``message``, else the raw text. The name overrides the status only where the two
disagree (``RESOURCE_NOT_FOUND`` is a 400 that means NotFound [V], ``CONFLICT`` a 400
that is a refusal, ``UNKNOWN`` on a 4xx still worth a retry); a ``VALIDATOR_PARAM``
message is put on the field it names.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from providers.base import (
    AuthError,
    ErrorDetail,
    NotFound,
    ProviderError,
    RateLimited,
    Rejected,
    SpecError,
    Transient,
)
from providers.http import MAX_MESSAGE, error_type_for, json_or_none, response_text
from providers.novita.fields import CREATE_FIELDS

# Error names of contract §4 → what they mean whatever the HTTP status they come with.
ERRORS: dict[str, type[ProviderError]] = {
    "UNAUTHORIZED": AuthError,
    "FORBIDDEN": AuthError,
    "RATE_LIMIT_EXCEEDED": RateLimited,
    "UNKNOWN": Transient,
    "VALIDATOR_PARAM": SpecError,
    "REQUEST": SpecError,
    "INVALID_COMMAND_PARAM": SpecError,
    "UNSUPPORTED_BILLING_MODE": SpecError,
    "IMAGE_NOT_FOUND": SpecError,
    "NETWORK_STORAGE_NOT_FOUND": SpecError,
    "NETWORK_STORAGE_UNAVAILABLE": SpecError,
    "CUR_CLUSTER_NETWORK_STORAGE_NOT_SUPPORT": SpecError,
    "NETWORK_NOT_FOUND": SpecError,
    "RESOURCE_NOT_FOUND": NotFound,  # a 400, not a 404 [V]
    "CONFLICT": Rejected,
    "OPERATION_LIMIT": Rejected,
    "INSUFFICIENT_RESOURCE": Rejected,
    "CLUSTER_STATUS": Rejected,
    "NODE_STATUS": Rejected,
    "DEPENDENT_RESOURCE_STATE": Rejected,
    "PREPAID_INSTANCE_NOT_SUPPORT_RELEASE": Rejected,
    "CREATING_INSTANCE_NOT_SUPPORT_RENEWAL": Rejected,
    "GPU_SPEC_USED": Rejected,
    "MIGRATE_INSUFFICIENT_RESOURCE": Rejected,
    "BALANCE_NOT_ENOUGH": Rejected,
    "EXPIRED_OR_BALANCE_NOT_ENOUGH": Rejected,
    "CREATE_INSTANCE_LIMIT": Rejected,
    "NETWORK_STORAGE_TOO_LARGE": Rejected,
    "NETWORK_STORAGE_IN_USE": Rejected,
    "IMAGE_AUTH_IN_USE": Rejected,
    "NETWORK_IN_USE": Rejected,
    "NETWORK_MAX_LIMIT": Rejected,
    "JOB_NOT_FOUND": Rejected,
    "TEMPLATE_NOT_FOUND": Rejected,
    "TEMPLATE_IS_PRIVATE": Rejected,
}
# The field a spec error is about when its message names none.
ERROR_FIELDS: dict[str, str] = {
    "INVALID_COMMAND_PARAM": "command",
    "UNSUPPORTED_BILLING_MODE": "billingMode",
    "IMAGE_NOT_FOUND": "imageUrl",
    "NETWORK_STORAGE_NOT_FOUND": "networkStorages",
    "NETWORK_STORAGE_UNAVAILABLE": "networkStorages",
    "CUR_CLUSTER_NETWORK_STORAGE_NOT_SUPPORT": "clusterId",
    "NETWORK_NOT_FOUND": "networkId",
}


_NAME_RE = re.compile(r"^[A-Z][A-Z0-9_]+$")


def _parts(body: Any) -> list[dict[str, Any]]:
    """The error body and, nested in it, ``{"error": {"code", "message"}}``: the shape
    Novita's generic clients parse [C: cnovita 0.3.0 on PyPI, ``cnovita/core/client.py``
    ``NovitaClient._request`` reads ``err["error"]["message"]`` and ``["code"]``]. The
    nested one is read first."""
    if not isinstance(body, dict):
        return []
    nested = body.get("error")
    return [nested, body] if isinstance(nested, dict) else [body]


def error_name(body: Any) -> str:
    """``reason``, or ``code`` when it is a name rather than a number [I], flat or nested."""
    for part in _parts(body):
        for key in ("reason", "code", "error"):
            value = part.get(key)
            if isinstance(value, str) and _NAME_RE.match(value.strip()):
                return value.strip()
    return ""


def error_message(body: Any) -> str:
    for part in _parts(body):
        for key in ("message", "msg", "detail", "error"):
            value = part.get(key)
            if isinstance(value, str) and value.strip() and not _NAME_RE.match(value.strip()):
                return value.strip()[:MAX_MESSAGE]
    if isinstance(body, str):
        return body.strip()[:MAX_MESSAGE]
    return ""


# Fields a message may name, with the edit/upgrade spellings read as the spec's.
_FIELD_ALIASES = {
    "expandRootDisk": "rootfsSize",
    "networkVolume": "networkStorages",
    "volumeMounts": "networkStorages",
    "mountPath": "networkStorages",
}
_INDEXED_RE = re.compile(r"\b(envs|tools|networkStorages)\s*(?:\[\s*(\d+)\s*\]|\.(\d+))\s*\.?\s*(\w+)?")
_FIELD_RE = re.compile(
    r"\b("
    + "|".join(sorted({*CREATE_FIELDS, *_FIELD_ALIASES, "port", "mountPoint"} - {"name"}, key=len, reverse=True))
    + r")\b"
)
_NAME_FIELD_RE = re.compile(r"\bname\b")


def field_named_in(message: str, default: str = "") -> str:
    """The spec path a VALIDATOR_PARAM message is about: ``envs[0].key`` → ``envs.0.key``,
    a top-level field name, else ``default``. ``name`` only when nothing else is named
    (it is also a word in "tool name")."""
    message = message or ""
    indexed = _INDEXED_RE.search(message)
    if indexed:
        index = indexed.group(2) or indexed.group(3)
        leaf = indexed.group(4) or ""
        return f"{indexed.group(1)}.{index}" + (f".{leaf}" if leaf else "")
    found = _FIELD_RE.search(message)
    if found:
        word = found.group(1)
        if word == "port":
            return "ports"
        if word == "mountPoint":
            return "networkStorages"
        return _FIELD_ALIASES.get(word, word)
    if _NAME_FIELD_RE.search(message):
        return "name"
    return default


def error_detail(response: httpx.Response) -> ErrorDetail | None:
    """The message (``"<message> (<NAME>)"``), the field a spec error names, and the type
    only where Novita's name says otherwise than its status; ``None`` for an empty body."""
    body = json_or_none(response)
    name = error_name(body)
    message = error_message(body) or ("" if isinstance(body, dict) else response_text(response))
    if not name and not message:
        return None
    words = message or name
    if name and name not in words:
        words = f"{words} ({name})"
    words = words[:MAX_MESSAGE]
    kind = ERRORS.get(name)
    fields = None
    if kind is SpecError or (kind is None and field_named_in(message)):
        fields = {field_named_in(message, ERROR_FIELDS.get(name, "")): [words]}
    by_status = error_type_for(response.status_code, names_fields=fields is not None)
    return ErrorDetail(message=words, fields=fields, error=kind if kind not in (None, by_status) else None)
