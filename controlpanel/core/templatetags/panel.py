"""Template helpers shared by every screen."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.utils import timezone

from controlpanel.core import text
from providers.registry import VENDORS

register = template.Library()


@register.simple_tag
def vendor_names(conjunction: str = "or") -> str:
    """Every vendor's name from the registry, for prose: "Nosana, Together AI ... or Novita AI"."""
    names = [v.display_name for v in VENDORS]
    return f"{', '.join(names[:-1])} {conjunction} {names[-1]}" if len(names) > 1 else "".join(names)


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
def sentence(value: Any) -> str:
    """End with exactly one full stop (vendor messages often carry their own)."""
    return text.sentence(value)


@register.filter
def times(value: Any, factor: Any) -> Decimal | None:
    """``unit|times:count``: a price times a count (``None`` when either is unknown)."""
    try:
        return Decimal(value) * Decimal(factor)
    except (InvalidOperation, TypeError, ValueError):
        return None


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
                "password",
                "imageauth",
                "image_auth",
                "credentials",
                "ssh_key",
                "authentication",
                "iam",
            ):
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


class _ActionDialogNode(template.Node):
    def __init__(self, nodelist: Any, name: Any, title: Any, confirm: Any, style: Any) -> None:
        self.nodelist, self.name, self.title, self.confirm, self.style = nodelist, name, title, confirm, style

    def render(self, context: template.Context) -> str:
        values = {
            "dialog_name": self.name.resolve(context),
            "dialog_title": self.title.resolve(context),  # the verb: "Stop" -> "Stop <name>?"
            "dialog_confirm": self.confirm.resolve(context),
            "dialog_style": self.style.resolve(context) if self.style else "primary",
            "dialog_body": self.nodelist.render(context),
        }
        with context.push(**values):
            return context.template.engine.get_template("components/action_dialog.html").render(context)


@register.tag("action_dialog")
def action_dialog(parser: Any, token: Any) -> _ActionDialogNode:
    """A confirmation dialog that posts one deployment action; the body says what it costs.

    {% action_dialog "stop" "Stop" "Stop it" "danger" %}<p>…</p>{% endaction_dialog %}
    """
    bits = token.split_contents()[1:]
    if len(bits) not in (3, 4):
        raise template.TemplateSyntaxError("action_dialog takes: name title confirm-label [style]")
    nodelist = parser.parse(("endaction_dialog",))
    parser.delete_first_token()
    filters = [parser.compile_filter(bit) for bit in bits]
    return _ActionDialogNode(nodelist, *filters, *([None] if len(filters) == 3 else []))
