"""Novita's status table (one test per row), its overlays and the action gates."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from providers.base import (
    Action,
    RemoteState,
)
from providers.novita import NovitaProvider
from providers.novita.statuses import BILLED_STATUSES, STATUS_MESSAGES, STATUS_TABLE, blocked, remote_state
from providers.novita.tests.helpers import fixture

# --- status: one test per row, then the overlays ----------------------------------------------------------

ROWS = [
    ("toCreate", RemoteState.PROVISIONING),
    ("creating", RemoteState.PROVISIONING),
    ("pending", RemoteState.PROVISIONING),
    ("pulling", RemoteState.PROVISIONING),
    ("running", RemoteState.RUNNING),
    ("toStart", RemoteState.PROVISIONING),
    ("starting", RemoteState.PROVISIONING),
    ("toStop", RemoteState.STOPPING),
    ("stopping", RemoteState.STOPPING),
    ("exited", RemoteState.STOPPED),
    ("toRestart", RemoteState.UPDATING),
    ("restarting", RemoteState.UPDATING),
    ("toReset", RemoteState.UPDATING),
    ("resetting", RemoteState.UPDATING),
    ("migrating", RemoteState.UPDATING),
    ("freezing", RemoteState.FAILED),
    ("toRemove", RemoteState.DELETING),
    ("removing", RemoteState.DELETING),
    ("removed", RemoteState.DELETED),
]


def test_novita_status_rows_cover_the_table():
    assert dict(ROWS) == STATUS_TABLE
    assert set(STATUS_MESSAGES) == set(STATUS_TABLE)


@pytest.mark.parametrize(("status", "state"), ROWS)
def test_novita_status_row(status, state):
    item = {**fixture("instance_running"), "status": status}
    assert remote_state(item) == (state, STATUS_MESSAGES[status])


def test_novita_status_unknown_is_logged_and_unknown(caplog):
    with caplog.at_level(logging.WARNING, logger="providers.novita"):
        state, message = remote_state({"id": "x", "status": "hibernating"})
    assert (state, message) == (RemoteState.UNKNOWN, "Novita reports an unknown status 'hibernating'.")
    assert "hibernating" in caplog.text


def test_novita_status_error_overlay_fails_it_with_novitas_words():
    item = {**fixture("instance_running"), "statusError": {"state": "pullImageFailed", "message": "image not found"}}
    assert remote_state(item) == (RemoteState.FAILED, "Novita reports an error (pullImageFailed): image not found")
    only_message = {**item, "status": "exited", "statusError": {"state": "", "message": "OOM killed"}}
    assert remote_state(only_message) == (RemoteState.FAILED, "Novita reports an error (exited): OOM killed")


def test_novita_status_error_does_not_hide_a_release():
    item = {**fixture("instance_running"), "status": "removing", "statusError": {"state": "x", "message": "y"}}
    assert remote_state(item)[0] == RemoteState.DELETING


@pytest.mark.parametrize(
    ("spot", "state", "note"),
    [
        ("", RemoteState.RUNNING, ""),
        ("running", RemoteState.RUNNING, ""),
        ("notified", RemoteState.RUNNING, "Novita has announced it will reclaim this spot instance."),
        ("reclaiming", RemoteState.RUNNING, "Novita is reclaiming this spot instance."),
        ("terminated", RemoteState.FAILED, "Novita reclaimed this spot instance."),
    ],
)
def test_novita_spot_status_overlay(spot, state, note):
    item = {**fixture("instance_running"), "billingMode": "spot", "spotStatus": spot, "spotReclaimTime": "0"}
    got_state, message = remote_state(item)
    assert got_state == state
    assert note in message
    if spot in ("", "running"):
        assert message == STATUS_MESSAGES["running"]


def test_novita_spot_reclaimed_and_exited_is_stopped():
    item = {**fixture("instance_running"), "status": "exited", "billingMode": "spot", "spotStatus": "terminated"}
    assert remote_state(item) == (RemoteState.STOPPED, "Novita reclaimed this spot instance. It can be started again.")


def test_novita_spot_notice_says_when():
    item = {
        **fixture("instance_running"),
        "billingMode": "spot",
        "spotStatus": "notified",
        "spotReclaimTime": "1772449200",
    }
    assert remote_state(item)[1].endswith("Reclaim at 2026-03-02 11:00 UTC.")


def test_novita_spot_status_ignored_for_other_billing_modes():
    item = {**fixture("instance_running"), "billingMode": "", "spotStatus": "terminated"}
    assert remote_state(item)[0] == RemoteState.RUNNING


# --- action gates ------------------------------------------------------------------------------------------


def test_novita_blocks_start_unless_exited():
    assert blocked(Action.START, raw={"status": "exited"}) == ""
    assert blocked(Action.START, raw={"status": "running"}) == (
        "Novita starts an instance only when it is stopped (exited); it is running."
    )


@pytest.mark.parametrize("action", [Action.STOP, Action.RESTART])
def test_novita_blocks_stop_and_restart_unless_running(action):
    assert blocked(action, raw={"status": "running"}) == ""
    assert "only while it is running; it is pulling" in blocked(action, raw={"status": "pulling"})


def test_novita_blocks_update_while_in_motion():
    assert blocked(Action.UPDATE, raw={"status": "exited"}) == ""
    assert blocked(Action.UPDATE, raw={"status": "resetting"}) == (
        "Novita changes an instance only when it is running or stopped; it is resetting."
    )


def test_novita_blocks_everything_while_releasing():
    assert "releasing" in blocked(Action.STOP, raw={"status": "removing"})


def test_novita_blocks_releasing_a_subscription_before_it_ends():
    ends = dt.datetime(2026, 4, 2, 10, 0, tzinfo=dt.UTC)
    raw = {"status": "running", "billingMode": "monthly", "endTime": str(int(ends.timestamp()))}
    before = blocked(Action.DELETE, raw=raw, now=ends - dt.timedelta(days=1))
    assert before == (
        "Novita does not release a monthly (prepaid) instance before its subscription ends on 2026-04-02 10:00 UTC: "
        "it can be deleted from then on."
    )
    assert blocked(Action.DELETE, raw=raw, now=ends + dt.timedelta(seconds=1)) == ""
    assert blocked(Action.DELETE, raw={"status": "running", "billingMode": "onDemand", "endTime": "-1"}) == ""


def test_novita_blocks_release_of_a_subscription_with_an_iso_end_time():
    raw = {"status": "exited", "billingMode": "monthly", "endTime": "2099-01-01T00:00:00Z"}
    assert "2099-01-01 00:00 UTC" in NovitaProvider.action_blocked(Action.DELETE, spec={}, raw=raw, since=None)


def test_novita_blocks_nothing_without_a_status():
    assert NovitaProvider.action_blocked(Action.START, spec={}, raw={}, since=None) == ""


def test_novita_billed_statuses_are_live_ones():
    assert all(
        STATUS_TABLE[s] in (RemoteState.PROVISIONING, RemoteState.RUNNING, RemoteState.STOPPING, RemoteState.UPDATING)
        for s in BILLED_STATUSES
    )
    assert "exited" not in BILLED_STATUSES
    assert "creating" not in BILLED_STATUSES
