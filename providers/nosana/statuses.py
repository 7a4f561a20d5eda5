"""Nosana's deployment statuses in the panel's words: one table, one test per row.

``RUNNING`` only says the LIST task was scheduled [V]; what the deployment's jobs add
(a job RUNNING on a node, or only QUEUED ones) refines it in :func:`remote_state`.
An unknown status is logged and read as ``UNKNOWN``, never a crash.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from providers.base import RemoteState

logger = logging.getLogger(__name__)

# Strategies that end by themselves: STOPPED once no job is queued or running [V].
SELF_ENDING = frozenset({"SIMPLE", "SIMPLE-EXTEND"})

# DeploymentStatus enum [V]; meanings from the deployment-manager's code (notes §3).
STATUS_TABLE: dict[str, RemoteState] = {
    "DRAFT": RemoteState.STOPPED,  # created, never started: nothing runs or bills; start is allowed
    "STARTING": RemoteState.PROVISIONING,  # start called; the first LIST task is being scheduled
    "RUNNING": RemoteState.RUNNING,  # LIST scheduled; refined below: it does not mean containers are up
    "STOPPING": RemoteState.STOPPING,  # a STOP task delists or stops the jobs
    "STOPPED": RemoteState.STOPPED,  # every job finished or stopped
    "ERROR": RemoteState.FAILED,  # a task was abandoned after too many attempts
    "INSUFFICIENT_FUNDS": RemoteState.FAILED,  # retried by the server, back to RUNNING when funded
    "ARCHIVED": RemoteState.DELETED,  # terminal and read-only: gone, as far as the panel goes
}
STATUS_MESSAGES = {
    "DRAFT": "Draft: created but never started.",
    "ERROR": "Nosana gave up on a task after repeated failures. Stop it, then start it again.",
    "INSUFFICIENT_FUNDS": "Out of credits: Nosana keeps retrying and resumes by itself once the account is funded.",
    "ARCHIVED": "Archived at Nosana: kept read-only for the record.",
}
JOB_ACTIVE = ("QUEUED", "RUNNING")
JOB_ENDED = ("COMPLETED", "STOPPED")


def job_counts(jobs: Iterable[dict[str, Any]] | None) -> dict[str, int]:
    counts = {"QUEUED": 0, "RUNNING": 0, "COMPLETED": 0, "STOPPED": 0}
    for job in jobs or ():
        state = job.get("state") if isinstance(job, dict) else None
        if state in counts:
            counts[state] += 1
    return counts


def remote_state(item: dict[str, Any], jobs: list[dict[str, Any]] | None = None) -> tuple[RemoteState, str]:
    """The table, then what the deployment's jobs add, with a message for people.

    RUNNING only means the LIST task was scheduled [V]: until a job is RUNNING on a
    node, it is still provisioning. ``jobs=None`` means the caller did not look.
    """
    status = item.get("status") or ""
    state = STATUS_TABLE.get(status)
    if state is None:
        logger.warning("nosana: unknown deployment status %r for %s", status, item.get("id"))
        return RemoteState.UNKNOWN, f"Nosana reports an unknown status {status!r}."
    message = STATUS_MESSAGES.get(status, "")
    if status != "RUNNING" or jobs is None:
        return state, message
    counts = job_counts(jobs)
    if counts["RUNNING"]:
        queued = f"; {counts['QUEUED']} more queued" if counts["QUEUED"] else ""
        return RemoteState.RUNNING, f"{counts['RUNNING']} job{'s' if counts['RUNNING'] != 1 else ''} running{queued}."
    if counts["QUEUED"]:
        noun = "job is" if counts["QUEUED"] == 1 else "jobs are"
        return RemoteState.PROVISIONING, f"{counts['QUEUED']} {noun} queued on the market, waiting for a node."
    strategy = item.get("strategy")
    if strategy == "SCHEDULED":
        return RemoteState.RUNNING, "Waiting for the next scheduled run."
    if strategy in SELF_ENDING and (counts["COMPLETED"] or counts["STOPPED"]):
        return RemoteState.STOPPING, "Every job has finished; Nosana is marking it stopped."
    return RemoteState.PROVISIONING, "Listing jobs on the market."
