"""The request bodies made from a checked spec, and what an update may not change.

The spec is Fluence's create body exactly as documented plus ``kind``, which picks the
path and is removed before sending. A container PUT is a full replacement of the
settings it takes [V]; VMs and bare metal take a new name only [V].
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from providers.fluence.paths import BAREMETAL, CONTAINER, VM
from providers.fluence.rules import check_spec, expand_expose

# Fields a container PUT takes [V]; ``expose`` is fixed at deploy and not sent.
CONTAINER_UPDATE_SETTINGS = ("image", "credentials", "environment", "startup_command")
# What cannot change after deploy, per kind, and why the panel says so.
FIXED_AFTER_DEPLOY: dict[str, tuple[str, ...]] = {
    CONTAINER: ("plan_id", "container_settings.expose", "constraints.location"),
    VM: ("plan_id", "ssh_key", "os_image"),
    BAREMETAL: ("plan_id", "ssh_key", "os_image"),
}


def create_body(spec: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The checked spec as ``(kind, Fluence's create body)``: ``kind`` is ours, not sent."""
    checked = check_spec(spec)
    kind = checked.pop("kind")
    return kind, checked


def container_update_body(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A container PUT [V]: name, the settings it takes (a full replacement, so the
    environment goes even when empty) and the SSH key; ``expose`` stays as deployed."""
    checked = check_spec(spec)
    settings = checked["container_settings"]
    body: dict[str, Any] = {
        "name": checked["name"],
        "container_settings": {
            **{k: settings[k] for k in CONTAINER_UPDATE_SETTINGS if k in settings},
            "environment": settings.get("environment", []),
        },
    }
    if checked.get("ssh_key"):
        body["ssh_key"] = checked["ssh_key"]
    return body


def _at(spec: Mapping[str, Any], path: str) -> Any:
    value: Any = spec
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _ignore(*_: Any) -> None:
    """An ``err`` for re-reading a spec that was checked when it was saved."""


def fixed_changes(new: Mapping[str, Any], previous: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """What an update tries to change that Fluence cannot change after deploy."""
    if not previous:
        return {}
    errors: dict[str, list[str]] = {}
    kind = str(new.get("kind") or "")
    if previous.get("kind") and previous.get("kind") != kind:
        errors["kind"] = ["Fluence cannot turn one kind of instance into another: deploy a new one."]
        return errors
    for path in FIXED_AFTER_DEPLOY.get(kind, ()):
        before, after = _at(previous, path), _at(new, path)
        if path == "container_settings.expose":
            # Compared as Fluence holds them: single string ports, lower-case protocols, any order.
            before, after = (
                sorted((e["port"], e["protocol"]) for _, e in expand_expose(v if isinstance(v, list) else [], _ignore))
                for v in (before, after)
            )
        elif path == "constraints.location":
            before, after = (str(v).upper() if v else None for v in (before, after))
        if (before or None) != (after or None):
            what = "the exposed ports" if path.endswith("expose") else None
            if kind == CONTAINER:
                errors[path] = [f"Fluence keeps {what or 'this'} as deployed: deploy a new container to change it."]
            else:
                errors[path] = ["Fluence can only rename a VM or bare-metal instance: deploy a new one to change this."]
    return errors
