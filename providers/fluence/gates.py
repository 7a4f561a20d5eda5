"""Why Fluence would refuse an action now, said before the user tries (notes §2.8–2.10).

Fluence has no start, stop or scale [V]. Restart of a container is a PUT of its current
configuration (Fluence's "Redeploy"); VMs and bare metal cannot be restarted through the
API, and have no logs or events. Terminate works on ACTIVE instances only [V]; a FAILED
instance (refunded, kept in Fluence's lists) has nothing to terminate: ``delete``
reports it gone, so the panel can let it go.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from providers.base import Action
from providers.fluence.mapping import kind_from
from providers.fluence.paths import CONTAINER, KIND_LABELS
from providers.fluence.statuses import normalise_status, vendor_status


def action_blocked(action: Action, spec: Mapping[str, Any] | None, raw: Mapping[str, Any] | None) -> str:
    """The reason in plain words, or ``""``."""
    kind = kind_from(spec, raw)
    label = KIND_LABELS[kind].lower() if kind != CONTAINER else "container"
    if action in (Action.START, Action.STOP, Action.SCALE, Action.ARCHIVE):
        return f"Fluence has no {action.value}: an instance runs until it is terminated."
    if kind != CONTAINER:
        if action is Action.RESTART:
            return f"Fluence cannot restart a {label} through its API: reboot it from inside, over SSH."
        if action in (Action.LOGS, Action.EVENTS):
            return f"Fluence offers logs and events for containers only, not for a {label}."
    elif action in (Action.LOGS, Action.EVENTS):
        return ""
    return _status_blocks(action, kind, raw or {})


def _status_blocks(action: Action, kind: str, raw: Mapping[str, Any]) -> str:
    """What the instance's status (and a container's start) rules out."""
    status = vendor_status(raw)
    if not status:
        return ""  # not read yet: let Fluence decide
    if status == "FAILED" and action is Action.DELETE:
        return ""  # nothing to terminate: ``delete`` says so and the panel lets it go
    if status in ("FAILED", "ENDED"):
        return f"The instance is {status} at Fluence: nothing runs or bills, and nothing can change it any more."
    if status != "ACTIVE":
        verb = {Action.DELETE: "terminates", Action.UPDATE: "changes", Action.RESTART: "redeploys"}.get(
            action, "acts on"
        )
        return (
            f"Fluence {verb} only ACTIVE instances; this one is {status} (being provisioned). Wait until it is active."
        )
    if (
        kind == CONTAINER
        and action in (Action.UPDATE, Action.RESTART)
        and normalise_status(raw.get("container_status")) == "NOT_STARTED"
    ):
        return (
            "The container is still starting (or a previous update is applying): "
            "Fluence refuses a second one until it has."
        )
    return ""
