"""Fluence's instance statuses in the panel's words: the table (one dict, one test per
row) and what a detail answer adds to it.

``ACTIVE`` with the container not started (or no network yet) is ``UPDATING``: the
panel reads that as provisioning during the first start and as updating after a
redeploy, which is what it is (contract §3's "provisioning" row, refined). An unknown
status is logged and read as ``UNKNOWN``, never a crash.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from providers.base import RemoteState, parse_time
from providers.fluence.paths import CONTAINER

logger = logging.getLogger(__name__)

# The API's enum per "Manage GPU instances" [V]; the concept pages say "Initiated" [V], so
# both spellings are accepted, in any case (notes §3 [?]).
STATUS_TABLE: dict[str, RemoteState] = {
    "INITIALIZED": RemoteState.PROVISIONING,  # being provisioned, usually 2–3 minutes
    "INITIATED": RemoteState.PROVISIONING,  # the console's word for the same state
    "ACTIVE": RemoteState.RUNNING,  # refined in ``remote_state``: container started and reachable
    "FAILED": RemoteState.FAILED,  # provisioning failed; the deploy amount was refunded in full
    "ENDED": RemoteState.DELETED,  # terminated by the user, or by Fluence when the balance ran out
}
STATUS_MESSAGES = {
    "INITIALIZED": "Fluence is provisioning the instance (usually 2–3 minutes).",
    "INITIATED": "Fluence is provisioning the instance (usually 2–3 minutes).",
    "FAILED": "Provisioning failed at Fluence; the 3 hours paid upfront were refunded in full.",
    "ENDED": "Ended at Fluence: terminated, or stopped by Fluence when the balance could not pay the next hour.",
}
# [I] notes §3: ACTIVE with the container never starting may mean it failed to start;
# the state stays as it is (a redeploy looks the same), the message points at the events.
START_PATIENCE = dt.timedelta(minutes=10)


def normalise_status(value: Any) -> str:
    return str(value or "").strip().upper()


def vendor_status(item: Mapping[str, Any]) -> str:
    # Containers say ``instance_status``, VMs and bare metal ``status`` [V].
    return normalise_status(item.get("instance_status") or item.get("status"))


def reachable(item: Mapping[str, Any], kind: str) -> bool:
    network = item.get("network")
    domain = (network or {}).get("domain") if isinstance(network, dict) else None
    if kind == CONTAINER:
        return bool(domain or item.get("domain"))
    return bool(item.get("ssh_connection") or domain or item.get("domain"))


def remote_state(
    item: Mapping[str, Any], kind: str, *, now: dt.datetime | None = None, detailed: bool = True
) -> tuple[RemoteState, str]:
    """The table, then what a detail answer adds, with a message for people.

    ``detailed`` says whether ``item`` is a detail answer (container_status, network)
    or a list item, which carries neither.
    """
    status = vendor_status(item)
    state = STATUS_TABLE.get(status)
    if state is None:
        logger.warning("fluence: unknown instance status %r for %s", status, item.get("id"))
        return RemoteState.UNKNOWN, f"Fluence reports an unknown status {status!r}."
    if status != "ACTIVE" or not detailed:
        return state, STATUS_MESSAGES.get(status, "")
    container_status = normalise_status(item.get("container_status"))
    if kind == CONTAINER and container_status == "NOT_STARTED":
        message = "Active at Fluence; the container is starting (after a deploy or a redeploy)."
        since = parse_time(item.get("updated_at"))
        if since is not None and (now or dt.datetime.now(dt.UTC)) - since > START_PATIENCE:
            minutes = int(START_PATIENCE.total_seconds() // 60)
            message = (
                f"Active at Fluence, but the container has not started in over {minutes} minutes: "
                "it may have failed to start; the events say why."
            )
        return RemoteState.UPDATING, message
    if not reachable(item, kind):
        return RemoteState.UPDATING, "Active at Fluence; its network address is not assigned yet."
    return RemoteState.RUNNING, ""
