"""Reading loosely typed values from specs and vendor answers, the same way for every vendor.

Each returns ``None`` (or ``""`` for text) for a value it cannot read, and never raises:
the caller decides whether that is an error and says so on the field. ``bool`` is never
a number here, although Python lets it be one.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

_INTEGER = re.compile(r"\s*-?\d+\s*")


def is_empty(value: Any) -> bool:
    """Nothing given: ``None``, ``""``, ``[]`` or ``{}`` (``0`` and ``False`` are values)."""
    return value is None or value == "" or value == [] or value == {}


def text(value: Any) -> str:
    """A string, stripped; ``""`` for anything that is not one."""
    return value.strip() if isinstance(value, str) else ""


def whole(value: Any, *, strings: bool = True) -> int | None:
    """An integer from an int, an integral float or (unless ``strings=False``) a digit
    string such as Novita's ``"1"``; ``None`` otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if strings and isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    return None


def decimal(value: Any) -> Decimal | None:
    """A finite Decimal from a number or a numeric string; ``None`` otherwise."""
    if value is None or isinstance(value, bool) or value == "":
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None
