"""TogetherProvider against respx: the request each call sends and what it makes of the
answer (the seed's examples, as fixtures)."""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal

import pytest

from providers.base import AuthError, LogLines, RemoteState, SpecError
from providers.together.prices import ESTIMATED_GPU_HOURLY_USD
from providers.together.rules import GPU_TYPES
from providers.together.tests.conftest import (
    DEPLOYMENTS,
    IMAGE,
    MINIMAL,
    ONE,
    SEED_CREATE,
    assert_sent,
    fixture,
    sent_json,
)
from providers.together.tests.conftest import TOGETHER_BASE as BASE


def test_together_create_posts_the_spec_and_parses_the_first_rollout(respx_mock, together):
    route = respx_mock.post(DEPLOYMENTS).respond(200, json=fixture("deployment_updating"))
    remote = together.create(copy.deepcopy(SEED_CREATE))
    request = assert_sent(route, "POST", "/v1/deployments")
    assert request.headers["Content-Type"] == "application/json"
    assert sent_json(route) == SEED_CREATE
    assert remote.external_id == "dep_abc123"
    assert remote.name == "flux-worker"
    assert remote.state == RemoteState.UPDATING
    assert remote.vendor_state == "Updating"
    assert (remote.replicas_ready, remote.replicas_desired) == (0, 1)
    assert remote.primary_url == f"{BASE}/deployment-request/flux-worker"
    assert remote.price_per_hour == Decimal("0")  # nothing ready, nothing billed yet
    assert remote.created_at == dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
    assert remote.message == ""  # ContainerCreating is progress, not a problem
    assert remote.raw == fixture("deployment_updating")


def test_together_create_leaves_out_empty_optional_fields(respx_mock, together):
    route = respx_mock.post(DEPLOYMENTS).respond(200, json=fixture("deployment_updating"))
    together.create({**MINIMAL, "description": "", "command": [], "args": [], "health_check_path": "", "port": None})
    assert sent_json(route) == MINIMAL


def test_together_create_checks_the_spec_before_any_request(respx_mock, together):
    route = respx_mock.post(DEPLOYMENTS).respond(200, json=fixture("deployment_updating"))
    with pytest.raises(SpecError) as caught:
        together.create({**MINIMAL, "gpu_type": "a100-80gb"})
    assert set(caught.value.fields) == {"gpu_type"}
    assert route.call_count == 0


def test_together_get_parses_a_ready_deployment(respx_mock, together):
    route = respx_mock.get(ONE).respond(200, json=fixture("deployment_ready"))
    remote = together.get("dep_abc123")
    request = assert_sent(route, "GET", "/v1/deployments/dep_abc123")
    assert request.content == b""
    assert remote.external_id == "dep_abc123"
    assert remote.name == "flux-worker"
    assert remote.state == RemoteState.RUNNING
    assert remote.vendor_state == "Ready"
    assert (remote.replicas_ready, remote.replicas_desired) == (1, 1)
    assert remote.primary_url == f"{BASE}/deployment-request/flux-worker"
    assert remote.price_per_hour == ESTIMATED_GPU_HOURLY_USD["h100-80gb"]


def test_together_get_escapes_the_reference_in_the_path(respx_mock, together):
    route = respx_mock.get(f"{DEPLOYMENTS}/a%2Fb").respond(200, json=fixture("deployment_ready"))
    together.get("a/b")
    assert route.calls.last.request.url.raw_path == b"/v1/deployments/a%2Fb"


def test_together_get_prices_every_ready_replica_and_gpu(respx_mock, together):
    item = {**fixture("deployment_ready"), "gpu_type": "b200-192gb", "gpu_count": 2, "ready_replicas": 3}
    respx_mock.get(ONE).respond(200, json=item)
    assert together.get("dep_abc123").price_per_hour == ESTIMATED_GPU_HOURLY_USD["b200-192gb"] * 2 * 3


def test_together_get_of_a_failed_deployment_names_the_replica_problem(respx_mock, together):
    respx_mock.get(f"{DEPLOYMENTS}/dep_def456").respond(200, json=fixture("deployment_failed"))
    remote = together.get("dep_def456")
    assert remote.state == RemoteState.FAILED
    assert remote.vendor_state == "Failed"
    assert remote.message == "broken-worker-5c2aa-q8wr1: CrashLoopBackOff: back-off 40s restarting failed container"


def test_together_list_parses_every_item_in_one_call(respx_mock, together):
    route = respx_mock.get(DEPLOYMENTS).respond(200, json=fixture("deployment_list"))
    remotes = list(together.list_remotes())
    request = assert_sent(route, "GET", "/v1/deployments")
    assert request.url.query == b""  # the route has no pagination [V]
    assert route.call_count == 1
    assert [(r.external_id, r.name, r.state, r.vendor_state) for r in remotes] == [
        ("dep_abc123", "flux-worker", RemoteState.RUNNING, "Ready"),
        ("dep_def456", "broken-worker", RemoteState.FAILED, "Failed"),
    ]
    assert [(r.replicas_ready, r.replicas_desired) for r in remotes] == [(1, 1), (0, 1)]
    assert [r.primary_url for r in remotes] == [
        f"{BASE}/deployment-request/flux-worker",
        f"{BASE}/deployment-request/broken-worker",
    ]
    assert remotes[0].price_per_hour == Decimal("3.36")
    assert remotes[1].price_per_hour == Decimal("0")


def test_together_list_of_an_empty_project(respx_mock, together):
    respx_mock.get(DEPLOYMENTS).respond(200, json={"object": "list", "data": []})
    assert list(together.list_remotes()) == []


def test_together_update_sends_complete_lists_and_autoscaling_off(respx_mock, together):
    route = respx_mock.patch(ONE).respond(200, json=fixture("deployment_updating"))
    spec = {**MINIMAL, "image": f"{IMAGE}-v2", "min_replicas": 1, "max_replicas": 2}
    remote = together.update("dep_abc123", spec)
    assert_sent(route, "PATCH", "/v1/deployments/dep_abc123")
    # PATCH replaces env and volumes wholesale, {} turns autoscaling off, "" health checks [V].
    assert sent_json(route) == {
        "name": "flux-worker",
        "image": f"{IMAGE}-v2",
        "gpu_type": "h100-80gb",
        "min_replicas": 1,
        "max_replicas": 2,
        "environment_variables": [],
        "volumes": [],
        "autoscaling": {},
        "health_check_path": "",
    }
    assert remote.state == RemoteState.UPDATING


def test_together_update_sends_the_full_env_and_volume_lists(respx_mock, together):
    route = respx_mock.patch(ONE).respond(200, json=fixture("deployment_updating"))
    remote = together.update("dep_abc123", copy.deepcopy(SEED_CREATE), previous=MINIMAL)
    body = sent_json(route)
    assert body == SEED_CREATE
    assert body["environment_variables"] == SEED_CREATE["environment_variables"]
    assert body["volumes"] == SEED_CREATE["volumes"]
    assert remote.external_id == "dep_abc123"


def test_together_create_and_update_send_the_capacity_type(respx_mock, together):
    # capacity_type is on JigDeployParams and JigUpdateParams (together 3.1.1, types/beta/).
    created = respx_mock.post(DEPLOYMENTS).respond(200, json=fixture("deployment_updating"))
    patched = respx_mock.patch(ONE).respond(200, json=fixture("deployment_updating"))
    together.create({**MINIMAL, "capacity_type": "preemptible"})
    together.update("dep_abc123", {**MINIMAL, "capacity_type": "stable"})
    assert sent_json(created)["capacity_type"] == "preemptible"
    assert sent_json(patched)["capacity_type"] == "stable"


def test_together_update_treats_missing_lists_as_empty(respx_mock, together):
    route = respx_mock.patch(ONE).respond(200, json=fixture("deployment_updating"))
    together.update("dep_abc123", {**MINIMAL, "environment_variables": None, "volumes": None, "autoscaling": None})
    body = sent_json(route)
    assert (body["environment_variables"], body["volumes"], body["autoscaling"]) == ([], [], {})


def test_together_update_refuses_a_bad_spec_without_a_request(respx_mock, together):
    route = respx_mock.patch(ONE).respond(200, json=fixture("deployment_updating"))
    with pytest.raises(SpecError) as caught:
        together.update("dep_abc123", {**MINIMAL, "memory": 2000})
    assert set(caught.value.fields) == {"memory"}
    assert route.call_count == 0


def test_together_scale_patches_only_the_replica_bounds(respx_mock, together):
    route = respx_mock.patch(ONE).respond(200, json=fixture("deployment_scaling"))
    remote = together.scale("dep_abc123", {"min_replicas": 2, "max_replicas": 4, "image": "ignored"})
    assert_sent(route, "PATCH", "/v1/deployments/dep_abc123")
    assert sent_json(route) == {"min_replicas": 2, "max_replicas": 4}
    assert remote.state == RemoteState.UPDATING
    assert remote.vendor_state == "Scaling"
    assert (remote.replicas_ready, remote.replicas_desired) == (1, 2)


def test_together_scale_defaults_max_to_min(respx_mock, together):
    route = respx_mock.patch(ONE).respond(200, json=fixture("deployment_scaling"))
    together.scale("dep_abc123", {"min_replicas": 3})
    assert sent_json(route) == {"min_replicas": 3, "max_replicas": 3}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"max_replicas": 2}, "min_replicas", "This field is required."),
        ({"min_replicas": 0, "max_replicas": 0}, "max_replicas", "At least 1; to stop it, use Stop."),
        ({"min_replicas": 3, "max_replicas": 2}, "max_replicas", "Must be at least the minimum replicas."),
        ({"min_replicas": -1, "max_replicas": 2}, "min_replicas", "Cannot be negative (0 scales to zero)."),
    ],
)
def test_together_scale_refuses_bad_bounds(respx_mock, together, changes, field, message):
    route = respx_mock.patch(ONE).respond(200, json=fixture("deployment_scaling"))
    with pytest.raises(SpecError) as caught:
        together.scale("dep_abc123", changes)
    assert message in caught.value.fields[field]
    assert route.call_count == 0


def test_together_stop_patches_both_bounds_to_zero(respx_mock, together):
    route = respx_mock.patch(ONE).respond(200, json=fixture("deployment_stopping"))
    remote = together.stop("dep_abc123", copy.deepcopy(SEED_CREATE))
    assert_sent(route, "PATCH", "/v1/deployments/dep_abc123")
    assert sent_json(route) == {"min_replicas": 0, "max_replicas": 0}
    assert remote.state == RemoteState.STOPPING
    assert remote.vendor_state == "Scaling"


def test_together_get_of_a_stopped_deployment_is_stopped(respx_mock, together):
    respx_mock.get(ONE).respond(200, json=fixture("deployment_stopped"))
    remote = together.get("dep_abc123")
    assert remote.state == RemoteState.STOPPED
    assert (remote.replicas_ready, remote.replicas_desired) == (0, 0)
    assert remote.price_per_hour == Decimal("0")


@pytest.mark.parametrize(
    ("spec", "bounds"),
    [
        ({"min_replicas": 2, "max_replicas": 5}, {"min_replicas": 2, "max_replicas": 5}),
        ({"min_replicas": 0, "max_replicas": 3}, {"min_replicas": 1, "max_replicas": 3}),
        ({"min_replicas": 4, "max_replicas": 1}, {"min_replicas": 4, "max_replicas": 4}),
        ({"min_replicas": None}, {"min_replicas": 1, "max_replicas": 1}),
        ({}, {"min_replicas": 1, "max_replicas": 1}),
    ],
)
def test_together_start_patches_the_specs_bounds_with_at_least_one(respx_mock, together, spec, bounds):
    route = respx_mock.patch(ONE).respond(200, json=fixture("deployment_scaling"))
    remote = together.start("dep_abc123", spec)
    assert_sent(route, "PATCH", "/v1/deployments/dep_abc123")
    assert sent_json(route) == bounds
    assert remote.state == RemoteState.UPDATING


def test_together_delete_sends_delete(respx_mock, together):
    route = respx_mock.delete(ONE).respond(200, json={})
    assert together.delete("dep_abc123") is None
    request = assert_sent(route, "DELETE", "/v1/deployments/dep_abc123")
    assert request.content == b""


def test_together_logs_reads_the_lines_of_one_replica(respx_mock, together):
    route = respx_mock.get(f"{ONE}/logs").respond(200, json=fixture("logs"))
    logs = together.logs("dep_abc123", replica_id="flux-worker-7d9f8-x2kqp")
    request = assert_sent(route, "GET", "/v1/deployments/dep_abc123/logs")
    assert dict(request.url.params) == {"replica_id": "flux-worker-7d9f8-x2kqp"}
    assert logs == LogLines(lines=["INFO Setup in progress... 0", "INFO ready"], source="flux-worker-7d9f8-x2kqp")


def test_together_logs_of_every_replica_send_no_query(respx_mock, together):
    route = respx_mock.get(f"{ONE}/logs").respond(200, json={"lines": None})
    logs = together.logs("dep_abc123")
    assert route.calls.last.request.url.query == b""
    assert logs.lines == []


@pytest.mark.parametrize(("count", "summary"), [(1, "1 container deployment "), (2, "2 container deployments ")])
def test_together_verify_lists_the_project(respx_mock, together, count, summary):
    listing = fixture("deployment_list")
    listing["data"] = listing["data"][:count]
    route = respx_mock.get(DEPLOYMENTS).respond(200, json=listing)
    info = together.verify()
    assert_sent(route, "GET", "/v1/deployments")
    assert info.summary == f"Key accepted: {summary.strip()} in this project."


def test_together_find_by_name_gets_by_name(respx_mock, together):
    route = respx_mock.get(f"{DEPLOYMENTS}/flux-worker").respond(200, json=fixture("deployment_ready"))
    remote = together.find_by_name("flux-worker")
    assert_sent(route, "GET", "/v1/deployments/flux-worker")
    assert remote is not None
    assert (remote.external_id, remote.name, remote.state) == ("dep_abc123", "flux-worker", RemoteState.RUNNING)


def test_together_find_by_name_returns_none_when_absent(respx_mock, together):
    respx_mock.get(f"{DEPLOYMENTS}/ghost").respond(404, json=fixture("error_not_found"))
    assert together.find_by_name("ghost") is None


def test_together_catalog_prices_single_gpus_from_hardware(respx_mock, together):
    route = respx_mock.get(f"{BASE}/hardware").respond(200, json=fixture("hardware"))
    offers = together.catalog()
    assert_sent(route, "GET", "/v1/hardware")
    assert [o.sku for o in offers] == list(GPU_TYPES)
    by_sku = {o.sku: o for o in offers}
    # cents per minute * 60 / 100 = USD per hour; 2x and unknown hardware are left out.
    assert by_sku["h100-80gb"].price_per_hour == Decimal("3.36")
    assert by_sku["h100-80gb"].available is True
    assert by_sku["h100-80gb"].gpu_memory_gb == 80
    assert by_sku["h100-80gb"].raw["id"] == "1x_nvidia_h100_80gb_sxm"
    assert by_sku["b200-192gb"].price_per_hour == Decimal("9.9")
    assert by_sku["b200-192gb"].available is False  # "insufficient"
    assert by_sku["h100-40gb-mig"].price_per_hour == ESTIMATED_GPU_HOURLY_USD["h100-40gb-mig"]
    assert by_sku["h100-40gb-mig"].raw == {}


@pytest.mark.parametrize(("status", "body"), [(404, "error_not_found"), (403, "error_forbidden")])
def test_together_catalog_falls_back_to_estimates(respx_mock, together, status, body):
    respx_mock.get(f"{BASE}/hardware").respond(status, json=fixture(body))
    offers = together.catalog()
    assert {o.sku: o.price_per_hour for o in offers} == ESTIMATED_GPU_HOURLY_USD


def test_together_catalog_with_a_refused_key_raises(respx_mock, together):
    respx_mock.get(f"{BASE}/hardware").respond(401, json=fixture("error_unauthorized"))
    with pytest.raises(AuthError):
        together.catalog()


def test_together_account_metadata_names_secrets_and_volumes(respx_mock, together):
    respx_mock.get(f"{DEPLOYMENTS}/secrets").respond(
        200, json={"object": "list", "data": [{"id": "sec_1", "object": "secret", "name": "hf-token"}]}
    )
    respx_mock.get(f"{DEPLOYMENTS}/storage/volumes").respond(
        200, json={"object": "list", "data": [{"id": "vol_2", "object": "volume", "name": "weights"}, {"id": "x"}]}
    )
    assert together.account_metadata() == {"secrets": ["hf-token"], "volumes": ["weights"]}


# --- revisions and rollback (together 3.1.1 resources/beta/jig/jig.py list_revisions, rollback) ---


def test_together_revisions_reads_the_history_newest_first(respx_mock, together):
    def event(number: int, action: str, image: str, revision_id: str) -> dict:
        return {
            "object": "revision_event",
            "event_number": number,
            "action": action,
            "activated_at": f"2026-12-04T1{number}:00:00Z",
            "image": image,
            "revision_id": revision_id,
            "revision_number": number,
        }

    history = {"object": "list", "data": [event(2, "update", f"{IMAGE}-v2", "4d1c"), event(1, "create", IMAGE, "9a0e")]}
    route = respx_mock.get(f"{ONE}/revisions").respond(200, json=history)
    events = together.revisions("dep_abc123")
    assert route.calls.last.request.url.params["limit"] == "20"
    assert [(e["revision_number"], e["action"], e["revision_id"]) for e in events] == [
        (2, "update", "4d1c"),
        (1, "create", "9a0e"),
    ]


def test_together_rollback_posts_the_revision_and_keeps_its_configuration(respx_mock, together):
    answer = {**fixture("deployment_ready"), "image": f"{IMAGE}-old", "status": "Updating"}
    route = respx_mock.post(f"{ONE}/rollback").respond(200, json=answer)
    remote, spec = together.rollback("dep_abc123", "1", {**MINIMAL, "min_replicas": 3, "max_replicas": 4})
    assert sent_json(route) == {"revision_identifier": "1"}
    assert (remote.state, spec["image"]) == (RemoteState.UPDATING, f"{IMAGE}-old")
    assert (spec["name"], spec["min_replicas"], spec["max_replicas"]) == (MINIMAL["name"], 3, 4)


def test_together_update_that_removes_the_model_mount_sends_an_empty_list(respx_mock, together):
    route = respx_mock.patch(ONE).respond(200, json=fixture("deployment_updating"))
    mounted = {**MINIMAL, "model_mounts": [{"model_id": "ml_abc123", "mount_path": "/weights"}]}
    together.update("dep_abc123", dict(MINIMAL), previous=mounted)
    assert sent_json(route)["model_mounts"] == []
    together.update("dep_abc123", mounted, previous=MINIMAL)
    assert sent_json(route)["model_mounts"] == mounted["model_mounts"]
