"""Moving a deployment between states, and copying the vendor's view onto the row.

``deployment_transition`` is the only code that assigns ``state``; every move records an event.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from controlpanel.audit.services import actor_label
from controlpanel.costs.models import PriceChange, PriceSource
from controlpanel.deployments.cost import accrue
from controlpanel.deployments.models import Deployment, DeploymentEvent, EventKind
from controlpanel.deployments.states import (
    InvalidTransition,
    State,
    can_transition,
    state_for_remote,
)
from providers.base import (
    Remote,
)

logger = logging.getLogger(__name__)

MAX_MESSAGE = 2000

COST_FIELDS = ("cost_accrued", "cost_since", "cost_month", "cost_month_accrued")


def _accrue_cost(deployment: Deployment, now: dt.datetime) -> None:
    """Fold the running rate into the row's totals before the rate or state changes."""
    folded = accrue(
        accrued=deployment.cost_accrued,
        month=deployment.cost_month,
        month_accrued=deployment.cost_month_accrued,
        price=deployment.price_per_hour,
        since=deployment.cost_since,
        now=now,
    )
    deployment.cost_accrued, deployment.cost_month = folded.accrued, folded.month
    deployment.cost_month_accrued, deployment.cost_since = folded.month_accrued, folded.since


def event_record(
    deployment: Deployment,
    *,
    kind: str,
    actor: AbstractBaseUser | None,
    message: str = "",
    from_state: str = "",
    to_state: str = "",
) -> DeploymentEvent:
    return DeploymentEvent.objects.create(
        deployment=deployment,
        kind=kind,
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_label=actor_label(actor) if actor is not None else "worker",
        from_state=from_state,
        to_state=to_state,
        message=message[:MAX_MESSAGE],
    )


def deployment_transition(
    *,
    deployment: Deployment,
    to: State,
    actor: AbstractBaseUser | None = None,
    message: str = "",
    extra_fields: tuple[str, ...] = (),
) -> bool:
    """Move ``deployment`` to ``to`` and record it. The only code that assigns ``state``.

    Returns False when it is already there; raises ``InvalidTransition`` for a move
    the table does not allow. ``extra_fields`` are saved in the same UPDATE.
    """
    current = State(deployment.state)
    if current == to:
        if extra_fields:
            deployment.save(update_fields=[*extra_fields, "updated_at"])
        return False
    if not can_transition(current, to):
        raise InvalidTransition(current, to)
    now = timezone.now()
    _accrue_cost(deployment, now)
    if to in (State.STOPPED, State.DELETED, State.FAILED, State.LOST):
        deployment.price_per_hour = None  # nothing bills in these states
    deployment.state = to
    deployment.state_changed_at = now
    deployment.save(
        update_fields=["state", "state_changed_at", *COST_FIELDS, "price_per_hour", *extra_fields, "updated_at"]
    )
    event_record(deployment, kind=EventKind.STATE, actor=actor, from_state=current, to_state=to, message=message)
    logger.info(
        "deployment_id=%s external_id=%s %s -> %s",
        deployment.pk,
        deployment.external_id or "-",
        current.value,
        to.value,
    )
    return True


# --- applying what the vendor says --------------------------------------------------------------


def _visible(remote: Remote) -> dict[str, Any]:
    """The fields of a row that the vendor's answer sets and people see."""
    return {
        "vendor_state": remote.vendor_state[:100],
        "status_message": remote.message[:MAX_MESSAGE],
        "replicas_ready": remote.replicas_ready,
        "replicas_desired": remote.replicas_desired,
        "endpoints": [e.as_dict() for e in remote.endpoints],
        "endpoint_url": remote.primary_url[:500],
        "connection": dict(remote.connection),
    }


def remote_unchanged(deployment: Deployment, remote: Remote) -> bool:
    """True when the vendor's answer changes nothing anyone sees: no field, no price,
    no state move the table allows. Most rows of a steady fleet, on most polls."""
    if any(getattr(deployment, name) != value for name, value in _visible(remote).items()):
        return False
    if remote.price_per_hour is not None and remote.price_per_hour != deployment.price_per_hour:
        return False
    if remote.price_per_hour is not None and remote.price_per_hour != deployment.vendor_price_per_hour:
        return False
    target = state_for_remote(deployment.state, remote.state)
    return target is None or target == deployment.state or not can_transition(deployment.state, target)


def apply_remote(deployment: Deployment, remote: Remote, *, target: State | None = None, actor=None) -> bool:
    """Copy the vendor's view onto the row, moving state if the table allows.

    Saves only when something visible changed (``raw`` alone is written without
    touching ``updated_at``, so the dashboard's version does not move for it).
    """
    now = timezone.now()
    visible = _visible(remote)
    changed = [name for name, value in visible.items() if getattr(deployment, name) != value]
    for name in changed:
        setattr(deployment, name, visible[name])
    if remote.price_per_hour is not None and remote.price_per_hour != deployment.price_per_hour:
        _accrue_cost(deployment, now)
        deployment.price_per_hour = remote.price_per_hour
        changed += ["price_per_hour", *COST_FIELDS]
    if remote.price_per_hour is not None and remote.price_per_hour != deployment.vendor_price_per_hour:
        # Each price the vendor reports, from when it was seen: what controlpanel.costs bills by.
        deployment.vendor_price_per_hour = remote.price_per_hour
        PriceChange.objects.create(
            deployment=deployment, at=now, price_per_hour=remote.price_per_hour, source=PriceSource.VENDOR
        )
        changed.append("vendor_price_per_hour")
    raw_changed = deployment.raw != remote.raw
    deployment.raw = remote.raw
    deployment.checked_at = now

    target = target if target is not None else state_for_remote(deployment.state, remote.state)
    moved = False
    if target is not None and target != deployment.state:
        if can_transition(deployment.state, target):
            deployment_transition(
                deployment=deployment,
                to=target,
                actor=actor,
                message=remote.message or f"{deployment.get_vendor_display()} says {remote.vendor_state}",
                extra_fields=tuple(dict.fromkeys([*changed, "raw", "checked_at"])),
            )
            moved = True
        else:
            logger.warning(
                "deployment_id=%s external_id=%s: vendor state %s does not follow %s; kept",
                deployment.pk,
                deployment.external_id,
                remote.vendor_state,
                deployment.state,
            )
    if not moved:
        if changed:
            deployment.save(update_fields=[*dict.fromkeys(changed), "raw", "checked_at", "updated_at"])
        else:
            fields = {"checked_at": now, **({"raw": remote.raw} if raw_changed else {})}
            Deployment.objects.filter(pk=deployment.pk).update(**fields)
    return moved or bool(changed)
