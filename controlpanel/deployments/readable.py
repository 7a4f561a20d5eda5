"""What the badge and the status line say, so that the panel's state and the vendor's words
never contradict each other ("Stopped · Together AI says Ready").

The vendor's last word is shown only when it agrees with the panel's state: read through the
adapter's status table and ``state_for_remote`` it leads to the state the row is in (or, while
an action is on its way, to where that action goes). A stale word (the ``Ready`` read before
a stop the vendor has not confirmed yet) becomes "waiting for Together AI to confirm the stop";
a deleted deployment has no vendor words at all (the vendor no longer has it). A vendor status
the panel reads as stopped that is only asleep (Replicate at min_instances 0: the next request
wakes it) is labelled "Scaled to zero", not "Stopped": the panel's Stop is max_instances 0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from controlpanel.deployments.states import State, state_for_remote
from providers.base import Action, RemoteState
from providers.registry import get_provider_class

if TYPE_CHECKING:
    from controlpanel.deployments.models import Deployment

# Where a pending action (or a state in motion) is going, and what it is called in words.
GOING_TO: dict[str, tuple[frozenset[State], str]] = {
    Action.STOP.value: (frozenset({State.STOPPING, State.STOPPED}), "confirm the stop"),
    Action.DELETE.value: (frozenset({State.DELETING, State.DELETED}), "confirm the delete"),
    Action.ARCHIVE.value: (frozenset({State.DELETING, State.DELETED}), "confirm the archive"),
    Action.START.value: (frozenset({State.PROVISIONING, State.RUNNING, State.UPDATING}), "confirm the start"),
    Action.RESTART.value: (frozenset({State.PROVISIONING, State.RUNNING, State.UPDATING}), "confirm the restart"),
    Action.SCALE.value: (
        frozenset({State.RUNNING, State.UPDATING, State.STOPPING, State.STOPPED}),
        "confirm the new scale",
    ),
    Action.UPDATE.value: (frozenset({State.RUNNING, State.UPDATING, State.STOPPED}), "confirm the update"),
}
# In motion with no action pending: the vendor took one (its status lags), or is winding
# down on its own (Replicate's last instance after min_instances 0).
MOVING_TO: dict[State, tuple[frozenset[State], str]] = {
    State.STOPPING: (frozenset({State.STOPPING, State.STOPPED}), "report it stopped"),
    State.DELETING: (frozenset({State.DELETING, State.DELETED}), "confirm the delete"),
}
LEAVING = frozenset({State.DELETING, State.DELETED})


def _read_as(deployment: Deployment) -> State | None:
    """The panel state the vendor's last word leads to from this row's state; ``None``
    when the word is not one the adapter's table knows."""
    said = get_provider_class(deployment.vendor).status_table.get(deployment.vendor_state)
    if said is None or said is RemoteState.UNKNOWN:
        return None
    return state_for_remote(deployment.state, said) or State(deployment.state)


def vendor_words(deployment: Deployment) -> str:
    """``"Together AI says ScaledToZero"``, ``"waiting for Together AI to confirm the stop"``,
    or ``""`` when the vendor's last word is not worth showing beside the state."""
    state = State(deployment.state)
    vendor = deployment.get_vendor_display()
    if state == State.DELETED or not deployment.vendor_state:
        return ""
    read_as = _read_as(deployment)
    going = GOING_TO.get(deployment.pending_action) or MOVING_TO.get(state)
    if going is not None:
        targets, what = going
        if read_as in targets:
            return f"{vendor} says {deployment.vendor_state}"
        return f"waiting for {vendor} to {what}"
    if read_as == state:
        return f"{vendor} says {deployment.vendor_state}"
    return ""


def state_label(deployment: Deployment) -> str:
    if deployment.pending_action:
        return f"{deployment.pending_action.capitalize()}…"
    if deployment.state == State.STOPPED and is_asleep(deployment):
        return "Scaled to zero"
    return deployment.get_state_display()


def is_asleep(deployment: Deployment) -> bool:
    """Not running and not billing, but not stopped either: the next request wakes it."""
    return deployment.vendor_state in get_provider_class(deployment.vendor).asleep_statuses


def is_leaving(deployment: Deployment) -> bool:
    """Deleted, or on its way: no live endpoint to show, no logs to follow."""
    return deployment.state in LEAVING or deployment.pending_action in (Action.DELETE.value, Action.ARCHIVE.value)
