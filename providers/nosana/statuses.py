"""Nosana's deployment statuses in the panel's words: one table, one test per row.

``RUNNING`` only says the LIST task was scheduled [V]; whether jobs run on nodes
refines it in :func:`remote_state`. Every deployment, listed or read alone, carries
``active_jobs``: the count of its RUNNING jobs, queued ones not counted
(``nosana-ci/nosana-deployment-manager`` ``src/router/routes/get/deployments/list.ts``
and ``[id]/getDeploymentById.ts``: ``count({deployment, state: JobState.RUNNING})``;
``Deployment.active_jobs: number`` in ``@nosana/api`` 2.1.8 ``dist/client/schema.d.ts``).
Only when none runs do the deployment's jobs have to say why (queued, finished, or a
schedule waiting). An unknown status is logged and read as ``UNKNOWN``, never a crash.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from providers.base import RemoteState
from providers.coerce import whole

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


def active_jobs(item: dict[str, Any]) -> int | None:
    """A RUNNING deployment's own count of RUNNING jobs; ``None`` for other statuses
    (nothing runs) or where the server sent none (older servers)."""
    if item.get("status") != "RUNNING":
        return None
    return whole(item.get("active_jobs"), strings=False)


def running_jobs(item: dict[str, Any], jobs: list[dict[str, Any]] | None) -> int | None:
    """Jobs running on nodes: the jobs page when it was read, else ``active_jobs``."""
    return job_counts(jobs)["RUNNING"] if jobs is not None else active_jobs(item)


def remote_state(item: dict[str, Any], jobs: list[dict[str, Any]] | None = None) -> tuple[RemoteState, str]:
    """The table, then what running jobs (or the deployment's jobs) add, with a message.

    RUNNING only means the LIST task was scheduled [V]: until a job is RUNNING on a
    node, it is still provisioning. ``jobs=None`` means the caller did not look: then
    ``active_jobs`` says whether jobs run, and if none does the state stays unrefined.
    """
    status = item.get("status") or ""
    state = STATUS_TABLE.get(status)
    if state is None:
        logger.warning("nosana: unknown deployment status %r for %s", status, item.get("id"))
        return RemoteState.UNKNOWN, f"Nosana reports an unknown status {status!r}."
    message = STATUS_MESSAGES.get(status, "")
    if status != "RUNNING":
        return state, message
    if jobs is None:
        running = active_jobs(item)
        if not running:
            return state, message  # none runs, or not said: only the jobs can tell why
        return RemoteState.RUNNING, _running(running, whole(item.get("replicas"), strings=False))
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


def _running(running: int, desired: int | None) -> str:
    """What ``active_jobs`` alone says: how many run, of how many replicas."""
    if desired is not None and running < desired:
        return f"{running} of {desired} jobs running."
    return f"{running} job{'s' if running != 1 else ''} running."
