"""The Fluence form: the create bodies it builds (container, VM, bare metal; the seed's
examples), one test per rule with its message on its field, the vendor's 400/422 paths
on the right field, catalog choices, the default-image picker, money, and editing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from controlpanel.credentials.models import ProviderAccount
from controlpanel.deployments.forms import form_class_for
from controlpanel.vendors.fluence.form import FluenceDeploymentForm
from providers import fluence as rules
from providers.base import Offer
from tests.factories import AccountFactory

PLAN_A100 = "075e40d4-2766-4347-833b-205245fe3629"  # the seed's container plan
PLAN_H200 = "36cdb646-1246-42d8-b2d1-9480ca546536"  # the contract's example plan
VM_A100 = "e5f00ba8-268e-4279-9672-eabca860f19e"  # the seed's VM option
VM_A100_TOKYO = "d8312018-c50c-4278-89db-69e40013414d"
BM_H100 = "9b0f3a55-6c55-4b8c-9f0c-0f4a1a2b3c4d"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI... user@host"  # the seed's key, abbreviated as written
OFFERS = [
    Offer(
        sku=PLAN_A100,
        name="a100-80gi-sxm-1gpu-16cpu-128gi-120gi",
        kind="container",
        gpu_model="A100",
        gpu_memory_gb=80,
        price_per_hour=Decimal("1.22"),
        extra={
            "locations": ["US"],
            "upfront_hours": 3,
            "currency": "USDC",
            "vcpu": 16,
            "memory_gb": 128,
            "storage_gb": 120,
            "interface": "sxm",
        },
    ),
    Offer(
        sku=PLAN_H200,
        name="h200-141gi-sxm-1gpu-16cpu-128gi-120gi",
        kind="container",
        gpu_model="H200",
        gpu_memory_gb=141,
        price_per_hour=Decimal("2.96"),
        extra={
            "locations": ["US", "DE"],
            "upfront_hours": 3,
            "currency": "USDC",
            "vcpu": 16,
            "memory_gb": 128,
            "storage_gb": 120,
            "interface": "SXM",
        },
    ),
    Offer(
        sku=VM_A100,
        name="A100 VM",
        kind="vm",
        gpu_model="A100",
        gpu_memory_gb=80,
        price_per_hour=Decimal("1.07"),
        location="us-central-3",
        extra={
            "os_options": ["Ubuntu Server 22.04"],
            "provider": "massed-compute",
            "nvlink": False,
            "location": "us-central-3",
            "vcpu": 14,
            "memory_gb": 93,
            "storage_gb": 582,
        },
    ),
    Offer(
        sku=VM_A100_TOKYO,
        name="A100 VM",
        kind="vm",
        gpu_model="A100",
        gpu_memory_gb=80,
        price_per_hour=Decimal("1.15"),
        location="tokyo-japan-2",
        extra={
            "os_options": ["Ubuntu Server 22.04", "Ubuntu Server 24.04"],
            "provider": "sesterce",
            "nvlink": False,
            "location": "tokyo-japan-2",
        },
    ),
    Offer(
        sku=BM_H100,
        name="H100 bare metal",
        kind="baremetal",
        gpu_model="H100",
        gpu_count=8,
        gpu_memory_gb=80,
        price_per_hour=Decimal("19.60"),
        location="dulles-usa-1",
        extra={
            "os_options": ["Ubuntu Server 22.04"],
            "provider": "sesterce",
            "nvlink": True,
            "location": "dulles-usa-1",
        },
    ),
]
# As ``FluenceProvider.account_metadata()`` keeps them: environment names only, never values.
DEFAULT_IMAGES = [
    {
        "slug": "debian-ssh-11",
        "name": "Debian SSH 11",
        "description": "",
        "image": "docker.io/fluencelabs/debian-ssh-root:11",
        "expose": [{"port": "22", "protocol": "tcp"}],
        "environment": ["SSH_PUBKEY"],
        "startup_command": "",
        "requires_ssh": True,
    },
    {
        "slug": "vllm",
        "name": "vLLM server",
        "description": "",
        "image": "docker.io/vllm/vllm-openai:latest",
        "expose": [{"port": "8000", "protocol": "tcp"}, {"port": "80", "protocol": "http"}],
        "environment": ["HF_TOKEN"],
        "startup_command": "vllm serve Qwen/Qwen2.5-1.5B-Instruct --port 8000",
        "requires_ssh": False,
    },
]
# The seed's container request, exactly as written.
SEED_CONTAINER = {
    "plan_id": PLAN_A100,
    "name": "my-gpu-container",
    "container_settings": {
        "image": "docker.io/fluencelabs/debian-ssh-root:11",
        "expose": [
            {"port": "22", "protocol": "tcp"},
            {"port": "80", "protocol": "http"},
            {"port": "443", "protocol": "tcp"},
            {"port": "8000", "protocol": "tcp"},
        ],
        "environment": [{"name": "MODEL_PATH", "value": "/models/llama"}],
        "startup_command": "python3 serve.py --port 8000",
    },
    "constraints": {"location": "US"},
    "ssh_key": KEY,
}


@pytest.fixture
def fluence_account(team):
    return AccountFactory(
        team=team,
        vendor="fluence",
        label="Fluence sandbox",
        api_key="sandbox-fluence-forms",
        metadata={"default_images": DEFAULT_IMAGES},
    )


def rows(prefix: str, items: list[tuple[str, str]], columns: tuple[str, str]) -> dict[str, str]:
    out = {f"{prefix}-TOTAL_FORMS": str(len(items)), f"{prefix}-INITIAL_FORMS": "0"}
    for i, values in enumerate(items):
        for column, value in zip(columns, values, strict=True):
            out[f"{prefix}-{i}-{column}"] = value
    return out


def ports(*items: tuple[str, str]) -> dict[str, str]:
    return rows("ports", list(items), ("port", "protocol"))


def env(*items: tuple[str, str]) -> dict[str, str]:
    return rows("env", list(items), ("name", "value"))


def data(account, **fields: Any) -> dict[str, Any]:
    values = {
        "account": account.pk,
        "kind": "container",
        "name": "my-gpu-container",
        "plan_id": PLAN_A100,
        "location": "US",
        "image": "docker.io/fluencelabs/debian-ssh-root:11",
        "startup_command": "python3 serve.py --port 8000",
        "ssh_key": KEY,
        **ports(("22", "tcp"), ("80", "http"), ("443", "tcp"), ("8000", "tcp")),
        **env(("MODEL_PATH", "/models/llama")),
    }
    values.update(fields)
    return values


def machine(account, kind: str = "vm", **fields: Any) -> dict[str, Any]:
    values = {
        "account": account.pk,
        "kind": kind,
        "name": "my-gpu-vm",
        "machine_plan_id": VM_A100,
        "os_image": "Ubuntu Server 22.04",
        "ssh_key": KEY,
        **ports(),
        **env(),
    }
    values.update(fields)
    return values


def bound(values: dict[str, Any], **kwargs: Any) -> FluenceDeploymentForm:
    return FluenceDeploymentForm(values, accounts=ProviderAccount.objects.all(), offers=OFFERS, **kwargs)


def errors_of(form: FluenceDeploymentForm) -> dict[str, list[str]]:
    """Every error, keyed ``field`` on the main form and ``prefix-index-field`` on rows."""
    out = {name: list(errs) for name, errs in form.main.errors.items()}
    for prefix, formset in form.sets.items():
        for i, row in enumerate(formset.forms):
            for name, errs in row.errors.items():
                out[f"{prefix}-{i}-{name}"] = list(errs)
    return out


def test_form_fluence_is_registered():
    assert form_class_for("fluence") is FluenceDeploymentForm


# --- the request bodies -----------------------------------------------------------------------------------


def test_fluence_form_builds_the_seeds_container_request(fluence_account):
    form = bound(data(fluence_account))
    assert form.is_valid(), errors_of(form)
    assert form.spec == {"kind": "container", **SEED_CONTAINER}
    assert form.account == fluence_account


def test_fluence_form_builds_the_seeds_private_image_request(fluence_account):
    form = bound(
        data(
            fluence_account,
            image="ghcr.io/myorg/private-model:v1",
            startup_command="",
            location="",
            ssh_key="",
            registry_host="ghcr.io",
            registry_username="myuser",
            registry_password="ghp_xxxxxxxxxxxx",
            **ports(("22", "tcp"), ("8080", "tcp")),
            **env(),
        )
    )
    assert form.is_valid(), errors_of(form)
    assert form.spec == {
        "kind": "container",
        "plan_id": PLAN_A100,
        "name": "my-gpu-container",
        "container_settings": {
            "image": "ghcr.io/myorg/private-model:v1",
            "expose": [{"port": "22", "protocol": "tcp"}, {"port": "8080", "protocol": "tcp"}],
            "credentials": {"host": "ghcr.io", "username": "myuser", "password": "ghp_xxxxxxxxxxxx"},
        },
    }


@pytest.mark.parametrize(("kind", "plan"), [("vm", VM_A100), ("baremetal", BM_H100)])
def test_fluence_form_builds_the_seeds_machine_request(fluence_account, kind, plan):
    # Container fields left filled in (hidden in the page) are not sent with a VM.
    form = bound(machine(fluence_account, kind, machine_plan_id=plan, image="ubuntu", **ports(("22", "tcp"))))
    assert form.is_valid(), errors_of(form)
    assert form.spec == {
        "kind": kind,
        "plan_id": plan,
        "name": "my-gpu-vm",
        "ssh_key": KEY,
        "os_image": "Ubuntu Server 22.04",
    }


def test_fluence_form_expands_a_port_range_into_ports(fluence_account):
    form = bound(data(fluence_account, **ports(("22", "tcp"), ("5000-5002", "udp"))))
    assert form.is_valid(), errors_of(form)
    assert form.spec["container_settings"]["expose"] == [
        {"port": "22", "protocol": "tcp"},
        {"port": "5000", "protocol": "udp"},
        {"port": "5001", "protocol": "udp"},
        {"port": "5002", "protocol": "udp"},
    ]


def test_fluence_form_leaves_out_empty_optional_keys(fluence_account):
    form = bound(
        data(
            fluence_account,
            location="",
            startup_command="",
            ssh_key="",
            image="nginx:1.27",
            **ports(("80", "http")),
            **env(),
        )
    )
    assert form.is_valid(), errors_of(form)
    assert form.spec == {
        "kind": "container",
        "plan_id": PLAN_A100,
        "name": "my-gpu-container",
        "container_settings": {"image": "nginx:1.27", "expose": [{"port": "80", "protocol": "http"}]},
    }


def test_fluence_form_lists_only_fluence_keys(fluence_account, account):
    form = bound(data(fluence_account))
    assert list(form.main.fields["account"].queryset) == [fluence_account]


# --- one test per rule: its message on its field -----------------------------------------------------------

TOO_MANY = [(str(p), "tcp") for p in range(8000, 8011)]


@pytest.mark.parametrize(
    ("fields", "where", "message"),
    [
        ({"name": ""}, "name", "This field is required."),
        ({"name": "-gpu"}, "name", rules.NAME_RULE),
        ({"name": "gpu-"}, "name", rules.NAME_RULE),
        ({"name": "My_GPU"}, "name", rules.NAME_RULE),
        ({"name": "a" * 26}, "name", rules.NAME_RULE),
        ({"plan_id": ""}, "plan_id", "Choose a plan."),
        ({"plan_id": "gone"}, "plan_id", "Select a valid choice. gone is not one of the available choices."),
        ({"image": ""}, "image", "An image is required."),
        ({"image": "Docker.io/Library/Ubuntu"}, "image", "Fluence takes image references in lower case only."),
        ({"image": "ubuntu latest"}, "image", "An image reference has no spaces, e.g. docker.io/library/ubuntu:22.04."),
        ({"image": "a" * 256}, "image", "An image reference of at most 255 characters."),
        (ports(("", "tcp")), "ports-0-port", "Expose at least 1 port."),  # the page's one empty row
        (ports(*TOO_MANY), "ports-0-port", "At most 10 ports (a range counts each of its ports)."),
        (
            ports(("22", "tcp"), ("8000-8009", "tcp")),
            "ports-0-port",
            "At most 10 ports (a range counts each of its ports).",
        ),
        (ports(("22", "tcp"), ("999999999", "tcp")), "ports-1-port", "Port must be between 1 and 65535."),
        (ports(("ssh", "tcp")), "ports-0-port", "Port must be between 1 and 65535."),
        (ports(("5005-5000", "tcp")), "ports-0-port", "A range of ports between 1 and 65535, low to high."),
        (ports(("8080", "http")), "ports-0-protocol", "Only port 80 may use http; use tcp or udp."),
        (ports(("22", "tcp"), ("22", "tcp")), "ports-1-port", "Port 22/tcp is listed twice."),
        (
            env(("model_path", "/m")),
            "env-0-name",
            "Upper-case letters, digits and underscores, starting with a letter.",
        ),
        (env(("1MODEL", "/m")), "env-0-name", "Upper-case letters, digits and underscores, starting with a letter."),
        (
            env(("SSH_PUBKEY", "ssh-ed25519 AAAA x")),
            "env-0-name",
            "SSH_PUBKEY is reserved: Fluence injects the SSH key through it. Put the key in the SSH key field.",
        ),
        (env(("A", "1"), ("A", "2")), "env-1-name", "A is defined twice."),
        (env(*[(f"V{i}", "x") for i in range(65)]), "env-0-name", "At most 64 variables."),
        ({"startup_command": "x" * 2049}, "startup_command", "At most 2048 characters."),
        (
            {"registry_host": "quay.io", "registry_username": "me", "registry_password": "pw"},
            "registry_host",
            "Fluence pulls private images only from docker.io or ghcr.io.",
        ),
        (
            {"registry_host": "docker.io", "registry_username": "me"},
            "registry_password",
            "Required with the other registry credentials.",
        ),
        (
            {"registry_username": "me", "registry_password": "pw"},
            "registry_host",
            "Required with the other registry credentials.",
        ),
        (
            {"registry_host": "ghcr.io", "registry_password": "pw"},
            "registry_username",
            "Required with the other registry credentials.",
        ),
        ({"location": "DE"}, "location", "This plan runs in: US."),
        ({"location": "usa"}, "location", "A two-letter country code, e.g. US."),
        (
            {"ssh_key": "-----BEGIN OPENSSH PRIVATE KEY-----"},
            "ssh_key",
            "A public key line, e.g. ssh-ed25519 AAAA… you@host (not a private key).",
        ),
        ({"ssh_key": f"{KEY}\n{KEY}"}, "ssh_key", "One public key, on one line."),
        # The default image says requires_ssh: its key is needed (contract §2.3 [I]).
        ({"ssh_key": ""}, "ssh_key", "An SSH public key is required: it is the only way in."),
    ],
)
def test_fluence_form_container_rule_on_its_field(fluence_account, fields, where, message):
    form = bound(data(fluence_account, **fields))
    assert not form.is_valid()
    assert form.spec is None
    assert message in errors_of(form).get(where, []), errors_of(form)


@pytest.mark.parametrize(
    ("fields", "where", "message"),
    [
        ({"machine_plan_id": ""}, "machine_plan_id", "Choose a plan."),
        ({"machine_plan_id": BM_H100}, "machine_plan_id", "This plan is no longer offered; choose another."),
        ({"ssh_key": ""}, "ssh_key", "An SSH public key is required: it is the only way in."),
        (
            {"ssh_key": "not a key"},
            "ssh_key",
            "A public key line, e.g. ssh-ed25519 AAAA… you@host (not a private key).",
        ),
        ({"os_image": ""}, "os_image", "Choose an OS image."),
        ({"os_image": "Ubuntu Server 24.04"}, "os_image", "This option offers: Ubuntu Server 22.04."),
        ({"name": "My VM"}, "name", rules.NAME_RULE),
    ],
)
def test_fluence_form_machine_rule_on_its_field(fluence_account, fields, where, message):
    form = bound(machine(fluence_account, **fields))
    assert not form.is_valid()
    assert message in errors_of(form).get(where, []), errors_of(form)


def test_fluence_form_a_field_that_failed_to_parse_gets_one_message(fluence_account):
    form = bound(data(fluence_account, name=""))
    assert not form.is_valid()
    assert form.main.errors["name"] == ["This field is required."]  # not also the rule's "A name is required."


# --- the vendor's 400/422 on the right field -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "where"),
    [
        ("body.name", "name"),
        ("plan_id", "plan_id"),
        ("body.container_settings.image", "image"),
        ("body.container_settings.expose.1.port", "ports-1-port"),
        ("body.container_settings.expose.2.protocol", "ports-2-protocol"),
        ("body.container_settings.expose.3", "ports-3-port"),
        ("body.container_settings.expose", "ports-0-port"),
        ("body.container_settings.environment.0.name", "env-0-name"),
        ("body.container_settings.environment", "env-0-name"),
        ("body.container_settings.startup_command", "startup_command"),
        ("body.container_settings.credentials.host", "registry_host"),
        ("body.container_settings.credentials.password", "registry_password"),
        ("body.constraints.location", "location"),
        ("body.ssh_key", "ssh_key"),
    ],
)
def test_fluence_vendor_422_paths_land_on_container_fields(fluence_account, path, where):
    form = bound(data(fluence_account))
    assert form.is_valid(), errors_of(form)
    form.add_spec_errors({path: ["Value error, the vendor's words"]})
    assert errors_of(form)[where] == ["Value error, the vendor's words"]


@pytest.mark.parametrize(
    ("path", "where"),
    [("plan_id", "machine_plan_id"), ("os_image", "os_image"), ("ssh_key", "ssh_key"), ("name", "name")],
)
def test_fluence_vendor_400_paths_land_on_machine_fields(fluence_account, path, where):
    form = bound(machine(fluence_account))
    assert form.is_valid(), errors_of(form)
    message = "Provided OS image sss is not supported for the selected offer. Available OS images: Ubuntu Server 22.04"
    form.add_spec_errors({path: [message]})
    assert errors_of(form)[where] == [message]


def test_fluence_vendor_error_on_no_field_is_shown_on_the_form(fluence_account):
    form = bound(data(fluence_account))
    assert form.is_valid()
    form.add_spec_errors({"": ["Insufficient balance to deploy instance"]})
    assert "Insufficient balance to deploy instance" in form.non_field_errors


# --- catalog choices -----------------------------------------------------------------------------------------


def test_fluence_container_plans_are_choices_with_gpu_memory_location_and_price(fluence_account):
    form = bound(data(fluence_account))
    assert form.main.fields["plan_id"].choices == [
        ("", "Choose a plan…"),
        (PLAN_A100, "1× A100 80 GB SXM · 16 vCPU · 128 GiB RAM · 120 GiB disk · US · $1.22/h"),
        (PLAN_H200, "1× H200 141 GB SXM · 16 vCPU · 128 GiB RAM · 120 GiB disk · US, DE · $2.96/h"),
    ]


def test_fluence_locations_show_only_for_the_plans_that_run_there(fluence_account):
    html = str(bound(data(fluence_account)).main["location"])
    assert '<option value="">Any: Fluence chooses</option>' in html
    assert f'<option value="DE" data-show-when="plan_id={PLAN_H200}">DE</option>' in html
    assert f'<option value="US" data-show-when="plan_id={PLAN_A100},{PLAN_H200}" selected>US</option>' in html


def test_fluence_no_port_rows_at_all_is_said_on_the_form(fluence_account):
    form = bound(data(fluence_account, **ports()))
    assert not form.is_valid()
    assert "container_settings.expose: Expose at least 1 port." in form.non_field_errors


def test_fluence_machine_offers_show_for_their_kind_and_os_images_for_their_offers(fluence_account):
    form = bound(machine(fluence_account))
    labels = dict(form.main.fields["machine_plan_id"].choices)
    assert labels[VM_A100] == (
        "Virtual machine · 1× A100 80 GB · $1.07/h · 14 vCPU · 93 GiB RAM · 582 GiB disk · massed-compute in us-central-3"
    )
    assert labels[BM_H100] == "Bare metal · 8× H100 80 GB · NVLink · $19.60/h · sesterce in dulles-usa-1"
    offers_html = str(form.main["machine_plan_id"])
    assert f'<option value="{BM_H100}" data-show-when="kind=baremetal">' in offers_html
    assert f'<option value="{VM_A100}" data-show-when="kind=vm" selected>' in offers_html
    os_html = str(form.main["os_image"])
    assert (
        f'data-show-when="machine_plan_id={VM_A100},{VM_A100_TOKYO},{BM_H100}" selected>Ubuntu Server 22.04' in os_html
    )
    assert f'<option value="Ubuntu Server 24.04" data-show-when="machine_plan_id={VM_A100_TOKYO}">' in os_html


def test_fluence_without_a_catalog_the_plans_ask_for_a_sync(fluence_account):
    form = FluenceDeploymentForm(data(fluence_account), accounts=ProviderAccount.objects.all(), offers=[])
    assert form.main.fields["plan_id"].choices == [("", FluenceDeploymentForm.NO_CATALOG)]
    assert not form.is_valid()


def test_fluence_sections_show_only_for_their_kind(fluence_account):
    sections = {s["title"]: s.get("show_when") for s in bound(data(fluence_account)).rendered_sections()}
    assert sections == {
        "Basics": None,
        "Plan": "kind=container",
        "Machine": "kind=vm,baremetal",
        "Container": "kind=container",
        "Exposed ports": "kind=container",
        "Environment": "kind=container",
        "Private registry": "kind=container",
        "Access": None,
    }


# --- the default-image picker -----------------------------------------------------------------------------------


def test_fluence_default_images_come_from_the_keys_metadata(fluence_account):
    form = bound(data(fluence_account))
    assert form.main.fields["default_image"].choices == [
        ("", "None: my own image"),
        ("debian-ssh-11", "Debian SSH 11 · docker.io/fluencelabs/debian-ssh-root:11 · ports 22/tcp · needs an SSH key"),
        ("vllm", "vLLM server · docker.io/vllm/vllm-openai:latest · ports 8000/tcp, 80/http"),
    ]


def test_fluence_default_image_fills_the_empty_fields(fluence_account):
    form = bound(data(fluence_account, default_image="vllm", image="", startup_command="", **ports(), **env()))
    # The image's variable comes without a value: named on its row, for the user to give one.
    assert not form.is_valid()
    assert errors_of(form) == {"env-0-value": ["HF_TOKEN has no value: fill it in or remove the row."]}
    # The page shows what was filled in, so the user sees what will be sent.
    assert form.main["image"].value() == "docker.io/vllm/vllm-openai:latest"
    assert [f["port"].value() for f in form.sets["ports"].forms] == ["8000", "80"]
    assert [(f["name"].value(), f["value"].value()) for f in form.sets["env"].forms] == [("HF_TOKEN", "")]
    form = bound(
        data(
            fluence_account,
            default_image="vllm",
            image="",
            startup_command="",
            **ports(),
            **env(("HF_TOKEN", "hf_mine")),
        )
    )
    assert form.is_valid(), errors_of(form)
    assert form.spec["container_settings"] == {
        "image": "docker.io/vllm/vllm-openai:latest",
        "expose": [{"port": "8000", "protocol": "tcp"}, {"port": "80", "protocol": "http"}],
        "environment": [{"name": "HF_TOKEN", "value": "hf_mine"}],
        "startup_command": "vllm serve Qwen/Qwen2.5-1.5B-Instruct --port 8000",
    }


def test_fluence_default_image_keeps_what_the_user_typed(fluence_account):
    form = bound(data(fluence_account, default_image="vllm", image="docker.io/me/mine:1"))
    assert form.is_valid(), errors_of(form)
    assert form.spec["container_settings"]["image"] == "docker.io/me/mine:1"
    assert form.spec["container_settings"]["expose"][2] == {"port": "443", "protocol": "tcp"}
    assert form.spec["container_settings"]["environment"] == [{"name": "MODEL_PATH", "value": "/models/llama"}]


def test_fluence_switching_default_images_replaces_the_previous_ones_values(fluence_account):
    first = data(fluence_account, default_image="vllm", image="", startup_command="", **ports(), **env())
    filled = bound(first).main.data
    second = bound({**filled, "default_image": "debian-ssh-11"})
    assert second.is_valid(), errors_of(second)
    assert second.spec["container_settings"] == {
        "image": "docker.io/fluencelabs/debian-ssh-root:11",
        "expose": [{"port": "22", "protocol": "tcp"}],
    }  # SSH_PUBKEY is Fluence's to set from the key: never copied into the rows


def test_fluence_requires_ssh_applies_to_the_image_however_it_was_typed(fluence_account):
    form = bound(data(fluence_account, ssh_key="", image="docker.io/vllm/vllm-openai:latest"))
    assert form.is_valid(), errors_of(form)  # this default image does not need a key
    form = bound(data(fluence_account, ssh_key=""))  # the Debian SSH image, typed by hand
    assert not form.is_valid()


# --- money ----------------------------------------------------------------------------------------------------


def test_fluence_estimate_is_the_plans_hourly_price_with_the_upfront_note(fluence_account):
    estimate = bound(data(fluence_account, plan_id=PLAN_H200)).estimate()
    assert (estimate["unit"], estimate["low"], estimate["unit_label"]) == (Decimal("2.96"), Decimal("2.96"), "instance")
    assert estimate["day"] == Decimal("71.04")
    assert "On create: 8.88 USDC." in estimate["note"]
    assert "1 h charged now, 2 h held as reserve" in estimate["note"]


def test_fluence_estimate_before_the_form_is_valid(fluence_account):
    estimate = bound(data(fluence_account, name="", plan_id=PLAN_A100, image="")).estimate()
    assert estimate["unit"] == Decimal("1.22")


def test_fluence_charges_name_the_three_hours_taken_on_create(fluence_account):
    form = bound(machine(fluence_account))
    assert form.is_valid()
    [charge] = form.charges()
    assert (charge.amount, charge.currency) == (Decimal("3.21"), "USDC")
    assert charge.description.startswith("3 hours of rent at 1.07 USDC/hour move to the instance: 1 h charged now")


# --- editing and cloning ----------------------------------------------------------------------------------------


def edit_form(spec: dict[str, Any], values: dict[str, Any] | None = None) -> FluenceDeploymentForm:
    initial, row_initial = FluenceDeploymentForm.initial_from_spec(spec)
    return FluenceDeploymentForm(
        values,
        accounts=ProviderAccount.objects.all(),
        offers=OFFERS,
        initial=initial,
        row_initial=None if values is not None else row_initial,
        editing=True,
    )


def test_fluence_initial_from_spec_round_trips_the_seed(fluence_account):
    initial, row_initial = FluenceDeploymentForm.initial_from_spec({"kind": "container", **SEED_CONTAINER})
    assert row_initial == {
        "ports": [
            {"port": "22", "protocol": "tcp"},
            {"port": "80", "protocol": "http"},
            {"port": "443", "protocol": "tcp"},
            {"port": "8000", "protocol": "tcp"},
        ],
        "env": [{"name": "MODEL_PATH", "value": "/models/llama"}],
    }
    values = {k: v for k, v in initial.items() if not k.startswith("_")}
    form = bound(data(fluence_account, **values))
    assert form.is_valid(), errors_of(form)
    assert form.spec == {"kind": "container", **SEED_CONTAINER}


def test_fluence_edit_container_fixes_plan_location_and_ports(fluence_account):
    form = edit_form({"kind": "container", **SEED_CONTAINER})
    editable = {name for name, field in form.main.fields.items() if not field.disabled}
    assert editable == {
        "name",
        "image",
        "startup_command",
        "registry_host",
        "registry_username",
        "registry_password",
        "ssh_key",
    }
    assert {"kind", "plan_id", "location", "expose_summary"} <= set(form.main.fields)
    assert not {"account", "default_image"} & set(form.main.fields)
    assert form.main["expose_summary"].value() == "22/tcp, 80/http, 443/tcp, 8000/tcp"
    assert "ports" not in form.sets
    assert [s["items"][0]["field"].name for s in form.rendered_sections() if s["title"] == "Exposed ports"] == [
        "expose_summary"
    ]


def test_fluence_edit_container_sends_new_settings_and_keeps_the_ports(fluence_account):
    spec = {"kind": "container", **SEED_CONTAINER}
    values = {
        "name": "my-gpu-container-2",
        "image": "docker.io/fluencelabs/debian-ssh-root:12",
        "startup_command": "",
        "ssh_key": KEY,
        **env(("MODEL_PATH", "/models/qwen"), ("MODE", "fast")),
    }
    form = edit_form(spec, values)
    assert form.is_valid(), errors_of(form)
    assert form.spec == {
        "kind": "container",
        "plan_id": PLAN_A100,
        "name": "my-gpu-container-2",
        "container_settings": {
            "image": "docker.io/fluencelabs/debian-ssh-root:12",
            "expose": SEED_CONTAINER["container_settings"]["expose"],
            "environment": [{"name": "MODEL_PATH", "value": "/models/qwen"}, {"name": "MODE", "value": "fast"}],
        },
        "constraints": {"location": "US"},
        "ssh_key": KEY,
    }


def test_fluence_edit_vm_changes_only_the_name(fluence_account):
    spec = {"kind": "vm", "plan_id": VM_A100, "name": "my-gpu-vm", "ssh_key": KEY, "os_image": "Ubuntu Server 22.04"}
    form = edit_form(spec, {"name": "train-a100-02", "ssh_key": "ssh-rsa AAAA other", "os_image": "x"})
    assert {n for n, f in form.main.fields.items() if not f.disabled} >= {"name"}
    assert {n for n, f in form.main.fields.items() if f.disabled} >= {"kind", "machine_plan_id", "os_image", "ssh_key"}
    assert form.sets == {}  # no container settings to post
    assert form.is_valid(), errors_of(form)
    assert form.spec == {**spec, "name": "train-a100-02"}


def test_fluence_registry_password_is_never_rendered_from_a_stored_spec(fluence_account):
    spec = {"kind": "container", **SEED_CONTAINER}
    spec["container_settings"] = {
        **spec["container_settings"],
        "credentials": {"host": "docker.io", "username": "me", "password": "s3cret-token"},
    }
    initial, row_initial = FluenceDeploymentForm.initial_from_spec(spec)
    clone = FluenceDeploymentForm(
        initial=initial, row_initial=row_initial, accounts=ProviderAccount.objects.all(), offers=OFFERS
    )
    assert "s3cret-token" not in str(clone.main["registry_password"])
    assert clone.main["registry_username"].value() == "me"
    edit = edit_form(spec)
    assert "s3cret-token" not in str(edit.main["registry_password"])
    assert edit.main.fields["registry_password"].help_text == "Leave empty to keep the current one."


def test_fluence_update_with_the_password_left_empty_keeps_it(fluence_account):
    spec = {"kind": "container", **SEED_CONTAINER}
    spec["container_settings"] = {
        **spec["container_settings"],
        "credentials": {"host": "docker.io", "username": "me", "password": "s3cret-token"},
    }
    values = {
        "name": "my-gpu-container",
        "image": "docker.io/me/private:2",
        "ssh_key": KEY,
        "registry_host": "docker.io",
        "registry_username": "me",
        "registry_password": "",
        **env(),
    }
    form = edit_form(spec, values)
    assert form.is_valid(), errors_of(form)
    assert form.spec["container_settings"]["credentials"] == {
        "host": "docker.io",
        "username": "me",
        "password": "s3cret-token",
    }
    # Another user name is another login: the old password does not follow it.
    form = edit_form(spec, {**values, "registry_username": "someone-else"})
    assert not form.is_valid()
    assert form.main.errors["registry_password"] == ["Required with the other registry credentials."]


def test_fluence_password_is_echoed_only_into_the_confirmation_step(fluence_account):
    values = data(fluence_account, registry_host="docker.io", registry_username="me", registry_password="tok-123")
    form = bound(values)
    assert form.is_valid()
    assert 'value="tok-123"' in str(form.main["registry_password"])  # posted again when confirming
    broken = bound({**values, "name": "Bad Name"})
    assert not broken.is_valid()
    assert "tok-123" not in str(broken.main["registry_password"])


def test_fluence_clone_to_another_vendor_carries_name_image_and_env(fluence_account):
    from providers import neutral

    common = neutral.from_vendor("fluence", {"kind": "container", **SEED_CONTAINER})
    assert (common.name, common.image, common.env) == (
        "my-gpu-container",
        "docker.io/fluencelabs/debian-ssh-root:11",
        (("MODEL_PATH", "/models/llama"),),
    )
    initial, row_initial = neutral.to_form("fluence", common)
    assert (initial["name"], initial["image"]) == ("my-gpu-container", "docker.io/fluencelabs/debian-ssh-root:11")
    assert row_initial["env"] == [{"name": "MODEL_PATH", "value": "/models/llama"}]
