"""The status table, one case per row, and what the replica bounds add to it."""

from __future__ import annotations

import logging

import pytest

from providers.base import RemoteState
from providers.together.statuses import STATUS_TABLE, remote_state, replica_message
from providers.together.tests.conftest import ONE, fixture, load_together_schema


@pytest.mark.parametrize(("status", "state"), list(STATUS_TABLE.items()), ids=list(STATUS_TABLE))
def test_together_status_table_row(status, state, together):
    item = {**fixture("deployment_ready"), "status": status}
    assert remote_state(item) == state
    remote = together.to_remote(item)
    assert (remote.state, remote.vendor_state) == (state, status)


# ContainerDeploymentStatus in the official SDK: PyPI together 3.1.1,
# together/types/beta/container_deployment_status.py (npm together-ai 0.52.0's
# resources/beta/jig/jig.d.ts says the same). The seed's enum lacks ScaledToZero.
SDK_STATUSES = ("Updating", "Scaling", "Ready", "Failed", "ScaledToZero")


def test_together_status_table_covers_the_vendors_enum():
    schemas = load_together_schema()["components"]["schemas"]
    assert set(STATUS_TABLE) == set(schemas["DeploymentStatus"]["enum"]) | set(SDK_STATUSES)


def test_together_remote_state_scaled_to_zero_after_a_stop_is_stopped(respx_mock, together):
    # The fixture is deployment_stopped.json as the SDK says a settled stop reads: its CLI
    # (together 3.1.1, lib/cli/api/beta/jig/jig.py, Jig.track) waits for min_replicas 0,
    # desired_replicas 0 and status ScaledToZero.
    item = fixture("deployment_scaled_to_zero")
    assert (item["status"], item["min_replicas"], item["max_replicas"]) == ("ScaledToZero", 0, 0)
    respx_mock.get(ONE).respond(200, json=item)
    remote = together.get("dep_abc123")
    assert (remote.state, remote.vendor_state) == (RemoteState.STOPPED, "ScaledToZero")
    assert (remote.replicas_ready, remote.replicas_desired, remote.price_per_hour) == (0, 0, 0)


def test_together_remote_state_ready_with_max_zero_is_stopped():
    item = {"status": "Ready", "min_replicas": 0, "max_replicas": 0, "desired_replicas": 0, "ready_replicas": 0}
    assert remote_state(item) == RemoteState.STOPPED


def test_together_remote_state_ready_scaled_to_zero_is_stopped():
    item = {"status": "Ready", "min_replicas": 0, "max_replicas": 3, "desired_replicas": 0, "ready_replicas": 0}
    assert remote_state(item) == RemoteState.STOPPED


def test_together_remote_state_ready_with_min_zero_but_traffic_is_running():
    item = {"status": "Ready", "min_replicas": 0, "max_replicas": 3, "desired_replicas": 2, "ready_replicas": 2}
    assert remote_state(item) == RemoteState.RUNNING


def test_together_remote_state_scaling_with_max_zero_is_stopping():
    item = {"status": "Scaling", "min_replicas": 0, "max_replicas": 0, "desired_replicas": 0, "ready_replicas": 1}
    assert remote_state(item) == RemoteState.STOPPING


def test_together_remote_state_failed_with_max_zero_stays_failed():
    item = {"status": "Failed", "min_replicas": 0, "max_replicas": 0, "desired_replicas": 0}
    assert remote_state(item) == RemoteState.FAILED


@pytest.mark.parametrize("status", ["Stopped", "Pending", "", None])
def test_together_remote_state_unknown_status_is_unknown_and_logged(caplog, status):
    item = {"id": "dep_zzz", "status": status, "max_replicas": 1}
    with caplog.at_level(logging.WARNING, logger="providers.together.statuses"):
        assert remote_state(item) == RemoteState.UNKNOWN
    assert [r.getMessage() for r in caplog.records] == [
        f"together: unknown deployment status {status or ''!r} for dep_zzz"
    ]


def test_together_replica_message_skips_progress_and_healthy_replicas():
    item = {
        "replica_events": {
            "a": {"replica_status": "Running", "replica_status_reason": ""},
            "b": {"replica_status": "Waiting", "replica_status_reason": "ContainerCreating"},
            "c": {"replica_status": "Waiting", "replica_status_reason": "ImagePullBackOff"},
            "d": "not an object",
        }
    }
    assert replica_message(item) == "c: ImagePullBackOff"
    assert replica_message({"replica_events": None}) == ""
