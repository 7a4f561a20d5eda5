"""Replicate in the panel: the create page and its confirmation, the deployment page
(scale in instances, the delete gate saying why and when, predictions as events) and
the services that run its actions, with respx standing in for the vendor."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
import respx
from django.urls import reverse
from django.utils import timezone

from controlpanel.deployments import services
from controlpanel.deployments.models import Deployment, LogSnapshot
from controlpanel.deployments.states import State
from providers.base import Action
from providers.testing import load_fixture
from tests.factories import AccountFactory, DeploymentFactory, post_confirmed

HX = {"HTTP_HX_REQUEST": "true"}
VERSION = "da77bc59ee60423279fd632efb4795ab731d9e3ca9705ef3341091fb989b7eaf"
SPEC = {
    "name": "team-sdxl",
    "model": "stability-ai/sdxl",
    "version": VERSION,
    "hardware": "gpu-l40s",
    "min_instances": 1,
    "max_instances": 3,
}


@pytest.fixture
def replicate_account(team):
    return AccountFactory(team=team, vendor="replicate", label="Replicate sandbox")


def form_post(account, **overrides):
    data = {"account": account.pk, **{k: str(v) for k, v in SPEC.items()}}
    data.update(overrides)
    return data


def replicate_deployment(account, *, state=State.RUNNING, min_instances=1, predictions=(), **fields):
    raw = load_fixture("replicate", "deployment")
    raw["current_release"]["configuration"]["min_instances"] = min_instances
    raw["recent_predictions"] = list(predictions)
    return DeploymentFactory(
        account=account,
        name="team-sdxl",
        spec={**SPEC, "min_instances": min_instances},
        state=state,
        external_id="acme/team-sdxl",
        raw=raw,
        **fields,
    )


# --- creating ---------------------------------------------------------------------------------------------


def test_replicate_create_page_renders_every_field(logged_in, replicate_account):
    content = logged_in.get(reverse("deployments:create", args=["replicate"])).content.decode()
    for name in ("account", "name", "model", "version", "hardware", "min_instances", "max_instances"):
        assert f'name="{name}"' in content, name
    assert "Replicate reports no status for deployments" in content
    assert "Nvidia T4 GPU (gpu-t4) — $0.81/h per instance" in content  # the price table before a sync


def test_replicate_create_confirms_the_amount_then_queues_the_spec(logged_in, replicate_account):
    url = reverse("deployments:create", args=["replicate"])
    first = logged_in.post(url, form_post(replicate_account), **HX).content.decode()
    assert "Confirm: this spends money" in first
    assert "$3.51/hour" in first
    assert "up to $10.53/hour" in first
    response = post_confirmed(logged_in, url, form_post(replicate_account))
    assert response.status_code == 302
    deployment = Deployment.objects.get(team=replicate_account.team)
    assert (deployment.vendor, deployment.state, deployment.spec) == ("replicate", State.QUEUED, SPEC)
    assert deployment.estimated_price_per_hour == Decimal("3.51")


def test_replicate_confirmation_names_the_amount_at_zero_minimum(logged_in, replicate_account):
    url = reverse("deployments:create", args=["replicate"])
    content = logged_in.post(url, form_post(replicate_account, min_instances="0"), **HX).content.decode()
    assert "about <strong>$0.00/hour</strong>, up to $10.53/hour" in content


def test_replicate_create_shows_rule_errors_on_fields(logged_in, replicate_account):
    url = reverse("deployments:create", args=["replicate"])
    content = logged_in.post(url, form_post(replicate_account, version="latest"), **HX).content.decode()
    assert content.index("A version id is 64 hexadecimal characters") > content.index('id="err-version"')
    assert not Deployment.objects.exists()


def test_replicate_edit_disables_name_and_model(logged_in, replicate_account):
    deployment = replicate_deployment(replicate_account)
    content = logged_in.get(reverse("deployments:edit", args=[deployment.pk])).content.decode()
    assert 'name="name" value="team-sdxl"' in content
    assert content.count("Fixed at creation: the vendor cannot change it.") == 2


# --- the deployment page ------------------------------------------------------------------------------------


def test_replicate_page_scales_in_instances(logged_in, replicate_account):
    deployment = replicate_deployment(replicate_account, min_instances=1)
    content = logged_in.get(reverse("deployments:detail", args=[deployment.pk])).content.decode()
    assert '<label for="scale-min">Minimum instances</label>' in content
    assert 'name="min_replicas" min="0" value="1"' in content
    assert 'name="max_replicas" min="1" value="3"' in content


def test_replicate_page_says_why_delete_waits_while_instances_are_kept(logged_in, replicate_account):
    deployment = replicate_deployment(replicate_account, min_instances=1)
    content = logged_in.get(reverse("deployments:detail", args=[deployment.pk])).content.decode()
    assert "Delete: Replicate deletes a deployment only after it has been offline and unused for 15 minutes" in content
    assert "stop it first (min_instances 0)" in content


def test_replicate_page_says_when_delete_becomes_possible(logged_in, replicate_account):
    stopped = timezone.now() - dt.timedelta(minutes=5)
    deployment = replicate_deployment(replicate_account, state=State.STOPPED, min_instances=0)
    Deployment.objects.filter(pk=deployment.pk).update(state_changed_at=stopped)
    content = logged_in.get(reverse("deployments:detail", args=[deployment.pk])).content.decode()
    when = (stopped + dt.timedelta(minutes=15)).astimezone(dt.UTC).strftime("%H:%M UTC")
    assert f"possible from {when}" in content
    response = logged_in.post(reverse("deployments:action", args=[deployment.pk, "delete"]), **HX)
    assert f"possible from {when}" in response["HX-Trigger"]
    assert Deployment.objects.get(pk=deployment.pk).pending_action == ""


def test_replicate_delete_allowed_after_15_quiet_minutes(logged_in, replicate_account):
    deployment = replicate_deployment(replicate_account, state=State.STOPPED, min_instances=0)
    Deployment.objects.filter(pk=deployment.pk).update(state_changed_at=timezone.now() - dt.timedelta(minutes=16))
    logged_in.post(reverse("deployments:action", args=[deployment.pk, "delete"]), **HX)
    assert Deployment.objects.get(pk=deployment.pk).pending_action == "delete"


def test_replicate_page_explains_the_derived_status(logged_in, replicate_account):
    deployment = replicate_deployment(
        replicate_account,
        vendor_state="idle",
        status_message="Replicate reports no status; derived: 1 instance kept warm (min_instances 1, max_instances 3)",
    )
    content = logged_in.get(reverse("deployments:detail", args=[deployment.pk])).content.decode()
    assert "Replicate reports no status; derived: 1 instance kept warm" in content
    assert 'id="logs-title"' in content  # predictions are its events


# --- services --------------------------------------------------------------------------------------------------


def test_replicate_scale_dialog_post_becomes_an_instances_action(logged_in, replicate_account):
    deployment = replicate_deployment(replicate_account)
    logged_in.post(reverse("deployments:scale", args=[deployment.pk]), {"min_replicas": 2, "max_replicas": 4}, **HX)
    deployment.refresh_from_db()
    assert (deployment.pending_action, deployment.pending_params) == ("scale", {"min_instances": 2, "max_instances": 4})
    assert deployment.events.filter(message="Scale to 2–4 instances requested").exists()


def test_replicate_scale_refusal_is_in_its_words(logged_in, replicate_account):
    deployment = replicate_deployment(replicate_account)
    response = logged_in.post(
        reverse("deployments:scale", args=[deployment.pk]), {"min_replicas": 3, "max_replicas": 1}, **HX
    )
    assert "Must be at least the minimum instances." in response["HX-Trigger"]


def test_replicate_scale_runs_and_updates_the_spec(replicate_account, owner):
    deployment = replicate_deployment(replicate_account)
    services.deployment_request_action(
        deployment=deployment, actor=owner, action=Action.SCALE, params={"min_instances": 2, "max_instances": 5}
    )
    scaled = load_fixture("replicate", "deployment_scaled")
    scaled["current_release"]["configuration"].update(min_instances=2, max_instances=5)
    with respx.mock(base_url=replicate_account.base_url) as mock:
        patch = mock.patch("/deployments/acme/team-sdxl").respond(200, json=scaled)
        mock.get("/predictions").respond(200, json={"next": None, "previous": None, "results": []})
        services.deployment_run_action(deployment_id=deployment.pk)
    assert json.loads(patch.calls.last.request.content) == {"min_instances": 2, "max_instances": 5}
    deployment.refresh_from_db()
    assert (deployment.spec["min_instances"], deployment.spec["max_instances"]) == (2, 5)
    assert deployment.vendor_state == "idle"
    assert deployment.status_message.endswith("2 instances kept warm (min_instances 2, max_instances 5)")


def test_replicate_stop_lands_on_stopped(replicate_account, owner):
    deployment = replicate_deployment(replicate_account)
    services.deployment_request_action(deployment=deployment, actor=owner, action=Action.STOP)
    with respx.mock(base_url=replicate_account.base_url) as mock:
        stopped = load_fixture("replicate", "deployment_stopped")
        patch = mock.patch("/deployments/acme/team-sdxl").respond(200, json=stopped)
        mock.get("/predictions").respond(200, json={"next": None, "previous": None, "results": []})
        services.deployment_run_action(deployment_id=deployment.pk)
    assert json.loads(patch.calls.last.request.content) == {"min_instances": 0, "max_instances": 0}
    deployment.refresh_from_db()
    assert (deployment.state, deployment.vendor_state) == (State.STOPPED, "stopped")


def test_replicate_fetch_logs_keeps_predictions_as_events(logged_in, replicate_account):
    deployment = replicate_deployment(replicate_account)
    failed = load_fixture("replicate", "prediction_failed")
    failed["deployment"] = "acme/team-sdxl"
    listing = {"next": None, "previous": None, "results": [failed]}
    with respx.mock(base_url=replicate_account.base_url) as mock:
        mock.get("/predictions").respond(200, json=listing)
        services.deployment_fetch_logs(deployment_id=deployment.pk)
    snapshot = LogSnapshot.objects.get(deployment=deployment)
    assert snapshot.error == ""
    assert snapshot.lines == []
    assert snapshot.events == [
        {
            "message": f"Prediction {failed['id']} failed: {failed['error']}",
            "at": "2026-03-02T10:05:00+00:00",
            "kind": "failed",
        },
    ]
    content = logged_in.get(reverse("deployments:logs", args=[deployment.pk])).content.decode()
    assert "Replicate's events (1)" in content
    assert "· 1 event</span>" in content
    assert "(no lines)" not in content  # Replicate has no logs to show
    assert 'class="logs mono"' not in content


def test_replicate_fetch_logs_reports_a_vendor_error(replicate_account):
    deployment = replicate_deployment(replicate_account)
    with respx.mock(base_url=replicate_account.base_url) as mock:
        mock.get("/predictions").respond(401, json=load_fixture("replicate", "error_unauthorized"))
        services.deployment_fetch_logs(deployment_id=deployment.pk)
    assert LogSnapshot.objects.get(deployment=deployment).error == "You did not pass a valid authentication token"
