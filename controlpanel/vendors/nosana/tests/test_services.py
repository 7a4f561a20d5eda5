"""The panel's services driving the Nosana adapter (respx at the account's base URL):
create-then-start, adopting a draft, stop of a failed deployment, archive as the end,
one-count scaling, and Nosana's events beside its logs."""

from __future__ import annotations

import copy

import httpx
import pytest
import respx
from django.core.exceptions import ValidationError
from django.utils import timezone

from controlpanel.deployments import services
from controlpanel.deployments.models import Deployment, EventKind, LogSnapshot
from controlpanel.deployments.states import State
from providers.base import Action, Transient
from providers.testing import load_fixture
from tests.factories import AccountFactory, DeploymentFactory

SPEC = {
    "name": "Hello World",
    "market": "7AtiXMSH6R1jjBxrcYjehCkkSF7zvYWte63gwEDBcGHq",
    "timeout": 60,
    "replicas": 1,
    "strategy": "SIMPLE",
    "confidential": True,
    "job_definition": {
        "version": "0.1",
        "type": "container",
        "meta": {"trigger": "api"},
        "ops": [
            {"type": "container/run", "id": "hello-world", "args": {"cmd": ["echo hello world"], "image": "ubuntu"}}
        ],
    },
}
DRAFT = load_fixture("nosana", "deployment_draft")
DRAFT_ID = DRAFT["id"]


def dep(**changes):
    return {**copy.deepcopy(DRAFT), "created_at": timezone.now().isoformat().replace("+00:00", "Z"), **changes}


def page(*items):
    return {
        "deployments": list(items),
        "pagination": {"cursor_next": None, "cursor_prev": None, "total_items": len(items)},
    }


@pytest.fixture
def nosana_account(team):
    return AccountFactory(team=team, vendor="nosana", label="Nosana sandbox", api_key="sandbox-nosana-services")


@pytest.fixture
def api(nosana_account):
    with respx.mock(base_url=nosana_account.base_url, assert_all_called=False) as mock:
        mock.get("/api/markets/").respond(200, json=load_fixture("nosana", "markets"))
        yield mock


def nosana_deployment(account, **fields) -> Deployment:
    return DeploymentFactory(account=account, name="Hello World", spec=copy.deepcopy(SPEC), **fields)


def test_nosana_submit_creates_then_starts(nosana_account, api):
    deployment = nosana_deployment(nosana_account)
    create = api.post("/api/deployments/create").respond(200, json=dep())
    start = api.post(f"/api/deployments/{DRAFT_ID}/start").respond(200, json={"status": "STARTING", "updated_at": "x"})
    services.deployment_submit(deployment_id=deployment.pk, task_id="t-1")
    deployment.refresh_from_db()
    assert (create.call_count, start.call_count) == (1, 1)
    assert (deployment.state, deployment.vendor_state, deployment.external_id) == (
        State.PROVISIONING,
        "STARTING",
        DRAFT_ID,
    )


def test_nosana_submit_retry_starts_the_draft_instead_of_creating_again(nosana_account, api):
    deployment = nosana_deployment(nosana_account)
    create = api.post("/api/deployments/create").respond(200, json=dep())
    start = api.post(f"/api/deployments/{DRAFT_ID}/start").mock(
        side_effect=[httpx.ConnectError("lost"), httpx.Response(200, json={"status": "STARTING", "updated_at": "x"})]
    )
    with pytest.raises(Transient):
        services.deployment_submit(deployment_id=deployment.pk, task_id="t-1")
    assert Deployment.objects.get(pk=deployment.pk).state == State.SUBMITTING
    # The retry finds the draft the first attempt made and starts it: no second create.
    api.get("/api/deployments").respond(200, json=page(dep()))
    api.get(f"/api/deployments/{DRAFT_ID}").respond(200, json=dep(status="STARTING"))
    services.deployment_submit(deployment_id=deployment.pk, task_id="t-1")
    deployment.refresh_from_db()
    assert (create.call_count, start.call_count) == (1, 2)
    assert (deployment.state, deployment.external_id) == (State.PROVISIONING, DRAFT_ID)


def test_nosana_refresh_keeps_provisioning_until_a_job_runs(nosana_account, api):
    deployment = nosana_deployment(nosana_account, state=State.PROVISIONING, external_id=DRAFT_ID)
    api.get("/api/deployments").respond(200, json=page(dep(status="RUNNING")))
    jobs = api.get(f"/api/deployments/{DRAFT_ID}/jobs").respond(200, json=load_fixture("nosana", "jobs_queued"))
    services.account_refresh(account_id=nosana_account.pk)
    deployment.refresh_from_db()
    assert (deployment.state, deployment.vendor_state) == (State.PROVISIONING, "RUNNING")
    assert deployment.status_message == "2 jobs are queued on the market, waiting for a node."
    jobs.respond(200, json=load_fixture("nosana", "jobs_running"))
    services.account_refresh(account_id=nosana_account.pk)
    deployment.refresh_from_db()
    assert (deployment.state, deployment.replicas_ready) == (State.RUNNING, 1)
    assert str(deployment.price_per_hour) == "0.0440"


def test_nosana_failed_deployment_can_be_stopped(owner, nosana_account, api):
    deployment = nosana_deployment(
        nosana_account, state=State.FAILED, external_id=DRAFT_ID, raw=dep(status="INSUFFICIENT_FUNDS")
    )
    assert services.action_refusal(deployment, Action.STOP) == ""
    services.deployment_request_action(deployment=deployment, actor=owner, action=Action.STOP)
    api.post(f"/api/deployments/{DRAFT_ID}/stop").respond(200, json={"status": "STOPPING", "updated_at": "x"})
    services.deployment_run_action(deployment_id=deployment.pk)
    deployment.refresh_from_db()
    assert deployment.state == State.STOPPING
    assert deployment.events.filter(kind=EventKind.STATE, to_state=State.STOPPING, actor=owner).exists()


def test_nosana_failed_before_reaching_the_vendor_has_nothing_to_stop(owner, nosana_account):
    deployment = nosana_deployment(nosana_account, state=State.FAILED)
    assert services.action_refusal(deployment, Action.STOP) == "It never reached Nosana: there is nothing to stop."
    with pytest.raises(ValidationError):
        services.deployment_request_action(deployment=deployment, actor=owner, action=Action.STOP)


def test_nosana_delete_is_refused_until_stopped_in_the_vendors_words(nosana_account):
    deployment = nosana_deployment(nosana_account, state=State.RUNNING, external_id=DRAFT_ID, raw=dep(status="RUNNING"))
    assert services.action_refusal(deployment, Action.DELETE) == (
        "Nosana deletes a deployment only once it is STOPPED; it is RUNNING. Stop it first."
    )


def test_nosana_archive_ends_in_deleted_once_the_poll_sees_it(owner, nosana_account, api):
    deployment = nosana_deployment(nosana_account, state=State.STOPPED, external_id=DRAFT_ID, raw=dep(status="STOPPED"))
    services.deployment_request_action(deployment=deployment, actor=owner, action=Action.ARCHIVE)
    api.post(f"/api/deployments/{DRAFT_ID}/archive").respond(200, json={"status": "ARCHIVED", "updated_at": "x"})
    services.deployment_run_action(deployment_id=deployment.pk)
    deployment.refresh_from_db()
    assert deployment.state == State.DELETING
    api.get("/api/deployments").respond(200, json=page(dep(status="ARCHIVED")))
    services.account_refresh(account_id=nosana_account.pk)
    deployment.refresh_from_db()
    assert deployment.state == State.DELETED
    messages = list(deployment.events.filter(kind=EventKind.STATE).order_by("pk").values_list("message", flat=True))
    assert messages[-2] == "Archive accepted"


def test_nosana_scale_is_one_count_and_updates_the_spec(owner, nosana_account, api):
    deployment = nosana_deployment(nosana_account, state=State.RUNNING, external_id=DRAFT_ID, raw=dep(status="RUNNING"))
    services.deployment_request_action(deployment=deployment, actor=owner, action=Action.SCALE, params={"replicas": 3})
    patch = api.patch(f"/api/deployments/{DRAFT_ID}/update-replica-count").respond(200, json={"replicas": 3})
    api.get(f"/api/deployments/{DRAFT_ID}").respond(200, json=dep(status="RUNNING", replicas=3))
    api.get(f"/api/deployments/{DRAFT_ID}/jobs").respond(200, json=load_fixture("nosana", "jobs_running"))
    services.deployment_run_action(deployment_id=deployment.pk)
    deployment.refresh_from_db()
    assert patch.call_count == 1
    assert deployment.spec["replicas"] == 3
    assert deployment.events.filter(message="Scale to 3 replicas requested").exists()
    assert deployment.events.filter(message="Scale to 3 replicas: accepted by Nosana").exists()


def test_nosana_logs_fetch_brings_the_vendors_events_too(nosana_account, api):
    deployment = nosana_deployment(nosana_account, state=State.RUNNING, external_id=DRAFT_ID)
    api.get(f"/api/deployments/{DRAFT_ID}/jobs").respond(200, json=load_fixture("nosana", "jobs_running"))
    api.get(f"/api/deployments/{DRAFT_ID}/events").respond(200, json=load_fixture("nosana", "events"))
    services.deployment_fetch_logs(deployment_id=deployment.pk)
    snapshot = LogSnapshot.objects.get(deployment=deployment)
    assert snapshot.error == ""
    assert snapshot.lines == [
        "Nosana publishes container logs when a job ends; no job of this deployment has ended yet."
    ]
    assert [e["kind"] for e in snapshot.events] == ["DEPLOYMENT_STARTING", "DEPLOYMENT_RUNNING", "job", "job"]
    assert snapshot.events[0] == {
        "message": "Deployment started.",
        "at": "2026-03-02T10:00:01+00:00",
        "kind": "DEPLOYMENT_STARTING",
    }


def test_nosana_events_failing_does_not_cost_the_logs(nosana_account, api):
    deployment = nosana_deployment(nosana_account, state=State.RUNNING, external_id=DRAFT_ID)
    api.get(f"/api/deployments/{DRAFT_ID}/jobs").respond(200, json=load_fixture("nosana", "jobs_running"))
    api.get(f"/api/deployments/{DRAFT_ID}/events").respond(404, json={"error": "Deployment not found."})
    services.deployment_fetch_logs(deployment_id=deployment.pk)
    snapshot = LogSnapshot.objects.get(deployment=deployment)
    assert (snapshot.error, snapshot.events, len(snapshot.lines)) == ("", [], 1)


# --- found by the chaos suite: a delete asked for while the create was in flight --------------


def test_nosana_delete_while_submitting_stops_what_the_create_made_first_then_deletes_it(owner, nosana_account, api):
    """Nosana deletes only STOPPED deployments: the panel's own delete of what a create made
    stops it first and deletes it once stopped, instead of failing on "incorrect state" and
    leaving the row deleting with nothing pending."""
    deployment = nosana_deployment(nosana_account, state=State.SUBMITTING, submit_task_id="t-1")
    Deployment.objects.filter(pk=deployment.pk).update(submit_attempts=1, submit_started_at=timezone.now())
    deployment.refresh_from_db()
    services.deployment_request_action(deployment=deployment, actor=owner, action=Action.DELETE)
    running = dep(status="RUNNING", active_jobs=1)
    api.get("/api/deployments").respond(200, json=page(running))
    stop = api.post(f"/api/deployments/{DRAFT_ID}/stop").respond(200, json={"status": "STOPPING", "updated_at": "x"})
    delete = api.delete(f"/api/deployments/{DRAFT_ID}").respond(204)
    with pytest.raises(Transient):
        services.deployment_run_action(deployment_id=deployment.pk, task_id="a-1")
    deployment.refresh_from_db()
    assert (stop.call_count, delete.call_count) == (1, 0)
    assert (deployment.state, deployment.pending_action, deployment.external_id) == (State.DELETING, "delete", DRAFT_ID)
    assert deployment.events.filter(message__startswith="Stopped it first").exists()

    looked = api.get(f"/api/deployments/{DRAFT_ID}").respond(200, json=dep(status="STOPPED"))
    services.deployment_run_action(deployment_id=deployment.pk, task_id="a-2")
    deployment.refresh_from_db()
    assert (stop.call_count, looked.call_count, delete.call_count) == (1, 1, 1)
    assert (deployment.state, deployment.pending_action) == (State.DELETING, "")  # the poll confirms it


def test_a_delete_of_what_a_create_made_that_fails_leaves_the_row_failed_not_deleting(owner, nosana_account, api):
    """A refused delete of a row the panel had put in "deleting" says so and lets go: the row
    is failed with the vendor's words (the poll then shows what the vendor has), never left
    deleting with nothing pending."""
    deployment = nosana_deployment(nosana_account, state=State.SUBMITTING, submit_task_id="t-1")
    Deployment.objects.filter(pk=deployment.pk).update(submit_attempts=1, submit_started_at=timezone.now())
    deployment.refresh_from_db()
    services.deployment_request_action(deployment=deployment, actor=owner, action=Action.DELETE)
    api.get("/api/deployments").respond(200, json=page(dep(status="RUNNING", active_jobs=1)))
    api.get(f"/api/deployments/{DRAFT_ID}").respond(200, json=dep(status="RUNNING", active_jobs=1))
    refused = {"error": "Deployment is in the incorrect state."}
    api.post(f"/api/deployments/{DRAFT_ID}/stop").respond(500, json=refused)
    services.deployment_run_action(deployment_id=deployment.pk, task_id="a-1")
    deployment.refresh_from_db()
    assert (deployment.state, deployment.pending_action) == (State.FAILED, "")
    event = deployment.events.filter(kind=EventKind.STATE, to_state=State.FAILED).get()
    assert event.message == "Not deleted: Deployment is in the incorrect state."


def test_a_delete_of_what_a_create_made_that_gave_up_leaves_the_row_failed_not_deleting(owner, nosana_account):
    deployment = nosana_deployment(nosana_account, state=State.SUBMITTING, submit_task_id="t-1")
    Deployment.objects.filter(pk=deployment.pk).update(submit_attempts=1, submit_started_at=timezone.now())
    deployment.refresh_from_db()
    services.deployment_request_action(deployment=deployment, actor=owner, action=Action.DELETE)
    Deployment.objects.filter(pk=deployment.pk).update(external_id=DRAFT_ID)  # found, then the vendor kept failing
    services.deployment_action_gave_up(deployment_id=deployment.pk, message="vendor error 503")
    deployment.refresh_from_db()
    assert (deployment.state, deployment.pending_action) == (State.FAILED, "")
    event = deployment.events.filter(kind=EventKind.STATE, to_state=State.FAILED).get()
    assert event.message == "Not deleted: the vendor kept failing (vendor error 503)"
