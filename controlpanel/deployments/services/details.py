"""Which listed rows get a detail read this poll (vendors whose list says less than a read
by id: ``Provider.list_is_detailed`` false). Pure: rows and the list in, a plan out.

A row gets its detail read when it is
- new (no detail read yet),
- changed in the list (the digest of its list row differs from the one stored with its
  last detail read),
- in motion, by the panel's record or the vendor's list (provisioning, updating, stopping,
  deleting), or
- steady but due in the rotation: each poll reads the steady rows whose detail is oldest,
  as many as the time since the last poll is of the period (at least one while any steady
  row exists), and every row already older than the period. While the account's steady
  rows fit the budget (``budget × period / poll interval``), every row's detail is re-read
  within ``period``; past that, within ``rows × poll interval / budget``.
At most ``budget`` reads per poll, the first three kinds first; a row the list says has
ended takes the list's word without one. A changed row past the
budget takes the list's state (its stored connection details kept) and keeps its old
digest, so the next poll reads its detail; a steady row past it is only marked checked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from controlpanel.deployments.models import Deployment
from controlpanel.deployments.states import IN_MOTION
from providers.base import Remote, RemoteState

# What a vendor's list calls a state on its way somewhere.
MOVING_REMOTE = frozenset(
    {RemoteState.PROVISIONING, RemoteState.UPDATING, RemoteState.STOPPING, RemoteState.DELETING, RemoteState.UNKNOWN}
)


def list_digest(remote: Remote) -> str:
    """A digest of a list row as the vendor sent it (``raw``), stable across key order."""
    text = json.dumps(remote.raw, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Listed:
    """A row the list has, with the list's view of it and that view's digest."""

    deployment: Deployment
    remote: Remote
    digest: str


@dataclass
class DetailPlan:
    detail: list[Listed] = field(default_factory=list)  # read by id now, most urgent first
    from_list: list[Listed] = field(default_factory=list)  # changed, past the budget: the list's state
    steady: list[Listed] = field(default_factory=list)  # unchanged, not read: marked checked


def _urgent(item: Listed) -> bool:
    d, remote = item.deployment, item.remote
    return (
        d.detail_checked_at is None
        or d.list_digest != item.digest
        or d.state in IN_MOTION
        or remote.state in MOVING_REMOTE
    )


def steady_due(count: int, *, elapsed: float, period: float) -> int:
    """How many steady rows this poll re-reads: the share of ``period`` since the last poll."""
    if count <= 0:
        return 0
    return min(count, max(1, math.ceil(count * min(max(elapsed, 0.0), period) / period)))


def plan_details(
    listed: Sequence[Listed],
    *,
    now: dt.datetime,
    last_poll: dt.datetime | None,
    period: float,
    budget: int,
) -> DetailPlan:
    plan = DetailPlan()
    # A row the list says is gone needs no detail: nothing is left to connect to.
    ended = [item for item in listed if item.remote.state == RemoteState.DELETED]
    listed = [item for item in listed if item.remote.state != RemoteState.DELETED]
    urgent = [item for item in listed if _urgent(item)]
    steady = sorted((item for item in listed if not _urgent(item)), key=lambda i: i.deployment.detail_checked_at)
    elapsed = (now - last_poll).total_seconds() if last_poll is not None else period
    overdue_before = now - dt.timedelta(seconds=period)
    overdue = sum(1 for item in steady if item.deployment.detail_checked_at <= overdue_before)
    wanted = max(steady_due(len(steady), elapsed=elapsed, period=period), overdue)
    plan.detail = urgent[:budget]
    room = max(0, budget - len(plan.detail))
    plan.detail += steady[: min(wanted, room)]
    plan.from_list = ended + urgent[budget:]
    plan.steady = steady[min(wanted, room) :]
    return plan


def merged_with_stored(remote: Remote, deployment: Deployment) -> Remote:
    """The list's view of a row whose detail is not read this poll, with the connection
    details, endpoints and detail fields its last detail read stored (the list has none)."""
    from providers.base import Endpoint

    stored: Mapping[str, Any] = deployment.raw or {}
    return Remote(
        external_id=remote.external_id,
        name=remote.name,
        state=remote.state,
        vendor_state=remote.vendor_state,
        message=remote.message,
        replicas_ready=remote.replicas_ready if remote.replicas_ready is not None else deployment.replicas_ready,
        replicas_desired=remote.replicas_desired
        if remote.replicas_desired is not None
        else deployment.replicas_desired,
        endpoints=remote.endpoints or [Endpoint(**e) for e in deployment.endpoints or [] if isinstance(e, dict)],
        price_per_hour=remote.price_per_hour,
        created_at=remote.created_at,
        connection=remote.connection or dict(deployment.connection or {}),
        raw={**stored, **remote.raw},
    )
