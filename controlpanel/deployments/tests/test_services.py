from __future__ import annotations

import datetime as dt
from decimal import Decimal

import httpx
import pytest
import respx
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from controlpanel.audit.models import AuditAction, AuditEntry
from controlpanel.credentials.models import KeyStatus, ProviderAccount
from controlpanel.deployments import services
from controlpanel.deployments.models import Deployment, DeploymentEvent, EventKind
from controlpanel.deployments.states import State
from controlpanel.teams.permissions import Role
from providers.base import Action, Transient
from tests.factories import DeploymentFactory, together_spec


def item(name="flux-worker", status="Ready", ready=1, desired=1, **extra):
    """A Together DeploymentResponseItem."""
    return {
        "id": f"dep_{name}",
        "object": "deployment",
        "name": name,
        "status": status,
        "image": "img",
        "gpu_type": "h100-80gb",
        "gpu_count": 1,
        "min_replicas": 1,
        "max_replicas": 2,
        "ready_replicas": ready,
        "desired_replicas": desired,
        "created_at": timezone.now().isoformat(),
        **extra,
    }


@pytest.fixture
def api(account):
    with respx.mock(base_url=account.base_url, assert_all_called=False) as mock:
        yield mock


# --- create -------------------------------------------------------------------------------------


def test_deployment_create_queues_records_and_enqueues_on_commit(
    owner, team, account, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        deployment = services.deployment_create(
            team=team, actor=owner, account=account, spec=together_spec(), estimated_price_per_hour=Decimal("3.36")
        )
    assert deployment.state == State.QUEUED
    assert deployment.created_by == owner
    assert len(callbacks) == 1  # submit_deployment_task, after commit
    event = deployment.events.get()
    assert (event.to_state, event.actor, event.kind) == (State.QUEUED, owner, EventKind.STATE)
    entry = AuditEntry.objects.get(action=AuditAction.DEPLOYMENT_CREATED)
    assert entry.actor == owner
    assert "flux-worker" in entry.summary
    assert "$3.36/h" in entry.summary


def test_deployment_create_refused_for_viewer(make_member, team, account):
    viewer = make_member(Role.VIEWER)
    with pytest.raises(PermissionDenied):
        services.deployment_create(team=team, actor=viewer, account=account, spec=together_spec())
    assert not Deployment.objects.exists()


def test_deployment_create_refuses_another_teams_key(owner, team, other_team):
    with pytest.raises(ValidationError):
        services.deployment_create(team=team, actor=owner, account=other_team["account"], spec=together_spec())


# --- submit -------------------------------------------------------------------------------------


def test_submit_creates_at_vendor_and_moves_to_provisioning(account, api):
    deployment = DeploymentFactory(account=account, name="flux-worker")
    route = api.post("/deployments").respond(200, json=item(status="Updating", ready=0))
    services.deployment_submit(deployment_id=deployment.pk, task_id="t-1")
    deployment.refresh_from_db()
    assert route.call_count == 1
    assert deployment.state == State.PROVISIONING
    assert deployment.external_id == "dep_flux-worker"
    assert deployment.vendor_state == "Updating"
    states = list(deployment.events.filter(kind=EventKind.STATE).order_by("pk").values_list("to_state", flat=True))
    assert states == [State.SUBMITTING, State.PROVISIONING]


def test_submit_is_idempotent_for_another_task_id(account, api):
    deployment = DeploymentFactory(account=account, state=State.PROVISIONING, external_id="dep_x")
    route = api.post("/deployments").respond(200, json=item())
    services.deployment_submit(deployment_id=deployment.pk, task_id="someone-else")
    assert route.call_count == 0


def test_submit_retry_adopts_what_an_earlier_attempt_created(account, api):
    deployment = DeploymentFactory(account=account, name="flux-worker")
    create = api.post("/deployments").mock(side_effect=httpx.ReadTimeout("lost"))
    with pytest.raises(Transient):
        services.deployment_submit(deployment_id=deployment.pk, task_id="t-1")
    deployment.refresh_from_db()
    assert deployment.state == State.SUBMITTING
    # The vendor did create it; the retry (same task id) must find it, not create again.
    found = api.get("/deployments/flux-worker").respond(200, json=item(status="Updating", ready=0))
    services.deployment_submit(deployment_id=deployment.pk, task_id="t-1")
    deployment.refresh_from_db()
    assert found.call_count == 1
    assert create.call_count == 1
    assert deployment.state == State.PROVISIONING
    assert deployment.external_id == "dep_flux-worker"


def test_submit_retry_does_not_adopt_an_older_namesake(account, api):
    deployment = DeploymentFactory(account=account, name="flux-worker", state=State.SUBMITTING, submit_task_id="t-1")
    Deployment.objects.filter(pk=deployment.pk).update(submit_started_at=timezone.now())
    old = item(created_at=(timezone.now() - dt.timedelta(days=3)).isoformat())
    api.get("/deployments/flux-worker").respond(200, json=old)
    create = api.post("/deployments").respond(
        400, json={"error": {"message": "a deployment named 'flux-worker' already exists", "param": "name"}}
    )
    services.deployment_submit(deployment_id=deployment.pk, task_id="t-1")
    deployment.refresh_from_db()
    assert create.call_count == 1
    assert deployment.state == State.FAILED
    assert deployment.error_fields == {"name": ["a deployment named 'flux-worker' already exists"]}


def test_submit_vendor_400_fails_with_field_errors(account, api):
    deployment = DeploymentFactory(account=account)
    api.post("/deployments").respond(
        400,
        json={
            "error": {
                "message": "volume 'weights' not found",
                "type": "invalid_request_error",
                "param": "volumes.0.name",
            }
        },
    )
    services.deployment_submit(deployment_id=deployment.pk, task_id="t-1")
    deployment.refresh_from_db()
    assert deployment.state == State.FAILED
    assert deployment.error_fields == {"volumes.0.name": ["volume 'weights' not found"]}
    assert "volume 'weights' not found" in deployment.last_error


def test_submit_refused_key_fails_and_marks_the_account(account, api):
    deployment = DeploymentFactory(account=account)
    api.post("/deployments").respond(401, json={"error": {"message": "Invalid API key provided."}})
    services.deployment_submit(deployment_id=deployment.pk, task_id="t-1")
    deployment.refresh_from_db()
    account.refresh_from_db()
    assert deployment.state == State.FAILED
    assert account.status == KeyStatus.INVALID
    assert "Invalid API key provided." in account.status_message


def test_submit_of_a_stopped_deployment_starts_it(account, api):
    deployment = DeploymentFactory(
        account=account, name="flux-worker", state=State.QUEUED, external_id="dep_flux-worker"
    )
    patch = api.patch("/deployments/dep_flux-worker").respond(200, json=item(status="Scaling", ready=0))
    create = api.post("/deployments").respond(200, json=item())
    services.deployment_submit(deployment_id=deployment.pk, task_id="t-9")
    deployment.refresh_from_db()
    assert create.call_count == 0
    assert patch.calls.last.request.content == b'{"min_replicas":1,"max_replicas":2}'
    assert deployment.state == State.PROVISIONING


def test_submit_gave_up_fails_in_plain_words(account):
    deployment = DeploymentFactory(account=account, state=State.SUBMITTING, submit_task_id="t-1")
    services.deployment_submit_gave_up(deployment_id=deployment.pk, task_id="t-1", message="vendor error 503")
    deployment.refresh_from_db()
    assert deployment.state == State.FAILED
    assert deployment.last_error == "Gave up after repeated vendor errors: vendor error 503"


# --- polling ----------------------------------------------------------------------------------------


def test_refresh_moves_rows_to_what_the_vendor_lists(account, api):
    running = DeploymentFactory(account=account, name="a", state=State.PROVISIONING, external_id="dep_a")
    api.get("/deployments").respond(200, json={"object": "list", "data": [item(name="a", ready=2, desired=2)]})
    services.account_refresh(account_id=account.pk)
    running.refresh_from_db()
    account.refresh_from_db()
    assert running.state == State.RUNNING
    assert (running.replicas_ready, running.replicas_desired) == (2, 2)
    assert running.price_per_hour == Decimal("6.72")  # 2 ready replicas x 1 H100 at the estimate
    assert account.last_refreshed_at is not None
    assert account.refresh_lease_until is None


def test_refresh_marks_a_forgotten_deployment_lost_after_asking_by_id(account, api):
    gone = DeploymentFactory(account=account, name="b", state=State.RUNNING, external_id="dep_b")
    api.get("/deployments").respond(200, json={"object": "list", "data": []})
    by_id = api.get("/deployments/dep_b").respond(404, json={"error": {"message": "not found"}})
    services.account_refresh(account_id=account.pk)
    gone.refresh_from_db()
    assert by_id.call_count == 1
    assert gone.state == State.LOST


def test_refresh_confirms_a_delete(account, api):
    deleting = DeploymentFactory(account=account, name="c", state=State.DELETING, external_id="dep_c")
    api.get("/deployments").respond(200, json={"object": "list", "data": []})
    api.get("/deployments/dep_c").respond(404, json={"error": {"message": "not found"}})
    services.account_refresh(account_id=account.pk)
    deleting.refresh_from_db()
    assert deleting.state == State.DELETED


def test_refresh_writes_nothing_visible_when_nothing_changed(account, api):
    steady = DeploymentFactory(account=account, name="d", state=State.RUNNING, external_id="dep_d")
    api.get("/deployments").respond(200, json={"object": "list", "data": [item(name="d")]})
    services.account_refresh(account_id=account.pk)
    steady.refresh_from_db()
    stamp = steady.updated_at
    services.account_refresh(account_id=account.pk)
    steady.refresh_from_db()
    assert steady.updated_at == stamp  # the dashboard's version does not move
    assert steady.checked_at > stamp


def test_refresh_with_a_refused_key_marks_the_account(account, api):
    DeploymentFactory(account=account, state=State.RUNNING, external_id="dep_e")
    api.get("/deployments").respond(401, json={"error": {"message": "Invalid API key provided."}})
    services.account_refresh(account_id=account.pk)
    account.refresh_from_db()
    assert account.status == KeyStatus.INVALID
    assert "refused the key" in account.last_refresh_error


def test_refresh_lease_goes_to_one_caller(account):
    DeploymentFactory(account=account, state=State.RUNNING, external_id="dep_f")
    assert services.account_claim_due_refresh() == [account.pk]
    assert services.account_claim_due_refresh() == []  # leased
    ProviderAccount.objects.filter(pk=account.pk).update(refresh_lease_until=timezone.now() - dt.timedelta(seconds=1))
    assert services.account_claim_due_refresh() == [account.pk]  # lease expired: a crashed worker's turn passes on


def test_requeue_stale_resends_lost_submissions(account):
    from unittest import mock

    queued = DeploymentFactory(account=account, state=State.QUEUED)
    submitting = DeploymentFactory(account=account, state=State.SUBMITTING, submit_task_id="old")
    long_ago = timezone.now() - dt.timedelta(minutes=10)
    Deployment.objects.filter(pk=queued.pk).update(state_changed_at=long_ago)
    Deployment.objects.filter(pk=submitting.pk).update(submit_started_at=long_ago, state_changed_at=long_ago)
    with (
        mock.patch("controlpanel.deployments.tasks.submit_deployment_task.delay") as delay,
        mock.patch("controlpanel.deployments.tasks.submit_deployment_task.apply_async") as apply_async,
    ):
        assert services.deployments_requeue_stale() == 2
    delay.assert_called_once_with(queued.pk)
    submitting.refresh_from_db()
    assert submitting.submit_task_id != "old"
    apply_async.assert_called_once_with((submitting.pk,), task_id=submitting.submit_task_id)


# --- actions ---------------------------------------------------------------------------------------------


def test_request_stop_is_pending_until_the_worker_runs_it(owner, account, api, django_capture_on_commit_callbacks):
    deployment = DeploymentFactory(account=account, name="g", state=State.RUNNING, external_id="dep_g")
    with django_capture_on_commit_callbacks() as callbacks:
        services.deployment_request_action(deployment=deployment, actor=owner, action=Action.STOP)
    deployment.refresh_from_db()
    assert deployment.pending_action == "stop"
    assert len(callbacks) == 1
    assert AuditEntry.objects.filter(action=AuditAction.DEPLOYMENT_STOPPED, actor=owner).exists()
    api.patch("/deployments/dep_g").respond(200, json=item(name="g", status="Scaling", max_replicas=0, desired=0))
    services.deployment_run_action(deployment_id=deployment.pk)
    deployment.refresh_from_db()
    assert deployment.pending_action == ""
    assert deployment.state == State.STOPPING
    stop_event = deployment.events.filter(kind=EventKind.STATE, to_state=State.STOPPING).get()
    assert stop_event.actor == owner  # the timeline says who stopped it


def test_vendor_refusal_of_an_action_keeps_state_and_says_why(owner, account, api):
    deployment = DeploymentFactory(account=account, name="h", state=State.RUNNING, external_id="dep_h")
    services.deployment_request_action(
        deployment=deployment, actor=owner, action=Action.SCALE, params={"min_replicas": 3, "max_replicas": 3}
    )
    api.patch("/deployments/dep_h").respond(402, json={"error": {"message": "Insufficient credits"}})
    services.deployment_run_action(deployment_id=deployment.pk)
    deployment.refresh_from_db()
    assert deployment.state == State.RUNNING
    assert deployment.pending_action == ""
    assert deployment.last_error == "Scale to 3–3 replicas failed: Insufficient credits"
    assert deployment.events.filter(kind=EventKind.ERROR).exists()
    assert deployment.spec["min_replicas"] == 1  # unchanged until the vendor accepts


def test_scale_accepted_updates_the_spec(owner, account, api):
    deployment = DeploymentFactory(account=account, name="i", state=State.RUNNING, external_id="dep_i")
    services.deployment_request_action(
        deployment=deployment, actor=owner, action=Action.SCALE, params={"min_replicas": 2, "max_replicas": 4}
    )
    api.patch("/deployments/dep_i").respond(200, json=item(name="i", status="Scaling", ready=1, desired=2))
    services.deployment_run_action(deployment_id=deployment.pk)
    deployment.refresh_from_db()
    assert (deployment.spec["min_replicas"], deployment.spec["max_replicas"]) == (2, 4)
    assert deployment.state == State.UPDATING


def test_delete_of_a_deployment_never_sent_is_local(owner, account):
    deployment = DeploymentFactory(account=account, state=State.QUEUED)
    services.deployment_request_action(deployment=deployment, actor=owner, action=Action.DELETE)
    deployment.refresh_from_db()
    assert deployment.state == State.DELETED
    assert list(deployment.events.order_by("pk").values_list("to_state", flat=True)) == [State.DELETING, State.DELETED]


def test_delete_at_the_vendor(owner, account, api):
    deployment = DeploymentFactory(account=account, name="j", state=State.RUNNING, external_id="dep_j")
    services.deployment_request_action(deployment=deployment, actor=owner, action=Action.DELETE)
    route = api.delete("/deployments/dep_j").respond(200, json={})
    services.deployment_run_action(deployment_id=deployment.pk)
    deployment.refresh_from_db()
    assert route.call_count == 1
    assert deployment.state == State.DELETING


@pytest.mark.parametrize(
    ("state", "action", "reason"),
    [
        (State.RUNNING, Action.START, "Not possible while running."),
        (State.STOPPED, Action.STOP, "Not possible while stopped."),
        (State.QUEUED, Action.SCALE, "Not possible while queued."),
        (State.RUNNING, Action.RESTART, "Together AI has no restart for deployments."),
    ],
)
def test_action_refusal_reasons(account, state, action, reason):
    deployment = DeploymentFactory(account=account, state=state)
    assert services.action_refusal(deployment, action) == reason


def test_second_action_waits_for_the_first(owner, account):
    deployment = DeploymentFactory(account=account, state=State.RUNNING, external_id="dep_k")
    services.deployment_request_action(deployment=deployment, actor=owner, action=Action.STOP)
    with pytest.raises(ValidationError, match="Waiting for the vendor"):
        services.deployment_request_action(deployment=deployment, actor=owner, action=Action.DELETE)


def test_start_goes_through_the_queue(owner, account, django_capture_on_commit_callbacks):
    deployment = DeploymentFactory(account=account, state=State.STOPPED, external_id="dep_l")
    with django_capture_on_commit_callbacks() as callbacks:
        services.deployment_request_action(deployment=deployment, actor=owner, action=Action.START)
    deployment.refresh_from_db()
    assert deployment.state == State.QUEUED
    assert len(callbacks) == 1


def test_viewer_cannot_act(make_member, account):
    viewer = make_member(Role.VIEWER)
    deployment = DeploymentFactory(account=account, state=State.RUNNING, external_id="dep_m")
    with pytest.raises(PermissionDenied):
        services.deployment_request_action(deployment=deployment, actor=viewer, action=Action.STOP)
    assert not DeploymentEvent.objects.filter(deployment=deployment).exists()


def test_resubmit_after_a_vendor_refusal(owner, account, django_capture_on_commit_callbacks):
    deployment = DeploymentFactory(account=account, state=State.FAILED, error_fields={"name": ["taken"]})
    with django_capture_on_commit_callbacks() as callbacks:
        services.deployment_resubmit(deployment=deployment, actor=owner, spec=together_spec(name="flux-2"))
    deployment.refresh_from_db()
    assert deployment.state == State.QUEUED
    assert deployment.name == "flux-2"
    assert deployment.error_fields == {}
    assert len(callbacks) == 1


def test_logs_are_fetched_by_a_worker_and_shown(owner, account, api):
    deployment = DeploymentFactory(account=account, name="n", state=State.RUNNING, external_id="dep_n")
    api.get("/deployments/dep_n/logs").respond(200, json={"lines": ["INFO ready"]})
    # Together keeps revisions: read in the same fetch; their failure keeps the logs.
    api.get("/deployments/dep_n/revisions").respond(500, json={"error": {"message": "down"}})
    services.deployment_fetch_logs(deployment_id=deployment.pk)
    assert deployment.log_snapshot.lines == ["INFO ready"]
    assert deployment.log_snapshot.revisions == []


def test_refresh_of_a_steady_fleet_costs_a_few_queries_not_a_few_per_row(account, api, django_assert_max_num_queries):
    rows = [
        DeploymentFactory(account=account, name=f"s{i}", state=State.RUNNING, external_id=f"dep_s{i}")
        for i in range(25)
    ]
    api.get("/deployments").respond(200, json={"object": "list", "data": [item(name=f"s{i}") for i in range(25)]})
    services.account_refresh(account_id=account.pk)  # first poll: fields fill in
    with django_assert_max_num_queries(8):
        services.account_refresh(account_id=account.pk)
    rows[0].refresh_from_db()
    assert rows[0].checked_at is not None
