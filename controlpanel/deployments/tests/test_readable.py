"""The state and the vendor's words never contradict each other, for every vendor's stop and
delete; a deleted deployment shows no live endpoint and its logs are not followed."""

from __future__ import annotations

import pytest
from django.urls import reverse

from controlpanel.deployments.models import LogSnapshot
from controlpanel.deployments.states import State
from providers.base import Action
from providers.registry import get_provider_class
from tests.factories import AccountFactory, DeploymentFactory

pytestmark = pytest.mark.django_db

# Each vendor's own word for running and for stopped (None: it has no stop), from its table.
WORDS = {
    "together": ("Ready", "ScaledToZero"),
    "nosana": ("RUNNING", "STOPPED"),
    "replicate": ("idle", "stopped"),
    "novita": ("running", "exited"),
    "fluence": ("ACTIVE", None),
}
NAMES = {
    "together": "Together AI",
    "nosana": "Nosana",
    "replicate": "Replicate",
    "novita": "Novita AI",
    "fluence": "Fluence",
}


def row(team, vendor, **fields):
    account = AccountFactory(team=team, vendor=vendor)
    defaults = {"external_id": f"{vendor}-1", "endpoint_url": "https://live.example/v1", "replicas_desired": 1}
    return DeploymentFactory(account=account, **{**defaults, **fields})


@pytest.mark.parametrize("vendor", sorted(WORDS))
def test_every_vendors_stop_reads_without_contradiction(team, vendor):
    running, stopped = WORDS[vendor]
    name = NAMES[vendor]
    live = row(team, vendor, state=State.RUNNING, vendor_state=running)
    assert live.vendor_words == f"{name} says {running}"
    if stopped is None:
        assert Action.STOP not in get_provider_class(vendor).actions  # Fluence: no stop to read
        return
    # Stop asked for; the vendor's last word is still the running one.
    live.pending_action = Action.STOP.value
    assert live.vendor_words == f"waiting for {name} to confirm the stop"
    assert live.state_label == "Stop…"
    # Accepted, its status lags: stopping, never "says Ready".
    live.pending_action, live.state = "", State.STOPPING
    assert live.vendor_words == f"waiting for {name} to report it stopped"
    # Stopped by the panel's record while the vendor's word is still the running one.
    live.state = State.STOPPED
    assert live.vendor_words == ""
    # Once the vendor reports its stopped word (Together: ScaledToZero), it is shown.
    live.vendor_state = stopped
    assert live.vendor_words == f"{name} says {stopped}"
    assert live.state_label == "Stopped"


@pytest.mark.parametrize("vendor", sorted(WORDS))
def test_every_vendors_delete_shows_no_vendor_words_or_endpoint(team, vendor):
    running, _ = WORDS[vendor]
    name = NAMES[vendor]
    deployment = row(team, vendor, state=State.RUNNING, vendor_state=running)
    deployment.pending_action = Action.DELETE.value
    assert deployment.vendor_words == f"waiting for {name} to confirm the delete"
    assert deployment.is_leaving
    deployment.pending_action, deployment.state = "", State.DELETED
    assert deployment.vendor_words == ""
    assert deployment.is_leaving


def test_replicate_asleep_reads_scaled_to_zero_and_its_stop_reads_stopped(team):
    asleep = row(team, "replicate", state=State.STOPPED, vendor_state="offline")
    assert (asleep.state_label, asleep.vendor_words) == ("Scaled to zero", "Replicate says offline")
    stopped = row(team, "replicate", state=State.STOPPED, vendor_state="stopped", external_id="acme/two")
    assert stopped.state_label == "Stopped"


def test_the_page_and_dashboard_never_say_stopped_and_ready(client, team, owner):
    deployment = row(team, "together", state=State.STOPPED, vendor_state="Ready", name="parked")
    client.force_login(owner)
    page = client.get(reverse("deployments:detail", args=[deployment.pk])).content.decode()
    dashboard = client.get(reverse("deployments:dashboard")).content.decode()
    for html in (page, dashboard):
        assert "says Ready" not in html
    deployment.vendor_state = "ScaledToZero"
    deployment.save()
    page = client.get(reverse("deployments:detail", args=[deployment.pk])).content.decode()
    assert "Together AI says ScaledToZero" in page


def test_a_deleted_deployment_has_no_live_endpoint_and_its_logs_are_not_followed(client, team, owner, monkeypatch):
    from controlpanel.deployments import tasks

    fetched: list[int] = []
    monkeypatch.setattr(tasks.fetch_logs_task, "delay_on_commit", lambda pk: fetched.append(pk))
    deployment = row(team, "together", state=State.DELETED, vendor_state="Ready", status_message="2 replicas ready")
    LogSnapshot.objects.create(deployment=deployment, lines=["last line"])
    client.force_login(owner)
    page = client.get(reverse("deployments:detail", args=[deployment.pk])).content.decode()
    assert "https://live.example/v1" not in page
    assert "none: deleted" in page
    assert "2 replicas ready" not in page
    assert "says Ready" not in page
    assert "?follow=0" in page
    assert "?follow=1" not in page
    # A page opened before the delete asks to follow: it gets the last lines, no more polling.
    logs = client.get(reverse("deployments:logs", args=[deployment.pk]) + "?follow=1", headers={"HX-Request": "true"})
    html = logs.content.decode()
    assert "last line" in html
    assert "hx-trigger" not in html
    assert "Deleted: no more logs come from Together AI" in html
    assert fetched == []  # nothing asked of the vendor for a deployment it no longer has
    dashboard = client.get(reverse("deployments:dashboard")).content.decode()
    assert "https://live.example/v1" not in dashboard
