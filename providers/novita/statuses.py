"""Novita's instance statuses (contract §3) in the panel's words: one table, one test per
row, with the overlays (``statusError``, ``spotStatus``) and what each status allows.

Unknown statuses are logged and ``unknown``, never a crash.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping
from typing import Any

from providers.base import Action, RemoteState
from providers.novita.mapping import billing_mode_of, epoch, none_if_empty

logger = logging.getLogger(__name__)

# status -> (the panel's state, what the page says) [V statuses; mapping I unless marked].
STATUSES: dict[str, tuple[RemoteState, str]] = {
    "toCreate": (RemoteState.PROVISIONING, "Queued for creation."),
    "creating": (RemoteState.PROVISIONING, "Creating the instance."),
    "pending": (RemoteState.PROVISIONING, "Waiting for resources."),  # undocumented, seen in practice [C]
    "pulling": (RemoteState.PROVISIONING, "Pulling the image (billing has started)."),  # [V]
    "running": (RemoteState.RUNNING, "Running."),
    "toStart": (RemoteState.PROVISIONING, "Queued to start."),
    "starting": (RemoteState.PROVISIONING, "Starting."),
    "toStop": (RemoteState.STOPPING, "Queued to stop."),
    "stopping": (RemoteState.STOPPING, "Stopping."),
    "exited": (RemoteState.STOPPED, "Stopped: the GPU is not billed; the disk is kept."),
    # A restart interrupts a running instance: "updating", because the panel's state
    # machine has no running -> provisioning move (and it comes back to running).
    "toRestart": (RemoteState.UPDATING, "Queued to restart."),
    "restarting": (RemoteState.UPDATING, "Restarting."),
    # Upgrade in progress [V].
    "toReset": (RemoteState.UPDATING, "Queued for the upgrade (new image, environment or command)."),
    "resetting": (RemoteState.UPDATING, "Upgrading: recreating the container."),
    "migrating": (RemoteState.UPDATING, "Migrating to other hardware."),
    # [?] "freezing" is not explained; safest: not running, needs a look (perhaps balance).
    "freezing": (
        RemoteState.FAILED,
        "Novita reports “freezing” (not documented; often a low balance). Check the account.",
    ),
    "toRemove": (RemoteState.DELETING, "Queued for release."),
    "removing": (RemoteState.DELETING, "Releasing the instance."),
    "removed": (RemoteState.DELETED, "Released."),
}
STATUS_TABLE: dict[str, RemoteState] = {status: state for status, (state, _) in STATUSES.items()}
STATUS_MESSAGES: dict[str, str] = {status: message for status, (_, message) in STATUSES.items()}
# Overlay for spot instances (spotStatus [V enum, I mapping]); "" and "running" change nothing.
SPOT_STATUS: dict[str, str] = {
    "running": "",
    "notified": "Novita has announced it will reclaim this spot instance.",
    "reclaiming": "Novita is reclaiming this spot instance.",
    "terminated": "Novita reclaimed this spot instance.",
}
# Statuses in which the GPU is billed [V: from pulling on; not while stopped] — the
# transitions of a live container are billed too [I].
BILLED_STATUSES = frozenset(
    {
        "pulling",
        "running",
        "toStop",
        "stopping",
        "toStart",
        "starting",
        "toRestart",
        "restarting",
        "toReset",
        "resetting",
        "migrating",
    }
)
# Where an existing instance accepts edit/upgrade [I: wrong states answer CONFLICT].
SETTLED_STATUSES = frozenset({"running", "exited"})
RELEASING_STATUSES = frozenset({"toRemove", "removing", "removed"})


def remote_state(item: Mapping[str, Any]) -> tuple[RemoteState, str]:
    """The table, then the overlays: ``statusError`` (an error whatever the status,
    unless it is being released) and ``spotStatus`` (reclaim notices; reclaimed =
    stopped if exited, else failed) [V fields, I rules]. Unknown statuses are logged
    and ``unknown``."""
    status = none_if_empty(item.get("status"))
    state = STATUS_TABLE.get(status)
    if state is None:
        logger.warning("novita: unknown instance status %r for %s", status, item.get("id"))
        return RemoteState.UNKNOWN, f"Novita reports an unknown status {status!r}."
    message = STATUS_MESSAGES[status]
    if state in (RemoteState.DELETING, RemoteState.DELETED):
        return state, message
    error = item.get("statusError")
    error = error if isinstance(error, Mapping) else {}
    error_state, error_message = none_if_empty(error.get("state")), none_if_empty(error.get("message"))
    if error_state or error_message:
        words = error_message or error_state
        return RemoteState.FAILED, f"Novita reports an error ({error_state or status}): {words}"
    spot = none_if_empty(item.get("spotStatus"))
    if spot and billing_mode_of(item) == "spot":
        note = SPOT_STATUS.get(spot)
        if note is None:
            logger.warning("novita: unknown spotStatus %r for %s", spot, item.get("id"))
            return state, f"{message} Spot status {spot!r} is unknown."
        if spot == "terminated":
            # Reclaimed: stopped when Novita says exited (it can be started again [I]), and
            # failed while the status still claims anything else.
            if state == RemoteState.STOPPED:
                return state, f"{note} It can be started again."
            return RemoteState.FAILED, note
        if note:
            when = epoch(item.get("spotReclaimTime"))
            at = f" Reclaim at {when:%Y-%m-%d %H:%M} UTC." if when else ""
            return state, f"{message} {note}{at}"
    return state, message


def end_time(item: Mapping[str, Any]) -> dt.datetime | None:
    """When a subscription ends: ``endTime`` as Unix seconds or ISO 8601 [I]; -1 = none [V]."""
    value = item.get("endTime")
    moment = epoch(value)
    if moment is None and isinstance(value, str) and not re.fullmatch(r"\s*-?\d+\s*", value):
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return moment


def blocked(action: Action, *, raw: Mapping[str, Any], now: dt.datetime | None = None) -> str:
    """Novita's preconditions for ``action`` on the instance ``raw``, in plain words."""
    status = none_if_empty((raw or {}).get("status"))
    if not status:
        return ""
    if status in RELEASING_STATUSES:
        return "Novita is releasing this instance: nothing can change it any more."
    if action is Action.START and status != "exited":
        return f"Novita starts an instance only when it is stopped (exited); it is {status}."
    if action in (Action.STOP, Action.RESTART) and status != "running":
        verb = "stops" if action is Action.STOP else "restarts"
        return f"Novita {verb} an instance only while it is running; it is {status}."
    if action is Action.UPDATE and status not in SETTLED_STATUSES:
        return f"Novita changes an instance only when it is running or stopped; it is {status}."
    if action is Action.DELETE and billing_mode_of(raw) == "monthly":
        ends = end_time(raw)
        now = now or dt.datetime.now(dt.UTC)
        if ends is None or ends > now:
            when = f" on {ends:%Y-%m-%d %H:%M} UTC" if ends else ""
            return (
                "Novita does not release a monthly (prepaid) instance before its subscription ends"
                f"{when}: it can be deleted from then on."
            )
    return ""
