"""Template helpers shared by every screen."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.utils import timezone

register = template.Library()

SECRET_HINTS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASS", "AUTH", "CREDENTIAL", "PRIVATE")


@register.filter
def money(value: Any, places: int = 2) -> str:
    """``$3.36`` (``—`` when unknown)."""
    if value in (None, ""):
        return "—"
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return "—"
    return f"${amount:,.{places}f}"


@register.filter
def ts(value: Any) -> str:
    """Epoch seconds for ``data-ts`` (relative times updated in the browser)."""
    return f"{value.timestamp():.0f}" if value else ""


@register.filter
def age(value: Any) -> str:
    if not value:
        return "—"
    seconds = (timezone.now() - value).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit}"
    return f"{int(seconds)} s"


@register.filter
def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False)


def _mask(value: Any) -> Any:
    return "••••" if value not in (None, "") else value


@register.filter
def masked_spec(spec: Any) -> Any:
    """The spec for display: every env value hidden (values may be secrets); only
    names, and references to secrets, stay readable."""
    if isinstance(spec, dict):
        out = {}
        for key, value in spec.items():
            if key in ("environment_variables", "envs", "environment", "env") and isinstance(value, (list, dict)):
                out[key] = _mask_env(value)
            elif key.lower() in (
                "password", "imageauth", "image_auth", "credentials", "ssh_key", "authentication", "iam",
            ):  # fmt: skip
                out[key] = _mask(value) if not isinstance(value, dict) else {k: _mask(v) for k, v in value.items()}
            else:
                out[key] = masked_spec(value)
        return out
    if isinstance(spec, list):
        return [masked_spec(v) for v in spec]
    return spec


def _mask_env(env: Any) -> Any:
    if isinstance(env, dict):
        return {k: _mask(v) for k, v in env.items()}
    masked = []
    for item in env:
        if isinstance(item, dict):
            item = {k: (_mask(v) if k == "value" else v) for k, v in item.items()}
        masked.append(item)
    return masked


@register.simple_tag(takes_context=True)
def nav_current(context: template.Context, prefix: str) -> str:
    request = context.get("request")
    path = request.path if request else ""
    matched = path == "/" if prefix == "/" else path.startswith(prefix)
    return 'aria-current="page"' if matched else ""


@register.filter
def get(mapping: Any, key: Any) -> Any:
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.inclusion_tag("components/badge.html")
def state_badge(deployment: Any) -> dict[str, Any]:
    return {"d": deployment}
