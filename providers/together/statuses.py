"""What a Together deployment's status means to the panel: one table, one test per row.

``DeploymentStatus`` is the seed's enum [V] plus ``ScaledToZero``, which the official
SDK has (PyPI ``together`` 3.1.1, ``together/types/beta/container_deployment_status.py``;
npm ``together-ai`` 0.52.0, ``resources/beta/jig/jig.d.ts``) and the seed lacks. The meanings
are the notes' (§3) [I]. The replica bounds add what the status alone cannot say: a
deployment parked at zero on purpose is stopped, not merely idle.
"""

from __future__ import annotations

import logging
from typing import Any

from providers.base import RemoteState

logger = logging.getLogger(__name__)

STATUS_TABLE: dict[str, RemoteState] = {
    "Updating": RemoteState.UPDATING,  # rolling out a spec; the first rollout too
    "Scaling": RemoteState.UPDATING,  # replicas being added or removed
    "Ready": RemoteState.RUNNING,  # rollout done, ready == desired
    "Failed": RemoteState.FAILED,  # bad image, crash loop, health check, capacity
    # What a deployment stopped with min/max 0 reports once no replica is left: the SDK's
    # CLI (together 3.1.1, lib/cli/api/beta/jig/jig.py, Jig.track) takes min_replicas 0,
    # desired_replicas 0 and this status as "Deployment scaled to zero replicas".
    "ScaledToZero": RemoteState.STOPPED,
}


def remote_state(item: dict[str, Any]) -> RemoteState:
    """The table, then what the replica counts add: a deployment scaled to zero on
    purpose (max_replicas 0) is stopped once Ready and stopping while Scaling."""
    status = item.get("status") or ""
    state = STATUS_TABLE.get(status)
    if state is None:
        logger.warning("together: unknown deployment status %r for %s", status, item.get("id"))
        return RemoteState.UNKNOWN
    parked = item.get("max_replicas") == 0 or (item.get("min_replicas") == 0 and item.get("desired_replicas") == 0)
    if parked and status == "Ready":
        return RemoteState.STOPPED
    if item.get("max_replicas") == 0 and status == "Scaling":
        return RemoteState.STOPPING
    return state


def replica_message(item: dict[str, Any]) -> str:
    """The most telling replica problem, e.g. ``ImagePullBackOff: manifest unknown``."""
    for replica, event in sorted((item.get("replica_events") or {}).items()):
        if not isinstance(event, dict):
            continue
        reason = event.get("replica_status_reason") or ""
        if event.get("replica_status") in ("Waiting", "Terminated") and reason and reason != "ContainerCreating":
            message = event.get("replica_status_message") or ""
            return f"{replica}: {reason}{': ' + message if message else ''}"
    return ""
