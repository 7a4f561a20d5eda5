"""The status table, one test per row, and what a detail answer adds.

Fixture JSON follows the contract's examples (notes §2) and the seed."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from providers.base import (
    RemoteState,
)
from providers.fluence.statuses import STATUS_TABLE, remote_state
from providers.fluence.tests.helpers import fixture

# --- the status table: one test per row ---------------------------------------------------------------------


@pytest.mark.parametrize(("status", "state"), list(STATUS_TABLE.items()))
def test_status_table_row(status, state):
    item = {"id": "x", "instance_status": status}
    assert remote_state(item, "container", detailed=False)[0] is state


def test_status_table_has_every_documented_status():
    assert set(STATUS_TABLE) == {"INITIALIZED", "INITIATED", "ACTIVE", "FAILED", "ENDED"}


@pytest.mark.parametrize("status", ["Initiated", "initialized", "Active", "ended"])
def test_status_is_matched_in_any_case(status):
    assert remote_state({"status": status}, "vm", detailed=False)[0] is STATUS_TABLE[status.upper()]


def test_status_active_with_the_container_started_is_running():
    assert remote_state(fixture("container_active"), "container") == (RemoteState.RUNNING, "")


def test_status_active_with_the_container_not_started_is_updating():
    item = fixture("container_not_started")
    now = dt.datetime(2026, 2, 7, 15, 5, tzinfo=dt.UTC)
    state, message = remote_state(item, "container", now=now)
    assert state is RemoteState.UPDATING
    assert "starting" in message


def test_status_not_started_for_long_points_at_the_events():
    now = dt.datetime(2026, 2, 7, 16, 0, tzinfo=dt.UTC)
    state, message = remote_state(fixture("container_not_started"), "container", now=now)
    assert state is RemoteState.UPDATING
    assert "may have failed to start" in message
    assert "events" in message


def test_status_active_without_a_network_is_not_running_yet():
    item = {**fixture("container_active"), "network": None, "domain": None}
    assert remote_state(item, "container")[0] is RemoteState.UPDATING


def test_status_active_vm_with_its_ssh_connection_is_running():
    assert remote_state(fixture("vm_active"), "vm")[0] is RemoteState.RUNNING


def test_status_unknown_is_logged_and_unknown(caplog):
    with caplog.at_level(logging.WARNING, logger="providers.fluence"):
        state, message = remote_state({"id": "x", "instance_status": "PAUSED"}, "container")
    assert state is RemoteState.UNKNOWN
    assert "PAUSED" in message
    assert "unknown instance status 'PAUSED'" in caplog.text
