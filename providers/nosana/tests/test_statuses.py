"""The status table (``providers.nosana.statuses``): one case per row, then what the
jobs add to RUNNING."""

from __future__ import annotations

import logging

import pytest

from providers.base import RemoteState
from providers.nosana import STATUS_TABLE
from providers.nosana.statuses import remote_state, running_jobs
from providers.nosana.tests.samples import DEP_ID


@pytest.mark.parametrize(("status", "expected"), sorted(STATUS_TABLE.items()))
def test_nosana_status_table_row(status, expected):
    state, _message = remote_state({"id": DEP_ID, "status": status, "strategy": "SIMPLE"})
    assert state == expected


def test_nosana_status_table_covers_every_documented_status():
    assert set(STATUS_TABLE) == {
        "DRAFT",
        "STARTING",
        "RUNNING",
        "STOPPING",
        "STOPPED",
        "ERROR",
        "INSUFFICIENT_FUNDS",
        "ARCHIVED",
    }


def test_nosana_unknown_status_is_unknown_and_logged(caplog):
    with caplog.at_level(logging.WARNING, logger="providers.nosana"):
        state, message = remote_state({"id": DEP_ID, "status": "MIGRATING"})
    assert state == RemoteState.UNKNOWN
    assert "MIGRATING" in message
    assert "unknown deployment status 'MIGRATING'" in caplog.text


@pytest.mark.parametrize(
    ("strategy", "jobs", "expected", "message"),
    [
        ("SIMPLE", ["RUNNING", "QUEUED"], RemoteState.RUNNING, "1 job running; 1 more queued."),
        ("SIMPLE", ["QUEUED"], RemoteState.PROVISIONING, "1 job is queued on the market, waiting for a node."),
        ("SIMPLE", [], RemoteState.PROVISIONING, "Listing jobs on the market."),
        ("SIMPLE", ["COMPLETED"], RemoteState.STOPPING, "Every job has finished; Nosana is marking it stopped."),
        ("SIMPLE-EXTEND", ["STOPPED"], RemoteState.STOPPING, "Every job has finished; Nosana is marking it stopped."),
        ("INFINITE", ["COMPLETED"], RemoteState.PROVISIONING, "Listing jobs on the market."),
        ("SCHEDULED", ["COMPLETED"], RemoteState.RUNNING, "Waiting for the next scheduled run."),
    ],
)
def test_nosana_running_is_refined_by_its_jobs(strategy, jobs, expected, message):
    item = {"id": DEP_ID, "status": "RUNNING", "strategy": strategy}
    assert remote_state(item, [{"state": s} for s in jobs]) == (expected, message)


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (
            "INSUFFICIENT_FUNDS",
            "Out of credits: Nosana keeps retrying and resumes by itself once the account is funded.",
        ),
        ("ERROR", "Nosana gave up on a task after repeated failures. Stop it, then start it again."),
    ],
)
def test_nosana_failed_states_say_why(status, message):
    assert remote_state({"status": status}) == (RemoteState.FAILED, message)


@pytest.mark.parametrize(
    ("active_jobs", "replicas", "expected"),
    [
        (1, 1, (RemoteState.RUNNING, "1 job running.")),
        (3, 2, (RemoteState.RUNNING, "3 jobs running.")),  # a rotation's replacement runs beside the old one
        (1, 2, (RemoteState.RUNNING, "1 of 2 jobs running.")),
        (0, 1, (RemoteState.RUNNING, "")),  # none runs: only the jobs can tell queued from finished
        (None, 1, (RemoteState.RUNNING, "")),  # an older server: not said
    ],
)
def test_nosana_running_without_jobs_read_is_told_by_active_jobs(active_jobs, replicas, expected):
    item = {"id": DEP_ID, "status": "RUNNING", "strategy": "SIMPLE", "replicas": replicas, "active_jobs": active_jobs}
    assert remote_state(item) == expected


def test_nosana_active_jobs_counts_only_for_a_running_deployment():
    assert running_jobs({"status": "RUNNING", "active_jobs": 2}, None) == 2
    assert running_jobs({"status": "STOPPING", "active_jobs": 2}, None) is None
    assert running_jobs({"status": "RUNNING", "active_jobs": 2}, [{"state": "RUNNING"}, {"state": "QUEUED"}]) == 1
