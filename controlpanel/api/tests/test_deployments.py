"""The API's deployment endpoints do what the pages do: the same form (and so the same
field errors, for every vendor), the same services (audit entries, queued work, one
create per idempotency key), the dashboard's filters and pages."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse

from controlpanel.api.forms_bridge import form_errors
from controlpanel.api.tests.helpers import call, together_fields, token_for
from controlpanel.audit.models import AuditAction, AuditEntry
from controlpanel.deployments.models import Deployment, DeploymentEvent, IdempotencyKey, LogSnapshot
from controlpanel.deployments.states import State
from controlpanel.teams.permissions import Role
from providers.registry import SLUGS
from tests.factories import AccountFactory, DeploymentFactory

KEY = "retry-safe-key-0001"


@pytest.fixture
def token(owner, team):
    return token_for(owner, team)


@pytest.fixture(autouse=True)
def _no_log_fetches(monkeypatch):
    from controlpanel.deployments import tasks

    monkeypatch.setattr(tasks.fetch_logs_task, "delay", lambda *a, **k: None)


def create(token, account, **fields):
    return {"vendor": "together", "fields": together_fields(account, **fields), "rows": {}}


# --- create -------------------------------------------------------------------------------------


def test_create_queues_one_deployment_audited_like_the_form(token, owner, account, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as queued:
        response = call("POST", "/deployments", token, create(token, account))
    assert response.status_code == 201, response.content
    body = response.json()
    deployment = Deployment.objects.get()
    assert body["id"] == deployment.pk
    assert (body["name"], body["state"], body["created_by"]) == ("flux-worker", State.QUEUED, "olivia")
    assert deployment.spec["gpu_type"] == "h100-80gb"
    assert Decimal(body["estimated_price_per_hour"]) == deployment.estimated_price_per_hour
    entry = AuditEntry.objects.get(action=AuditAction.DEPLOYMENT_CREATED)
    assert entry.actor == owner
    assert entry.target_id == str(deployment.pk)
    assert len(queued) == 1  # the submit task, on commit
    assert entry.ip == "127.0.0.1"
    timeline = call("GET", f"/deployments/{deployment.pk}/events", token).json()
    assert timeline[0]["message"] == "Submitted through the API (token “test”)"


def test_create_dry_run_prices_it_and_creates_nothing(token, account):
    response = call("POST", "/deployments", token, {**create(token, account), "dry_run": True})
    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is True
    assert Decimal(body["estimate"]["low"]) > 0
    assert Decimal(body["estimate"]["day"]) == Decimal(body["estimate"]["low"]) * 24
    assert not Deployment.objects.exists()


def test_create_above_max_price_is_refused_on_that_field(token, account):
    response = call("POST", "/deployments", token, {**create(token, account), "max_price_per_hour": 0.01})
    assert response.status_code == 422
    assert "max_price_per_hour" in response.json()["error"]["fields"]
    assert not Deployment.objects.exists()


def test_create_for_a_vendor_without_a_key_says_so(token, account):
    response = call("POST", "/deployments", token, {"vendor": "nosana", "fields": {}})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_key"


# What a person might get wrong on each vendor's form: a name missing, an env row without a value.
BAD_ROWS = {"env": [{"name": "HF_TOKEN", "key": "HF_TOKEN", "value": ""}]}


def _browser_post(account, vendor: str, form_class) -> dict:
    data: dict = {"account": account.pk, "name": ""}
    for prefix in form_class.formsets:
        rows = BAD_ROWS.get(prefix, [])
        data[f"{prefix}-TOTAL_FORMS"] = str(len(rows))
        data[f"{prefix}-INITIAL_FORMS"] = "0"
        for i, row in enumerate(rows):
            for column, value in row.items():
                data[f"{prefix}-{i}-{column}"] = value
    return data


@pytest.mark.parametrize("vendor", SLUGS)
def test_create_field_errors_are_the_forms_own(logged_in, team, token, vendor):
    from controlpanel.deployments.forms import form_class_for

    account = AccountFactory(team=team, vendor=vendor, label=f"{vendor} key")
    form_class = form_class_for(vendor)
    page = logged_in.post(reverse("deployments:create", args=[vendor]), _browser_post(account, vendor, form_class))
    assert page.status_code == 200
    expected = form_errors(page.context["form"])
    assert expected, "the browser's form found nothing wrong?"
    rows = {p: BAD_ROWS.get(p, []) for p in form_class.formsets}
    response = call("POST", "/deployments", token, {"vendor": vendor, "fields": {"account": account.pk}, "rows": rows})
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == expected
    assert not Deployment.objects.exists()
    if "env" in form_class.formsets:
        assert "HF_TOKEN has no value: fill it in or remove the row." in expected.get("env-0-value", [])


# --- Idempotency-Key ----------------------------------------------------------------------------


def test_create_retried_with_the_key_returns_the_first_answer(token, account, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as queued:
        first = call("POST", "/deployments", token, create(token, account), **{"Idempotency-Key": KEY})
        again = call("POST", "/deployments", token, create(token, account), **{"Idempotency-Key": KEY})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Deployment.objects.count() == 1
    assert AuditEntry.objects.filter(action=AuditAction.DEPLOYMENT_CREATED).count() == 1
    assert len(queued) == 1
    assert IdempotencyKey.objects.get(key=KEY).deployment_id == first.json()["id"]


def test_a_key_reused_for_another_request_is_refused(token, account):
    call("POST", "/deployments", token, create(token, account), **{"Idempotency-Key": KEY})
    other = call("POST", "/deployments", token, create(token, account, name="other"), **{"Idempotency-Key": KEY})
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    deployment = Deployment.objects.get()
    deployment.state, deployment.external_id = State.RUNNING, "ext-1"
    deployment.save()
    as_action = call("POST", f"/deployments/{deployment.pk}/stop", token, {}, **{"Idempotency-Key": KEY})
    assert as_action.status_code == 422
    assert as_action.json()["error"]["code"] == "idempotency_key_reused"
    assert Deployment.objects.get().pending_action == ""


def test_the_forms_token_and_the_header_are_one_mechanism(logged_in, token, team, account, owner):
    """A create the form made with a token answers an API retry carrying that token."""
    from controlpanel.deployments import services

    made = services.deployment_create(
        team=team, actor=owner, account=account, spec={"name": "from-form"}, idempotency_key=KEY
    )
    response = call("POST", "/deployments", token, create(token, account), **{"Idempotency-Key": KEY})
    assert response.status_code == 201
    assert response.json()["id"] == made.pk
    assert Deployment.objects.count() == 1


def test_a_malformed_key_is_named(token, account):
    response = call("POST", "/deployments", token, create(token, account), **{"Idempotency-Key": "short"})
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json()["error"]["fields"]


def test_an_action_retried_with_the_key_is_done_once(token, account, django_capture_on_commit_callbacks):
    deployment = DeploymentFactory(account=account, state=State.RUNNING, external_id="ext-1")
    with django_capture_on_commit_callbacks() as queued:
        first = call("POST", f"/deployments/{deployment.pk}/stop", token, {}, **{"Idempotency-Key": KEY})
        again = call("POST", f"/deployments/{deployment.pk}/stop", token, {}, **{"Idempotency-Key": KEY})
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert first.json()["pending_action"] == "stop"
    assert first.json()["actions"]["delete"] == "Waiting for the vendor to finish “stop”."
    assert AuditEntry.objects.filter(action=AuditAction.DEPLOYMENT_STOPPED).count() == 1
    assert len(queued) == 1
    without_key = call("POST", f"/deployments/{deployment.pk}/stop", token, {})
    assert without_key.status_code == 409  # a second stop, unkeyed, is judged afresh: one is pending
    assert "Waiting for the vendor" in without_key.json()["error"]["message"]


def test_a_refused_action_keeps_no_key(token, account):
    deployment = DeploymentFactory(account=account, state=State.STOPPED, external_id="ext-1")
    refused = call("POST", f"/deployments/{deployment.pk}/stop", token, {}, **{"Idempotency-Key": KEY})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "not_possible"
    assert not IdempotencyKey.objects.exists()


# --- actions ------------------------------------------------------------------------------------


def test_scale_goes_through_the_scale_dialogs_form(token, account):
    deployment = DeploymentFactory(account=account, state=State.RUNNING, external_id="ext-1")
    bad = call("POST", f"/deployments/{deployment.pk}/scale", token, {"min_replicas": 3, "max_replicas": 1})
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"]
    ok = call("POST", f"/deployments/{deployment.pk}/scale", token, {"min_replicas": 2, "max_replicas": 3})
    assert ok.status_code == 202
    deployment.refresh_from_db()
    assert deployment.pending_action == "scale"
    assert deployment.pending_params == {"min_replicas": 2, "max_replicas": 3}
    assert AuditEntry.objects.filter(action=AuditAction.DEPLOYMENT_SCALED).count() == 1


def test_update_goes_through_the_edit_form(token, account):
    deployment = DeploymentFactory(account=account, state=State.RUNNING, external_id="ext-1", name="flux-worker")
    fields = together_fields(account, max_replicas=4)
    fields.pop("account")
    bad = call("POST", f"/deployments/{deployment.pk}/update", token, {"fields": {**fields, "min_replicas": "x"}})
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"]["min_replicas"] == ["Enter a whole number."]
    ok = call("POST", f"/deployments/{deployment.pk}/update", token, {"fields": fields})
    assert ok.status_code == 202, ok.content
    deployment.refresh_from_db()
    assert deployment.pending_action == "update"
    assert deployment.pending_params["spec"]["max_replicas"] == 4
    assert AuditEntry.objects.filter(action=AuditAction.DEPLOYMENT_UPDATED).count() == 1


def test_update_of_a_refused_submission_resubmits_it(token, account):
    deployment = DeploymentFactory(account=account, state=State.FAILED, external_id="", name="flux-worker")
    fields = together_fields(account)
    fields.pop("account")
    response = call("POST", f"/deployments/{deployment.pk}/update", token, {"fields": fields})
    assert response.status_code == 202, response.content
    assert response.json()["state"] == State.QUEUED
    assert AuditEntry.objects.filter(action=AuditAction.DEPLOYMENT_RETRIED).count() == 1


def test_delete_of_a_row_never_sent_is_done_at_once(token, account):
    deployment = DeploymentFactory(account=account, state=State.FAILED, external_id="")
    response = call("POST", f"/deployments/{deployment.pk}/delete", token, {})
    assert response.status_code == 202
    assert response.json()["state"] == State.DELETED
    assert AuditEntry.objects.filter(action=AuditAction.DEPLOYMENT_DELETED).count() == 1


def test_unknown_action_names_are_422(token, account):
    deployment = DeploymentFactory(account=account, state=State.RUNNING, external_id="ext-1")
    response = call("POST", f"/deployments/{deployment.pk}/explode", token, {})
    assert response.status_code == 422
    assert "name" in response.json()["error"]["fields"]


# --- reads ----------------------------------------------------------------------------------------


def test_list_filters_sorts_and_pages_like_the_dashboard(token, team, account, owner, make_member, settings):
    settings.PANEL_API_PAGE_SIZE = 2
    other_key = AccountFactory(team=team, vendor="replicate", label="Rep")
    someone = make_member(Role.DEPLOYER, username="dee")
    DeploymentFactory(account=account, name="alpha", state=State.RUNNING, created_by=owner)
    DeploymentFactory(account=account, name="beta", state=State.STOPPED, created_by=someone)
    DeploymentFactory(account=other_key, name="gamma", state=State.RUNNING, created_by=someone)
    DeploymentFactory(account=account, name="gone", state=State.DELETED)

    def names(query: str) -> list[str]:
        response = call("GET", f"/deployments?{query}", token)
        assert response.status_code == 200, response.content
        return [d["name"] for d in response.json()["results"]]

    assert names("sort=name&dir=asc") == ["alpha", "beta"]
    assert names("sort=name&dir=asc&page=2") == ["gamma"]
    assert names("vendor=replicate") == ["gamma"]
    assert names("state=running&sort=name") == ["alpha", "gamma"]
    assert names(f"key={other_key.pk}") == ["gamma"]
    assert names(f"creator={someone.pk}&sort=name") == ["beta", "gamma"]
    assert names("mine=true") == ["alpha"]
    assert names("search=AMM") == ["gamma"]
    page = call("GET", "/deployments", token).json()
    assert (page["count"], page["pages"], page["page_size"]) == (3, 2, 2)
    assert call("GET", "/deployments?vendor=acme", token).status_code == 422


def test_get_masks_env_values(token, account):
    spec = {"name": "x", "environment_variables": [{"name": "HF_TOKEN", "value": "hf_secret_value"}]}
    deployment = DeploymentFactory(account=account, spec=spec)
    body = call("GET", f"/deployments/{deployment.pk}", token).json()
    assert body["actions"]["delete"] == ""  # queued: delete is possible, stop is not
    assert body["actions"]["stop"] == "Not possible while queued."
    assert "hf_secret_value" not in str(body)
    assert body["spec"]["environment_variables"][0]["name"] == "HF_TOKEN"


def test_events_and_logs(token, account, owner):
    deployment = DeploymentFactory(account=account, state=State.RUNNING, external_id="ext-1")
    DeploymentEvent.objects.create(
        deployment=deployment, kind="action", actor=owner, actor_label="olivia", message="Stop"
    )
    events = call("GET", f"/deployments/{deployment.pk}/events", token).json()
    assert [(e["actor"], e["message"]) for e in events] == [("olivia", "Stop")]
    LogSnapshot.objects.create(deployment=deployment, lines=["booting", "ready"])
    logs = call("GET", f"/deployments/{deployment.pk}/logs", token).json()
    assert logs["lines"] == ["booting", "ready"]
    assert logs["available"] is True
    assert LogSnapshot.objects.get().requested_at is not None  # a fresh fetch was asked for


def test_keys_are_masked(token, team):
    AccountFactory(team=team, label="Prod", api_key="sandbox-secret-material-9876")
    keys = call("GET", "/keys", token).json()
    assert [(k["label"], k["masked_key"]) for k in keys] == [("Prod", "••••9876")]
    assert "secret-material" not in str(keys)


def test_offers_and_costs(token, team, account):
    from django.utils import timezone

    from controlpanel.catalog.models import Offer

    Offer.objects.create(
        account=account,
        vendor="together",
        sku="h100",
        name="H100",
        gpu_model="H100",
        gpu_memory_gb=80,
        price_per_hour=Decimal("2.5"),
        synced_at=timezone.now(),
    )
    offers = call("GET", "/offers?gpu=H100", token).json()
    assert [(o["gpu"], o["price_per_hour"], o["keys"]) for o in offers] == [("H100 80GB", "2.5000", [account.label])]
    assert call("GET", "/offers?vendor=novita", token).json() == []
    DeploymentFactory(account=account, state=State.RUNNING, price_per_hour=Decimal("1.5"), cost_since=timezone.now())
    costs = call("GET", "/costs", token).json()
    assert costs["per_hour"] == {"together": "1.5000"}
    assert costs["total_per_hour"] == "1.5000"


def _concurrently(send) -> list:
    start = threading.Barrier(2)
    answers: list = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            answers.append(send())
        except BaseException as exc:  # noqa: BLE001 -- reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return answers


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_creates_with_one_key_make_one_deployment(team, owner, account):
    token = token_for(owner, team)
    answers = _concurrently(
        lambda: call("POST", "/deployments", token, create(token, account), **{"Idempotency-Key": KEY})
    )
    assert [a.status_code for a in answers] == [201, 201], [a.content for a in answers]
    assert answers[0].json()["id"] == answers[1].json()["id"]
    assert Deployment.objects.filter(team=team).count() == 1
    assert AuditEntry.objects.filter(team=team, action=AuditAction.DEPLOYMENT_CREATED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_stops_with_one_key_stop_once(team, owner, account):
    token = token_for(owner, team)
    deployment = DeploymentFactory(account=account, state=State.RUNNING, external_id="ext-1")
    path = f"/deployments/{deployment.pk}/stop"
    answers = _concurrently(lambda: call("POST", path, token, {}, **{"Idempotency-Key": KEY}))
    assert [a.status_code for a in answers] == [202, 202], [a.content for a in answers]
    assert answers[0].json() == answers[1].json()
    assert AuditEntry.objects.filter(team=team, action=AuditAction.DEPLOYMENT_STOPPED).count() == 1
