"""Replicate's rules for a deployment spec and for new instance bounds.

The spec *is* the create body, ``{name, model, version, hardware, min_instances,
max_instances}`` (all six required [V]). ``check_spec`` composes one small check per
section and reports every broken rule at once, keyed by field; where the notes mark
a rule [I] it takes the strict reading.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from providers.base import SpecError
from providers.coerce import is_empty, text, whole

Errors = dict[str, list[str]]

# --- the vendor's rules (the form reads these too) -----------------------------------------
# [I] notes §5: the docs only show lowercase, digits and hyphens; the exact server rule is
# not published, so this is the strict reading (a name Replicate would take may be refused
# here, never the other way round).
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
NAME_MAX = 100
MODEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")  # "owner/name" [V]
VERSION_RE = re.compile(r"^[0-9a-f]{64}$")  # a 64-character version id [V]
SKU_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")  # the shape of every sku on /hardware and /pricing
CREATE_FIELDS = ("name", "model", "version", "hardware", "min_instances", "max_instances")  # all required [V]
UPDATE_FIELDS = ("hardware", "min_instances", "max_instances", "version")  # what PATCH takes [V]
TEXT_FIELDS = ("name", "model", "version", "hardware")
# Replicate's published OpenAPI caps both bounds in the deployments.create and
# deployments.update request schemas: min_instances "minimum": 0, "maximum": 5 and
# max_instances "minimum": 0, "maximum": 20. Replicate may grant an account more, so the
# message says how to get past them; a cap an account does not have is Replicate's 422.
MIN_INSTANCES_LIMIT = 5
MAX_INSTANCES_LIMIT = 20

NEGATIVE_MIN = "Cannot be negative (0 scales to zero when idle)."
BELOW_MIN = "Must be at least the minimum instances."


def _limit(limit: int) -> str:
    return (
        f"At most {limit}: Replicate's published limit. Replicate may raise the limits for an account; "
        "ask Replicate's support if yours needs more."
    )


def _add(errors: Errors, path: str, message: str) -> None:
    errors.setdefault(path, []).append(message)


def _number(errors: Errors, key: str, value: Any) -> int | None:
    """A whole number, or ``None`` (with a message unless nothing was given)."""
    if is_empty(value):
        return None
    number = whole(value, strings=False)  # a spec carries JSON numbers: "3" is not one
    if number is None:
        _add(errors, key, "Must be a whole number.")
    return number


# --- the sections of a create body ---------------------------------------------------------------


def _check_present(spec: Mapping[str, Any], errors: Errors) -> None:
    for key in CREATE_FIELDS:
        if is_empty(spec.get(key)):
            _add(errors, key, "This field is required.")
    for key in TEXT_FIELDS:
        if not is_empty(spec.get(key)) and not isinstance(spec.get(key), str):
            _add(errors, key, "Must be text.")


def _check_name(spec: Mapping[str, Any], errors: Errors) -> str:
    name = text(spec.get("name"))
    if "/" in name:
        name = name.rsplit("/", 1)[1]  # "owner/name" means name, as the Python client reads it [V]
    if name and (len(name) > NAME_MAX or not NAME_RE.match(name)):
        _add(
            errors,
            "name",
            f"Use at most {NAME_MAX} lowercase letters, digits, hyphens, underscores or periods, "
            "starting with a letter or digit.",
        )
    return name


def _check_model(spec: Mapping[str, Any], errors: Errors, previous: Mapping[str, Any] | None) -> str:
    model = text(spec.get("model"))
    if model and not MODEL_RE.match(model):
        _add(errors, "model", "Give the model as owner/name, e.g. stability-ai/sdxl.")
    elif model and previous and previous.get("model") and model != previous["model"]:
        _add(errors, "model", "Replicate cannot change a deployment's model, only its version.")
    return model


def _check_version(spec: Mapping[str, Any], errors: Errors) -> str:
    version = text(spec.get("version")).lower()
    if version and not VERSION_RE.match(version):
        _add(errors, "version", "A version id is 64 hexadecimal characters (see the model's Versions tab).")
    return version


def _check_hardware(spec: Mapping[str, Any], errors: Errors) -> str:
    hardware = text(spec.get("hardware"))
    if hardware and not SKU_RE.match(hardware):
        _add(errors, "hardware", "Choose a hardware SKU from Replicate's list, e.g. gpu-t4.")
    return hardware


def _check_instances(spec: Mapping[str, Any], errors: Errors) -> tuple[int | None, int | None]:
    low = _number(errors, "min_instances", spec.get("min_instances"))
    high = _number(errors, "max_instances", spec.get("max_instances"))
    if low is not None and low < 0:
        _add(errors, "min_instances", NEGATIVE_MIN)
    elif low is not None and low > MIN_INSTANCES_LIMIT:
        _add(errors, "min_instances", _limit(MIN_INSTANCES_LIMIT))
    if high is not None and high < 1:
        _add(errors, "max_instances", "At least 1, or no prediction could ever run.")
    elif high is not None and high > MAX_INSTANCES_LIMIT:
        _add(errors, "max_instances", _limit(MAX_INSTANCES_LIMIT))
    elif high is not None and low is not None and low >= 0 and high < low:
        _add(errors, "max_instances", BELOW_MIN)
    return low, high


def check_spec(spec: Mapping[str, Any], *, previous: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Check a create body and return it normalised, every field present. Raises
    :class:`SpecError` keyed by field (``name``, ``model``, ``version``, ``hardware``,
    ``min_instances``, ``max_instances``). ``previous``, the spec of the deployment this
    one updates, adds what cannot change: the model [V]."""
    errors: Errors = {}
    _check_present(spec, errors)
    name = _check_name(spec, errors)
    model = _check_model(spec, errors, previous)
    version = _check_version(spec, errors)
    hardware = _check_hardware(spec, errors)
    low, high = _check_instances(spec, errors)
    if errors:
        raise SpecError(errors)
    return {
        "name": name,
        "model": model,
        "version": version,
        "hardware": hardware,
        "min_instances": low,
        "max_instances": high,
    }


def check_scale(changes: Mapping[str, Any]) -> dict[str, int]:
    """New instance bounds; ``min_replicas``/``max_replicas`` (the panel's scale dialog)
    are read as ``min_instances``/``max_instances``. A missing maximum follows the
    minimum (at least 1)."""
    errors: Errors = {}
    low = _number(errors, "min_instances", changes.get("min_instances", changes.get("min_replicas")))
    high = _number(errors, "max_instances", changes.get("max_instances", changes.get("max_replicas")))
    if low is None and "min_instances" not in errors:
        errors["min_instances"] = ["This field is required."]
    elif low is not None and low < 0:
        errors["min_instances"] = [NEGATIVE_MIN]
    elif low is not None and low > MIN_INSTANCES_LIMIT:
        errors["min_instances"] = [_limit(MIN_INSTANCES_LIMIT)]
    if low is not None and high is None and not errors:
        high = max(low, 1)
    if high is not None and high < 1:
        _add(errors, "max_instances", "At least 1; to scale to zero set the minimum to 0.")
    elif high is not None and high > MAX_INSTANCES_LIMIT:
        _add(errors, "max_instances", _limit(MAX_INSTANCES_LIMIT))
    elif high is not None and low is not None and high < low:
        _add(errors, "max_instances", BELOW_MIN)
    if errors or low is None or high is None:  # both are set whenever nothing was wrong
        raise SpecError(errors)
    return {"min_instances": low, "max_instances": high}
