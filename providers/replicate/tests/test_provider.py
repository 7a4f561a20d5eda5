"""The Replicate adapter against respx: what it sends for each call and what it makes
of the answers (providers/replicate/provider.py and mapping.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import httpx
import pytest

from providers import get_provider_class
from providers.base import Action, NotFound, Rejected, RemoteState, SpecError, parse_time
from providers.replicate import HARDWARE_PRICES, ReplicateProvider, mapping
from providers.replicate.provider import MAX_PREDICTION_PAGES, RECENT_WINDOW, SINCE_OVERLAP
from providers.replicate.statuses import DERIVED
from providers.replicate.tests.samples import (
    BASE,
    DEPLOYMENTS,
    KEY,
    NOTES_CREATE,
    ONE,
    PREDICTIONS,
    SEED_CREATE,
    VERSION,
    assert_sent,
    fixture,
    now,
    page,
    prediction,
    sent_json,
)

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
    # 200: the published OpenAPI's deployments.create answers "200" (issue 10).
    route = respx_mock.post(DEPLOYMENTS).respond(200, json=fixture("deployment"))
    remote = replicate.create(dict(NOTES_CREATE))
    request = assert_sent(route, "POST", "/v1/deployments")
    assert request.headers["Content-Type"] == "application/json"
    assert sent_json(route) == NOTES_CREATE
    assert remote.external_id == "acme/team-sdxl"
    assert remote.name == "team-sdxl"
    # min_instances 0 and never predicted: scaled to zero, waiting for its first prediction.
    assert (remote.state, remote.vendor_state) == (RemoteState.STOPPED, "offline")
    assert remote.message == (
        DERIVED + "scaled to zero, starts on the next request (min_instances 0, max_instances 3; "
        "no prediction in the last 5 minutes, so the next one cold-starts an instance)"
    )
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


def test_replicate_list_reads_one_prediction_page_and_get_a_few(respx_mock, replicate):
    respx_mock.get(DEPLOYMENTS).respond(200, json=page(fixture("deployment")))
    respx_mock.get(f"{DEPLOYMENTS}/acme/team-sdxl").respond(200, json=fixture("deployment"))
    route = respx_mock.get(url__startswith=PREDICTIONS).mock(
        side_effect=lambda request: httpx.Response(
            200, json=page(prediction("succeeded", ago=400), next_url=f"{PREDICTIONS}?cursor=n{len(route.calls)}")
        )
    )
    replicate.list_remotes()
    assert route.call_count == 1  # the list: one page per poll (issue 10)
    replicate.get("acme/team-sdxl")
    assert route.call_count == 1 + MAX_PREDICTION_PAGES


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


def test_replicate_stop_sets_both_bounds_to_zero(respx_mock, replicate, no_predictions):
    # max_instances 0 as well, so the next prediction cannot wake it: the published OpenAPI's
    # deployments.update allows 0 ("minimum": 0) for both bounds.
    route = respx_mock.patch(ONE).respond(200, json=fixture("deployment_stopped"))
    remote = replicate.stop("acme/team-sdxl", dict(SEED_CREATE))
    assert_sent(route, "PATCH", "/v1/deployments/acme/team-sdxl")
    assert sent_json(route) == {"min_instances": 0, "max_instances": 0}
    assert (remote.state, remote.vendor_state) == (RemoteState.STOPPED, "stopped")
    assert remote.message.startswith(DERIVED + "stopped (min_instances 0, max_instances 0)")


def test_replicate_stop_with_a_recent_prediction_is_stopped(respx_mock, replicate):
    respx_mock.patch(ONE).respond(200, json=fixture("deployment_stopped"))
    respx_mock.get(PREDICTIONS).respond(200, json=page(prediction("succeeded", ago=30)))
    remote = replicate.stop("acme/team-sdxl", dict(SEED_CREATE))
    assert (remote.state, remote.vendor_state, remote.price_per_hour) == (RemoteState.STOPPED, "stopped", 0)


@pytest.mark.parametrize(
    ("spec", "body"),
    [
        # The maximum is always sent: after a stop it is 0.
        ({"min_instances": 2, "max_instances": 5}, {"min_instances": 2, "max_instances": 5}),
        ({"min_instances": 0, "max_instances": 3}, {"min_instances": 1, "max_instances": 3}),
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


# --- the refresh's listing: one predictions page since the last poll, and what it remembers ---


def test_replicate_listing_asks_predictions_since_the_last_poll_and_keeps_earlier_ones(respx_mock, replicate):
    respx_mock.get(DEPLOYMENTS).respond(200, json=page(fixture("deployment")))
    earlier = prediction("succeeded", ago=600)
    newer = prediction("processing", ago=5)
    route = respx_mock.get(PREDICTIONS).respond(200, json=page(newer))
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=20)
    known = {"acme/team-sdxl": {"recent_predictions": [mapping.summary(earlier)]}}
    [remote] = replicate.listing(known=known, since=since).remotes
    assert route.call_count == 1
    after = parse_time(route.calls.last.request.url.params["created_after"])
    assert after is not None
    assert abs((after - (since - SINCE_OVERLAP)).total_seconds()) < 1.5  # the last poll, less the overlap
    assert {p["id"] for p in remote.raw["recent_predictions"]} == {earlier["id"], newer["id"]}
    assert remote.vendor_state == "active"  # the new one is running


def test_replicate_listing_reads_back_to_a_remembered_running_prediction_and_sees_it_end(respx_mock, replicate):
    respx_mock.get(DEPLOYMENTS).respond(200, json=page(fixture("deployment")))
    running = prediction("processing", ago=300)
    done = {**running, "status": "succeeded", "completed_at": running["created_at"]}
    route = respx_mock.get(PREDICTIONS).respond(200, json=page(done))
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=10)
    known = {"acme/team-sdxl": {"recent_predictions": [mapping.summary(running)]}}
    [remote] = replicate.listing(known=known, since=since).remotes
    after = parse_time(route.calls.last.request.url.params["created_after"])
    assert after is not None
    assert after < parse_time(running["created_at"])  # far enough back to see it again
    assert [p["status"] for p in remote.raw["recent_predictions"]] == ["succeeded"]  # not "processing" for ever


def test_replicate_listing_forgets_predictions_older_than_the_window(respx_mock, replicate):
    respx_mock.get(DEPLOYMENTS).respond(200, json=page(fixture("deployment")))
    respx_mock.get(PREDICTIONS).respond(200, json=page())
    old = prediction("succeeded", ago=RECENT_WINDOW.total_seconds() + 60)
    known = {"acme/team-sdxl": {"recent_predictions": [mapping.summary(old)]}}
    [remote] = replicate.listing(known=known, since=dt.datetime.now(dt.UTC)).remotes
    assert remote.raw["recent_predictions"] == []


def test_replicate_listing_pages_past_5000_deployments(respx_mock, replicate):
    # 20 a page (the twin's guess; the list has no page size): 5,020 deployments in 251 pages.
    def answer(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params.get("cursor") or 0)
        items = [{**fixture("deployment"), "name": f"d-{number}-{i}"} for i in range(20)]
        more = f"{DEPLOYMENTS}?cursor={number + 1}" if number < 250 else None
        return httpx.Response(200, json=page(*items, next_url=more))

    respx_mock.get(url__startswith=DEPLOYMENTS).mock(side_effect=answer)
    respx_mock.get(PREDICTIONS).respond(200, json=page())
    listing = replicate.listing()
    assert (len(listing.remotes), listing.complete) == (5020, True)
