"""Replicate with real parts: the seed's deployment posted through the form -> a real
worker creates it on the twin over HTTP -> polling shows it running on the dashboard,
its predictions as events; then Replicate's signature: scale to zero (stop), a delete
refused until 15 minutes offline and unused, and the delete once that time has passed."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from django.urls import reverse
from django.utils import timezone

from controlpanel.credentials.models import ProviderAccount
from controlpanel.deployments import services
from controlpanel.deployments.models import Deployment, LogSnapshot
from controlpanel.deployments.services.refresh import account_claim_refresh
from controlpanel.deployments.states import State
from controlpanel.sandbox.models import SandboxObject
from controlpanel.teams.permissions import Role
from controlpanel.vendors.replicate import twin as twin
from providers.base import Action
from tests.conftest import wait_for
from tests.factories import AccountFactory, MembershipFactory, TeamFactory, UserFactory, post_confirmed

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# The seed's create request, as the form posts it.
SEED_FORM = {
    "name": "my-app-image-generator",
    "model": "some-org/some-model",
    "version": "da77bc59ee60423279fd632efb4795ab731d9e3ca9705ef3341091fb989b7eaf",
    "hardware": "gpu-t4",
    "min_instances": "1",
    "max_instances": "5",
}


@pytest.fixture
def people(panel_worker):
    team = TeamFactory(name="Integration Replicate")
    user = UserFactory(username="rita")
    MembershipFactory(team=team, user=user, role=Role.OWNER)
    key = f"sandbox-it-replicate-{team.pk}"
    account = AccountFactory(team=team, vendor="replicate", label="Replicate sandbox", api_key=key)
    return team, user, account, key


def state_of(pk):
    return Deployment.objects.values_list("state", flat=True).get(pk=pk)


def fresh(pk) -> Deployment:
    return Deployment.objects.select_related("account").get(pk=pk)


def age_twin(ref: str, minutes: float) -> None:
    """Time travel for the 15-minute rule: the twin's records of this deployment (and of
    its predictions) move back, as if it had been stopped and quiet that long ago."""
    shift = dt.timedelta(minutes=minutes)
    for obj in SandboxObject.objects.filter(vendor="replicate", object_id=ref) | SandboxObject.objects.filter(
        vendor="replicate", kind="prediction", name=ref
    ):
        for key in ("created_at", "_start_at", "_done_at", "_zero_since", "_last_active", "_boot_done_at"):
            if obj.data.get(key):
                obj.data[key] = twin._iso(twin._time(obj.data[key]) - shift)
        obj.save()


def aged(prediction: dict, minutes: float) -> dict:
    """A remembered prediction summary with its moments ``minutes`` earlier."""
    out = dict(prediction)
    for key in ("created_at", "started_at", "completed_at"):
        if out.get(key):
            out[key] = twin._iso(twin._time(out[key]) - dt.timedelta(minutes=minutes))
    return out


def test_seed_deployment_runs_then_scales_to_zero_and_is_deleted_after_15_quiet_minutes(client, people, live_server):
    team, user, account, key = people
    client.force_login(user)
    url = reverse("deployments:create", args=["replicate"])
    response = post_confirmed(client, url, {"account": account.pk, **SEED_FORM})
    assert response.status_code == 302
    deployment = Deployment.objects.get(team=team)

    wait_for(lambda: state_of(deployment.pk) == State.RUNNING, what="the worker to create it and derive running")
    deployment.refresh_from_db()
    ref = deployment.external_id
    assert ref.endswith("/my-app-image-generator")
    assert deployment.vendor_state == "idle"
    assert deployment.status_message == (
        "Replicate reports no status; derived: 1 instance kept warm (min_instances 1, max_instances 5)"
    )
    assert str(deployment.price_per_hour) == "0.8100"
    assert deployment.endpoint_url == f"{live_server.url}/sandbox/replicate/v1/deployments/{ref}/predictions"
    dashboard = client.get(reverse("deployments:dashboard")).content.decode()
    assert "my-app-image-generator" in dashboard
    assert "Running" in dashboard
    states = list(deployment.events.filter(kind="state").order_by("pk").values_list("to_state", flat=True))
    assert states == [State.QUEUED, State.SUBMITTING, State.RUNNING]

    # A prediction through the deployment's own endpoint shows up among its events.
    made = httpx.post(
        deployment.endpoint_url, json={"input": {"prompt": "a red bicycle"}}, headers={"Authorization": f"Bearer {key}"}
    )
    assert made.status_code == 201
    pid = made.json()["id"]

    def prediction_seen():
        client.get(reverse("deployments:logs", args=[deployment.pk]))  # asks the worker for a fresh fetch
        snapshot = LogSnapshot.objects.filter(deployment=deployment).first()
        return snapshot and any(pid in e["message"] and e["kind"] == "succeeded" for e in snapshot.events)

    wait_for(prediction_seen, what="the prediction among the deployment's events")

    # Stop is PATCH min_instances 0 and max_instances 0 (stopped, not only scaled to zero).
    # The prediction's time is moved back so the delete rule's 15 minutes can be reached.
    age_twin(ref, 6)
    client.post(reverse("deployments:action", args=[deployment.pk, "stop"]))
    wait_for(lambda: state_of(deployment.pk) == State.STOPPED, what="the stop to land")
    stopped = fresh(deployment.pk)
    assert stopped.raw["current_release"]["configuration"]["min_instances"] == 0
    assert stopped.raw["current_release"]["configuration"]["max_instances"] == 0
    assert stopped.vendor_state == "stopped"
    assert stopped.spec["min_instances"] == 1  # what Start restores
    assert stopped.events.filter(to_state=State.STOPPED).exists()

    # Deleting now is refused, in words that say why and when.
    reason = services.action_refusal(stopped, Action.DELETE)
    assert "offline and unused for 15 minutes" in reason
    assert "possible from" in reason
    client.post(reverse("deployments:action", args=[deployment.pk, "delete"]))
    assert fresh(deployment.pk).pending_action == ""
    page = client.get(reverse("deployments:detail", args=[deployment.pk])).content.decode()
    assert "possible from" in page

    # Fifteen quiet minutes later (moved by hand on both sides), the delete goes through.
    age_twin(ref, 16)
    # The panel remembers the predictions it has seen (the refresh reads only the new ones
    # since its last poll): its record of them moves back too, as real time would.
    # Taking the account's refresh lease first: no poll is in flight to write the old ones back.
    wait_for(lambda: account_claim_refresh(account_id=account.pk, now=timezone.now()), what="no refresh in flight")
    raw = fresh(deployment.pk).raw
    raw["recent_predictions"] = [aged(p, 16) for p in raw.get("recent_predictions") or []]
    Deployment.objects.filter(pk=deployment.pk).update(
        state_changed_at=stopped.state_changed_at - dt.timedelta(minutes=16), raw=raw
    )
    ProviderAccount.objects.filter(pk=account.pk).update(refresh_lease_until=None, next_refresh_at=timezone.now())
    wait_for(
        lambda: services.action_refusal(fresh(deployment.pk), Action.DELETE) == "",
        what="a poll to bring the aged predictions into the panel's record",
    )
    client.post(reverse("deployments:action", args=[deployment.pk, "delete"]))
    wait_for(lambda: state_of(deployment.pk) == State.DELETED, what="the delete to be confirmed")
    assert not SandboxObject.objects.filter(vendor="replicate", kind="deployment", object_id=ref).exists()


def test_unknown_version_is_refused_on_its_field(client, people):
    team, user, account, _key = people
    client.force_login(user)
    data = {"account": account.pk, **SEED_FORM, "version": "0" * 64}
    post_confirmed(client, reverse("deployments:create", args=["replicate"]), data)
    deployment = Deployment.objects.get(team=team)
    wait_for(lambda: state_of(deployment.pk) == State.FAILED, what="Replicate's 422")
    deployment.refresh_from_db()
    assert deployment.error_fields == {"version": [f"version {'0' * 64} does not exist for model some-org/some-model"]}
    page = client.get(reverse("deployments:edit", args=[deployment.pk])).content.decode()
    assert page.index("does not exist for model some-org/some-model") > page.index('id="err-version"')
