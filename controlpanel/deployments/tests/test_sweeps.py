"""Exactly-once in the worker: the sweep finds due work in the database, attempts claim
their row, a delete of a row whose create may have reached the vendor deletes what was
made, and a deployment that never comes up fails and is stopped.

The clock is frozen by passing ``now`` to the sweep and writing the times the rows hold."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import httpx
import pytest
import respx
from django.utils import timezone

from controlpanel.deployments import services
from controlpanel.deployments.models import Deployment, EventKind
from controlpanel.deployments.services.sweeps import attempt_claim
from controlpanel.deployments.states import State
from controlpanel.deployments.tasks import deployment_action_task, submit_deployment_task
from providers.base import Action, Transient
from providers.together.provider import TogetherProvider
from tests.factories import DeploymentFactory

from .test_services import item

NOW = dt.datetime(2026, 12, 3, 14, 30, tzinfo=dt.UTC)


def ago(seconds: float) -> dt.datetime:
    return NOW - dt.timedelta(seconds=seconds)


@pytest.fixture
def api(account):
    with respx.mock(base_url=account.base_url, assert_all_called=False) as mock_:
        yield mock_


@pytest.fixture
def sent():
    """What the sweep hands to the broker, instead of a broker."""
    with (
        mock.patch.object(deployment_action_task, "delay") as action,
        mock.patch.object(submit_deployment_task, "delay") as queued,
        mock.patch.object(submit_deployment_task, "apply_async") as resubmitted,
    ):
        yield {"action": action, "queued": queued, "resubmitted": resubmitted}


def pending_stop(account, **times):
    deployment = DeploymentFactory(account=account, state=State.RUNNING, external_id="dep_s")
    Deployment.objects.filter(pk=deployment.pk).update(pending_action="stop", **times)
    return deployment


# --- actions: due, not due, claimed by a live attempt, dead claim -------------------------------


def test_sweep_resends_an_action_whose_message_was_lost(account, sent):
    deployment = pending_stop(account, pending_since=ago(300), next_attempt_at=ago(100))
    assert services.deployments_sweep_due(now=NOW) == 1
    sent["action"].assert_called_once_with(deployment.pk)
    deployment.refresh_from_db()
    assert deployment.next_attempt_at == NOW + dt.timedelta(seconds=300)  # as long again as it waited
    assert "“Stop” was not carried out by any worker; sent again" in messages(deployment)
    assert services.deployments_sweep_due(now=NOW + dt.timedelta(seconds=10)) == 0


def test_sweep_resends_an_action_asked_for_before_next_attempts_were_written(account, sent):
    deployment = pending_stop(account, pending_since=ago(100), next_attempt_at=None)
    assert services.deployments_sweep_actions(now=NOW) == 1
    sent["action"].assert_called_once_with(deployment.pk)


def test_sweep_leaves_an_action_that_is_not_due_yet(account, sent):
    pending_stop(account, pending_since=ago(300), next_attempt_at=ago(30))  # a retry 30 s late: not lost yet
    assert services.deployments_sweep_due(now=NOW) == 0
    sent["action"].assert_not_called()


def test_sweep_leaves_an_action_a_live_attempt_holds(account, sent):
    pending_stop(account, pending_since=ago(300), next_attempt_at=ago(300), attempt_id="a", attempt_claimed_at=ago(60))
    assert services.deployments_sweep_due(now=NOW) == 0
    sent["action"].assert_not_called()


def test_sweep_retakes_a_claim_older_than_the_hard_time_limit(account, sent, settings):
    held = ago(settings.CELERY_TASK_TIME_LIMIT + 1)  # its worker was killed
    deployment = pending_stop(
        account, pending_since=ago(300), next_attempt_at=ago(300), attempt_id="a", attempt_claimed_at=held
    )
    assert services.deployments_sweep_due(now=NOW) == 1
    sent["action"].assert_called_once_with(deployment.pk)
    assert attempt_claim(deployment_id=deployment.pk, attempt_id="b", now=NOW)
    assert Deployment.objects.get(pk=deployment.pk).attempt_id == "b"


# --- claims: two attempts never run on one row at once ------------------------------------------


def test_claim_turns_away_a_second_attempt_and_a_redelivered_copy(account):
    deployment = DeploymentFactory(account=account)
    assert attempt_claim(deployment_id=deployment.pk, attempt_id="a", now=NOW)
    assert not attempt_claim(deployment_id=deployment.pk, attempt_id="b", now=NOW + dt.timedelta(seconds=5))
    # acks_late: the broker hands the same message out again while it still runs.
    assert not attempt_claim(deployment_id=deployment.pk, attempt_id="a", now=NOW + dt.timedelta(seconds=5))
    assert Deployment.objects.get(pk=deployment.pk).attempt_id == "a"


def test_submit_while_another_attempt_holds_the_row_calls_no_vendor(account, api):
    deployment = DeploymentFactory(account=account, name="held")
    Deployment.objects.filter(pk=deployment.pk).update(attempt_id="other", attempt_claimed_at=timezone.now())
    create = api.post("/deployments").respond(200, json=item(name="held"))
    services.deployment_submit(deployment_id=deployment.pk, task_id="t-2")
    assert create.call_count == 0
    assert Deployment.objects.get(pk=deployment.pk).state == State.QUEUED


def test_action_while_a_submission_holds_the_row_waits_and_calls_no_vendor(owner, account, api):
    deployment = DeploymentFactory(account=account, name="busy", state=State.RUNNING, external_id="dep_busy")
    services.deployment_request_action(deployment=deployment, actor=owner, action=Action.STOP)
    Deployment.objects.filter(pk=deployment.pk).update(attempt_id="submit-1", attempt_claimed_at=timezone.now())
    stop = api.patch("/deployments/dep_busy").respond(200, json=item(name="busy", status="Scaling"))
    with pytest.raises(Transient):
        services.deployment_run_action(deployment_id=deployment.pk, task_id="action-1")
    assert stop.call_count == 0
    deployment.refresh_from_db()
    assert (deployment.pending_action, deployment.attempt_id) == ("stop", "submit-1")


def test_a_finished_attempt_lets_go_of_the_row(account, api):
    deployment = DeploymentFactory(account=account, name="done")
    api.post("/deployments").respond(200, json=item(name="done", status="Updating", ready=0))
    services.deployment_submit(deployment_id=deployment.pk, task_id="t-1")
    deployment.refresh_from_db()
    assert deployment.state == State.PROVISIONING
    assert (deployment.attempt_id, deployment.attempt_claimed_at, deployment.next_attempt_at) == ("", None, None)


def test_an_action_whose_key_was_deleted_ends_in_words_not_pending_forever(account, sent):
    deployment = pending_stop(account, pending_since=ago(300), next_attempt_at=ago(300))
    Deployment.objects.filter(pk=deployment.pk).update(account=None)
    services.deployment_run_action(deployment_id=deployment.pk, task_id="a-1")
    deployment.refresh_from_db()
    assert deployment.pending_action == ""
    assert deployment.last_error == "Stop failed: The key this deployment used was deleted."
    assert services.deployments_sweep_due(now=NOW) == 0


# --- submissions: the sweep never races a retry chain that is alive -----------------------------


def test_submit_task_retry_tells_the_sweep_when_it_comes(account, api, monkeypatch):
    deployment = DeploymentFactory(account=account, name="flaky")
    api.post("/deployments").respond(503, json={"error": {"message": "overloaded"}})
    asked = []

    def fake_retry(*, countdown, exc):
        asked.append(countdown)
        raise Transient("retry recorded")

    monkeypatch.setattr(submit_deployment_task, "retry", fake_retry)
    before = timezone.now()
    with pytest.raises(Transient):
        submit_deployment_task.apply(args=(deployment.pk,), task_id="task-1", throw=True)
    deployment.refresh_from_db()
    assert deployment.state == State.SUBMITTING
    assert deployment.attempt_id == ""  # not held while it waits
    expected = before + dt.timedelta(seconds=asked[0])
    assert expected - dt.timedelta(seconds=2) <= deployment.next_attempt_at <= expected + dt.timedelta(seconds=2)


def test_sweep_leaves_a_submission_whose_retry_chain_is_alive(account, sent):
    # Six minutes into its own chain, next retry in a minute: the old 90 s rule re-sent this.
    deployment = DeploymentFactory(account=account, state=State.SUBMITTING, submit_task_id="chain")
    Deployment.objects.filter(pk=deployment.pk).update(
        submit_started_at=ago(360), state_changed_at=ago(360), next_attempt_at=NOW + dt.timedelta(seconds=60)
    )
    assert services.deployments_sweep_due(now=NOW) == 0
    sent["resubmitted"].assert_not_called()
    assert Deployment.objects.get(pk=deployment.pk).submit_task_id == "chain"


def test_sweep_resends_a_submission_whose_retry_never_came(account, sent):
    deployment = DeploymentFactory(account=account, state=State.SUBMITTING, submit_task_id="chain")
    Deployment.objects.filter(pk=deployment.pk).update(submit_started_at=ago(360), next_attempt_at=ago(100))
    assert services.deployments_sweep_due(now=NOW) == 1
    deployment.refresh_from_db()
    assert deployment.submit_task_id != "chain"  # the old chain, should it wake, stops
    sent["resubmitted"].assert_called_once_with((deployment.pk,), task_id=deployment.submit_task_id)
    assert "The attempt sending it went quiet; sent again, looking first for anything it made" in messages(deployment)


def test_sweep_leaves_a_submission_a_live_attempt_holds(account, sent):
    deployment = DeploymentFactory(account=account, state=State.SUBMITTING, submit_task_id="chain")
    Deployment.objects.filter(pk=deployment.pk).update(
        submit_started_at=ago(360), next_attempt_at=None, attempt_id="chain", attempt_claimed_at=ago(30)
    )
    assert services.deployments_sweep_due(now=NOW) == 0
    sent["resubmitted"].assert_not_called()


def test_sweep_resends_a_queued_row_nobody_picked_up(account, sent):
    deployment = DeploymentFactory(account=account, state=State.QUEUED)
    Deployment.objects.filter(pk=deployment.pk).update(state_changed_at=ago(100), next_attempt_at=ago(100))
    assert services.deployments_sweep_due(now=NOW) == 1
    sent["queued"].assert_called_once_with(deployment.pk)
    assert services.deployments_sweep_due(now=NOW + dt.timedelta(seconds=5)) == 0


def test_sweep_resends_a_backlog_with_growing_waits_not_on_every_pass(account, sent, settings):
    """Found by the chaos suite: with 300 rows queued behind slow workers, every sweep sent
    every one of them again (once per stale margin), flooding the broker with copies. Each
    re-send now waits as long again as the row has waited."""
    settings.PANEL_STALE_WORK_SECONDS = 4
    deployment = DeploymentFactory(account=account, state=State.QUEUED)
    Deployment.objects.filter(pk=deployment.pk).update(state_changed_at=ago(10), next_attempt_at=ago(10))
    sends = [
        services.deployments_sweep_due(now=NOW + dt.timedelta(seconds=t)) for t in (0, 0, 5, 10, 15, 20, 30, 45, 60)
    ]
    # Waited 10 s at the first send: due again 10 s + 4 s later (t=14, seen at 15), then it
    # has waited 25 s: due at 15 + 25 + 4 = 44 (seen at 45).
    assert sends == [1, 0, 0, 0, 1, 0, 0, 1, 0]
    assert sent["queued"].call_count == 3


def test_two_sweeps_at_once_send_a_row_once(account, sent):
    deployment = DeploymentFactory(account=account, state=State.QUEUED)
    Deployment.objects.filter(pk=deployment.pk).update(state_changed_at=ago(100), next_attempt_at=ago(100))
    real_update = Deployment.objects.filter(pk=deployment.pk).update
    # The other sweep wins the row between this sweep's read and its update.
    from controlpanel.deployments.services import sweeps

    original = sweeps._resend_at
    raced = []

    def other_sweep_first(now, waiting_since):
        if not raced:
            raced.append(True)
            real_update(next_attempt_at=NOW)
        return original(now, waiting_since)

    with mock.patch.object(sweeps, "_resend_at", side_effect=other_sweep_first):
        assert services.deployments_sweep_due(now=NOW) == 0
    sent["queued"].assert_not_called()


# --- a delete of a row whose create may have reached the vendor ----------------------------------


def submitting(account, name):
    deployment = DeploymentFactory(account=account, name=name, state=State.SUBMITTING, submit_task_id="t-1")
    Deployment.objects.filter(pk=deployment.pk).update(submit_attempts=1, submit_started_at=timezone.now())
    deployment.refresh_from_db()
    return deployment


def messages(deployment):
    return list(deployment.events.order_by("pk").values_list("message", flat=True))


def test_delete_while_submitting_finds_what_the_create_made_and_deletes_it(owner, account, api):
    deployment = submitting(account, "orphan")
    services.deployment_request_action(deployment=deployment, actor=owner, action=Action.DELETE)
    deployment.refresh_from_db()
    assert (deployment.state, deployment.pending_action) == (State.DELETING, "delete")
    found = api.get("/deployments/orphan").respond(200, json=item(name="orphan", status="Updating"))
    delete = api.delete("/deployments/dep_orphan").respond(200, json={})
    services.deployment_run_action(deployment_id=deployment.pk, task_id="a-1")
    deployment.refresh_from_db()
    assert (found.call_count, delete.call_count) == (1, 1)
    assert deployment.external_id == "dep_orphan"  # the poll confirms the delete
    assert deployment.state == State.DELETING
    assert any("Found dep_orphan" in m and "deleting it" in m for m in messages(deployment))


def test_delete_while_submitting_with_nothing_at_the_vendor_ends_deleted(owner, account, api):
    deployment = submitting(account, "never-made")
    services.deployment_request_action(deployment=deployment, actor=owner, action=Action.DELETE)
    api.get("/deployments/never-made").respond(404, json={"error": {"message": "not found"}})
    services.deployment_run_action(deployment_id=deployment.pk, task_id="a-1")
    deployment.refresh_from_db()
    assert deployment.state == State.DELETED
    assert "Nothing named never-made at Together AI: the create never got there" in messages(deployment)


def test_a_create_that_lands_after_the_delete_is_deleted_at_the_vendor(owner, account, api, sent):
    deployment = DeploymentFactory(account=account, name="late")

    def create_while_someone_deletes(request):
        # The person deletes while the attempt is waiting for the vendor's answer.
        services.deployment_request_action(deployment=deployment, actor=owner, action=Action.DELETE)
        return httpx.Response(200, json=item(name="late", status="Updating", ready=0))

    api.post("/deployments").mock(side_effect=create_while_someone_deletes)
    services.deployment_submit(deployment_id=deployment.pk, task_id="t-1")
    deployment.refresh_from_db()
    assert (deployment.state, deployment.external_id, deployment.pending_action) == (
        State.DELETING,
        "dep_late",
        "delete",
    )
    sent["action"].assert_called_once_with(deployment.pk)  # the pending delete runs at once
    delete = api.delete("/deployments/dep_late").respond(200, json={})
    services.deployment_run_action(deployment_id=deployment.pk, task_id="a-1")
    assert delete.call_count == 1
    assert "Created on Together AI as dep_late after the delete was asked for; deleting it there" in messages(
        Deployment.objects.get(pk=deployment.pk)
    )


def test_a_create_that_lands_after_the_row_was_deleted_is_deleted_at_the_vendor(account, api):
    deployment = DeploymentFactory(account=account, name="gone")

    def create_while_the_row_is_deleted(request):
        Deployment.objects.filter(pk=deployment.pk).update(state=State.DELETED)
        return httpx.Response(200, json=item(name="gone", status="Updating", ready=0))

    api.post("/deployments").mock(side_effect=create_while_the_row_is_deleted)
    delete = api.delete("/deployments/dep_gone").respond(200, json={})
    services.deployment_submit(deployment_id=deployment.pk, task_id="t-1")
    assert delete.call_count == 1
    assert "Together AI created dep_gone after this deployment was deleted; deleted it there" in messages(
        Deployment.objects.get(pk=deployment.pk)
    )


def test_a_create_that_lands_after_the_row_failed_is_recorded_not_dropped(account, api):
    """Found by the chaos suite: a row failed while its create was on the way (a delete that
    could not find it yet) dropped the create's answer, and the resource billed unseen."""
    deployment = DeploymentFactory(account=account, name="late-failed")

    def create_while_the_row_fails(request):
        Deployment.objects.filter(pk=deployment.pk).update(state=State.FAILED)
        return httpx.Response(200, json=item(name="late-failed", status="Updating", ready=0))

    api.post("/deployments").mock(side_effect=create_while_the_row_fails)
    services.deployment_submit(deployment_id=deployment.pk, task_id="t-1")
    deployment.refresh_from_db()
    assert (deployment.state, deployment.external_id) == (State.FAILED, "dep_late-failed")  # the poll follows it
    assert "Created on Together AI as dep_late-failed after it had failed; following it again" in messages(deployment)


def test_a_delete_still_looking_for_what_the_create_made_is_not_given_up(owner, account, sent):
    """Found by the chaos suite: a delete of a row still submitting whose vendor kept failing
    was given up, the row failed, and what the create made later was never deleted. It
    stays pending for the sweep instead."""
    deployment = submitting(account, "still-looking")
    services.deployment_request_action(deployment=deployment, actor=owner, action=Action.DELETE)
    attempt_claim(deployment_id=deployment.pk, attempt_id="a-7")
    services.deployment_action_gave_up(deployment_id=deployment.pk, message="vendor error 503", task_id="a-7")
    deployment.refresh_from_db()
    assert (deployment.state, deployment.pending_action, deployment.attempt_id) == (State.DELETING, "delete", "")
    assert any("kept failing (vendor error 503) while the worker looked" in m for m in messages(deployment))
    later = timezone.now() + dt.timedelta(seconds=200)
    assert services.deployments_sweep_due(now=later) == 1
    sent["action"].assert_called_once_with(deployment.pk)


# --- provisioning deadlines ---------------------------------------------------------------------


def provisioning(account, name, minutes):
    deployment = DeploymentFactory(account=account, name=name, state=State.PROVISIONING, external_id=f"dep_{name}")
    long_ago = timezone.now() - dt.timedelta(minutes=minutes)
    Deployment.objects.filter(pk=deployment.pk).update(state_changed_at=long_ago, vendor_state="Updating")
    return deployment


def test_refresh_fails_a_deployment_that_never_came_up_and_stops_it(account, api, django_capture_on_commit_callbacks):
    deployment = provisioning(account, "slow", minutes=31)
    api.get("/deployments").respond(200, json={"data": [item(name="slow", status="Updating", ready=0)]})
    with django_capture_on_commit_callbacks() as callbacks:
        services.account_refresh(account_id=account.pk)
    deployment.refresh_from_db()
    assert deployment.state == State.FAILED
    assert deployment.status_message == "Did not come up within 30 minutes"
    assert deployment.pending_action == "stop"
    assert len(callbacks) == 1  # the stop is queued
    assert "Stop requested: did not come up within 30 minutes, and it may be billing on Together AI" in messages(
        deployment
    )
    stop = api.patch("/deployments/dep_slow").respond(200, json=item(name="slow", status="Updating", ready=0))
    services.deployment_run_action(deployment_id=deployment.pk, task_id="a-1")
    deployment.refresh_from_db()
    assert stop.call_count == 1
    assert deployment.state == State.STOPPING


def test_a_deployment_failed_for_its_deadline_is_not_provisioning_again_while_the_vendor_still_tries(account, api):
    deployment = provisioning(account, "stuck", minutes=31)
    api.get("/deployments").respond(200, json={"data": [item(name="stuck", status="Updating", ready=0)]})
    with mock.patch.object(deployment_action_task, "delay_on_commit"):
        services.account_refresh(account_id=account.pk)
    Deployment.objects.filter(pk=deployment.pk).update(pending_action="", vendor_state="Pending")
    services.account_refresh(account_id=account.pk)
    assert Deployment.objects.get(pk=deployment.pk).state == State.FAILED
    api.get("/deployments").respond(200, json={"data": [item(name="stuck", status="Ready")]})
    services.account_refresh(account_id=account.pk)
    assert Deployment.objects.get(pk=deployment.pk).state == State.RUNNING  # it did come up after all


def test_refresh_leaves_a_deployment_within_its_deadline(account, api):
    deployment = provisioning(account, "patient", minutes=29)
    api.get("/deployments").respond(200, json={"data": [item(name="patient", status="Updating", ready=0)]})
    services.account_refresh(account_id=account.pk)
    deployment.refresh_from_db()
    assert (deployment.state, deployment.pending_action) == (State.PROVISIONING, "")


def test_the_deadline_is_the_vendors_own(account, api, monkeypatch):
    monkeypatch.setattr(TogetherProvider, "provision_deadline", 10 * 60)
    deployment = provisioning(account, "quick", minutes=11)
    api.get("/deployments").respond(200, json={"data": [item(name="quick", status="Updating", ready=0)]})
    with mock.patch.object(deployment_action_task, "delay_on_commit"):
        services.account_refresh(account_id=account.pk)
    deployment.refresh_from_db()
    assert (deployment.state, deployment.last_error) == (State.FAILED, "Did not come up within 10 minutes")
    assert deployment.events.filter(kind=EventKind.STATE, to_state=State.FAILED).exists()
