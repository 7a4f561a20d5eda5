from __future__ import annotations

import httpx
import pytest
import respx
from celery.exceptions import Retry

from controlpanel.deployments.models import Deployment
from controlpanel.deployments.states import State
from controlpanel.deployments.tasks import MAX_SUBMIT_RETRIES, refresh_accounts_task, submit_deployment_task
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
