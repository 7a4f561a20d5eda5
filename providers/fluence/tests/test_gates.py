"""Why Fluence would refuse an action now, said before the user tries.

Fixture JSON follows the contract's examples (notes §2) and the seed."""

from __future__ import annotations

from typing import Any

import pytest

from providers.base import (
    Action,
)
from providers.fluence import FluenceProvider
from providers.fluence.tests.helpers import NEW_ID, fixture

# --- action gates ------------------------------------------------------------------------------------------


def blocked(action: Action, raw: dict[str, Any], kind: str = "container") -> str:
    return FluenceProvider.action_blocked(action, spec={"kind": kind}, raw=raw, since=None)


def test_action_blocked_terminate_only_when_active():
    assert blocked(Action.DELETE, {"instance_status": "ACTIVE", "container_status": "STARTED"}) == ""
    assert "only ACTIVE" in blocked(Action.DELETE, {"instance_status": "INITIALIZED"})
    assert blocked(Action.DELETE, {"instance_status": "FAILED"}) == ""  # delete() lets it go
    assert "FAILED" in blocked(Action.UPDATE, {"instance_status": "FAILED"})
    assert "ENDED" in blocked(Action.DELETE, {"status": "ENDED"}, "vm")


def test_action_blocked_update_waits_for_a_running_container():
    assert "still starting" in blocked(Action.UPDATE, {"instance_status": "ACTIVE", "container_status": "NOT_STARTED"})
    assert "still starting" in blocked(Action.RESTART, {"instance_status": "ACTIVE", "container_status": "NOT_STARTED"})
    assert blocked(Action.UPDATE, {"instance_status": "ACTIVE", "container_status": "STARTED"}) == ""
    assert blocked(Action.UPDATE, {"status": "ACTIVE"}, "vm") == ""  # a rename


@pytest.mark.parametrize("kind", ["vm", "baremetal"])
def test_action_blocked_restart_logs_and_events_are_for_containers_only(kind):
    raw = {"status": "ACTIVE"}
    assert "reboot it from inside" in blocked(Action.RESTART, raw, kind)
    assert "containers only" in blocked(Action.LOGS, raw, kind)
    assert "containers only" in blocked(Action.EVENTS, raw, kind)
    assert blocked(Action.LOGS, {"instance_status": "INITIALIZED"}) == ""


@pytest.mark.parametrize("action", [Action.START, Action.STOP, Action.SCALE])
def test_action_blocked_says_fluence_has_no_start_stop_or_scale(action):
    assert "Fluence has no" in blocked(action, {"instance_status": "ACTIVE"})


def test_action_blocked_leaves_an_unread_instance_to_fluence():
    assert blocked(Action.DELETE, {"instance_id": NEW_ID, "kind": "container"}) == ""


def test_action_blocked_knows_the_kind_from_raw_when_the_spec_lacks_it():
    reason = FluenceProvider.action_blocked(Action.RESTART, spec={}, raw=fixture("vm_active"), since=None)
    assert "cannot restart" in reason
