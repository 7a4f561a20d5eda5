"""Toasts say what happened and no more; a broker that refuses never turns a saved
request into an error (the row is the record; a sweep sends it later)."""

from __future__ import annotations

import datetime as dt
import json
import logging
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError

from controlpanel.core.heartbeat import beat
from controlpanel.core.models import Heartbeat
from controlpanel.deployments.models import Deployment
from controlpanel.deployments.states import State
from controlpanel.deployments.tasks import deployment_action_task, fetch_logs_task, submit_deployment_task
from controlpanel.deployments.tests.test_views import valid_post
from tests.factories import DeploymentFactory, post_confirmed

HX = {"HTTP_HX_REQUEST": "true"}
SAVED = "Saved; it will be sent to Together AI when the worker is back."


@pytest.fixture(autouse=True)
def _uncached(settings):
    settings.PANEL_PARTS_CACHE_SECONDS = 0


@pytest.fixture
def worker_running(db):
    beat("worker", "w1")
    beat("beat", "w1")


def _toast(response) -> dict:
    return json.loads(response["HX-Trigger"])["toast"]


def _bulk_outcome(response) -> str:
    body = response.content.decode()
    assert 'id="bulk-outcome" hx-swap-oob="true"' in body
    return body


def _refusing(task):
    return mock.patch.object(task, "apply_async", side_effect=OperationalError("[Errno 111] Connection refused"))


def _messages(response) -> str:
    return " ".join(str(m) for m in response.context["messages"]) if response.context else ""


# --- 3. no toast claims a vendor call that has not happened -----------------------------------


def test_stop_toast_says_requested_and_who_sends_it(logged_in, account, worker_running):
    deployment = DeploymentFactory(account=account, state=State.RUNNING, external_id="dep_1")
    response = logged_in.post(reverse("deployments:action", args=[deployment.pk, "stop"]), **HX)
    assert response.status_code == 200
    assert b"<html" not in response.content
    assert _toast(response)["message"] == "Stop requested; the worker sends it to Together AI."


@pytest.mark.parametrize(("name", "words"), [("delete", "Delete requested"), ("redeploy", "Redeploy requested")])
def test_action_toasts_never_say_sent(logged_in, account, worker_running, name, words):
    deployment = DeploymentFactory(account=account, state=State.RUNNING, external_id="dep_2")
    message = _toast(logged_in.post(reverse("deployments:action", args=[deployment.pk, name]), **HX))["message"]
    assert message == f"{words}; the worker sends it to Together AI."
    assert "sent" not in message


def test_scale_toast_says_requested(logged_in, account, worker_running):
    deployment = DeploymentFactory(account=account, state=State.RUNNING, external_id="dep_3")
    response = logged_in.post(
        reverse("deployments:scale", args=[deployment.pk]), {"min_replicas": "2", "max_replicas": "2"}, **HX
    )
    assert _toast(response)["message"] == "New replica counts requested; the worker sends it to Together AI."


def test_stop_toast_while_the_worker_is_down_says_it_waits(logged_in, account):
    Heartbeat.objects.create(kind="worker", hostname="w1", seen_at=timezone.now() - dt.timedelta(seconds=130))
    deployment = DeploymentFactory(account=account, state=State.RUNNING, external_id="dep_4")
    message = _toast(logged_in.post(reverse("deployments:action", args=[deployment.pk, "stop"]), **HX))["message"]
    assert message == (
        "Stop requested; the worker, which has not been seen for 2 minutes, sends it to Together AI when it is back."
    )


def test_delete_of_what_never_reached_the_vendor_says_so(logged_in, account, worker_running):
    deployment = DeploymentFactory(account=account, state=State.QUEUED)
    message = _toast(logged_in.post(reverse("deployments:action", args=[deployment.pk, "delete"]), **HX))["message"]
    assert message == "Deleted; there was nothing at Together AI to delete."
    deployment.refresh_from_db()
    assert deployment.state == State.DELETED


def test_bulk_stop_toast_says_requested(logged_in, account, worker_running):
    deployment = DeploymentFactory(account=account, name="alpha", state=State.RUNNING, external_id="dep_5")
    response = logged_in.post(reverse("deployments:bulk"), {"action": "stop", "ids": [deployment.pk]}, **HX)
    # The bulk outcome stays above the table (out of band), not in a toast.
    assert "Stop requested for 1 (alpha); the worker sends it to the vendor." in _bulk_outcome(response)


def test_create_message_says_queued_and_who_sends_it(logged_in, account, worker_running):
    response = post_confirmed(logged_in, reverse("deployments:create", args=["together"]), valid_post(account))
    assert response.status_code == 302
    page = logged_in.get(response["Location"])
    assert "flux-worker is queued; the worker sends it to Together AI." in _messages(page)


# --- 4. a broker that refuses: saved, said so, never raised -----------------------------------


@pytest.mark.django_db(transaction=True)
def test_stop_with_the_broker_down_is_saved_and_says_so(logged_in, account, worker_running, caplog):
    deployment = DeploymentFactory(account=account, state=State.RUNNING, external_id="dep_6")
    with _refusing(deployment_action_task), caplog.at_level(logging.WARNING, logger="controlpanel.core.queueing"):
        response = logged_in.post(reverse("deployments:action", args=[deployment.pk, "stop"]), **HX)
    assert response.status_code == 200
    assert b'id="deployment-live"' in response.content
    assert _toast(response) == {"message": f"Stop requested. {SAVED}", "level": "success"}
    deployment.refresh_from_db()
    assert deployment.pending_action == "stop"  # the record the sweep re-sends from
    assert "broker unreachable (OperationalError" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_scale_with_the_broker_down_is_saved_and_says_so(logged_in, account, worker_running):
    deployment = DeploymentFactory(account=account, state=State.RUNNING, external_id="dep_7")
    with _refusing(deployment_action_task):
        response = logged_in.post(
            reverse("deployments:scale", args=[deployment.pk]), {"min_replicas": "2", "max_replicas": "3"}, **HX
        )
    assert response.status_code == 200
    assert _toast(response)["message"] == f"New replica counts requested. {SAVED}"
    assert Deployment.objects.get(pk=deployment.pk).pending_params == {"min_replicas": 2, "max_replicas": 3}


@pytest.mark.django_db(transaction=True)
def test_create_with_the_broker_down_answers_303_and_saves_one_row(logged_in, account, worker_running):
    with _refusing(submit_deployment_task) as refused:
        response = post_confirmed(logged_in, reverse("deployments:create", args=["together"]), valid_post(account))
    assert refused.call_count == 1
    deployment = Deployment.objects.get()  # exactly one
    assert response.status_code == 302
    assert response["Location"] == reverse("deployments:detail", args=[deployment.pk])
    assert deployment.state == State.QUEUED  # deployments_requeue_stale sends it later
    page = logged_in.get(response["Location"])
    assert f"flux-worker is queued. {SAVED}" in _messages(page)


@pytest.mark.django_db(transaction=True)
def test_create_over_htmx_with_the_broker_down_redirects_once(logged_in, account, worker_running):
    with _refusing(submit_deployment_task):
        response = post_confirmed(
            logged_in, reverse("deployments:create", args=["together"]), valid_post(account), **HX
        )
    deployment = Deployment.objects.get()
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("deployments:detail", args=[deployment.pk])


@pytest.mark.django_db(transaction=True)
def test_start_with_the_broker_down_is_saved_and_says_so(logged_in, account, worker_running):
    deployment = DeploymentFactory(account=account, state=State.STOPPED, external_id="dep_8")
    with _refusing(submit_deployment_task):
        response = logged_in.post(reverse("deployments:action", args=[deployment.pk, "start"]))
    assert response.status_code == 302
    assert Deployment.objects.get(pk=deployment.pk).state == State.QUEUED
    assert f"Start requested. {SAVED}" in _messages(logged_in.get(response["Location"]))


@pytest.mark.django_db(transaction=True)
def test_bulk_stop_with_the_broker_down_asks_the_broker_once(logged_in, account, worker_running):
    rows = [DeploymentFactory(account=account, name=n, state=State.RUNNING, external_id=f"dep_{n}") for n in ("a", "b")]
    with _refusing(deployment_action_task) as refused:
        response = logged_in.post(reverse("deployments:bulk"), {"action": "stop", "ids": [r.pk for r in rows]}, **HX)
    assert response.status_code == 200
    assert refused.call_count == 1  # the second row does not wait on a broker that just refused
    assert "Stop requested for 2 (a, b). Saved; it will be sent to the vendor when the worker is back." in (
        _bulk_outcome(response)
    )
    assert set(Deployment.objects.values_list("pending_action", flat=True)) == {"stop"}


@pytest.mark.django_db(transaction=True)
def test_logs_card_with_the_broker_down_still_answers(logged_in, account):
    deployment = DeploymentFactory(account=account, state=State.RUNNING, external_id="dep_9")
    with _refusing(fetch_logs_task) as refused:
        response = logged_in.get(reverse("deployments:logs", args=[deployment.pk]), **HX)
    assert refused.call_count == 1
    assert response.status_code == 200
    assert b"<html" not in response.content
