"""The derived status table, one case per row, its refinements, and the delete gate
(providers/replicate/statuses.py)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest

from providers.base import Action, RemoteState
from providers.replicate import HARDWARE_PRICES, ReplicateProvider
from providers.replicate.statuses import DERIVED, SCALED_TO_ZERO, STATUS_TABLE, derive_status, remote_state
from providers.replicate.tests.samples import NOTES_CREATE, SEED_CREATE, fixture, now, prediction, raw_with, with_config

# --- the derived status table: one case per row ---------------------------------------------------------


# The observation that produces each row of the table.
SCENARIOS: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {
    "offline": ({"min_instances": 0}, []),
    "stopped": ({"min_instances": 0, "max_instances": 0}, [prediction("succeeded", ago=30)]),
    "setting up": ({"min_instances": 0}, [prediction("starting", ago=40)]),
    "active": ({"min_instances": 1}, [prediction("processing", ago=2)]),
    "idle": ({"min_instances": 1}, []),
    "failing": ({"min_instances": 1}, [prediction("failed", ago=a) for a in (10, 20, 30)]),
}


@pytest.mark.parametrize(("status", "state"), list(STATUS_TABLE.items()), ids=list(STATUS_TABLE))
def test_replicate_status_table_row(status, state, replicate):
    config, predictions = SCENARIOS[status]
    item = with_config(**config)
    assert derive_status(item, predictions, now=now())[0] == status
    assert remote_state(status, item) == state
    remote = replicate.to_remote(item, predictions)
    assert (remote.state, remote.vendor_state) == (state, status)
    assert remote.message.startswith(DERIVED)


def test_replicate_status_scenarios_cover_the_table():
    assert set(SCENARIOS) == set(STATUS_TABLE)


def test_replicate_idle_at_zero_minimum_is_stopping():
    item = with_config(min_instances=0)
    status, why = derive_status(item, [prediction("succeeded", ago=60)], now=now())
    assert status == "idle"
    assert remote_state(status, item) == RemoteState.STOPPING
    assert why.startswith("idle since a prediction ended at ")


def test_replicate_idle_tail_ends_after_the_window():
    item = with_config(min_instances=0)
    assert derive_status(item, [prediction("succeeded", ago=6 * 60)], now=now())[0] == "offline"


def test_replicate_setting_up_with_warm_instances_is_updating():
    item = with_config(min_instances=2)
    status, why = derive_status(item, [prediction("starting", ago=30)], now=now())
    assert status == "setting up"
    assert remote_state(status, item) == RemoteState.UPDATING
    assert "cold start" in why


def test_replicate_a_young_starting_prediction_is_just_active():
    item = with_config(min_instances=0)
    assert derive_status(item, [prediction("starting", ago=1)], now=now())[0] == "active"


def test_replicate_a_success_breaks_the_failing_streak():
    predictions = [prediction("succeeded", ago=5), *[prediction("failed", ago=a) for a in (10, 20, 30)]]
    assert derive_status(with_config(min_instances=1), predictions, now=now())[0] == "idle"


def test_replicate_failing_names_the_latest_error():
    predictions = [prediction("failed", ago=a, error=f"boom {a}") for a in (10, 20, 30)]
    status, why = derive_status(with_config(min_instances=1), predictions, now=now())
    assert (status, why) == ("failing", "the last 3 predictions failed: boom 10")


def test_replicate_two_failures_are_not_yet_failing():
    predictions = [prediction("failed", ago=a) for a in (10, 20)]
    assert derive_status(with_config(min_instances=1), predictions, now=now())[0] == "idle"


def test_replicate_unknown_derived_status_is_unknown_and_logged(caplog):
    with caplog.at_level(logging.WARNING, logger="providers.replicate"):
        assert remote_state("hibernating", fixture("deployment")) == RemoteState.UNKNOWN
    assert [r.getMessage() for r in caplog.records] == [
        "replicate: unknown derived status 'hibernating' for acme/team-sdxl"
    ]


def test_replicate_unknown_prediction_status_is_logged_not_fatal(caplog):
    odd = prediction("paused", ago=10)
    with caplog.at_level(logging.WARNING, logger="providers.replicate"):
        assert derive_status(with_config(min_instances=1), [odd], now=now())[0] == "idle"
    assert f"replicate: unknown prediction status 'paused' for {odd['id']}" in caplog.text


def test_replicate_aborted_counts_as_finished():
    item = with_config(min_instances=0)
    assert derive_status(item, [prediction("aborted", ago=30)], now=now())[0] == "idle"


def test_replicate_reads_the_older_nested_configuration(replicate):
    remote = replicate.to_remote(fixture("deployment_nested_configuration"), [])
    assert (remote.state, remote.vendor_state) == (RemoteState.RUNNING, "idle")
    assert remote.message == DERIVED + "2 instances kept warm (min_instances 2, max_instances 4)"
    assert remote.price_per_hour == HARDWARE_PRICES["gpu-l40s"].per_hour * 2


def test_replicate_unknown_hardware_has_no_price(replicate):
    assert replicate.to_remote(with_config(hardware="gpu-b200", min_instances=1), []).price_per_hour is None


def test_replicate_release_without_configuration_is_offline(replicate):
    remote = replicate.to_remote({"owner": "acme", "name": "bare", "current_release": None}, [])
    assert (remote.state, remote.price_per_hour) == (RemoteState.STOPPED, None)


# --- the delete gate: why, and when ----------------------------------------------------------------------


def test_replicate_delete_blocked_while_instances_are_kept():
    reason = ReplicateProvider.action_blocked(
        Action.DELETE, spec=dict(SEED_CREATE), raw=raw_with(1), since=now() - dt.timedelta(hours=2)
    )
    assert reason.startswith("Replicate deletes a deployment only after it has been offline and unused for 15 minutes")
    assert "stop it first (min_instances 0)" in reason


def test_replicate_delete_blocked_until_15_minutes_after_the_stop():
    stopped = now() - dt.timedelta(minutes=5)
    reason = ReplicateProvider.action_blocked(Action.DELETE, spec=dict(NOTES_CREATE), raw=raw_with(0), since=stopped)
    when = (stopped + dt.timedelta(minutes=15)).strftime("%H:%M UTC")
    assert reason.endswith(f"possible from {when} (in about 10 minutes).")


def test_replicate_delete_blocked_until_15_minutes_after_the_last_prediction():
    used = prediction("succeeded", ago=3 * 60)
    reason = ReplicateProvider.action_blocked(
        Action.DELETE, spec=dict(NOTES_CREATE), raw=raw_with(0, used), since=now() - dt.timedelta(hours=1)
    )
    finished = dt.datetime.fromisoformat(used["completed_at"].replace("Z", "+00:00"))
    when = (finished + dt.timedelta(minutes=15)).strftime("%H:%M UTC")
    assert f"possible from {when}" in reason


def test_replicate_delete_allowed_after_15_quiet_minutes_offline():
    old = prediction("succeeded", ago=20 * 60)
    assert (
        ReplicateProvider.action_blocked(
            Action.DELETE, spec=dict(NOTES_CREATE), raw=raw_with(0, old), since=now() - dt.timedelta(minutes=16)
        )
        == ""
    )


def test_replicate_delete_gate_falls_back_to_the_spec_before_any_answer():
    reason = ReplicateProvider.action_blocked(Action.DELETE, spec=dict(SEED_CREATE), raw={}, since=None)
    assert "stop it first" in reason


@pytest.mark.parametrize("action", [Action.STOP, Action.START, Action.SCALE, Action.UPDATE])
def test_replicate_other_actions_are_never_gated(action):
    assert ReplicateProvider.action_blocked(action, spec=dict(SEED_CREATE), raw=raw_with(1), since=now()) == ""


def test_replicate_stopped_is_max_instances_zero_and_says_so():
    item = with_config(min_instances=0, max_instances=0)
    status, why = derive_status(item, [prediction("failed", ago=a) for a in (10, 20, 30)], now=now())
    assert (status, remote_state(status, item)) == ("stopped", RemoteState.STOPPED)  # before failing
    assert why == (
        "stopped (min_instances 0, max_instances 0): no instance may start, "
        "so no prediction is served until it is started"
    )


def test_replicate_stopped_shows_a_prediction_still_processing_as_active():
    item = with_config(min_instances=0, max_instances=0)
    assert derive_status(item, [prediction("processing", ago=2)], now=now())[0] == "active"


def test_replicate_a_missing_maximum_is_not_stopped(replicate):
    remote = replicate.to_remote({"owner": "acme", "name": "bare", "current_release": None}, [])
    assert remote.vendor_state == "offline"


def test_replicate_stopped_bills_nothing(replicate):
    remote = replicate.to_remote(fixture("deployment_stopped"), [prediction("succeeded", ago=30)])
    assert (remote.state, remote.vendor_state, remote.price_per_hour) == (RemoteState.STOPPED, "stopped", 0)


def test_replicate_scaled_to_zero_is_not_stopped_and_says_it_starts_on_the_next_request():
    item = with_config(min_instances=0, max_instances=2)
    status, why = derive_status(item, [prediction("succeeded", ago=10 * 60)], now=now())
    assert (status, remote_state(status, item)) == ("offline", RemoteState.STOPPED)
    assert why.startswith(SCALED_TO_ZERO + " (min_instances 0, max_instances 2;")
    assert SCALED_TO_ZERO == "scaled to zero, starts on the next request"
