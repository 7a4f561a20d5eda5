"""``rules.check_spec``: one case per rule, held to the seed's enum where it has one."""

from __future__ import annotations

import copy

import pytest

from providers.base import SpecError, ValidationContext
from providers.together import TogetherProvider
from providers.together.rules import GPU_TYPES, check_spec
from providers.together.tests.conftest import MINIMAL, SEED_CREATE, load_together_schema

ENV_OK = {"name": "MODE", "value": "fast"}


@pytest.mark.parametrize(
    ("changes", "path", "message"),
    [
        pytest.param(
            {"name": "bad name!"}, "name", "Use 1–100 letters, digits, underscores or hyphens.", id="name-pattern"
        ),
        pytest.param(
            {"name": "a" * 101}, "name", "Use 1–100 letters, digits, underscores or hyphens.", id="name-length"
        ),
        pytest.param({"name": ""}, "name", "This field is required.", id="name-required"),
        pytest.param({"image": None}, "image", "This field is required.", id="image-required"),
        pytest.param({"gpu_type": ""}, "gpu_type", "This field is required.", id="gpu-type-required"),
        pytest.param({"image": "my image:1"}, "image", "An image reference has no spaces", id="image-spaces"),
        pytest.param(
            {"gpu_type": "a100-80gb"},
            "gpu_type",
            "Choose one of: h100-80gb, h100-40gb-mig, h200-140gb, b200-192gb.",
            id="gpu-type-enum",
        ),
        pytest.param({"gpu_count": 0}, "gpu_count", "Between 1 and 8 GPUs per replica.", id="gpu-count-low"),
        pytest.param({"gpu_count": 9}, "gpu_count", "Between 1 and 8 GPUs per replica.", id="gpu-count-high"),
        pytest.param({"gpu_count": 1.5}, "gpu_count", "Must be a whole number.", id="gpu-count-whole"),
        pytest.param({"cpu": 0.05}, "cpu", "At least 0.1 cores (0.1 = 100 millicores).", id="cpu-min"),
        pytest.param({"cpu": "four"}, "cpu", "Must be a number.", id="cpu-number"),
        pytest.param({"memory": 1000.5}, "memory", "More than 0 and at most 1000 GiB.", id="memory-max"),
        pytest.param({"memory": 0}, "memory", "More than 0 and at most 1000 GiB.", id="memory-positive"),
        pytest.param({"storage": 401}, "storage", "Between 0 and 400 GiB.", id="storage-max"),
        pytest.param({"port": 0}, "port", "A port between 1 and 65535.", id="port-low"),
        pytest.param({"port": 65536}, "port", "A port between 1 and 65535.", id="port-high"),
        pytest.param({"health_check_path": "health"}, "health_check_path", "A path such as /health.", id="health-path"),
        pytest.param(
            {"min_replicas": 3, "max_replicas": 2},
            "max_replicas",
            "Must be at least the minimum replicas.",
            id="max-ge-min",
        ),
        pytest.param(
            {"min_replicas": 0, "max_replicas": 0},
            "max_replicas",
            "At least 1, or nothing will ever run.",
            id="max-zero",
        ),
        pytest.param({"min_replicas": -1}, "min_replicas", "Cannot be negative (0 scales to zero).", id="min-negative"),
        pytest.param(
            {"termination_grace_period_seconds": -5},
            "termination_grace_period_seconds",
            "Cannot be negative.",
            id="grace",
        ),
        pytest.param({"command": "python app.py"}, "command", "A list of strings.", id="command-list"),
        pytest.param({"args": ["--port", 8000]}, "args", "A list of strings.", id="args-strings"),
        pytest.param(
            {"environment_variables": [{"name": "1BAD", "value": "x"}]},
            "environment_variables.0.name",
            "Start with a letter or underscore; then letters, digits, underscores.",
            id="env-name-pattern",
        ),
        pytest.param(
            {"environment_variables": [{"name": "HF_TOKEN", "value": "x", "value_from_secret": "hf-token"}]},
            "environment_variables.0.value",
            "Give either a value or a secret, not both and not neither.",
            id="env-both",
        ),
        pytest.param(
            {"environment_variables": [{"name": "HF_TOKEN"}]},
            "environment_variables.0.value",
            "Give either a value or a secret, not both and not neither.",
            id="env-neither",
        ),
        pytest.param(
            {"environment_variables": [ENV_OK, {"name": "MODE", "value": "slow"}]},
            "environment_variables.1.name",
            "MODE is set twice.",
            id="env-duplicate",
        ),
        pytest.param(
            {"environment_variables": "MODE=fast"}, "environment_variables", "A list of variables.", id="env-list"
        ),
        pytest.param(
            {"volumes": [{"name": "weights", "mount_path": "models"}]},
            "volumes.0.mount_path",
            "An absolute path such as /models.",
            id="volume-absolute",
        ),
        pytest.param(
            {"volumes": [{"name": "a", "mount_path": "/m"}, {"name": "b", "mount_path": "/m"}]},
            "volumes.1.mount_path",
            "/m is mounted twice.",
            id="volume-unique",
        ),
        pytest.param(
            {"volumes": [{"mount_path": "/m"}]},
            "volumes.0.name",
            "Name an existing volume (name or id).",
            id="volume-name",
        ),
        pytest.param(
            {"volumes": [{"name": "a", "mount_path": "/m", "version": 0}]},
            "volumes.0.version",
            "A version number of 1 or more.",
            id="volume-version",
        ),
        pytest.param(
            {"autoscaling": {"metric": "CPUUtilization"}},
            "autoscaling.metric",
            "Choose one of: HTTPTotalRequests, HTTPAvgRequestDuration, QueueBacklogPerWorker, CustomMetric.",
            id="autoscaling-metric",
        ),
        pytest.param(
            {"autoscaling": {"metric": "HTTPTotalRequests", "target": 0}},
            "autoscaling.target",
            "A number above 0.",
            id="autoscaling-target",
        ),
        pytest.param(
            {"autoscaling": {"metric": "QueueBacklogPerWorker", "target": "1.05"}},
            "autoscaling.target",
            "A number above 0.",
            id="autoscaling-target-number",
        ),
        pytest.param(
            {"autoscaling": {"metric": "HTTPAvgRequestDuration", "time_interval_minutes": 0}},
            "autoscaling.time_interval_minutes",
            "Whole minutes, 1 or more.",
            id="autoscaling-interval",
        ),
        pytest.param(
            {"autoscaling": {"metric": "CustomMetric", "custom_metric_name": "9lives"}},
            "autoscaling.custom_metric_name",
            "A Prometheus metric name: letters, digits, _ and :, not starting with a digit.",
            id="custom-metric-name",
        ),
        pytest.param(
            {"autoscaling": {"metric": "CustomMetric"}},
            "autoscaling.custom_metric_name",
            "A Prometheus metric name: letters, digits, _ and :, not starting with a digit.",
            id="custom-metric-required",
        ),
        pytest.param(
            {"capacity_type": "spot"}, "capacity_type", "Choose one of: stable, preemptible.", id="capacity-type"
        ),
    ],
)
def test_together_check_spec_rule(changes, path, message):
    with pytest.raises(SpecError) as caught:
        check_spec({**MINIMAL, **changes})
    assert set(caught.value.fields) == {path}
    assert any(text.startswith(message) for text in caught.value.fields[path]), caught.value.fields


@pytest.mark.parametrize(
    "changes",
    [
        {"environment_variables": [{"name": 5, "value": "x"}]},
        {"volumes": [{"name": "a", "mount_path": 5}]},
        {"autoscaling": {"metric": "CustomMetric", "custom_metric_name": 5}},
    ],
    ids=["env-name", "mount-path", "custom-metric"],
)
def test_together_check_spec_refuses_wrong_types_without_crashing(changes):
    with pytest.raises(SpecError):
        check_spec({**MINIMAL, **changes})


def test_together_check_spec_collects_every_error_at_once():
    with pytest.raises(SpecError) as caught:
        check_spec({"gpu_count": 0, "memory": 5000})
    assert set(caught.value.fields) == {"name", "image", "gpu_type", "gpu_count", "memory"}


def test_together_check_spec_accepts_the_seed_request_unchanged():
    assert check_spec(copy.deepcopy(SEED_CREATE)) == SEED_CREATE


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"metric": "HTTPTotalRequests"}, {"metric": "HTTPTotalRequests", "target": 100}),
        (
            {"metric": "HTTPAvgRequestDuration", "time_interval_minutes": 5},
            {"metric": "HTTPAvgRequestDuration", "target": 500, "time_interval_minutes": 5},
        ),
        (
            {"metric": "QueueBacklogPerWorker", "model": "m"},
            {"metric": "QueueBacklogPerWorker", "target": 1.01, "model": "m"},
        ),
        (
            {"metric": "CustomMetric", "custom_metric_name": "jobs:waiting"},
            {"metric": "CustomMetric", "target": 500, "custom_metric_name": "jobs:waiting"},
        ),
    ],
)
def test_together_check_spec_fills_autoscaling_defaults(given, expected):
    assert check_spec({**MINIMAL, "autoscaling": given})["autoscaling"] == expected


def test_together_check_spec_partial_keeps_the_off_switches():
    body = check_spec({"health_check_path": "", "autoscaling": {}, "max_replicas": 0}, partial=True)
    assert body == {"health_check_path": "", "autoscaling": {}, "max_replicas": 0}


# JigDeployParams.gpu_type in the official SDK: PyPI together 3.1.1,
# together/types/beta/jig_deploy_params.py (npm together-ai 0.52.0's jig.d.ts agrees).
SDK_GPU_TYPES = ("h100-80gb", "h100-40gb-mig", "h200-140gb", "b200-192gb")


def test_together_gpu_types_are_the_seed_enum_and_the_sdks():
    schemas = load_together_schema()["components"]["schemas"]
    seed = schemas["CreateDeploymentRequest"]["properties"]["gpu_type"]["enum"]
    assert list(GPU_TYPES) == list(SDK_GPU_TYPES)
    assert set(seed) | {"h200-140gb"} == set(GPU_TYPES)


def test_together_check_spec_accepts_an_h200():
    assert check_spec({**MINIMAL, "gpu_type": "h200-140gb", "gpu_count": 8}) == {
        **MINIMAL,
        "gpu_type": "h200-140gb",
        "gpu_count": 8,
    }


@pytest.mark.parametrize(
    "context",
    [None, ValidationContext(), ValidationContext(existing=True, previous=MINIMAL)],
    ids=["none", "create", "update"],
)
def test_together_validate_is_check_spec_whatever_the_context(context):
    assert TogetherProvider.validate(copy.deepcopy(SEED_CREATE), context) == SEED_CREATE
    with pytest.raises(SpecError) as caught:
        TogetherProvider.validate({**MINIMAL, "gpu_count": 0}, context)
    assert set(caught.value.fields) == {"gpu_count"}


def test_together_validate_spec_is_gone():
    assert "validate_spec" not in vars(TogetherProvider)
    assert "parse_error" not in vars(TogetherProvider)


@pytest.mark.parametrize(("given", "sent"), [("preemptible", "preemptible"), ("stable", "stable"), ("", None)])
def test_together_check_spec_passes_capacity_type_on_when_given(given, sent):
    # The SDK's field (together 3.1.1, types/beta/jig_deploy_params.py): "stable" | "preemptible".
    body = check_spec({**MINIMAL, "capacity_type": given})
    assert body.get("capacity_type") == sent
    assert check_spec({"capacity_type": given}, partial=True).get("capacity_type") == sent


# model_mounts: together 3.1.1 types/beta/jig_deploy_params.py ModelMount ("At most one mount is
# supported, and it cannot be used with volumes"; model_id ml_..., revision_id rv_...).
MOUNT = {"model_id": "ml_abc123", "mount_path": "/weights"}


def test_together_check_spec_takes_one_model_mount_with_or_without_a_revision():
    assert check_spec({**MINIMAL, "model_mounts": [MOUNT]})["model_mounts"] == [MOUNT]
    pinned = {**MOUNT, "revision_id": "rv_42"}
    assert check_spec({**MINIMAL, "model_mounts": [pinned]})["model_mounts"] == [pinned]
    assert "model_mounts" not in check_spec({**MINIMAL, "model_mounts": []})


@pytest.mark.parametrize(
    ("changes", "path", "message"),
    [
        ({"model_mounts": [MOUNT, MOUNT]}, "model_mounts", "Together mounts at most one model."),
        (
            {"model_mounts": [MOUNT], "volumes": [{"name": "v", "mount_path": "/v"}]},
            "model_mounts",
            "A model mount cannot be used with volumes: remove the volumes or the mount.",
        ),
        ({"model_mounts": [{**MOUNT, "model_id": "llama"}]}, "model_mounts.0.model_id", "A model registry id"),
        ({"model_mounts": [{**MOUNT, "mount_path": "weights"}]}, "model_mounts.0.mount_path", "An absolute path"),
        ({"model_mounts": [{**MOUNT, "revision_id": "v1"}]}, "model_mounts.0.revision_id", "A validated revision"),
    ],
)
def test_together_check_spec_model_mount_rule(changes, path, message):
    with pytest.raises(SpecError) as refused:
        check_spec({**MINIMAL, **changes})
    assert refused.value.fields[path][0].startswith(message)
