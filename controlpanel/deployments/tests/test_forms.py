from __future__ import annotations

import pytest

from controlpanel.credentials.models import ProviderAccount
from controlpanel.deployments.forms import form_class_for
from controlpanel.deployments.forms.base import normalise_path
from controlpanel.vendors.together.form import TogetherDeploymentForm
from providers.registry import SLUGS


def bound(account, **fields):
    data = {
        "account": account.pk, "name": "flux", "image": "registry.together.ai/p/flux:1", "gpu_type": "h100-80gb",
        "gpu_count": "2", "min_replicas": "1", "max_replicas": "3",
        "env-TOTAL_FORMS": "0", "env-INITIAL_FORMS": "0", "volumes-TOTAL_FORMS": "0", "volumes-INITIAL_FORMS": "0",
    }  # fmt: skip
    data.update(fields)
    return TogetherDeploymentForm(data, accounts=ProviderAccount.objects.all())


def test_form_builds_a_create_deployment_request(account):
    form = bound(
        account,
        description="Flux worker", cpu="8", memory="64", storage="200", port="8000", health_check_path="/health",
        termination_grace_period_seconds="300", command="/bin/sh -c", args='python serve.py --name "a b"',
        autoscaling_metric="HTTPTotalRequests", autoscaling_target="100", autoscaling_time_interval_minutes="5",
        **{"env-TOTAL_FORMS": "2", "env-0-name": "MODEL_PATH", "env-0-source": "value", "env-0-value": "/models",
           "env-1-name": "HF_TOKEN", "env-1-source": "secret", "env-1-secret": "hf-token",
           "volumes-TOTAL_FORMS": "1", "volumes-0-name": "weights", "volumes-0-mount_path": "/models", "volumes-0-version": "2"},
    )  # fmt: skip
    assert form.is_valid(), form.main.errors
    assert form.spec == {
        "name": "flux", "description": "Flux worker", "image": "registry.together.ai/p/flux:1", "gpu_type": "h100-80gb",
        "gpu_count": 2, "cpu": 8.0, "memory": 64.0, "storage": 200, "min_replicas": 1, "max_replicas": 3, "port": 8000,
        "health_check_path": "/health", "termination_grace_period_seconds": 300,
        "command": ["/bin/sh", "-c"], "args": ["python", "serve.py", "--name", "a b"],
        "environment_variables": [{"name": "MODEL_PATH", "value": "/models"}, {"name": "HF_TOKEN", "value_from_secret": "hf-token"}],
        "volumes": [{"name": "weights", "mount_path": "/models", "version": 2}],
        "autoscaling": {"metric": "HTTPTotalRequests", "target": 100.0, "time_interval_minutes": 5},
    }  # fmt: skip


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
    ],
)
def test_vendor_errors_map_onto_fields(account, path, field, where):
    form = bound(account, **{"env-TOTAL_FORMS": "1", "env-0-name": "X", "env-0-value": "1",
                             "volumes-TOTAL_FORMS": "1", "volumes-0-name": "v", "volumes-0-mount_path": "/m"})  # fmt: skip
    assert form.is_valid()
    form.add_spec_errors({path: ["the vendor's words"]})
    target = form.main if where == "main" else form.sets[where].forms[0]
    assert target.errors[field] == ["the vendor's words"]


def test_vendor_error_on_an_unknown_path_is_shown_on_the_form(account):
    form = bound(account)
    assert form.is_valid()
    form.add_spec_errors({"capacity_type": ["not allowed"]})
    assert "capacity_type: not allowed" in form.non_field_errors


def test_normalise_path():
    assert normalise_path("body.environment_variables[2].name") == "environment_variables.2.name"


def test_initial_from_spec_round_trips(account):
    spec = {
        "name": "flux", "image": "img", "gpu_type": "b200-192gb", "gpu_count": 1, "min_replicas": 0, "max_replicas": 2,
        "command": ["a", "b c"], "autoscaling": {"metric": "QueueBacklogPerWorker", "target": 1.01},
        "environment_variables": [{"name": "A", "value": "1"}, {"name": "B", "value_from_secret": "s"}],
        "volumes": [{"name": "w", "mount_path": "/w"}],
    }  # fmt: skip
    initial, rows = TogetherDeploymentForm.initial_from_spec(spec)
    assert initial["autoscaling_metric"] == "QueueBacklogPerWorker"
    assert rows["env"] == [
        {"name": "A", "source": "value", "value": "1"},
        {"name": "B", "source": "secret", "secret": "s"},
    ]
    form = TogetherDeploymentForm(initial=initial, row_initial=rows, accounts=ProviderAccount.objects.all())
    assert form.main["command"].value() == "a 'b c'"  # shown as typed on a shell, parsed back to the list


def test_estimate_follows_gpu_and_replicas(account):
    estimate = bound(account, gpu_type="h100-80gb", gpu_count="2", min_replicas="1", max_replicas="3").estimate()
    assert str(estimate["unit"]) == "6.72"
    assert str(estimate["high"]) == "20.16"


# --- clone to another vendor: every pair of forms -----------------------------------------------------


def _clone_pairs():
    from controlpanel.vendors import demo_specs

    return [(src, dst) for src in sorted(demo_specs()) for dst in SLUGS if src != dst]


@pytest.mark.parametrize(("source", "target"), _clone_pairs())
def test_clone_carries_name_image_and_env_values_between_every_pair_of_vendors(source, target):
    from controlpanel.vendors import demo_specs

    common = form_class_for(source).common_from_spec(demo_specs()[source])
    initial, rows = form_class_for(target).initial_from_common(common)
    assert initial["name"] == demo_specs()[source]["name"]
    image_field = next(
        (f for f in form_class_for(target).IMAGE_FIELDS if f in form_class_for(target).main_form.base_fields), None
    )
    if image_field and common["image"]:
        assert initial[image_field] == common["image"]
    if "env" in form_class_for(target).formsets and common["env"]:
        key = "name" if "name" in form_class_for(target).formsets["env"][0].base_fields else "key"
        assert [(row[key], row["value"]) for row in rows["env"]] == common["env"]
    # The target form takes what it was given: one it renders without errors.
    form = form_class_for(target)(initial=initial, row_initial=rows)
    assert form.main["name"].value() == initial["name"]


# --- names the vendor keeps unique, checked against what the panel knows ---------------------------


def test_a_name_taken_on_the_same_key_is_refused_with_a_free_one(account):
    from controlpanel.deployments.states import State
    from tests.factories import DeploymentFactory

    DeploymentFactory(account=account, name="qwen-chat", state=State.RUNNING, external_id="dep-1")
    DeploymentFactory(account=account, name="qwen-chat-2", state=State.QUEUED)
    form = bound(account, name="qwen-chat")
    assert not form.is_valid()
    [message] = form.main.errors["name"]
    assert "“qwen-chat” is taken" in message
    assert "“qwen-chat-3” is free" in message
    assert form.errors_for("name") == [message]  # what the field shows as you type


@pytest.mark.parametrize(
    ("state", "external_id"),
    [("deleted", "dep-1"), ("failed", "")],  # gone, or never accepted by the vendor: the name is free
)
def test_a_name_held_by_nothing_at_the_vendor_is_free(account, state, external_id):
    from tests.factories import DeploymentFactory

    DeploymentFactory(account=account, name="qwen-chat", state=state, external_id=external_id)
    assert bound(account, name="qwen-chat").is_valid()


def test_a_name_on_another_key_or_while_editing_is_not_checked(account, team):
    from tests.factories import AccountFactory, DeploymentFactory

    other = AccountFactory(team=team)
    DeploymentFactory(account=other, name="qwen-chat", state="running", external_id="x")
    assert bound(account, name="qwen-chat").is_valid()
    DeploymentFactory(account=account, name="qwen-chat", state="running", external_id="y")
    data = bound(account, name="qwen-chat").main.data
    editing = TogetherDeploymentForm(data, accounts=ProviderAccount.objects.all(), editing=True)
    editing.is_valid()
    assert "name" not in editing.main.errors


@pytest.mark.parametrize("vendor", SLUGS)
def test_names_are_checked_exactly_for_the_vendors_whose_names_are_unique(vendor, team):
    from providers import get_provider_class
    from tests.factories import AccountFactory, DeploymentFactory

    account = AccountFactory(team=team, vendor=vendor)
    DeploymentFactory(account=account, name="taken", state="running", external_id="x", spec={"name": "taken"})
    form = form_class_for(vendor)({"account": account.pk, "name": "taken"}, accounts=ProviderAccount.objects.all())
    form.is_valid()
    refused = any("is taken" in e for e in form.main.errors.get("name", []))
    assert refused is get_provider_class(vendor).unique_names


# --- env rows with a name and no value ----------------------------------------------------------------


@pytest.mark.parametrize("vendor", [s for s in SLUGS if "env" in form_class_for(s).formsets])
def test_an_env_row_without_a_value_is_named_on_its_value_field(vendor, team):
    form_class = form_class_for(vendor)
    key = "name" if "name" in form_class.formsets["env"][0].base_fields else "key"
    data = {f"{p}-TOTAL_FORMS": "0" for p in form_class.formsets} | {
        f"{p}-INITIAL_FORMS": "0" for p in form_class.formsets
    }
    data |= {
        "env-TOTAL_FORMS": "2",
        f"env-0-{key}": "HF_TOKEN",
        "env-0-value": "",
        f"env-1-{key}": "OK",
        "env-1-value": "1",
    }
    form = form_class(data, accounts=ProviderAccount.objects.all())
    assert not form.is_valid()
    assert form.errors_for("env-0-value") == ["HF_TOKEN has no value: fill it in or remove the row."]
    assert form.errors_for("env-1-value") == []


def test_a_together_env_row_from_a_secret_needs_no_value(account):
    form = bound(
        account, **{"env-TOTAL_FORMS": "1", "env-0-name": "HF_TOKEN", "env-0-source": "secret", "env-0-secret": "hf"}
    )
    assert form.is_valid()


def test_first_render_estimate_uses_the_initial_values(account, team):
    from controlpanel.vendors.nosana.form import NosanaDeploymentForm
    from controlpanel.vendors.nosana.tests.test_form import OFFERS
    from tests.factories import AccountFactory

    assert str(TogetherDeploymentForm(accounts=ProviderAccount.objects.all()).estimate()["low"]) == "3.36"
    AccountFactory(team=team, vendor="nosana")
    nosana = NosanaDeploymentForm(accounts=ProviderAccount.objects.all(), offers=OFFERS).estimate()
    assert str(nosana["unit"]) == "0.0440"  # the first market shown, RTX 3060


def test_a_long_paste_is_not_cut_by_the_browser_but_named_on_the_field(account):
    form = bound(account, name="n" * 5000)
    assert "maxlength" not in str(form.main["name"])
    assert not form.is_valid()
    assert form.errors_for("name") == ["At most 100 characters: this has 5000. Shorten it to submit."]
