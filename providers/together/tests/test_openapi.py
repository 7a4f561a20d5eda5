"""The seed's OpenAPI: every body the adapter sends, every fixture it reads."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from providers.together.tests.conftest import (
    DEPLOYMENTS,
    IMAGE,
    MINIMAL,
    ONE,
    SEED_CREATE,
    fixture,
    load_together_schema,
    sent_json,
)


def _schemas() -> dict[str, Any]:
    return load_together_schema()["components"]


def create_validator() -> Draft202012Validator:
    components = _schemas()
    return Draft202012Validator({"components": components, "$ref": "#/components/schemas/CreateDeploymentRequest"})


def patch_validator(*, autoscaling_off: bool = False) -> Draft202012Validator:
    """CreateDeploymentRequest minus ``required``: UpdateDeploymentRequest is "the create
    fields, all optional" (notes §2). With ``autoscaling_off`` it also takes ``{}``, which
    the notes (§4) and the SDK (jig_update_params: "Set to {} to disable") document but
    the seed's oneOf of three open objects cannot express."""
    components = _schemas()
    schema = copy.deepcopy(components["schemas"]["CreateDeploymentRequest"])
    del schema["required"]
    if autoscaling_off:
        original = schema["properties"]["autoscaling"]
        schema["properties"]["autoscaling"] = {"anyOf": [{"type": "object", "maxProperties": 0}, original]}
    return Draft202012Validator({"components": components, **schema})


def response_validator() -> Draft202012Validator:
    components = _schemas()
    return Draft202012Validator({"components": components, "$ref": "#/components/schemas/DeploymentResponseItem"})


def errors_of(validator: Draft202012Validator, body: Any) -> list[str]:
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)]


FULL_CREATE = {
    **SEED_CREATE,
    "command": ["/bin/sh", "-c"],
    "args": ["python", "app.py"],
    "environment_variables": [
        {"name": "MODEL_PATH", "value": "/models/weights"},
        {"name": "HF_TOKEN", "value_from_secret": "hf-token"},
    ],
    "volumes": [{"name": "flux-weights", "mount_path": "/models", "version": 2}, {"name": "vae", "mount_path": "/vae"}],
}
AUTOSCALING_KINDS = {
    "http-total": {"metric": "HTTPTotalRequests", "target": 120, "time_interval_minutes": 5},
    "http-duration": {"metric": "HTTPAvgRequestDuration", "target": 250.5},
    "queue": {"metric": "QueueBacklogPerWorker", "target": 1.01, "model": "flux-queue"},
    "custom": {"metric": "CustomMetric", "target": 500, "custom_metric_name": "jobs:waiting_total"},
}


def test_together_openapi_every_create_body_is_a_create_deployment_request(respx_mock, together):
    route = respx_mock.post(DEPLOYMENTS).respond(200, json=fixture("deployment_updating"))
    validator = create_validator()
    bodies = []
    for autoscaling in AUTOSCALING_KINDS.values():
        together.create({**copy.deepcopy(FULL_CREATE), "autoscaling": autoscaling})
        bodies.append(sent_json(route))
    together.create(dict(MINIMAL))
    bodies.append(sent_json(route))
    for body in bodies:
        assert errors_of(validator, body) == []
    # Between them the bodies use every field the schema defines, and nothing else.
    properties = set(_schemas()["schemas"]["CreateDeploymentRequest"]["properties"])
    assert set().union(*bodies) == properties
    assert {b["autoscaling"]["metric"] for b in bodies if "autoscaling" in b} == {
        k["metric"] for k in AUTOSCALING_KINDS.values()
    }
    env = bodies[0]["environment_variables"]
    assert {"value", "value_from_secret"} <= {key for item in env for key in item}
    assert bodies[0]["volumes"][0]["version"] == 2


def test_together_openapi_every_patch_body_is_an_update(respx_mock, together):
    route = respx_mock.patch(ONE).respond(200, json=fixture("deployment_scaling"))
    strict = patch_validator()
    bodies = {}
    for kind, autoscaling in AUTOSCALING_KINDS.items():
        together.update("dep_abc123", {**copy.deepcopy(FULL_CREATE), "autoscaling": autoscaling})
        bodies[f"update-{kind}"] = sent_json(route)
    together.scale("dep_abc123", {"min_replicas": 2, "max_replicas": 4})
    bodies["scale"] = sent_json(route)
    together.stop("dep_abc123", FULL_CREATE)
    bodies["stop"] = sent_json(route)
    together.start("dep_abc123", FULL_CREATE)
    bodies["start"] = sent_json(route)
    for name, body in bodies.items():
        assert errors_of(strict, body) == [], name


def test_together_openapi_update_with_autoscaling_off_differs_from_the_seed_only_there(respx_mock, together):
    route = respx_mock.patch(ONE).respond(200, json=fixture("deployment_updating"))
    together.update("dep_abc123", {**copy.deepcopy(FULL_CREATE), "autoscaling": None})
    body = sent_json(route)
    assert body["autoscaling"] == {}
    assert errors_of(patch_validator(autoscaling_off=True), body) == []
    # The seed's oneOf cannot say "{} means off"; that one field is the only complaint.
    assert [error.split(":")[0] for error in errors_of(patch_validator(), body)] == ["autoscaling"]


def test_together_openapi_h200_create_differs_from_the_seed_only_in_its_gpu_type(respx_mock, together):
    # h200-140gb is the SDK's (together 3.1.1, types/beta/jig_deploy_params.py), not the seed's.
    route = respx_mock.post(DEPLOYMENTS).respond(200, json=fixture("deployment_updating"))
    together.create({**copy.deepcopy(FULL_CREATE), "gpu_type": "h200-140gb"})
    assert [error.split(":")[0] for error in errors_of(create_validator(), sent_json(route))] == ["gpu_type"]


def test_together_openapi_validators_are_not_vacuous():
    assert errors_of(create_validator(), {**MINIMAL, "gpu_type": "a100-80gb"})
    assert errors_of(create_validator(), {"image": IMAGE, "gpu_type": "h100-80gb"})
    assert errors_of(patch_validator(), {"memory": 2000})
    assert errors_of(patch_validator(), {"autoscaling": {"metric": "HTTPTotalRequests", "target": "1.05"}})
    assert errors_of(response_validator(), {"status": "Running"})


@pytest.mark.parametrize(
    "name",
    [
        "deployment_ready",
        "deployment_updating",
        "deployment_scaling",
        "deployment_stopping",
        "deployment_stopped",
        "deployment_failed",
    ],
)
def test_together_openapi_fixture_is_a_deployment_response_item(name):
    assert errors_of(response_validator(), fixture(name)) == []


def test_together_openapi_scaled_to_zero_fixture_differs_from_the_seed_only_in_its_status():
    # ScaledToZero is the SDK's (together 3.1.1, types/beta/container_deployment_status.py),
    # not the seed's enum; everything else is a DeploymentResponseItem.
    errors = errors_of(response_validator(), fixture("deployment_scaled_to_zero"))
    assert [error.split(":")[0] for error in errors] == ["status", "status"]


def test_together_openapi_list_fixture_holds_deployment_response_items():
    listing = fixture("deployment_list")
    assert listing["object"] == "list"
    validator = response_validator()
    assert [errors_of(validator, item) for item in listing["data"]] == [[], []]
