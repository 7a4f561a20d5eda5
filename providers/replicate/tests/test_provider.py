"""The Replicate adapter against respx: what it sends, what it makes of the answers,
its rules, its derived status table and the delete gate. Fixture JSON is shaped like
the notes' §6 examples and the seed's deployment object."""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from providers import get_provider_class
from providers.base import (
    Action,
    AuthError,
    NotFound,
    RateLimited,
    Rejected,
    RemoteState,
    SpecError,
    Transient,
)
from providers.replicate import (
    DERIVED,
    HARDWARE_PRICES,
    MAX_PREDICTION_PAGES,
    STATUS_TABLE,
    ReplicateProvider,
    check_spec,
    derive_status,
    field_named_in,
    remote_state,
)
from providers.testing import load_fixture

BASE = "https://api.replicate.com/v1"
KEY = "r8_unit_test_token_0001"
DEPLOYMENTS = f"{BASE}/deployments"
ONE = f"{DEPLOYMENTS}/acme/team-sdxl"
PREDICTIONS = f"{BASE}/predictions"
VERSION = "da77bc59ee60423279fd632efb4795ab731d9e3ca9705ef3341091fb989b7eaf"

# The notes' create request (§6) and the seed's, both specs this adapter takes as written.
NOTES_CREATE = {
    "name": "team-sdxl",
    "model": "stability-ai/sdxl",
    "version": VERSION,
    "hardware": "gpu-l40s",
    "min_instances": 0,
    "max_instances": 3,
}
SEED_CREATE = {
    "name": "my-app-image-generator",
    "model": "some-org/some-model",
    "version": VERSION,
    "hardware": "gpu-t4",
    "min_instances": 1,
    "max_instances": 5,
}


def fixture(name: str) -> Any:
    return load_fixture("replicate", name)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def prediction(status: str, *, ago: float, deployment: str | None = "acme/team-sdxl", **extra: Any) -> dict[str, Any]:
    """A prediction created ``ago`` seconds before now, finished a second later if terminal."""
    created = now() - dt.timedelta(seconds=ago)
    item = fixture("prediction_starting")
    item.update(id=f"p{abs(hash((status, ago, deployment))) % 10**8}", status=status, created_at=iso(created))
    if status != "starting":
        item["started_at"] = iso(created + dt.timedelta(seconds=0.5))
    if status in ("succeeded", "failed", "canceled", "aborted"):
        item["completed_at"] = iso(created + dt.timedelta(seconds=1))
    if deployment is None:
        item.pop("deployment")
    else:
        item["deployment"] = deployment
    item.update(extra)
    return item


def page(*results: dict[str, Any], next_url: str | None = None) -> dict[str, Any]:
    return {"next": next_url, "previous": None, "results": list(results)}


def sent_json(route) -> Any:
    return json.loads(route.calls.last.request.content)


def assert_sent(route, method: str, path: str) -> httpx.Request:
    request = route.calls.last.request
    assert request.method == method
    assert request.url.path == path
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    return request


@pytest.fixture
def replicate() -> Iterator[ReplicateProvider]:
    provider = ReplicateProvider(api_key=KEY)
    yield provider
    provider.close()


@pytest.fixture
def no_predictions(respx_mock):
    return respx_mock.get(PREDICTIONS).respond(200, json=page())


# --- registry and interface ------------------------------------------------------------------------


def test_replicate_is_registered_with_its_real_base_url_and_actions():
    cls = get_provider_class("replicate")
    assert cls is ReplicateProvider
    assert cls.default_base_url == "https://api.replicate.com/v1"
    assert cls.sandbox_path == "/replicate/v1"
    assert cls.unique_names is True
    assert cls.actions == {Action.START, Action.STOP, Action.SCALE, Action.UPDATE, Action.DELETE, Action.EVENTS}
    assert (cls.scale_keys, cls.scale_unit) == (("min_instances", "max_instances"), "instances")


# --- lifecycle calls: the request and the parsed Remote ---------------------------------------------


def test_replicate_create_posts_all_six_fields_and_parses_the_deployment(respx_mock, replicate):
    route = respx_mock.post(DEPLOYMENTS).respond(201, json=fixture("deployment"))
    remote = replicate.create(dict(NOTES_CREATE))
    request = assert_sent(route, "POST", "/v1/deployments")
    assert request.headers["Content-Type"] == "application/json"
    assert sent_json(route) == NOTES_CREATE
    assert remote.external_id == "acme/team-sdxl"
    assert remote.name == "team-sdxl"
    # min_instances 0 and never predicted: scaled to zero, waiting for its first prediction.
    assert (remote.state, remote.vendor_state) == (RemoteState.STOPPED, "offline")
    assert remote.message.startswith(DERIVED + "scaled to zero (min_instances 0)")
    assert remote.price_per_hour == Decimal("0")
    assert remote.primary_url == f"{ONE}/predictions"
    assert remote.connection["Model version"] == f"stability-ai/sdxl:{VERSION}"
    assert remote.connection["Run a prediction"].endswith(f"{ONE}/predictions")
    assert "$REPLICATE_API_TOKEN" in remote.connection["Run a prediction"]
    assert remote.created_at == dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
    assert remote.raw == {**fixture("deployment"), "recent_predictions": []}
    assert len(respx_mock.calls) == 1  # a new deployment has no predictions to read


def test_replicate_create_of_the_seed_request_keeps_one_instance_warm(respx_mock, replicate):
    route = respx_mock.post(DEPLOYMENTS).respond(200, json=fixture("deployment_seed"))
    remote = replicate.create(dict(SEED_CREATE))
    assert sent_json(route) == SEED_CREATE
    assert (remote.external_id, remote.state, remote.vendor_state) == (
        "acme/my-app-image-generator",
        RemoteState.RUNNING,
        "idle",
    )
    assert remote.message == DERIVED + "1 instance kept warm (min_instances 1, max_instances 5)"
    assert remote.price_per_hour == Decimal("0.81")  # one T4 around the clock


def test_replicate_create_reads_an_owner_prefixed_name_as_the_name(respx_mock, replicate):
    route = respx_mock.post(DEPLOYMENTS).respond(201, json=fixture("deployment"))
    replicate.create({**NOTES_CREATE, "name": "acme/team-sdxl"})
    assert sent_json(route)["name"] == "team-sdxl"


def test_replicate_create_checks_the_spec_before_any_request(respx_mock, replicate):
    route = respx_mock.post(DEPLOYMENTS).respond(201, json=fixture("deployment"))
    with pytest.raises(SpecError) as caught:
        replicate.create({**NOTES_CREATE, "version": "latest"})
    assert set(caught.value.fields) == {"version"}
    assert route.call_count == 0


def test_replicate_get_reads_the_deployment_and_its_recent_predictions(respx_mock, replicate):
    deployment = respx_mock.get(ONE).respond(200, json=fixture("deployment"))
    predictions = respx_mock.get(PREDICTIONS).respond(200, json=page(prediction("processing", ago=2)))
    remote = replicate.get("acme/team-sdxl")
    assert_sent(deployment, "GET", "/v1/deployments/acme/team-sdxl")
    request = assert_sent(predictions, "GET", "/v1/predictions")
    after = dt.datetime.fromisoformat(request.url.params["created_after"].replace("Z", "+00:00"))
    assert dt.timedelta(minutes=29) < now() - after < dt.timedelta(minutes=31)
    assert (remote.state, remote.vendor_state) == (RemoteState.RUNNING, "active")
    assert remote.message == DERIVED + "1 prediction in progress (min_instances 0, max_instances 3)"
    assert remote.price_per_hour == HARDWARE_PRICES["gpu-l40s"].per_hour  # the instance it woke
    assert [p["status"] for p in remote.raw["recent_predictions"]] == ["processing"]
    assert "input" not in remote.raw["recent_predictions"][0]  # prompts are not copied


def test_replicate_get_of_a_malformed_id_is_not_found_without_a_request(respx_mock, replicate):
    with pytest.raises(NotFound):
        replicate.get("team-sdxl")
    assert len(respx_mock.calls) == 0


def pages_by_cursor(pages: dict[str, Any]):
    """A respx side effect answering each ``cursor`` (None: the first page) from ``pages``."""
    return lambda request: httpx.Response(200, json=pages[request.url.params.get("cursor")])


def test_replicate_list_follows_full_url_pages_and_reads_predictions_once(respx_mock, replicate):
    route = respx_mock.get(url__startswith=DEPLOYMENTS).mock(
        side_effect=pages_by_cursor(
            {None: fixture("deployments_page1"), "cD0yMDI2LTAzLTAy": fixture("deployments_page2")}
        )
    )
    predictions = respx_mock.get(PREDICTIONS).respond(
        200,
        json=page(
            prediction("processing", ago=3),  # acme/team-sdxl
            prediction("succeeded", ago=60, deployment="my-app-image-generator"),  # the name-only form
            prediction("failed", ago=30, deployment="someone/else"),
            prediction("failed", ago=31, deployment=None),  # not a deployment's
        ),
    )
    remotes = replicate.list_remotes()
    assert route.call_count == 2
    assert predictions.call_count == 1
    second = route.calls[1].request
    assert str(second.url) == "https://api.replicate.com/v1/deployments?cursor=cD0yMDI2LTAzLTAy"
    assert second.headers["Authorization"] == f"Bearer {KEY}"  # kept on the next page
    assert [(r.external_id, r.state, r.vendor_state) for r in remotes] == [
        ("acme/team-sdxl", RemoteState.RUNNING, "active"),
        ("acme/my-app-image-generator", RemoteState.RUNNING, "idle"),
    ]
    assert [len(r.raw["recent_predictions"]) for r in remotes] == [1, 1]


def test_replicate_list_upgrades_an_http_next_link_to_the_base_scheme(respx_mock, replicate, no_predictions):
    listing = fixture("deployments_page1")
    listing["next"] = "http://api.replicate.com/v1/deployments?cursor=abc"  # the docs' example is http
    route = respx_mock.get(url__startswith=DEPLOYMENTS).mock(
        side_effect=pages_by_cursor({None: listing, "abc": page()})
    )
    assert len(replicate.list_remotes()) == 1
    assert route.calls[1].request.url.scheme == "https"


def test_replicate_list_refuses_to_send_the_key_to_another_host(respx_mock, replicate):
    listing = fixture("deployments_page1")
    listing["next"] = "https://evil.example/v1/deployments?cursor=abc"
    respx_mock.get(DEPLOYMENTS).respond(200, json=listing)
    with pytest.raises(Rejected) as caught:
        replicate.list_remotes()
    assert "evil.example" in caught.value.message


def test_replicate_list_of_an_empty_account_reads_no_predictions(respx_mock, replicate):
    respx_mock.get(DEPLOYMENTS).respond(200, json=page())
    assert replicate.list_remotes() == []
    assert len(respx_mock.calls) == 1


def test_replicate_list_reads_at_most_a_few_prediction_pages(respx_mock, replicate):
    respx_mock.get(DEPLOYMENTS).respond(200, json=page(fixture("deployment")))
    route = respx_mock.get(url__startswith=PREDICTIONS).mock(
        side_effect=lambda request: httpx.Response(
            200, json=page(prediction("succeeded", ago=400), next_url=f"{PREDICTIONS}?cursor=n{len(route.calls)}")
        )
    )
    replicate.list_remotes()
    assert route.call_count == MAX_PREDICTION_PAGES


def test_replicate_list_without_predictions_still_lists_and_says_so(respx_mock, replicate, sleeps):
    respx_mock.get(DEPLOYMENTS).respond(200, json=page(fixture("deployment_seed")))
    respx_mock.get(PREDICTIONS).respond(503, json=fixture("error_server"))
    [remote] = replicate.list_remotes()
    assert remote.state == RemoteState.RUNNING
    assert remote.message.endswith("(recent predictions could not be read)")


def test_replicate_find_by_name_asks_the_account_once_for_the_owner(respx_mock, replicate, no_predictions):
    account = respx_mock.get(f"{BASE}/account").respond(200, json=fixture("account"))
    found = respx_mock.get(ONE).respond(200, json=fixture("deployment"))
    missing = respx_mock.get(f"{DEPLOYMENTS}/acme/ghost").respond(404, json=fixture("error_not_found"))
    remote = replicate.find_by_name("team-sdxl")
    assert remote is not None
    assert remote.external_id == "acme/team-sdxl"
    assert replicate.find_by_name("ghost") is None
    assert account.call_count == 1  # cached per adapter instance
    assert_sent(found, "GET", "/v1/deployments/acme/team-sdxl")
    assert missing.call_count == 1


def test_replicate_adopt_takes_exactly_what_was_asked_for(respx_mock, replicate):
    remote = replicate.to_remote(fixture("deployment"), [])
    assert replicate.adopt(remote, dict(NOTES_CREATE)) is remote


@pytest.mark.parametrize(
    "change",
    [{"hardware": "gpu-t4"}, {"max_instances": 4}, {"model": "someone/else"}],
    ids=["hardware", "max", "model"],
)
def test_replicate_adopt_refuses_a_different_deployment_of_that_name(replicate, change):
    remote = replicate.to_remote(fixture("deployment"), [])
    with pytest.raises(SpecError) as caught:
        replicate.adopt(remote, {**NOTES_CREATE, **change})
    assert "already exists on Replicate with another configuration" in caught.value.fields["name"][0]


def test_replicate_adopt_refuses_one_that_was_updated_since(replicate):
    remote = replicate.to_remote(fixture("deployment_scaled"), [])
    with pytest.raises(SpecError):
        replicate.adopt(remote, {**NOTES_CREATE, "min_instances": 1, "max_instances": 5})


def test_replicate_update_patches_only_what_changed(respx_mock, replicate, no_predictions):
    route = respx_mock.patch(ONE).respond(200, json=fixture("deployment_scaled"))
    spec = {**NOTES_CREATE, "version": "a" * 64, "max_instances": 5}
    remote = replicate.update("acme/team-sdxl", spec, previous=dict(NOTES_CREATE))
    assert_sent(route, "PATCH", "/v1/deployments/acme/team-sdxl")
    assert sent_json(route) == {"max_instances": 5, "version": "a" * 64}
    assert remote.raw["current_release"]["number"] == 2  # every update is a new release


def test_replicate_update_without_previous_sends_every_updatable_field(respx_mock, replicate, no_predictions):
    route = respx_mock.patch(ONE).respond(200, json=fixture("deployment_scaled"))
    replicate.update("acme/team-sdxl", dict(NOTES_CREATE))
    assert sent_json(route) == {"hardware": "gpu-l40s", "min_instances": 0, "max_instances": 3, "version": VERSION}


def test_replicate_update_with_nothing_changed_makes_no_release(respx_mock, replicate, no_predictions):
    patch = respx_mock.patch(ONE).respond(200, json=fixture("deployment_scaled"))
    get = respx_mock.get(ONE).respond(200, json=fixture("deployment"))
    remote = replicate.update("acme/team-sdxl", dict(NOTES_CREATE), previous=dict(NOTES_CREATE))
    assert patch.call_count == 0
    assert get.call_count == 1
    assert remote.raw["current_release"]["number"] == 1


@pytest.mark.parametrize(
    ("change", "field"), [({"model": "stability-ai/sdxl-turbo"}, "model"), ({"name": "renamed"}, "name")]
)
def test_replicate_update_refuses_what_cannot_change(respx_mock, replicate, change, field):
    route = respx_mock.patch(ONE).respond(200, json=fixture("deployment_scaled"))
    with pytest.raises(SpecError) as caught:
        replicate.update("acme/team-sdxl", {**NOTES_CREATE, **change}, previous=dict(NOTES_CREATE))
    assert list(caught.value.fields) == [field]
    assert route.call_count == 0


@pytest.mark.parametrize(
    ("changes", "body"),
    [
        ({"min_instances": 1, "max_instances": 5}, {"min_instances": 1, "max_instances": 5}),
        ({"min_replicas": 2, "max_replicas": 4}, {"min_instances": 2, "max_instances": 4}),  # the scale dialog
        ({"min_instances": 3}, {"min_instances": 3, "max_instances": 3}),
        ({"min_instances": 0}, {"min_instances": 0, "max_instances": 1}),
    ],
)
def test_replicate_scale_patches_the_instance_bounds(respx_mock, replicate, no_predictions, changes, body):
    route = respx_mock.patch(ONE).respond(200, json=fixture("deployment_scaled"))
    remote = replicate.scale("acme/team-sdxl", changes)
    assert_sent(route, "PATCH", "/v1/deployments/acme/team-sdxl")
    assert sent_json(route) == body
    assert (remote.state, remote.vendor_state) == (RemoteState.RUNNING, "idle")


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"max_instances": 2}, "min_instances", "This field is required."),
        ({"min_instances": -1}, "min_instances", "Cannot be negative (0 scales to zero when idle)."),
        (
            {"min_instances": 0, "max_instances": 0},
            "max_instances",
            "At least 1; to scale to zero set the minimum to 0.",
        ),
        ({"min_instances": 3, "max_instances": 2}, "max_instances", "Must be at least the minimum instances."),
        ({"min_instances": 1.5}, "min_instances", "Must be a whole number."),
    ],
)
def test_replicate_scale_refuses_bad_bounds(respx_mock, replicate, changes, field, message):
    route = respx_mock.patch(ONE).respond(200, json=fixture("deployment_scaled"))
    with pytest.raises(SpecError) as caught:
        replicate.scale("acme/team-sdxl", changes)
    assert message in caught.value.fields[field]
    assert route.call_count == 0


def test_replicate_stop_scales_to_zero(respx_mock, replicate, no_predictions):
    route = respx_mock.patch(ONE).respond(200, json=fixture("deployment"))
    remote = replicate.stop("acme/team-sdxl", dict(SEED_CREATE))
    assert_sent(route, "PATCH", "/v1/deployments/acme/team-sdxl")
    assert sent_json(route) == {"min_instances": 0}
    assert (remote.state, remote.vendor_state) == (RemoteState.STOPPED, "offline")


def test_replicate_stop_with_a_recent_prediction_is_stopping(respx_mock, replicate):
    respx_mock.patch(ONE).respond(200, json=fixture("deployment"))
    respx_mock.get(PREDICTIONS).respond(200, json=page(prediction("succeeded", ago=30)))
    remote = replicate.stop("acme/team-sdxl", dict(SEED_CREATE))
    assert (remote.state, remote.vendor_state) == (RemoteState.STOPPING, "idle")
    assert "scales to zero within a few minutes" in remote.message


@pytest.mark.parametrize(
    ("spec", "body"),
    [
        ({"min_instances": 2, "max_instances": 5}, {"min_instances": 2}),
        ({"min_instances": 0, "max_instances": 3}, {"min_instances": 1}),
        ({"min_instances": None}, {"min_instances": 1, "max_instances": 1}),
        ({"min_instances": 4, "max_instances": 2}, {"min_instances": 4, "max_instances": 4}),
    ],
)
def test_replicate_start_restores_the_specs_minimum_of_at_least_one(respx_mock, replicate, no_predictions, spec, body):
    route = respx_mock.patch(ONE).respond(200, json=fixture("deployment_scaled"))
    remote = replicate.start("acme/team-sdxl", spec)
    assert sent_json(route) == body
    assert remote.state == RemoteState.RUNNING


def test_replicate_delete_sends_delete_and_takes_204(respx_mock, replicate):
    route = respx_mock.delete(ONE).respond(204)
    assert replicate.delete("acme/team-sdxl") is None
    request = assert_sent(route, "DELETE", "/v1/deployments/acme/team-sdxl")
    assert request.content == b""


def test_replicate_delete_too_early_is_rejected_in_replicates_words(respx_mock, replicate):
    respx_mock.delete(ONE).respond(409, json=fixture("error_delete_refused"))
    with pytest.raises(Rejected) as caught:
        replicate.delete("acme/team-sdxl")
    assert caught.value.message.startswith("You can only delete deployments that have been offline")


def test_replicate_events_are_this_deployments_predictions_oldest_first(respx_mock, replicate):
    failed = prediction("failed", ago=90, error="CUDA out of memory")
    done = prediction("succeeded", ago=30, metrics={"predict_time": 2.25})
    route = respx_mock.get(PREDICTIONS).respond(
        200, json=page(prediction("starting", ago=1), done, failed, prediction("succeeded", ago=5, deployment="x/y"))
    )
    events = replicate.events("acme/team-sdxl")
    assert_sent(route, "GET", "/v1/predictions")
    assert [e.kind for e in events] == ["failed", "succeeded", "starting"]
    assert events[0].message == f"Prediction {failed['id']} failed: CUDA out of memory"
    assert events[1].message == f"Prediction {done['id']} succeeded in 2.2 s"
    assert events[1].at == dt.datetime.fromisoformat(done["created_at"].replace("Z", "+00:00"))


def test_replicate_verify_reads_the_account_and_caches_the_owner(respx_mock, replicate, no_predictions):
    route = respx_mock.get(f"{BASE}/account").respond(200, json=fixture("account"))
    info = replicate.verify()
    assert_sent(route, "GET", "/v1/account")
    assert info.summary == "Key accepted: organization acme (Acme Corp, Inc.)."
    assert (info.username, info.balance) == ("acme", None)  # no balance in Replicate's API
    respx_mock.get(ONE).respond(200, json=fixture("deployment"))
    replicate.find_by_name("team-sdxl")
    assert route.call_count == 1


def test_replicate_catalog_prices_hardware_from_the_maintained_table(respx_mock, replicate):
    route = respx_mock.get(f"{BASE}/hardware").respond(200, json=fixture("hardware"))
    offers = {o.sku: o for o in replicate.catalog()}
    assert_sent(route, "GET", "/v1/hardware")
    assert list(offers) == ["cpu", "gpu-t4", "gpu-l40s", "gpu-a100-large-2x", "gpu-b200"]
    assert offers["gpu-t4"].price_per_hour == Decimal("0.81")
    assert offers["gpu-t4"].extra["price_per_second"] == "0.000225"
    assert (offers["gpu-t4"].gpu_model, offers["gpu-t4"].gpu_count, offers["gpu-t4"].gpu_memory_gb) == ("T4", 1, 16)
    assert offers["gpu-t4"].name == "Nvidia T4 GPU"  # the API's own name
    assert offers["gpu-a100-large-2x"].price_per_hour == Decimal("10.08")
    assert offers["gpu-a100-large-2x"].gpu_count == 2
    assert offers["gpu-a100-large-2x"].price_per_gpu_hour == Decimal("5.04")
    assert (offers["cpu"].gpu_count, offers["cpu"].price_per_hour) == (0, Decimal("0.36"))
    assert offers["gpu-b200"].price_per_hour is None  # listed, not priced
    assert offers["gpu-b200"].extra["price_source"] == "not in the price table"
    assert offers["gpu-b200"].raw == {"name": "Nvidia B200 GPU", "sku": "gpu-b200"}


def test_replicate_price_table_has_every_multi_gpu_variant():
    for stem in ("gpu-a100-large-{n}x", "gpu-a40-large-{n}x", "gpu-{n}x-l40s", "gpu-h100-{n}x"):
        for n in (2, 4, 8):
            hardware = HARDWARE_PRICES[stem.format(n=n)]
            assert hardware.gpu_count == n
            assert hardware.per_hour == (hardware.per_second * 3600).quantize(Decimal("0.01"))


# --- errors, per class ---------------------------------------------------------------------------------


def test_replicate_error_401_is_an_auth_error(respx_mock, replicate):
    respx_mock.get(f"{BASE}/account").respond(401, json=fixture("error_unauthorized"))
    with pytest.raises(AuthError) as caught:
        replicate.verify()
    assert caught.value.status_code == 401
    assert caught.value.message == "You did not pass a valid authentication token"


def test_replicate_error_404_is_not_found(respx_mock, replicate):
    respx_mock.get(ONE).respond(404, json=fixture("error_not_found"))
    with pytest.raises(NotFound) as caught:
        replicate.get("acme/team-sdxl")
    assert caught.value.message == "Deployment not found"


def test_replicate_error_422_naming_a_field_lands_on_it(respx_mock, replicate):
    body = fixture("error_invalid_version")
    respx_mock.post(DEPLOYMENTS).respond(422, json=body)
    with pytest.raises(SpecError) as caught:
        replicate.create(dict(NOTES_CREATE))
    assert caught.value.fields == {"version": [body["detail"]]}
    assert (caught.value.status_code, caught.value.body) == (422, body)


@pytest.mark.parametrize(
    ("detail", "field"),
    [
        ("hardware 'gpu-x' is not a valid hardware SKU", "hardware"),
        ("max_instances must be greater than or equal to min_instances", "max_instances"),
        ("min_instances must be greater than or equal to 0", "min_instances"),
        ("model acme/nope does not exist", "model"),
        ("name may contain only lowercase letters", "name"),
        ("Something about the request was wrong", ""),
    ],
)
def test_replicate_error_422_field_is_the_first_one_named(detail, field):
    assert field_named_in(detail) == field


def test_replicate_error_400_without_a_field_belongs_to_no_field(respx_mock, replicate):
    respx_mock.post(DEPLOYMENTS).respond(400, json={"title": "Bad request", "detail": "Malformed JSON", "status": 400})
    with pytest.raises(SpecError) as caught:
        replicate.create(dict(NOTES_CREATE))
    assert caught.value.fields == {"": ["Malformed JSON"]}


def test_replicate_error_409_on_create_is_a_duplicate_name(respx_mock, replicate):
    respx_mock.post(DEPLOYMENTS).respond(409, json=fixture("error_conflict"))
    with pytest.raises(SpecError) as caught:
        replicate.create(dict(NOTES_CREATE))
    assert caught.value.fields == {"name": ["A deployment named team-sdxl already exists for acme"]}


def test_replicate_error_402_is_rejected(respx_mock, replicate):
    respx_mock.post(DEPLOYMENTS).respond(402, json=fixture("error_payment_required"))
    with pytest.raises(Rejected) as caught:
        replicate.create(dict(NOTES_CREATE))
    assert caught.value.message.startswith("You have insufficient credit")


def test_replicate_error_429_is_rate_limited_with_its_wait(respx_mock, replicate, sleeps):
    route = respx_mock.post(DEPLOYMENTS).respond(429, json=fixture("error_throttled"), headers={"Retry-After": "30"})
    with pytest.raises(RateLimited) as caught:
        replicate.create(dict(NOTES_CREATE))
    assert caught.value.retry_after == 30.0
    assert caught.value.message == "Request was throttled. Your rate limit resets in ~30s."
    assert route.call_count == 1
    assert sleeps == []


@pytest.mark.parametrize("status", [500, 502, 503])
def test_replicate_error_5xx_is_transient(respx_mock, replicate, status):
    route = respx_mock.post(DEPLOYMENTS).respond(status, json=fixture("error_server"))
    with pytest.raises(Transient) as caught:
        replicate.create(dict(NOTES_CREATE))
    assert type(caught.value) is Transient
    assert "Something went wrong on our end." in caught.value.message
    assert route.call_count == 1  # a create is never retried here


def test_replicate_error_5xx_on_a_read_is_retried(respx_mock, replicate, sleeps, no_predictions):
    route = respx_mock.get(ONE).mock(
        side_effect=[httpx.Response(503, json=fixture("error_server")), httpx.Response(200, json=fixture("deployment"))]
    )
    assert replicate.get("acme/team-sdxl").external_id == "acme/team-sdxl"
    assert route.call_count == 2
    assert len(sleeps) == 1


def test_replicate_error_timeout_is_transient(respx_mock, replicate):
    respx_mock.post(DEPLOYMENTS).mock(side_effect=httpx.ReadTimeout("timed out"))
    with pytest.raises(Transient) as caught:
        replicate.create(dict(NOTES_CREATE))
    assert caught.value.status_code is None


def test_replicate_error_never_contains_the_key(respx_mock, replicate):
    respx_mock.get(f"{BASE}/account").respond(401, json={"detail": f"Invalid token {KEY}", "status": 401})
    with pytest.raises(AuthError) as caught:
        replicate.verify()
    assert KEY not in str(caught.value)


# --- the derived status table: one case per row ---------------------------------------------------------


def with_config(**config: Any) -> dict[str, Any]:
    item = fixture("deployment")
    item["current_release"]["configuration"].update(config)
    return item


# The observation that produces each row of the table.
SCENARIOS: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {
    "offline": ({"min_instances": 0}, []),
    "setting up": ({"min_instances": 0}, [prediction("starting", ago=40)]),
    "active": ({"min_instances": 1}, [prediction("processing", ago=2)]),
    "idle": ({"min_instances": 1}, []),
    "failing": ({"min_instances": 1}, [prediction("failed", ago=a) for a in (10, 20, 30)]),
}


@pytest.mark.parametrize(("status", "state"), list(STATUS_TABLE.items()), ids=list(STATUS_TABLE))
def test_replicate_status_table_row(status, state, replicate):
    config, predictions = SCENARIOS[status]
    item = with_config(**config)
    assert derive_status(item, predictions, now=now())[0] == status
    assert remote_state(status, item) == state
    remote = replicate.to_remote(item, predictions)
    assert (remote.state, remote.vendor_state) == (state, status)
    assert remote.message.startswith(DERIVED)


def test_replicate_status_scenarios_cover_the_table():
    assert set(SCENARIOS) == set(STATUS_TABLE)


def test_replicate_idle_at_zero_minimum_is_stopping():
    item = with_config(min_instances=0)
    status, why = derive_status(item, [prediction("succeeded", ago=60)], now=now())
    assert status == "idle"
    assert remote_state(status, item) == RemoteState.STOPPING
    assert why.startswith("idle since a prediction ended at ")


def test_replicate_idle_tail_ends_after_the_window():
    item = with_config(min_instances=0)
    assert derive_status(item, [prediction("succeeded", ago=6 * 60)], now=now())[0] == "offline"


def test_replicate_setting_up_with_warm_instances_is_updating():
    item = with_config(min_instances=2)
    status, why = derive_status(item, [prediction("starting", ago=30)], now=now())
    assert status == "setting up"
    assert remote_state(status, item) == RemoteState.UPDATING
    assert "cold start" in why


def test_replicate_a_young_starting_prediction_is_just_active():
    item = with_config(min_instances=0)
    assert derive_status(item, [prediction("starting", ago=1)], now=now())[0] == "active"


def test_replicate_a_success_breaks_the_failing_streak():
    predictions = [prediction("succeeded", ago=5), *[prediction("failed", ago=a) for a in (10, 20, 30)]]
    assert derive_status(with_config(min_instances=1), predictions, now=now())[0] == "idle"


def test_replicate_failing_names_the_latest_error():
    predictions = [prediction("failed", ago=a, error=f"boom {a}") for a in (10, 20, 30)]
    status, why = derive_status(with_config(min_instances=1), predictions, now=now())
    assert (status, why) == ("failing", "the last 3 predictions failed: boom 10")


def test_replicate_two_failures_are_not_yet_failing():
    predictions = [prediction("failed", ago=a) for a in (10, 20)]
    assert derive_status(with_config(min_instances=1), predictions, now=now())[0] == "idle"


def test_replicate_unknown_derived_status_is_unknown_and_logged(caplog):
    with caplog.at_level(logging.WARNING, logger="providers.replicate"):
        assert remote_state("hibernating", fixture("deployment")) == RemoteState.UNKNOWN
    assert [r.getMessage() for r in caplog.records] == [
        "replicate: unknown derived status 'hibernating' for acme/team-sdxl"
    ]


def test_replicate_unknown_prediction_status_is_logged_not_fatal(caplog):
    odd = prediction("paused", ago=10)
    with caplog.at_level(logging.WARNING, logger="providers.replicate"):
        assert derive_status(with_config(min_instances=1), [odd], now=now())[0] == "idle"
    assert f"replicate: unknown prediction status 'paused' for {odd['id']}" in caplog.text


def test_replicate_aborted_counts_as_finished():
    item = with_config(min_instances=0)
    assert derive_status(item, [prediction("aborted", ago=30)], now=now())[0] == "idle"


def test_replicate_reads_the_older_nested_configuration(replicate):
    remote = replicate.to_remote(fixture("deployment_nested_configuration"), [])
    assert (remote.state, remote.vendor_state) == (RemoteState.RUNNING, "idle")
    assert remote.message == DERIVED + "2 instances kept warm (min_instances 2, max_instances 4)"
    assert remote.price_per_hour == HARDWARE_PRICES["gpu-l40s"].per_hour * 2


def test_replicate_unknown_hardware_has_no_price(replicate):
    assert replicate.to_remote(with_config(hardware="gpu-b200", min_instances=1), []).price_per_hour is None


def test_replicate_release_without_configuration_is_offline(replicate):
    remote = replicate.to_remote({"owner": "acme", "name": "bare", "current_release": None}, [])
    assert (remote.state, remote.price_per_hour) == (RemoteState.STOPPED, None)


# --- the delete gate: why, and when ----------------------------------------------------------------------


def raw_with(min_instances: int, *predictions: dict[str, Any]) -> dict[str, Any]:
    return {**with_config(min_instances=min_instances), "recent_predictions": list(predictions)}


def test_replicate_delete_blocked_while_instances_are_kept():
    reason = ReplicateProvider.action_blocked(
        Action.DELETE, spec=dict(SEED_CREATE), raw=raw_with(1), since=now() - dt.timedelta(hours=2)
    )
    assert reason.startswith("Replicate deletes a deployment only after it has been offline and unused for 15 minutes")
    assert "stop it first (min_instances 0)" in reason


def test_replicate_delete_blocked_until_15_minutes_after_the_stop():
    stopped = now() - dt.timedelta(minutes=5)
    reason = ReplicateProvider.action_blocked(Action.DELETE, spec=dict(NOTES_CREATE), raw=raw_with(0), since=stopped)
    when = (stopped + dt.timedelta(minutes=15)).strftime("%H:%M UTC")
    assert reason.endswith(f"possible from {when} (in about 10 minutes).")


def test_replicate_delete_blocked_until_15_minutes_after_the_last_prediction():
    used = prediction("succeeded", ago=3 * 60)
    reason = ReplicateProvider.action_blocked(
        Action.DELETE, spec=dict(NOTES_CREATE), raw=raw_with(0, used), since=now() - dt.timedelta(hours=1)
    )
    finished = dt.datetime.fromisoformat(used["completed_at"].replace("Z", "+00:00"))
    when = (finished + dt.timedelta(minutes=15)).strftime("%H:%M UTC")
    assert f"possible from {when}" in reason


def test_replicate_delete_allowed_after_15_quiet_minutes_offline():
    old = prediction("succeeded", ago=20 * 60)
    assert (
        ReplicateProvider.action_blocked(
            Action.DELETE, spec=dict(NOTES_CREATE), raw=raw_with(0, old), since=now() - dt.timedelta(minutes=16)
        )
        == ""
    )


def test_replicate_delete_gate_falls_back_to_the_spec_before_any_answer():
    reason = ReplicateProvider.action_blocked(Action.DELETE, spec=dict(SEED_CREATE), raw={}, since=None)
    assert "stop it first" in reason


@pytest.mark.parametrize("action", [Action.STOP, Action.START, Action.SCALE, Action.UPDATE])
def test_replicate_other_actions_are_never_gated(action):
    assert ReplicateProvider.action_blocked(action, spec=dict(SEED_CREATE), raw=raw_with(1), since=now()) == ""


# --- prices ------------------------------------------------------------------------------------------------


def test_replicate_estimate_prefers_the_synced_catalog():
    from providers.base import Offer

    assert ReplicateProvider.estimate_price({"hardware": "gpu-t4"}) == Decimal("0.81")
    offers = [Offer(sku="gpu-t4", name="T4", price_per_hour=Decimal("0.90"))]
    assert ReplicateProvider.estimate_price({"hardware": "gpu-t4"}, offers) == Decimal("0.90")
    assert ReplicateProvider.estimate_price({"hardware": "gpu-b200"}) is None
    assert ReplicateProvider.upfront_charges(dict(NOTES_CREATE)) == []  # nothing charged at create


# --- check_spec: one case per rule ---------------------------------------------------------------------------


@pytest.mark.parametrize("spec", [NOTES_CREATE, SEED_CREATE], ids=["notes", "seed"])
def test_replicate_check_spec_accepts_the_documented_examples_as_written(spec):
    assert check_spec(copy.deepcopy(spec)) == spec


def test_replicate_check_spec_normalises_text():
    spec = {**NOTES_CREATE, "name": " acme/team-sdxl ", "version": VERSION.upper(), "model": " stability-ai/sdxl "}
    assert check_spec(spec) == NOTES_CREATE


@pytest.mark.parametrize(
    ("changes", "path", "message"),
    [
        *[
            pytest.param({key: None}, key, "This field is required.", id=f"{key}-required")
            for key in ("name", "model", "version", "hardware", "min_instances", "max_instances")
        ],
        pytest.param({"name": "Team-SDXL"}, "name", "lowercase letters", id="name-lowercase"),
        pytest.param({"name": "-team"}, "name", "starting with a letter or digit", id="name-start"),
        pytest.param({"name": "team sdxl"}, "name", "lowercase letters", id="name-spaces"),
        pytest.param({"name": "a" * 101}, "name", "at most 100", id="name-length"),
        pytest.param({"name": 7}, "name", "Must be text.", id="name-type"),
        pytest.param({"model": "sdxl"}, "model", "owner/name", id="model-owner"),
        pytest.param({"model": "a/b/c"}, "model", "owner/name", id="model-slashes"),
        pytest.param({"version": "abc123"}, "version", "64 hexadecimal characters", id="version-length"),
        pytest.param({"version": "g" * 64}, "version", "64 hexadecimal characters", id="version-hex"),
        pytest.param({"hardware": "Nvidia T4"}, "hardware", "hardware SKU", id="hardware-sku"),
        pytest.param({"min_instances": -1}, "min_instances", "Cannot be negative", id="min-negative"),
        pytest.param({"min_instances": 1.5}, "min_instances", "Must be a whole number.", id="min-whole"),
        pytest.param({"min_instances": True}, "min_instances", "Must be a whole number.", id="min-bool"),
        pytest.param({"max_instances": 0}, "max_instances", "At least 1", id="max-at-least-one"),
        pytest.param(
            {"min_instances": 4, "max_instances": 2}, "max_instances", "at least the minimum", id="max-ge-min"
        ),
    ],
)
def test_replicate_check_spec_rule(changes, path, message):
    with pytest.raises(SpecError) as caught:
        check_spec({**NOTES_CREATE, **changes})
    assert list(caught.value.fields) == [path]
    assert message in " ".join(caught.value.fields[path])
