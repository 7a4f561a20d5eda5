"""The deployment state machine: every state, and every move between them.

Defined here and nowhere else. ``services.deployment_transition`` is the only code
that changes ``Deployment.state``, and it refuses any move not in ``TRANSITIONS``.

    draft ─▶ queued ─▶ submitting ─▶ provisioning ─▶ running ◀─▶ updating
                            │               │            │
                            ▼               ▼            ▼
                          failed ◀──────────┴──── stopping ─▶ stopped ─▶ (start) queued
      any non-deleted ─▶ deleting ─▶ deleted      provisioning/running ─▶ lost (vendor forgot it)
"""

from __future__ import annotations

from django.db import models

from providers.base import RemoteState


class State(models.TextChoices):
    DRAFT = "draft", "Draft"
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    QUEUED = "queued", "Queued"
    SUBMITTING = "submitting", "Submitting"
    PROVISIONING = "provisioning", "Provisioning"
    RUNNING = "running", "Running"
    UPDATING = "updating", "Updating"
    STOPPING = "stopping", "Stopping"
    STOPPED = "stopped", "Stopped"
    FAILED = "failed", "Failed"
    DELETING = "deleting", "Deleting"
    DELETED = "deleted", "Deleted"
    LOST = "lost", "Lost"


S = State
TRANSITIONS: dict[State, frozenset[State]] = {
    S.DRAFT: frozenset({S.QUEUED, S.AWAITING_APPROVAL, S.DELETED}),
    # Held for an admin: approved (queued), refused (failed, with the reason) or withdrawn.
    S.AWAITING_APPROVAL: frozenset({S.QUEUED, S.FAILED, S.DELETING}),
    # Never sent to a vendor: failing or deleting it is local.
    S.QUEUED: frozenset({S.SUBMITTING, S.FAILED, S.DELETING}),
    # A start of an existing resource can land straight on running or stopped.
    S.SUBMITTING: frozenset({S.PROVISIONING, S.RUNNING, S.UPDATING, S.STOPPED, S.FAILED, S.DELETING}),
    S.PROVISIONING: frozenset({S.RUNNING, S.UPDATING, S.STOPPING, S.STOPPED, S.FAILED, S.LOST, S.DELETING}),
    S.RUNNING: frozenset({S.UPDATING, S.STOPPING, S.STOPPED, S.FAILED, S.LOST, S.DELETING}),
    S.UPDATING: frozenset({S.RUNNING, S.STOPPING, S.STOPPED, S.FAILED, S.LOST, S.DELETING}),
    S.STOPPING: frozenset({S.STOPPED, S.RUNNING, S.FAILED, S.LOST, S.DELETING}),
    # Started again from the panel (queued), or from the vendor's own console.
    S.STOPPED: frozenset({S.QUEUED, S.PROVISIONING, S.RUNNING, S.LOST, S.DELETING}),
    # Retried from the panel (queued), or recovered on the vendor's side.
    # A failed deployment the vendor still holds can be stopped (Nosana's ERROR).
    S.FAILED: frozenset(
        {
            S.QUEUED,
            S.AWAITING_APPROVAL,
            S.PROVISIONING,
            S.RUNNING,
            S.UPDATING,
            S.STOPPING,
            S.STOPPED,
            S.LOST,
            S.DELETING,
        }
    ),
    S.DELETING: frozenset({S.DELETED, S.FAILED}),
    S.LOST: frozenset({S.PROVISIONING, S.RUNNING, S.STOPPED, S.DELETING, S.DELETED}),
    S.DELETED: frozenset(),
}

# States in which a vendor resource may exist and be worth polling.
WATCHED = frozenset({S.PROVISIONING, S.RUNNING, S.UPDATING, S.STOPPING, S.STOPPED, S.FAILED, S.DELETING, S.LOST})
# States that are on their way somewhere: poll fast, show a spinner.
IN_MOTION = frozenset({S.QUEUED, S.SUBMITTING, S.PROVISIONING, S.UPDATING, S.STOPPING, S.DELETING})


class InvalidTransition(Exception):
    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"a deployment cannot go from {current} to {target}")
        self.current, self.target = current, target


def can_transition(current: str, target: str) -> bool:
    return State(target) in TRANSITIONS[State(current)]


def state_for_remote(current: str, remote: RemoteState) -> State | None:
    """What our record should become when the vendor reports ``remote``; ``None`` = keep.

    A vendor's "updating" during the first rollout is still provisioning to us, and a
    resource the vendor no longer has is deleted if we asked for that, else lost.
    """
    current = State(current)
    if remote is RemoteState.UNKNOWN:
        return None
    if remote is RemoteState.UPDATING and current in (S.SUBMITTING, S.PROVISIONING, S.FAILED):
        return S.PROVISIONING
    if remote is RemoteState.DELETED:
        return S.DELETED if current in (S.DELETING, S.LOST) else S.LOST
    if remote is RemoteState.DELETING:
        return S.DELETING
    if remote is RemoteState.STOPPED and current is S.DELETING:
        return None  # some vendors stop before they delete: still deleting
    return State(remote.value)
