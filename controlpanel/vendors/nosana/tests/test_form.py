"""The Nosana form: the request body it builds, each rule on its field, vendor error
paths on the right field, offers as choices, money, and editing."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from controlpanel.catalog.models import Offer as CatalogOffer
from controlpanel.credentials.models import ProviderAccount
from controlpanel.deployments.forms.actions import ScaleForm
from controlpanel.deployments.models import Deployment
from controlpanel.deployments.states import State
from controlpanel.vendors.nosana.form import NosanaDeploymentForm
from providers.base import Offer
from tests.factories import AccountFactory, DeploymentFactory

M3060 = "7AtiXMSH6R1jjBxrcYjehCkkSF7zvYWte63gwEDBcGHq"
M4090 = "97G9NnvBDQ2WpKu6fasoMsAKmfj63C9rhysJnkeWodAf"
OFFERS = [
    Offer(
        sku=M4090,
        name="NVIDIA 4090",
        kind="market",
        gpu_model="RTX 4090",
        gpu_memory_gb=24,
        price_per_hour=Decimal("0.4400"),
        extra={"type": "PREMIUM", "idle_nodes": 11},
    ),
    Offer(
        sku=M3060,
        name="NVIDIA 3060",
        kind="market",
        gpu_model="RTX 3060",
        gpu_memory_gb=12,
        price_per_hour=Decimal("0.0440"),
        extra={"type": "PREMIUM", "idle_nodes": 14},
    ),
    Offer(
        sku="4RX5mWD8gqJEyvBb3sGSmEc4wDRHAp9EJNh6nRwnZ7tR",
        name="NVIDIA 3090 Community",
        kind="market",
        gpu_model="RTX 3090",
        price_per_hour=Decimal("0.1320"),
        available=False,
        extra={"type": "COMMUNITY", "idle_nodes": 0},
    ),
]
SEED = {
    "name": "Hello World",
    "market": M3060,
    "timeout": 60,
    "replicas": 1,
    "strategy": "SIMPLE",
    "job_definition": {
        "version": "0.1",
        "type": "container",
        "meta": {"trigger": "api"},
        "ops": [
            {"type": "container/run", "id": "hello-world", "args": {"cmd": ["echo hello world"], "image": "ubuntu"}}
        ],
    },
}


@pytest.fixture
def nosana_account(team):
    return AccountFactory(team=team, vendor="nosana", label="Nosana sandbox", api_key="sandbox-nosana-forms")


def data(account, **fields: Any) -> dict[str, Any]:
    values = {
        "account": account.pk,
        "name": "Hello World",
        "market": M3060,
        "strategy": "SIMPLE",
        "replicas": "1",
        "timeout": "60",
        "image": "ubuntu",
        "cmd_mode": "shell",
        "cmd": "echo hello world",
        "env-TOTAL_FORMS": "0",
        "env-INITIAL_FORMS": "0",
        "ports-TOTAL_FORMS": "0",
        "ports-INITIAL_FORMS": "0",
    }
    values.update(fields)
    return values


def bound(account, *, editing: bool = False, **fields: Any) -> NosanaDeploymentForm:
    return NosanaDeploymentForm(
        data(account, **fields), accounts=ProviderAccount.objects.all(), offers=OFFERS, editing=editing
    )


def built(spec: dict[str, Any]) -> dict[str, Any]:
    return spec["job_definition"]["ops"][0]["args"]


# --- the request body --------------------------------------------------------------------------------------


def test_nosana_form_builds_the_seeds_request(nosana_account):
    form = bound(nosana_account)
    assert form.is_valid(), (form.main.errors, form.non_field_errors)
    # The seed's body, plus the two choices the form always states.
    assert form.spec == {
        **SEED,
        "confidential": False,
        "job_definition": {
            **SEED["job_definition"],
            "ops": [
                {
                    "type": "container/run",
                    "id": "hello-world",
                    "args": {"image": "ubuntu", "cmd": ["echo hello world"], "gpu": False},
                }
            ],
        },
    }


def test_nosana_form_builds_every_builder_field(nosana_account):
    form = bound(
        nosana_account,
        name="llama-demo",
        market=M4090,
        strategy="INFINITE",
        replicas="2",
        timeout="120",
        rotation_time="30",
        confidential="on",
        image="docker.io/vllm/vllm-openai:v0.5.4",
        cmd_mode="words",
        cmd='--model Qwen/Qwen2.5-1.5B-Instruct --served-model-name "qwen small"',
        entrypoint="python3 -m vllm",
        work_dir="/srv",
        gpu="on",
        required_vram="16",
        op_id="vllm",
        **{
            "env-TOTAL_FORMS": "2",
            "env-0-name": "HF_TOKEN",
            "env-0-value": "hf_x",
            "env-1-name": "MODE",
            "env-1-value": "fast",
            "ports-TOTAL_FORMS": "2",
            "ports-0-port": "8000",
            "ports-0-type": "api",
            "ports-1-port": "8080",
            "ports-1-type": "",
        },
    )
    assert form.is_valid(), (form.main.errors, [f.errors for f in form.sets["ports"].forms])
    assert form.spec == {
        "name": "llama-demo",
        "market": M4090,
        "replicas": 2,
        "timeout": 120,
        "strategy": "INFINITE",
        "rotation_time": 30,
        "confidential": True,
        "job_definition": {
            "version": "0.1",
            "type": "container",
            "meta": {"trigger": "api", "system_requirements": {"required_vram": 16}},
            "ops": [
                {
                    "type": "container/run",
                    "id": "vllm",
                    "args": {
                        "image": "docker.io/vllm/vllm-openai:v0.5.4",
                        "cmd": ["--model", "Qwen/Qwen2.5-1.5B-Instruct", "--served-model-name", "qwen small"],
                        "entrypoint": ["python3", "-m", "vllm"],
                        "work_dir": "/srv",
                        "gpu": True,
                        "expose": [{"port": 8000, "type": "api"}, {"port": 8080}],
                        "env": {"HF_TOKEN": "hf_x", "MODE": "fast"},
                    },
                }
            ],
        },
    }


def test_nosana_form_one_untyped_port_is_the_short_form(nosana_account):
    form = bound(nosana_account, **{"ports-TOTAL_FORMS": "2", "ports-1-port": "8000"})
    assert form.is_valid()
    assert built(form.spec)["expose"] == 8000


def test_nosana_form_scheduled_sends_its_schedule_only(nosana_account):
    form = bound(nosana_account, strategy="SCHEDULED", schedule="0 3 * * *", rotation_time="30")
    assert form.is_valid()
    assert (form.spec["schedule"], "rotation_time" in form.spec) == ("0 3 * * *", False)


def test_nosana_form_operation_id_defaults_to_the_name(nosana_account):
    form = bound(nosana_account, name="My LLM, v2!")
    assert form.is_valid()
    assert form.spec["job_definition"]["ops"][0]["id"] == "my-llm-v2"


def test_nosana_form_json_editor_replaces_the_built_job_definition(nosana_account):
    definition = {
        "version": "0.1",
        "type": "container",
        "meta": {"trigger": "api"},
        "ops": [
            {"type": "container/create-volume", "id": "models", "args": {"name": "models"}},
            {
                "type": "container/run",
                "id": "app",
                "execution": {"depends_on": ["models"]},
                "args": {
                    "image": "ollama/ollama",
                    "volumes": [{"name": "models", "dest": "/root/.ollama"}],
                    "expose": [{"port": 11434, "type": "api", "health_checks": [{"type": "http", "path": "/"}]}],
                },
            },
        ],
    }
    form = bound(nosana_account, image="", cmd="", job_definition_json=json.dumps(definition))
    assert form.is_valid(), form.main.errors
    assert form.spec["job_definition"] == definition


# --- one test per form rule: the message lands on the field -----------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"replicas": "0"}, "replicas", "At least 1."),
        ({"timeout": "0"}, "timeout", "At least 1 minute."),
        ({"strategy": "SCHEDULED"}, "schedule", "A scheduled deployment needs a cron schedule."),
        (
            {"strategy": "SCHEDULED", "schedule": "0 3 * *"},
            "schedule",
            "Five fields: minute hour day-of-month month day-of-week, e.g. 0 * * * *.",
        ),
        ({"strategy": "SCHEDULED", "schedule": "0 25 * * *"}, "schedule", "Not a valid cron expression."),
        (
            {"strategy": "INFINITE", "timeout": "45"},
            "timeout",
            "Timeout for infinite deployments must be at least 1 hour.",
        ),
        (
            {"strategy": "INFINITE", "timeout": "60", "rotation_time": "55"},
            "rotation_time",
            "Rotation time must be at least 10 minutes less than timeout.",
        ),
        (
            {"strategy": "INFINITE", "timeout": "60", "rotation_time": "50"},
            "rotation_time",
            "Rotation time must be at least 10 minutes less than timeout.",
        ),  # 50 is not under 60 − 10
        ({"image": ""}, "image", "This field is required."),
        ({"image": "ubuntu latest"}, "image", "An image reference, no spaces."),
        ({"required_vram": "-1"}, "required_vram", "At least 0."),
        ({"name": "   "}, "name", "This field is required."),
        (
            {"market": "not-a-market"},
            "market",
            "Select a valid choice. not-a-market is not one of the available choices.",
        ),
    ],
)
def test_nosana_form_rule_on_its_field(nosana_account, fields, field, message):
    form = bound(nosana_account, **fields)
    assert not form.is_valid()
    assert message in form.main.errors[field]


def test_nosana_form_bad_port_lands_on_its_row(nosana_account):
    form = bound(
        nosana_account,
        **{
            "ports-TOTAL_FORMS": "2",
            "ports-0-port": "8000",
            "ports-0-type": "api",
            "ports-1-port": "70000",
            "ports-1-type": "web",
        },
    )
    assert not form.is_valid()
    assert form.sets["ports"].forms[1].errors["port"] == ["At most 65535."]


def test_nosana_form_single_bad_port_lands_on_the_first_row(nosana_account):
    form = bound(nosana_account, **{"ports-TOTAL_FORMS": "1", "ports-0-port": "0"})
    assert not form.is_valid()
    assert form.sets["ports"].forms[0].errors["port"] == ["At least 1."]


def test_nosana_form_bad_env_name_lands_on_its_row(nosana_account):
    form = bound(
        nosana_account,
        **{"env-TOTAL_FORMS": "2", "env-0-name": "OK", "env-0-value": "1", "env-1-name": "NOT OK", "env-1-value": "2"},
    )
    assert not form.is_valid()
    assert form.sets["env"].forms[1].errors["name"] == ["A variable name has no spaces and no “=”."]


def test_nosana_form_env_set_twice_is_refused_on_the_second_row(nosana_account):
    form = bound(
        nosana_account,
        **{"env-TOTAL_FORMS": "2", "env-0-name": "A", "env-0-value": "1", "env-1-name": "A", "env-1-value": "2"},
    )
    assert not form.is_valid()
    assert form.spec is None
    assert form.sets["env"].forms[1].errors["name"] == ["A is set twice."]


def test_nosana_form_json_editor_errors_name_their_path_on_the_editor(nosana_account):
    definition = {
        "version": "0.1",
        "type": "container",
        "ops": [{"type": "container/run", "id": "a", "args": {"expose": [{"port": 8000, "type": "grpc"}]}}],
    }
    form = bound(nosana_account, image="", job_definition_json=json.dumps(definition))
    assert not form.is_valid()
    assert sorted(form.main.errors["job_definition_json"]) == [
        "ops.0.args.expose.0.type: Choose one of: api, web, websocket, webapi, none.",
        "ops.0.args.image: This field is required.",
    ]
    assert "image" not in form.main.errors


@pytest.mark.parametrize(
    ("text", "message"),
    [("{broken", "Not valid JSON: "), ("[1, 2]", "A job definition is a JSON object: {…}.")],
)
def test_nosana_form_json_editor_must_be_a_json_object(nosana_account, text, message):
    form = bound(nosana_account, job_definition_json=text)
    assert not form.is_valid()
    assert form.main.errors["job_definition_json"][0].startswith(message)


# --- vendor errors land on fields ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "field", "where"),
    [
        ("replicas", "replicas", "main"),
        ("market", "market", "main"),
        ("rotation_time", "rotation_time", "main"),
        ("job_definition.ops.0.args.image", "image", "main"),
        ("job_definition.ops.0.args.cmd", "cmd", "main"),
        ("job_definition.ops.0.id", "op_id", "main"),
        ("job_definition.meta.system_requirements.required_vram", "required_vram", "main"),
        ("job_definition.ops.0.args.expose.1.port", "port", "ports-1"),
        ("job_definition.ops.0.args.env.MODE", "name", "env-1"),
        ("body.timeout", "timeout", "main"),
    ],
)
def test_nosana_vendor_errors_map_onto_fields(nosana_account, path, field, where):
    form = bound(
        nosana_account,
        **{
            "env-TOTAL_FORMS": "2",
            "env-0-name": "A",
            "env-0-value": "1",
            "env-1-name": "MODE",
            "env-1-value": "x",
            "ports-TOTAL_FORMS": "2",
            "ports-0-port": "80",
            "ports-0-type": "web",
            "ports-1-port": "81",
        },
    )
    assert form.is_valid()
    form.add_spec_errors({path: ["the vendor's words"]})
    if where == "main":
        target = form.main
    else:
        prefix, index = where.split("-")
        target = form.sets[prefix].forms[int(index)]
    assert target.errors[field] == ["the vendor's words"]


def test_nosana_vendor_error_in_json_mode_lands_on_the_editor(nosana_account):
    form = bound(nosana_account, image="", job_definition_json=json.dumps(SEED["job_definition"]))
    assert form.is_valid()
    form.add_spec_errors({"job_definition.ops.0.args.image": ["must have required property 'image'"]})
    assert form.main.errors["job_definition_json"] == ["ops.0.args.image: must have required property 'image'"]


def test_nosana_vendor_error_on_an_unknown_path_is_shown_on_the_form(nosana_account):
    form = bound(nosana_account)
    assert form.is_valid()
    form.add_spec_errors({"": ["Invalid request body."], "vault": ["Vault not found."]})
    assert "Invalid request body." in form.non_field_errors
    assert "vault: Vault not found." in form.non_field_errors


# --- round trips, offers, money -------------------------------------------------------------------------------------


def test_nosana_initial_from_spec_round_trips_a_built_spec(nosana_account):
    form = bound(
        nosana_account,
        required_vram="8",
        gpu="on",
        **{
            "env-TOTAL_FORMS": "1",
            "env-0-name": "A",
            "env-0-value": "1",
            "ports-TOTAL_FORMS": "1",
            "ports-0-port": "8000",
            "ports-0-type": "web",
        },
    )
    assert form.is_valid()
    initial, rows = NosanaDeploymentForm.initial_from_spec(form.spec)
    assert (initial["cmd_mode"], initial["cmd"], initial["op_id"]) == ("shell", "echo hello world", "hello-world")
    assert rows == {"env": [{"name": "A", "value": "1"}], "ports": [{"port": 8000, "type": "web"}]}
    again = NosanaDeploymentForm(
        data(
            nosana_account,
            **{k: ("on" if v is True else v) for k, v in initial.items() if v is not False},
            **{
                "env-TOTAL_FORMS": "1",
                "env-0-name": "A",
                "env-0-value": "1",
                "ports-TOTAL_FORMS": "1",
                "ports-0-port": "8000",
                "ports-0-type": "web",
            },
        ),
        accounts=ProviderAccount.objects.all(),
        offers=OFFERS,
    )
    assert again.is_valid(), again.main.errors
    assert again.spec == form.spec


def test_nosana_initial_from_spec_puts_what_the_builder_cannot_say_in_the_editor():
    spec = {**SEED, "job_definition": {**SEED["job_definition"], "global": {"gpu": True}}}
    initial, rows = NosanaDeploymentForm.initial_from_spec(spec)
    assert initial["job_definition_json"] == spec["job_definition"]
    assert "image" not in initial
    form = NosanaDeploymentForm(
        initial=initial, row_initial=rows, accounts=ProviderAccount.objects.none(), offers=OFFERS
    )
    assert json.loads(form.main["job_definition_json"].value()) == spec["job_definition"]


def test_nosana_offers_become_market_choices_with_gpu_and_price(nosana_account):
    form = bound(nosana_account)
    assert form.main.fields["market"].choices == [
        (M3060, "RTX 3060 · NVIDIA 3060 · 12 GB · $0.0440/h · 14 idle hosts"),
        (
            "4RX5mWD8gqJEyvBb3sGSmEc4wDRHAp9EJNh6nRwnZ7tR",
            "RTX 3090 · NVIDIA 3090 Community · $0.1320/h · community · no idle hosts: jobs will queue",
        ),
        (M4090, "RTX 4090 · NVIDIA 4090 · 24 GB · $0.4400/h · 11 idle hosts"),
    ]


def test_nosana_without_offers_the_market_asks_for_a_sync(nosana_account):
    form = NosanaDeploymentForm(data(nosana_account), accounts=ProviderAccount.objects.all(), offers=[])
    assert not form.is_valid()
    assert form.main.fields["market"].choices[0][0] == ""
    assert form.main.errors["market"]


def test_nosana_estimate_is_market_price_times_replicas_with_the_reservation(nosana_account):
    form = bound(nosana_account, market=M4090, replicas="3", timeout="90")
    estimate = form.estimate()
    assert (estimate["unit"], estimate["low"], estimate["high"]) == (
        Decimal("0.4400"),
        Decimal("1.3200"),
        Decimal("1.3200"),
    )
    assert estimate["low_replicas"] == 3
    assert estimate["note"] == "Paid from Nosana credits while jobs run. Each start reserves 3 × 90 minutes: $1.98."
    [charge] = form.charges()
    assert charge.amount == Decimal("1.9800")


def test_nosana_editing_fixes_what_cannot_change_and_offers_the_revision(nosana_account):
    form = bound(nosana_account, editing=True)
    for name in ("market", "strategy", "confidential", "rotation_time", "name"):
        assert form.main.fields[name].disabled
    assert "active_revision" in form.main.fields
    assert "active_revision" not in bound(nosana_account).main.fields


def test_nosana_scale_form_asks_for_one_count():
    form = ScaleForm({"replicas": "3"}, vendor="nosana")
    assert set(form.fields) == {"replicas"}
    assert form.is_valid()
    assert form.cleaned_data == {"replicas": 3}
    refused = ScaleForm({"replicas": "0"}, vendor="nosana")
    assert not refused.is_valid()
    assert refused.errors["replicas"] == ["At least 1; to stop it, use Stop."]


def test_nosana_edit_post_keeps_the_fixed_fields_and_sends_the_update(logged_in, nosana_account, settings):
    spec = {**SEED, "confidential": True, "job_definition": {**SEED["job_definition"]}}
    deployment = DeploymentFactory(
        account=nosana_account,
        state=State.RUNNING,
        external_id="Dep1111111111111111111111111111",
        spec=spec,
        name="Hello World",
    )
    initial, _rows = NosanaDeploymentForm.initial_from_spec(spec)
    post = data(nosana_account, timeout="120", **{"cmd_mode": "shell"})
    for fixed in ("market", "strategy", "confidential", "name", "account"):
        post.pop(fixed, None)  # disabled in the page: the browser does not send them
    response = logged_in.post(reverse("deployments:edit", args=[deployment.pk]), post)
    assert response.status_code == 302, response.content.decode()[:2000]
    deployment = Deployment.objects.get(pk=deployment.pk)
    assert deployment.pending_action == "update"
    sent = deployment.pending_params["spec"]
    assert (sent["market"], sent["strategy"], sent["confidential"], sent["name"], sent["timeout"]) == (
        M3060,
        "SIMPLE",
        True,
        "Hello World",
        120,
    )


def test_nosana_fix_and_resubmit_may_change_what_would_be_fixed(logged_in, nosana_account):
    for offer in OFFERS:  # the account's synced catalog
        CatalogOffer.objects.create(
            account=nosana_account,
            vendor="nosana",
            kind=offer.kind,
            sku=offer.sku,
            name=offer.name,
            gpu_model=offer.gpu_model,
            price_per_hour=offer.price_per_hour,
            extra=offer.extra,
            synced_at=timezone.now(),
        )
    deployment = DeploymentFactory(
        account=nosana_account,
        state=State.FAILED,
        spec=dict(SEED),
        name="Hello World",
        error_fields={"market": ["market: market not found"]},
    )
    page = logged_in.get(reverse("deployments:edit", args=[deployment.pk])).content.decode()
    assert 'name="market" disabled' not in page
    post = data(nosana_account, market=M4090)
    post.pop("account")
    response = logged_in.post(reverse("deployments:edit", args=[deployment.pk]), post)
    assert response.status_code == 302
    deployment.refresh_from_db()
    assert (deployment.state, deployment.spec["market"]) == (State.QUEUED, M4090)


def test_nosana_spec_display_hides_storage_keys_in_resources():
    from controlpanel.core.templatetags.panel import masked_spec

    resource = {
        "type": "S3",
        "url": "https://s3.example.com",
        "target": "/data",
        "IAM": {"ACCESS_KEY_ID": "AKIA123", "SECRET_ACCESS_KEY": "shh"},
    }
    shown = masked_spec({"job_definition": {"ops": [{"args": {"resources": [resource]}}]}})
    assert shown["job_definition"]["ops"][0]["args"]["resources"][0]["IAM"] == {
        "ACCESS_KEY_ID": "••••",
        "SECRET_ACCESS_KEY": "••••",
    }
