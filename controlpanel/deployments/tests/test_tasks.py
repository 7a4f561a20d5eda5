from __future__ import annotations

import httpx
import pytest
import respx
from celery.exceptions import Retry
from django.utils import timezone

from controlpanel.deployments.models import Deployment, EventKind
from controlpanel.deployments.states import State
from controlpanel.deployments.tasks import (
    MAX_ACTION_RETRIES,
    MAX_SUBMIT_RETRIES,
    deployment_action_task,
    refresh_accounts_task,
    submit_deployment_task,
)
from tests.factories import DeploymentFactory


@pytest.fixture
def retries(monkeypatch):
    """Record the retry the task asks for instead of running it (eager retries run at once)."""
    asked = []

    def fake_retry(*, countdown, exc):
        asked.append(countdown)
        raise Retry(exc=exc, when=countdown)

    monkeypatch.setattr(submit_deployment_task, "retry", fake_retry)
    return asked


@pytest.fixture
def api(account):
    with respx.mock(base_url=account.base_url, assert_all_called=False) as mock:
        yield mock


def test_submit_task_retries_a_vendor_outage(account, api, retries):
    deployment = DeploymentFactory(account=account)
    api.post("/deployments").respond(503, json={"error": {"message": "overloaded"}})
    result = submit_deployment_task.apply(args=(deployment.pk,), task_id="task-1")
    deployment.refresh_from_db()
    assert result.state == "RETRY"
    assert deployment.state == State.SUBMITTING  # kept for the retry, which will look before creating
    assert deployment.submit_task_id == "task-1"
    assert len(retries) == 1
    assert 0 <= retries[0] <= 2


def test_submit_task_retries_429_honouring_retry_after(account, api, retries):
    deployment = DeploymentFactory(account=account)
    api.post("/deployments").respond(429, headers={"Retry-After": "7"}, json={"error": {"message": "slow down"}})
    result = submit_deployment_task.apply(args=(deployment.pk,), task_id="task-2")
    assert result.state == "RETRY"
    assert retries[0] >= 7  # never sooner than the vendor asked


def test_submit_task_gives_up_after_the_last_retry(account, api):
    deployment = DeploymentFactory(account=account, state=State.SUBMITTING, submit_task_id="task-3")
    api.get("/deployments/" + deployment.name).respond(404, json={"error": {"message": "not found"}})
    api.post("/deployments").mock(side_effect=httpx.ConnectError("down"))
    submit_deployment_task.apply(args=(deployment.pk,), task_id="task-3", retries=MAX_SUBMIT_RETRIES)
    deployment.refresh_from_db()
    assert deployment.state == State.FAILED
    assert "Gave up after repeated vendor errors" in deployment.last_error


def test_refresh_sweep_leases_and_enqueues_each_due_account(account, monkeypatch):
    DeploymentFactory(account=account, state=State.RUNNING, external_id="dep_1")
    sent = []
    monkeypatch.setattr("controlpanel.deployments.tasks.refresh_account_task.delay", sent.append)
    refresh_accounts_task.apply()
    refresh_accounts_task.apply()  # the lease holds: no second refresh in flight
    assert sent == [account.pk]
    assert Deployment.objects.count() == 1


def test_action_task_whose_row_stayed_busy_keeps_the_action_pending_rather_than_blame_the_vendor(account):
    """Found by the chaos suite: a stop whose row a killed worker's claim held through every
    retry was given up as "the vendor kept failing". It stays pending for the sweep instead."""
    deployment = DeploymentFactory(account=account, state=State.RUNNING, external_id="dep_busy")
    Deployment.objects.filter(pk=deployment.pk).update(
        pending_action="stop", pending_since=timezone.now(), attempt_id="dead-worker", attempt_claimed_at=timezone.now()
    )
    deployment_action_task.apply(args=(deployment.pk,), task_id="act-9", retries=MAX_ACTION_RETRIES)
    deployment.refresh_from_db()
    assert (deployment.pending_action, deployment.last_error) == ("stop", "")
    assert not deployment.events.filter(kind=EventKind.ERROR).exists()
    assert deployment.attempt_id == "dead-worker"  # not ours to release
