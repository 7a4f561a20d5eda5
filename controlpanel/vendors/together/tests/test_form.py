"""The Together form: the ``CreateDeploymentRequest`` it builds, where the vendor's rules
land, and its round trip from a stored spec."""

from __future__ import annotations

import pytest

from controlpanel.credentials.models import ProviderAccount
from controlpanel.vendors.together.form import TogetherDeploymentForm


def bound(account, **fields):
    data = {
        "account": account.pk,
        "name": "flux",
        "image": "registry.together.ai/p/flux:1",
        "gpu_type": "h100-80gb",
        "gpu_count": "2",
        "min_replicas": "1",
        "max_replicas": "3",
        "env-TOTAL_FORMS": "0",
        "env-INITIAL_FORMS": "0",
        "volumes-TOTAL_FORMS": "0",
        "volumes-INITIAL_FORMS": "0",
    }
    data.update(fields)
    return TogetherDeploymentForm(data, accounts=ProviderAccount.objects.all())


def test_form_builds_a_create_deployment_request(account):
    form = bound(
        account,
        description="Flux worker",
        cpu="8",
        memory="64",
        storage="200",
        port="8000",
        health_check_path="/health",
        termination_grace_period_seconds="300",
        command="/bin/sh -c",
        args='python serve.py --name "a b"',
        autoscaling_metric="HTTPTotalRequests",
        autoscaling_target="100",
        autoscaling_time_interval_minutes="5",
        **{
            "env-TOTAL_FORMS": "2",
            "env-0-name": "MODEL_PATH",
            "env-0-source": "value",
            "env-0-value": "/models",
            "env-1-name": "HF_TOKEN",
            "env-1-source": "secret",
            "env-1-secret": "hf-token",
            "volumes-TOTAL_FORMS": "1",
            "volumes-0-name": "weights",
            "volumes-0-mount_path": "/models",
            "volumes-0-version": "2",
        },
    )
    assert form.is_valid(), form.main.errors
    assert form.spec == {
        "name": "flux",
        "description": "Flux worker",
        "image": "registry.together.ai/p/flux:1",
        "gpu_type": "h100-80gb",
        "gpu_count": 2,
        "cpu": 8.0,
        "memory": 64.0,
        "storage": 200,
        "min_replicas": 1,
        "max_replicas": 3,
        "port": 8000,
        "health_check_path": "/health",
        "termination_grace_period_seconds": 300,
        "command": ["/bin/sh", "-c"],
        "args": ["python", "serve.py", "--name", "a b"],
        "environment_variables": [
            {"name": "MODEL_PATH", "value": "/models"},
            {"name": "HF_TOKEN", "value_from_secret": "hf-token"},
        ],
        "volumes": [{"name": "weights", "mount_path": "/models", "version": 2}],
        "autoscaling": {"metric": "HTTPTotalRequests", "target": 100.0, "time_interval_minutes": 5},
    }


def test_form_capacity_type_is_the_sdks_choice_or_left_to_together(account):
    # "stable" | "preemptible": together 3.1.1, types/beta/jig_deploy_params.py.
    choices = dict(bound(account).main.fields["capacity_type"].choices)
    assert list(choices) == ["", "stable", "preemptible"]
    form = bound(account, capacity_type="preemptible")
    assert form.is_valid(), form.main.errors
    assert form.spec["capacity_type"] == "preemptible"
    default = bound(account, capacity_type="")
    assert default.is_valid()
    assert "capacity_type" not in default.spec
    refused = bound(account, capacity_type="spot")
    assert not refused.is_valid()
    assert "capacity_type" in refused.main.errors
    initial, _rows = TogetherDeploymentForm.initial_from_spec(form.spec)
    assert initial["capacity_type"] == "preemptible"


def test_form_blank_rows_are_ignored(account):
    form = bound(account, **{"env-TOTAL_FORMS": "2", "env-1-name": "A", "env-1-value": "1"})
    assert form.is_valid()
    assert form.spec["environment_variables"] == [{"name": "A", "value": "1"}]


def test_form_max_replicas_defaults_to_min(account):
    form = bound(account, min_replicas="2", max_replicas="")
    assert form.is_valid()
    assert form.spec["max_replicas"] == 2


def test_form_vendor_rule_lands_on_the_row_field(account):
    form = bound(account, **{"env-TOTAL_FORMS": "1", "env-0-name": "OK", "env-0-source": "secret", "env-0-secret": ""})
    assert not form.is_valid()
    row = form.sets["env"].forms[0]
    assert row.errors["value"] == ["Give either a value or a secret, not both and not neither."]


def test_form_cross_field_rule_lands_on_max(account):
    form = bound(account, min_replicas="4", max_replicas="2")
    assert not form.is_valid()
    assert form.main.errors["max_replicas"] == ["Must be at least the minimum replicas."]


def test_form_unbalanced_quotes_in_command(account):
    form = bound(account, command='python "unterminated')
    assert not form.is_valid()
    assert "Could not split this into words" in form.main.errors["command"][0]


@pytest.mark.parametrize(
    ("path", "field", "where"),
    [
        ("name", "name", "main"),
        ("autoscaling.target", "autoscaling_target", "main"),
        ("environment_variables[0].name", "name", "env"),
        ("environment_variables.0.value_from_secret", "secret", "env"),
        ("volumes.0.mount_path", "mount_path", "volumes"),
        ("body.gpu_type", "gpu_type", "main"),
        ("capacity_type", "capacity_type", "main"),
    ],
)
def test_vendor_errors_map_onto_fields(account, path, field, where):
    form = bound(
        account,
        **{
            "env-TOTAL_FORMS": "1",
            "env-0-name": "X",
            "env-0-value": "1",
            "volumes-TOTAL_FORMS": "1",
            "volumes-0-name": "v",
            "volumes-0-mount_path": "/m",
        },
    )
    assert form.is_valid()
    form.add_spec_errors({path: ["the vendor's words"]})
    target = form.main if where == "main" else form.sets[where].forms[0]
    assert target.errors[field] == ["the vendor's words"]


def test_vendor_error_on_an_unknown_path_is_shown_on_the_form(account):
    form = bound(account)
    assert form.is_valid()
    form.add_spec_errors({"reserved_capacity": ["not allowed"]})
    assert "reserved_capacity: not allowed" in form.non_field_errors


def test_initial_from_spec_round_trips(account):
    spec = {
        "name": "flux",
        "image": "img",
        "gpu_type": "b200-192gb",
        "gpu_count": 1,
        "min_replicas": 0,
        "max_replicas": 2,
        "command": ["a", "b c"],
        "autoscaling": {"metric": "QueueBacklogPerWorker", "target": 1.01},
        "environment_variables": [{"name": "A", "value": "1"}, {"name": "B", "value_from_secret": "s"}],
        "volumes": [{"name": "w", "mount_path": "/w"}],
    }
    initial, rows = TogetherDeploymentForm.initial_from_spec(spec)
    assert initial["autoscaling_metric"] == "QueueBacklogPerWorker"
    assert rows["env"] == [
        {"name": "A", "source": "value", "value": "1"},
        {"name": "B", "source": "secret", "secret": "s"},
    ]
    form = TogetherDeploymentForm(initial=initial, row_initial=rows, accounts=ProviderAccount.objects.all())
    assert form.main["command"].value() == "a 'b c'"  # shown as typed on a shell, parsed back to the list


def test_form_offers_every_gpu_type_including_the_h200(account):
    # h200-140gb: the SDK's gpu_type enum (together 3.1.1, types/beta/jig_deploy_params.py).
    choices = dict(bound(account).main.fields["gpu_type"].choices)
    assert list(choices) == ["h100-80gb", "h100-40gb-mig", "h200-140gb", "b200-192gb"]
    assert choices["h200-140gb"] == "NVIDIA H200 140GB"
    form = bound(account, gpu_type="h200-140gb")
    assert form.is_valid(), form.main.errors
    assert form.spec["gpu_type"] == "h200-140gb"
    assert str(form.estimate()["unit"]) == "9.98"  # 2 GPUs at the estimated 4.99


def test_estimate_follows_gpu_and_replicas(account):
    estimate = bound(account, gpu_type="h100-80gb", gpu_count="2", min_replicas="1", max_replicas="3").estimate()
    assert str(estimate["unit"]) == "6.72"
    assert str(estimate["high"]) == "20.16"


def test_form_model_mount_is_one_registry_model_and_not_with_volumes(account):
    # together 3.1.1, types/beta/jig_deploy_params.py ModelMount.
    form = bound(account, model_mount_id="ml_abc123", model_mount_path="/weights", model_mount_revision="rv_7")
    assert form.is_valid(), form.main.errors
    assert form.spec["model_mounts"] == [{"model_id": "ml_abc123", "mount_path": "/weights", "revision_id": "rv_7"}]
    initial, _rows = TogetherDeploymentForm.initial_from_spec(form.spec)
    assert (initial["model_mount_id"], initial["model_mount_path"], initial["model_mount_revision"]) == (
        "ml_abc123",
        "/weights",
        "rv_7",
    )
    plain = bound(account)
    assert plain.is_valid()
    assert "model_mounts" not in plain.spec  # none: nothing sent on create
    with_volume = bound(
        account,
        model_mount_id="ml_abc123",
        model_mount_path="/weights",
        **{"volumes-TOTAL_FORMS": "1", "volumes-0-name": "demo-weights", "volumes-0-mount_path": "/data"},
    )
    assert not with_volume.is_valid()
    assert with_volume.main.errors["model_mount_id"] == [
        "A model mount cannot be used with volumes: remove the volumes or the mount."
    ]
    bad = bound(account, model_mount_id="llama", model_mount_path="weights")
    assert not bad.is_valid()
    assert bad.main.errors["model_mount_id"][0].startswith("A model registry id")
    assert bad.main.errors["model_mount_path"][0].startswith("An absolute path")
