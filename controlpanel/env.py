"""Typed readers for environment variables.

Only this module and the settings modules read ``os.environ``. Every reader also
accepts ``<NAME>_FILE`` pointing at a file that holds the value, so secrets can
come from Docker/Kubernetes secret mounts instead of the environment.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _raw(name: str) -> str | None:
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(
                f"{name}_FILE points at {file_name!r}, which cannot be read: {exc.strerror}"
            ) from exc
    return os.environ.get(name)


def env_str(name: str, default: str = "") -> str:
    """An empty value counts as unset, so `NAME=` in an env file means "the default"."""
    value = _raw(name)
    return default if value is None or value == "" else value


def env_secret(name: str) -> str | None:
    """A secret: ``None`` when unset or empty, so callers decide what a missing one means."""
    value = _raw(name)
    return value or None


def env_bool(name: str, default: bool = False) -> bool:
    value = _raw(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), not {value!r}")


def env_int(name: str, default: int) -> int:
    value = _raw(name)
    if value is None or value.strip() == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None


def env_float(name: str, default: float) -> float:
    value = _raw(name)
    if value is None or value.strip() == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}") from None


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    value = _raw(name)
    if value is None:
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]


def env_rate_limits(name: str, *, vendors: tuple[str, ...]) -> dict[str, tuple[float, int | None]]:
    """``vendor=per_minute[/burst]`` pairs, comma-separated (``*`` for every vendor; a
    pace of 0 turns the limit off): ``{vendor: (per_minute, burst or None)}``."""
    limits: dict[str, tuple[float, int | None]] = {}
    for item in env_list(name):
        vendor, sep, value = (part.strip() for part in item.partition("="))
        pace, slash, burst = (part.strip() for part in value.partition("/"))
        if not sep or (vendor not in vendors and vendor != "*"):
            raise ImproperlyConfigured(
                f"{name}: {item!r} is not vendor=requests_per_minute (vendors: {', '.join(vendors)})"
            )
        try:
            per_minute, burst_count = float(pace), int(burst) if slash else None
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {item!r} needs numbers, as in replicate=3000/50") from None
        if per_minute < 0 or (burst_count is not None and burst_count < 1):
            raise ImproperlyConfigured(f"{name}: {item!r} needs a pace of 0 or more and a burst of at least 1")
        limits[vendor] = (per_minute, burst_count)
    return limits
