"""A Replicate deployment's status, derived: Replicate reports none [V].

Replicate has no deployment status, no instance counts and no logs [V]. The state shown
in the panel is *derived* (notes §3) from ``min_instances`` and from the account's recent
predictions (``GET /predictions``, matched to deployments by their ``deployment``
field). ``STATUS_TABLE`` is the one table of derived statuses; ``derive_status`` picks a
row and says why, ``remote_state`` refines the row by ``min_instances``. The delete gate
reads the same observations: Replicate deletes only what has been offline and unused.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from providers.base import RemoteState, parse_time
from providers.coerce import whole

logger = logging.getLogger(__name__)

DERIVED = "Replicate reports no status; derived: "
SCALED_TO_ZERO = "scaled to zero, starts on the next request"  # min 0, max ≥ 1, no traffic

# [I] Instances stay warm "for a few minutes" after traffic stops (billing docs).
IDLE_WINDOW = dt.timedelta(minutes=5)
# [I] A prediction still `starting` after this long is waiting for an instance to boot
# (or for a busy one): on a warm instance it starts processing at once.
SLOW_START = dt.timedelta(seconds=5)
# [I] This many failed predictions in a row, newest first, flag the deployment as failing.
FAILING_STREAK = 3

# "You can only delete deployments that have been offline and unused for at least 15
# minutes" (docs, delete-a-deployment). Read as notes §5: min_instances 0 and no prediction
# for 15 minutes; the sandbox enforces the same rule.
DELETE_AFTER = dt.timedelta(minutes=15)

# Derived statuses, in Replicate's own instance-lifecycle words (billing docs: offline,
# setting up, active, idle) plus "failing" from the predictions. One row per status; the
# refinements by min_instances are in ``remote_state``.
STATUS_TABLE: dict[str, RemoteState] = {
    "offline": RemoteState.STOPPED,  # min_instances 0, no recent prediction: scaled to zero, wakes on demand
    "stopped": RemoteState.STOPPED,  # max_instances 0 (the panel's Stop): no instance may start at all
    "setting up": RemoteState.PROVISIONING,  # a prediction waits for an instance to boot (cold start)
    "active": RemoteState.RUNNING,  # predictions are being processed
    "idle": RemoteState.RUNNING,  # instances up with no work: kept warm by min_instances
    "failing": RemoteState.FAILED,  # the last FAILING_STREAK predictions all failed
}

# Prediction ``status`` [V] (``aborted`` from the 2025-10 changelog [D], not in the SDK's
# Literal) and what each means for the deployment's timeline.
PREDICTION_STATUS: dict[str, str] = {
    "starting": "waiting",  # queued or booting
    "processing": "running",
    "succeeded": "completed",
    "failed": "error",
    "canceled": "cancelled",
    "aborted": "cancelled",  # the deadline passed before it started
}
TERMINAL = frozenset({"succeeded", "failed", "canceled", "aborted"})
BUSY = frozenset({"starting", "processing"})

Prediction = Mapping[str, Any]
Derived = tuple[str, str]  # (a row of STATUS_TABLE, why)


# --- reading the deployment and its predictions ---------------------------------------------


def instances(value: Any) -> int:
    """An instance count from the vendor's JSON or a spec; 0 when absent or unreadable."""
    return whole(value, strings=False) or 0


def configuration(item: Mapping[str, Any]) -> dict[str, Any]:
    """``current_release.configuration``, also in its pre-March-2024 nested form
    (``configuration.scaling.{min,max}_instances``, replicate-python PR #271)."""
    release = item.get("current_release") or {}
    config = release.get("configuration") or {}
    scaling = config.get("scaling") or {}
    return {
        "hardware": config.get("hardware"),
        "min_instances": config.get("min_instances", scaling.get("min_instances")),
        "max_instances": config.get("max_instances", scaling.get("max_instances")),
    }


def prediction_time(prediction: Prediction) -> dt.datetime | None:
    """When a prediction last did something: completed, else started, else created."""
    for key in ("completed_at", "started_at", "created_at"):
        moment = parse_time(prediction.get(key))
        if moment is not None:
            return moment
    return None


def created(prediction: Prediction) -> dt.datetime:
    """When a prediction was made; the earliest possible moment when it does not say."""
    return parse_time(prediction.get("created_at")) or dt.datetime.min.replace(tzinfo=dt.UTC)


def clock(moment: dt.datetime, seconds: bool = False) -> str:
    return moment.astimezone(dt.UTC).strftime("%H:%M:%S UTC" if seconds else "%H:%M UTC")


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


# --- deriving the status: one check per row, in priority order --------------------------------


def _stopped(config: Mapping[str, Any], newest_first: Sequence[Prediction], bounds: str) -> Derived | None:
    """max_instances 0 (what Stop sends): no instance may run, so nothing is served;
    a prediction still processing is shown (active) until it ends."""
    if whole(config["max_instances"], strings=False) != 0:  # absent is not 0
        return None
    if any(p.get("status") == "processing" for p in newest_first):
        return None
    return "stopped", f"stopped ({bounds}): no instance may start, so no prediction is served until it is started"


def _failing(finished: Sequence[Prediction]) -> Derived | None:
    streak = 0
    for p in finished:
        if p.get("status") != "failed":
            break
        streak += 1
    if streak < FAILING_STREAK:
        return None
    error = str(finished[0].get("error") or "no error message")[:300]
    return "failing", f"the last {streak} predictions failed: {error}"


def _busy(newest_first: Sequence[Prediction], bounds: str, *, now: dt.datetime) -> Derived | None:
    """Setting up (a prediction waits for an instance) or active (predictions run)."""
    waiting = [p for p in newest_first if p.get("status") == "starting"]
    running = [p for p in newest_first if p.get("status") == "processing"]
    if waiting and not running:
        since = min(created(p) for p in waiting)
        if now - since >= SLOW_START:
            return (
                "setting up",
                f"a prediction has waited since {clock(since, seconds=True)} for an instance to boot "
                f"(cold start) or come free ({bounds})",
            )
    if running or waiting:
        busy = len(running) or len(waiting)
        return "active", f"{plural(busy, 'prediction')} in progress ({bounds})"
    return None


def _at_rest(finished: Sequence[Prediction], low: int, bounds: str, *, now: dt.datetime) -> Derived:
    """Idle (kept warm, or tailing off after the last prediction) or offline."""
    if low >= 1:
        return "idle", f"{plural(low, 'instance')} kept warm ({bounds})"
    last = max((t for t in (prediction_time(p) for p in finished) if t is not None), default=None)
    if last is not None and now - last < IDLE_WINDOW:
        return (
            "idle",
            f"idle since a prediction ended at {clock(last)}; scales to zero within a few minutes (min_instances 0)",
        )
    # min 0, max ≥ 1 and no traffic: not stopped (that is max_instances 0), only asleep.
    minutes = int(IDLE_WINDOW.total_seconds() // 60)
    return (
        "offline",
        f"{SCALED_TO_ZERO} ({bounds}; no prediction in the last {minutes} minutes, "
        "so the next one cold-starts an instance)",
    )


def _log_unknown(predictions: Sequence[Prediction]) -> None:
    for p in predictions:
        if p.get("status") not in PREDICTION_STATUS:
            logger.warning("replicate: unknown prediction status %r for %s", p.get("status"), p.get("id"))


def derive_status(item: Mapping[str, Any], predictions: Sequence[Prediction], *, now: dt.datetime) -> Derived:
    """The derived status of a deployment and why, from its configuration and its
    recent predictions (any order). Rows in priority order: stopped, failing, setting
    up, active, idle (warm or tailing off), offline."""
    config = configuration(item)
    low, high = instances(config["min_instances"]), instances(config["max_instances"])
    bounds = f"min_instances {low}, max_instances {high}"
    newest_first = sorted(predictions, key=created, reverse=True)
    _log_unknown(newest_first)
    finished = [p for p in newest_first if p.get("status") in TERMINAL]
    finished.sort(key=lambda p: prediction_time(p) or created(p), reverse=True)
    return (
        _stopped(config, newest_first, bounds)
        or _failing(finished)
        or _busy(newest_first, bounds, now=now)
        or _at_rest(finished, low, bounds, now=now)
    )


def remote_state(status: str, item: Mapping[str, Any]) -> RemoteState:
    """The table, refined by ``min_instances``: instances that stay up only because of a
    recent prediction (min 0) are on their way to zero (stopping); a cold start with
    instances kept warm (min ≥ 1) is a new release booting (updating)."""
    state = STATUS_TABLE.get(status)
    if state is None:
        logger.warning("replicate: unknown derived status %r for %s/%s", status, item.get("owner"), item.get("name"))
        return RemoteState.UNKNOWN
    warm = instances(configuration(item)["min_instances"]) >= 1
    if status == "idle" and not warm:
        return RemoteState.STOPPING
    if status == "setting up" and warm:
        return RemoteState.UPDATING
    return state


def billed_instances(status: str, item: Mapping[str, Any]) -> int:
    """Instances we believe are up (and billed: setup, idle and active time [D/I])."""
    low = instances(configuration(item)["min_instances"])
    if status in ("active", "setting up", "idle"):
        return max(low, 1)
    if status == "failing":
        return low
    return 0


# --- the delete gate ----------------------------------------------------------------------------

_DELETE_RULE = "Replicate deletes a deployment only after it has been offline and unused for 15 minutes"


def delete_blocked(
    *, spec: Mapping[str, Any], raw: Mapping[str, Any], since: dt.datetime | None, now: dt.datetime
) -> str:
    """Why Replicate would refuse a delete now, in plain words, or ``""``: instances are
    kept (min_instances ≥ 1), or the last prediction or the stop (``since``) is less than
    ``DELETE_AFTER`` ago. ``raw`` is the deployment as last read, with our summary of its
    recent predictions; before any answer, the spec's minimum stands in."""
    config = configuration(raw) if raw.get("current_release") else {"min_instances": spec.get("min_instances")}
    if instances(config["min_instances"]) > 0:
        return f"{_DELETE_RULE}: stop it first (min_instances 0); it can be deleted 15 minutes after that."
    moments = [t for t in (prediction_time(p) for p in raw.get("recent_predictions") or []) if t is not None]
    if since is not None:
        moments.append(since if since.tzinfo else since.replace(tzinfo=dt.UTC))
    if not moments:
        return ""
    ready = max(moments) + DELETE_AFTER
    if now >= ready:
        return ""
    minutes = max(1, int((ready - now).total_seconds() // 60) + 1)
    return f"{_DELETE_RULE}: possible from {clock(ready)} (in about {plural(minutes, 'minute')})."
