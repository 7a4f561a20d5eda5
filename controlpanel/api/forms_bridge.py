"""The API's creates and updates run the browser's own form classes: a JSON body is
turned into the POST the form would send, and the form's errors come back keyed by
the names of the inputs they sit on (``name``, ``env-0-value``; ``__all__`` for the
form's own), so a script is told exactly what a person is told."""

from __future__ import annotations

import json
from typing import Any

from django.http import QueryDict

from controlpanel.deployments.forms.base import VendorDeploymentForm

MAX_ROWS = 100


def _text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def form_data(fields: dict[str, Any], rows: dict[str, list[dict[str, Any]]], prefixes: list[str]) -> QueryDict:
    """What the browser would post: a checkbox that is true is "on" and a false one is
    absent; a list is a multiple choice; each formset gets its management fields."""
    data = QueryDict(mutable=True)
    for name, value in fields.items():
        if value is None or value is False or "-" in name:  # "-" names are the formsets' own
            continue
        if value is True:
            data[name] = "on"
        elif isinstance(value, list):
            data.setlist(name, [_text(v) for v in value])
        else:
            data[name] = _text(value)
    for prefix in prefixes:
        posted = [row for row in rows.get(prefix, []) if isinstance(row, dict)][:MAX_ROWS]
        data[f"{prefix}-TOTAL_FORMS"] = str(len(posted))
        data[f"{prefix}-INITIAL_FORMS"] = "0"
        for i, row in enumerate(posted):
            for column, value in row.items():
                if value is None or value is False:
                    continue
                data[f"{prefix}-{i}-{column}"] = "on" if value is True else _text(value)
    return data


def form_errors(form: VendorDeploymentForm) -> dict[str, list[str]]:
    """Every message the form shows, by the input it is shown on."""
    errors: dict[str, list[str]] = {}
    for name, messages in form.main.errors.items():
        errors.setdefault(name, []).extend(str(m) for m in messages)
    for formset in form.sets.values():
        if formset.non_form_errors():
            errors.setdefault("__all__", []).extend(str(m) for m in formset.non_form_errors())
        for row in formset.forms:
            for name, messages in row.errors.items():
                key = "__all__" if name == "__all__" else row.add_prefix(name)
                errors.setdefault(key, []).extend(str(m) for m in messages)
    return errors
