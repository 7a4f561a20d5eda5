"""The Novita form: the create body it builds (the notes' example request exactly), one
test per rule with its message on its field or row, vendor errors on fields, products
as priced choices, the key's clusters, credentials, volumes and templates (the picker
filling what is empty), money, and editing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from controlpanel.credentials.models import ProviderAccount
from controlpanel.deployments.forms import form_class_for
from controlpanel.vendors.novita.form import NovitaDeploymentForm
from providers.novita.fields import UPGRADE_NEEDS_SAVED_AUTH
from providers.novita.mapping import product_offer
from tests.factories import AccountFactory

VOLUME = "d4e82677-3f80-4020-a731-d15b1c589aa8"  # the notes' volume, in California
FRANKFURT_VOLUME = "7c1e0b54-2a33-4b1e-9a0e-5f1d2c3b4a59"
# Products as GET /products answers them (prices in 1/100 000 USD per GPU-hour, strings),
# turned into offers the way the adapter's catalog does.
PRODUCTS = [
    {
        "id": "A100-80GB.14c240g",
        "name": "A100 SXM 80GB",
        "cpuPerGpu": 14,
        "memoryPerGpu": 240,
        "diskPerGpu": 1024,
        "availableDeploy": True,
        "minRootFS": 10,
        "maxRootFS": 1024,
        "regions": ["US-CA-06 (California)"],
        "price": "160000",
        "spotPrice": "80000",
        "monthlyPrice": [{"price": "95000000", "month": 1}, {"price": "270750000", "month": 3}],
        "billingMethods": ["onDemand", "spot", "monthly"],
        "inventoryState": "high",
    },
    {
        "id": "4090.16c62g",
        "name": "RTX 4090 24GB",
        "cpuPerGpu": 16,
        "memoryPerGpu": 62,
        "diskPerGpu": 100,
        "availableDeploy": True,
        "minRootFS": 20,
        "maxRootFS": 400,
        "regions": ["EU-DE-01 (Frankfurt)"],
        "price": "35000",
        "spotPrice": "18000",
        "monthlyPrice": [],
        "billingMethods": ["onDemand", "spot"],
        "inventoryState": "normal",
    },
    {
        "id": "H200-141GB.24c240g",
        "name": "H200 141GB",
        "cpuPerGpu": 24,
        "memoryPerGpu": 240,
        "diskPerGpu": 2000,
        "availableDeploy": False,
        "minRootFS": 20,
        "maxRootFS": 2048,
        "regions": [],
        "price": "349000",
        "spotPrice": "0",
        "monthlyPrice": [],
        "billingMethods": ["onDemand"],
        "inventoryState": "none",
    },
]
OFFERS = [product_offer(p) for p in PRODUCTS]
# Templates as the adapter keeps them in the key's metadata (``providers.novita.mapping.template_entry``).
VLLM = "docker.io/vllm/vllm-openai:latest"
PYTORCH = "docker.io/pytorch/pytorch:2.4.0-cuda12.4-cudnn9-runtime"
UBUNTU = "docker.io/library/ubuntu:22.04"
TEMPLATES = [
    {
        "id": "tpl-77",
        "name": "vllm-llama3",
        "channel": "private",
        "image": VLLM,
        "ports": [{"port": 8000, "type": "http"}, {"port": 22, "type": "tcp"}],
        "env_keys": ["HF_TOKEN"],
        "start_command": "--model meta-llama/Llama-3.1-8B-Instruct",
        "rootfs_gb": 100,
        "tools": [],
    },
    {
        "id": "1",
        "name": "PyTorch 2.4 (CUDA 12.4)",
        "channel": "official",
        "image": PYTORCH,
        "ports": [{"port": 8888, "type": "http"}, {"port": 22, "type": "tcp"}],
        "env_keys": [],
        "start_command": "",
        "rootfs_gb": 60,
        "tools": ["Jupyter"],
    },
    {
        "id": "3",
        "name": "Ubuntu 22.04",
        "channel": "official",
        "image": UBUNTU,
        "ports": [{"port": 22, "type": "tcp"}],
        "env_keys": [],
        "start_command": "sleep infinity",
        "rootfs_gb": 10,
        "tools": [],
    },
    {
        "id": "9",
        "name": "Llama 405B",
        "channel": "official",
        "image": "docker.io/acme/llama-405b:1",
        "ports": [{"port": 8000, "type": "http"}],
        "env_keys": [],
        "start_command": "",
        "rootfs_gb": 2000,
        "tools": [],
    },
    {"id": "old", "name": "listed before templates kept their image", "channel": "official"},
]
METADATA = {
    "clusters": [{"id": "5", "name": "US-CA-06 (California)"}, {"id": "3", "name": "EU-DE-01 (Frankfurt)"}],
    "registry_auths": [{"id": "1001", "name": "ghcr.io"}],
    "network_storages": [
        {
            "id": VOLUME,
            "name": "llama-weights",
            "cluster_id": "5",
            "cluster_name": "US-CA-06 (California)",
            "size_gb": 10,
        },
        {
            "id": FRANKFURT_VOLUME,
            "name": "eu-data",
            "cluster_id": "3",
            "cluster_name": "EU-DE-01 (Frankfurt)",
            "size_gb": 50,
        },
    ],
    "templates": TEMPLATES,
}
# The notes' example create request (contract §2.3), without its empty strings and
# "month": 0, which the form leaves out as the vendor's defaults.
SEED_SPEC = {
    "name": "llama-serve-01",
    "productId": "A100-80GB.14c240g",
    "kind": "gpu",
    "gpuNum": 1,
    "rootfsSize": 100,
    "imageUrl": "docker.io/vllm/vllm-openai:latest",
    "ports": "8000/http, 22/tcp",
    "envs": [{"key": "HF_TOKEN", "value": "hf_xxx"}],
    "tools": [{"name": "Jupyter", "port": "8888", "type": "http"}],
    "networkStorages": [{"Id": VOLUME, "mountPoint": "/network"}],
    "billingMode": "onDemand",
    "minCudaVersion": "12.4",
}


@pytest.fixture
def novita_account(team):
    return AccountFactory(team=team, vendor="novita", label="Novita sandbox", metadata=METADATA)


def rows(prefix: str, items: list[dict[str, Any]], initial: int = 0) -> dict[str, str]:
    """A formset as the browser posts it; ``initial`` rows were on the page it came from."""
    data = {f"{prefix}-TOTAL_FORMS": str(len(items)), f"{prefix}-INITIAL_FORMS": str(initial)}
    for i, item in enumerate(items):
        data.update({f"{prefix}-{i}-{k}": str(v) for k, v in item.items()})
    return data


def data(account, **fields: Any) -> dict[str, Any]:
    values = {
        "account": account.pk,
        "name": "llama-serve-01",
        "productId": "A100-80GB.14c240g",
        "gpuNum": "1",
        "clusterId": "",
        "rootfsSize": "100",
        "minCudaVersion": "12.4",
        "imageUrl": "docker.io/vllm/vllm-openai:latest",
        "jupyter": "on",
        "jupyter_port": "8888",
        "jupyter_type": "http",
        "billingMode": "onDemand",
        **rows("ports", [{"port": 8000, "type": "http"}, {"port": 22, "type": "tcp"}]),
        **rows("env", [{"key": "HF_TOKEN", "value": "hf_xxx"}]),
        **rows("volumes", [{"Id": VOLUME, "mountPoint": "/network"}]),
    }
    values.update(fields)
    return {k: v for k, v in values.items() if v is not None}


def bound(account, *, offers=OFFERS, **fields: Any) -> NovitaDeploymentForm:
    return NovitaDeploymentForm(data(account, **fields), accounts=ProviderAccount.objects.all(), offers=offers)


def invalid(form: NovitaDeploymentForm) -> dict[str, Any]:
    """Every error the form shows, keyed ``field`` or ``prefix-index-field``."""
    assert not form.is_valid()
    errors: dict[str, Any] = {k: list(v) for k, v in form.main.errors.items()}
    for prefix, formset in form.sets.items():
        for i, row in enumerate(formset.forms):
            errors.update({f"{prefix}-{i}-{k}": list(v) for k, v in row.errors.items()})
    return errors


# --- the request body ----------------------------------------------------------------------------------


def test_novita_form_is_registered():
    assert form_class_for("novita") is NovitaDeploymentForm


def test_novita_form_builds_the_notes_example_request(novita_account):
    form = bound(novita_account)
    assert form.is_valid(), (form.main.errors, [f.errors for fs in form.sets.values() for f in fs.forms])
    assert form.spec == SEED_SPEC
    assert form.account == novita_account


def test_novita_form_sends_every_optional_field_when_filled(novita_account):
    form = bound(
        novita_account,
        name="full-01",
        gpuNum="2",
        clusterId="5",
        rootfsSize="200",
        networkId="vpc-1",
        imageAuthId="1001",
        command="--model x",
        entrypoint="/bin/serve",
        jupyter=None,
        billingMode="monthly",
        month="3",
        autoRenew="on",
        autoRenewMonth="6",
        **rows("env", [{"key": "A", "value": "1"}, {"key": "B", "value": "2"}]),
        **rows("volumes", [{"Id": VOLUME, "mountPoint": "/models"}]),
    )
    assert form.is_valid(), form.main.errors
    assert form.spec == {
        "name": "full-01",
        "productId": "A100-80GB.14c240g",
        "kind": "gpu",
        "gpuNum": 2,
        "rootfsSize": 200,
        "imageUrl": "docker.io/vllm/vllm-openai:latest",
        "imageAuthId": "1001",
        "ports": "8000/http, 22/tcp",
        "envs": [{"key": "A", "value": "1"}, {"key": "B", "value": "2"}],
        "command": "--model x",
        "entrypoint": "/bin/serve",
        "clusterId": "5",
        "networkStorages": [{"Id": VOLUME, "mountPoint": "/models"}],
        "networkId": "vpc-1",
        "billingMode": "monthly",
        "month": 3,
        "autoRenew": True,
        "autoRenewMonth": 6,
        "minCudaVersion": "12.4",
    }


def test_novita_form_leaves_out_what_is_empty(novita_account):
    form = bound(
        novita_account, minCudaVersion="", jupyter=None, **rows("ports", []), **rows("env", []), **rows("volumes", [])
    )
    assert form.is_valid(), form.main.errors
    assert form.spec == {
        "name": "llama-serve-01",
        "productId": "A100-80GB.14c240g",
        "kind": "gpu",
        "gpuNum": 1,
        "rootfsSize": 100,
        "imageUrl": "docker.io/vllm/vllm-openai:latest",
        "billingMode": "onDemand",
    }


def test_novita_form_blank_rows_are_ignored(novita_account):
    form = bound(
        novita_account,
        **rows("ports", [{"port": "", "type": "http"}, {"port": 8000, "type": "http"}]),
        **rows("env", [{"key": "", "value": ""}]),
        **rows("volumes", [{"Id": "", "mountPoint": "/data"}]),
    )
    assert form.is_valid(), form.main.errors
    assert (form.spec["ports"], "envs" in form.spec, "networkStorages" in form.spec) == ("8000/http", False, False)


def test_novita_form_removed_volume_row_is_not_sent(novita_account):
    # The page's remove button clears a row's text inputs and leaves its select as it was.
    form = bound(novita_account, **rows("volumes", [{"Id": VOLUME, "mountPoint": ""}]))
    assert form.is_valid(), form.main.errors
    assert "networkStorages" not in form.spec


def test_novita_form_new_volume_rows_start_at_novitas_mount_path(novita_account):
    assert str(bound(novita_account).sets["volumes"].empty_form["mountPoint"]).count('value="/network"') == 1


def test_novita_form_registry_username_password(novita_account):
    form = bound(novita_account, imageAuth="bot:s3cret")
    assert form.is_valid(), form.main.errors
    assert form.spec["imageAuth"] == "bot:s3cret"


def test_novita_form_monthly_values_are_not_sent_in_other_modes(novita_account):
    form = bound(novita_account, billingMode="spot", month="3", autoRenew="on", autoRenewMonth="2")
    assert form.is_valid(), form.main.errors
    assert form.spec["billingMode"] == "spot"
    assert not {"month", "autoRenew", "autoRenewMonth"} & set(form.spec)


def test_novita_form_lists_only_novita_keys(novita_account, account):
    form = bound(novita_account)
    assert list(form.main.fields["account"].queryset) == [novita_account]  # not the Together key


# --- one test per rule, each on its field ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "where", "message"),
    [
        ({"name": ""}, "name", "This field is required."),
        ({"name": "llama serve"}, "name", "Use letters, digits and hyphens only."),
        ({"name": "a" * 256}, "name", "At most 255 characters."),
        ({"productId": ""}, "productId", "This field is required."),
        ({"productId": "H200-141GB.24c240g"}, "productId", "H200 141GB has no capacity now: choose another product."),
        ({"gpuNum": "0"}, "gpuNum", "1 to 8 GPUs."),
        ({"gpuNum": "9"}, "gpuNum", "1 to 8 GPUs."),
        (
            {"clusterId": "3", "volumes-TOTAL_FORMS": "0"},
            "clusterId",
            "A100 SXM 80GB is not sold in this cluster; it is in: US-CA-06 (California).",
        ),
        ({"rootfsSize": "5"}, "rootfsSize", "10 to 6144 GB."),
        ({"rootfsSize": "2000"}, "rootfsSize", "A100 SXM 80GB takes a root disk of 10–1024 GB."),
        (
            {"productId": "4090.16c62g", "rootfsSize": "15", "volumes-TOTAL_FORMS": "0"},
            "rootfsSize",
            "RTX 4090 24GB takes a root disk of 20–400 GB.",
        ),
        ({"minCudaVersion": "12"}, "minCudaVersion", "A CUDA version like 12.4."),
        ({"imageUrl": ""}, "imageUrl", "This field is required."),
        ({"imageUrl": "docker.io/" + "a" * 500}, "imageUrl", "At most 500 characters."),
        ({"imageUrl": "my image"}, "imageUrl", "An image reference has no spaces."),
        ({"imageAuth": "just-a-user"}, "imageAuth", "Registry credentials are username:password."),
        (
            {"imageAuth": "bot:pw", "imageAuthId": "1001"},
            "imageAuth",
            "Give a saved registry credential or username:password, not both.",
        ),
        ({"command": "x" * 2048}, "command", "At most 2047 characters."),
        ({"entrypoint": "x" * 2048}, "entrypoint", "At most 2047 characters."),
        ({"jupyter_port": "2223"}, "jupyter_port", "2222, 2223 and 2224 are reserved by Novita."),
        ({"jupyter_port": "8000"}, "jupyter_port", "8000 is already exposed as a port."),
        ({"jupyter_port": ""}, "jupyter_port", "This field is required."),
        ({"billingMode": "monthly", "month": ""}, "month", "Monthly billing needs at least 1 month."),
        (
            {
                "productId": "4090.16c62g",
                "billingMode": "monthly",
                "month": "1",
                "rootfsSize": "100",
                "volumes-TOTAL_FORMS": "0",
            },
            "billingMode",
            "RTX 4090 24GB is sold on demand, spot only.",
        ),
        ({"billingMode": "monthly", "month": "1", "autoRenewMonth": "3"}, "autoRenewMonth", "Only with auto-renew."),
        (
            {"billingMode": "monthly", "month": "1", "autoRenew": "on", "autoRenewMonth": "13"},
            "autoRenewMonth",
            "1 to 12 months.",
        ),
        (
            {"billingMode": "monthly", "month": "1", "autoRenew": "on"},
            "autoRenewMonth",
            "Say for how many months it renews (1 to 12).",
        ),
    ],
)
def test_novita_form_rule_lands_on_its_field(novita_account, fields, where, message):
    errors = invalid(bound(novita_account, **fields))
    assert errors == {where: [message]}


@pytest.mark.parametrize(
    ("port", "message"),
    [
        (2222, "2222: 2222, 2223 and 2224 are reserved by Novita."),
        (2224, "2224: 2222, 2223 and 2224 are reserved by Novita."),
        (70000, "70000: Ports run from 1 to 65535."),
        (8000, "8000 is listed twice."),
    ],
)
def test_novita_form_port_rule_lands_on_its_row(novita_account, port, message):
    ports = [{"port": 8000, "type": "http"}, {"port": 22, "type": "tcp"}, {"port": port, "type": "tcp"}]
    errors = invalid(bound(novita_account, **rows("ports", ports)))
    assert errors == {"ports-2-port": [message]}


def test_novita_form_ports_and_tools_share_fifteen(novita_account):
    ports = [{"port": 8000 + i, "type": "http"} for i in range(15)]
    assert bound(novita_account, jupyter=None, **rows("ports", ports)).is_valid()
    errors = invalid(bound(novita_account, **rows("ports", ports)))  # + Jupyter = 16
    assert errors == {"ports-14-port": ["At most 15 ports, Jupyter included."]}


@pytest.mark.parametrize(
    ("env", "where", "message"),
    [
        ({"key": "", "value": "orphan"}, "env-1-key", "A variable needs a name."),
        ({"key": "K" * 512, "value": "v"}, "env-1-key", "At most 511 characters."),
        ({"key": "MY KEY", "value": "v"}, "env-1-key", "A name has no spaces and no “=”."),
        ({"key": "HF_TOKEN", "value": "again"}, "env-1-key", "HF_TOKEN is set twice."),
        ({"key": "BIG", "value": "v" * 4096}, "env-1-value", "At most 4095 characters."),
    ],
)
def test_novita_form_env_rule_lands_on_its_row(novita_account, env, where, message):
    errors = invalid(bound(novita_account, **rows("env", [{"key": "HF_TOKEN", "value": "hf_xxx"}, env])))
    assert errors == {where: [message]}


def test_novita_form_at_most_a_hundred_variables(novita_account):
    env = [{"key": f"K{i}", "value": str(i)} for i in range(101)]
    form = bound(novita_account, **rows("env", env))
    assert not form.is_valid()
    assert "envs: At most 100 environment variables." in form.non_field_errors
    assert bound(novita_account, **rows("env", env[:100])).is_valid()


@pytest.mark.parametrize(
    ("volumes", "where", "message"),
    [
        ([{"Id": VOLUME, "mountPoint": "network"}], "volumes-0-mountPoint", "An absolute path, e.g. /network."),
        ([{"Id": VOLUME, "mountPoint": "/" + "m" * 4095}], "volumes-0-mountPoint", "At most 4095 characters."),
        (
            [{"Id": VOLUME, "mountPoint": "/a"}, {"Id": VOLUME, "mountPoint": "/b"}],
            "volumes-1-Id",
            "This volume is mounted twice.",
        ),
        (
            [{"Id": VOLUME, "mountPoint": "/a"}, {"Id": FRANKFURT_VOLUME, "mountPoint": "/a"}],
            "volumes-1-mountPoint",
            "Another volume is mounted here.",
        ),
        (
            [{"Id": "not-listed", "mountPoint": "/a"}],
            "volumes-0-Id",
            "Select a valid choice. not-listed is not one of the available choices.",
        ),
    ],
)
def test_novita_form_volume_rule_lands_on_its_row(novita_account, volumes, where, message):
    errors = invalid(bound(novita_account, clusterId="", **rows("volumes", volumes)))
    assert errors.get(where) == [message], errors


def test_novita_form_at_most_thirty_volumes(team):
    many = [{"id": f"vol-{i:02d}", "name": f"v{i}", "cluster_id": "5"} for i in range(31)]
    account = AccountFactory(team=team, vendor="novita", metadata={**METADATA, "network_storages": many})
    volumes = [{"Id": v["id"], "mountPoint": f"/mnt/{i}"} for i, v in enumerate(many)]
    form = bound(account, **rows("volumes", volumes))
    assert not form.is_valid()
    assert "networkStorages: At most 30 network volumes." in form.non_field_errors
    assert bound(account, **rows("volumes", volumes[:30])).is_valid()


def test_novita_form_volume_of_another_cluster_is_refused(novita_account):
    errors = invalid(bound(novita_account, clusterId="5", **rows("volumes", [{"Id": FRANKFURT_VOLUME}])))
    assert list(errors) == ["volumes-0-Id"]
    assert "EU-DE-01 (Frankfurt)" in errors["volumes-0-Id"][0]


def test_novita_form_reports_every_broken_rule_at_once(novita_account):
    errors = invalid(
        bound(novita_account, name="bad name", gpuNum="12", minCudaVersion="x", **rows("ports", [{"port": 2222}]))
    )
    assert set(errors) == {"name", "gpuNum", "minCudaVersion", "ports-0-port"}


def test_novita_form_rules_are_not_django_validators():
    from django.core import validators

    fields = NovitaDeploymentForm.main_form.base_fields
    rule_types = (
        validators.MinValueValidator,
        validators.MaxValueValidator,
        validators.MaxLengthValidator,
        validators.RegexValidator,
    )
    for name in ("name", "gpuNum", "rootfsSize", "imageUrl", "command", "minCudaVersion", "autoRenewMonth"):
        assert not [v for v in fields[name].validators if isinstance(v, rule_types)], name
    assert fields["gpuNum"].widget.attrs == {"min": 1, "max": 8}  # hints for the browser, from the rules


# --- vendor errors land on fields ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "where"),
    [
        ("gpuNum", "gpuNum"),
        ("rootfsSize", "rootfsSize"),
        ("imageUrl", "imageUrl"),
        ("imageAuth", "imageAuth"),
        ("clusterId", "clusterId"),
        ("billingMode", "billingMode"),
        ("month", "month"),
        ("autoRenewMonth", "autoRenewMonth"),
        ("minCudaVersion", "minCudaVersion"),
        ("name", "name"),
        ("envs.0.key", "env-0-key"),
        ("envs[0].value", "env-0-value"),
        ("tools.0.port", "jupyter_port"),
        ("tools.0.type", "jupyter_type"),
        ("tools", "jupyter"),
        ("networkStorages.0.mountPoint", "volumes-0-mountPoint"),
        ("networkStorages.0.Id", "volumes-0-Id"),
    ],
)
def test_novita_vendor_error_lands_on_its_field(novita_account, path, where):
    form = bound(novita_account)
    assert form.is_valid()
    form.add_spec_errors({path: ["Novita's own words"]})
    assert invalid(form) == {where: ["Novita's own words"]}


def test_novita_vendor_port_error_lands_on_the_row_it_names(novita_account):
    form = bound(novita_account)
    assert form.is_valid()
    form.add_spec_errors({"ports": ["22 is not allowed here"]})
    assert invalid(form) == {"ports-1-port": ["22 is not allowed here"]}


def test_novita_vendor_error_without_a_field_is_shown_on_the_form(novita_account):
    form = bound(novita_account)
    assert form.is_valid()
    form.add_spec_errors({"": ["INSUFFICIENT_RESOURCE: no machine has 8 free GPUs"]})
    assert "INSUFFICIENT_RESOURCE: no machine has 8 free GPUs" in form.non_field_errors


# --- offers and the key's metadata as choices ------------------------------------------------------------


def test_novita_products_are_priced_choices(novita_account):
    choices = dict(bound(novita_account).main.fields["productId"].choices)
    assert list(choices) == ["", "4090.16c62g", "A100-80GB.14c240g", "H200-141GB.24c240g"]  # cheapest first
    assert choices["A100-80GB.14c240g"] == (
        "A100 SXM 80GB · $1.60/GPU-h on demand · spot $0.80/GPU-h · $950.00/GPU-month · 14 vCPU + 240 GB RAM per GPU"
        " · disk 10–1024 GB · US-CA-06 (California) · stock high"
    )
    assert choices["4090.16c62g"].startswith("RTX 4090 24GB · $0.35/GPU-h on demand · spot $0.18/GPU-h · 16 vCPU")
    assert choices["H200-141GB.24c240g"].endswith("· all regions · no capacity now")


def test_novita_without_a_catalog_the_product_asks_for_a_sync(novita_account):
    form = bound(novita_account, offers=[], productId="")
    assert form.main.fields["productId"].choices == [
        ("", "No products yet: the catalog syncs when a Novita key is verified")
    ]
    assert invalid(form)["productId"] == ["This field is required."]


def test_novita_clusters_credentials_and_volumes_come_from_the_key(novita_account):
    form = bound(novita_account)
    assert form.main.fields["clusterId"].choices == [
        ("", "Any cluster: Novita chooses"),
        ("5", "US-CA-06 (California)"),
        ("3", "EU-DE-01 (Frankfurt)"),
    ]
    assert form.main.fields["imageAuthId"].choices[1:] == [("1001", "ghcr.io")]
    assert form.sets["volumes"].forms[0].fields["Id"].choices == [
        ("", "Choose a volume…"),
        (VOLUME, "llama-weights · US-CA-06 (California) · 10 GB"),
        (FRANKFURT_VOLUME, "eu-data · EU-DE-01 (Frankfurt) · 50 GB"),
    ]
    # The row the "+ Add volume" button copies offers the same volumes.
    assert len(form.sets["volumes"].empty_form.fields["Id"].choices) == 3


def test_novita_with_two_keys_each_choice_names_its_key_and_must_be_the_payers(novita_account, team):
    other = AccountFactory(
        team=team,
        vendor="novita",
        label="Novita prod",
        metadata={"registry_auths": [{"id": "2002", "name": "docker hub"}], "network_storages": [], "clusters": []},
    )
    form = bound(novita_account, imageAuthId="2002")
    assert ("2002", "docker hub — Novita prod") in form.main.fields["imageAuthId"].choices
    assert ("5", "US-CA-06 (California)") in form.main.fields["clusterId"].choices  # Novita's, not a key's
    assert invalid(form) == {"imageAuthId": ["This credential belongs to another key, not “Novita sandbox”."]}
    errors = invalid(bound(other, **rows("volumes", [{"Id": VOLUME, "mountPoint": "/network"}])))
    assert errors == {"volumes-0-Id": ["This volume belongs to another key, not “Novita prod”."]}


# --- the template picker --------------------------------------------------------------------------------------


def blank(account, **fields: Any) -> dict[str, Any]:
    """A new form as the browser posts it untouched: the product chosen, the image, command
    and rows empty, the root disk and Jupyter port at the form's defaults, Jupyter off."""
    values = data(
        account,
        imageUrl="",
        minCudaVersion="",
        rootfsSize="60",
        jupyter=None,
        **rows("ports", [{"port": "", "type": "http"}]),
        **rows("env", [{"key": "", "value": ""}]),
        **rows("volumes", []),
    )
    values.update(fields)
    return values


def posted(values: dict[str, Any]) -> NovitaDeploymentForm:
    return NovitaDeploymentForm(values, accounts=ProviderAccount.objects.all(), offers=OFFERS)


def test_novita_templates_are_choices_from_the_keys_metadata(novita_account):
    form = NovitaDeploymentForm(accounts=ProviderAccount.objects.all(), offers=OFFERS)
    # The entry without an image (from a sync before templates kept it) has nothing to start from.
    assert form.main.fields["template"].choices == [
        ("", "None: my own settings"),
        ("Your templates", [("tpl-77", f"vllm-llama3 · {VLLM} · ports 8000/http, 22/tcp · 100 GB disk")]),
        (
            "Novita's templates",
            [
                ("1", f"PyTorch 2.4 (CUDA 12.4) · {PYTORCH} · ports 8888/http, 22/tcp · Jupyter · 60 GB disk"),
                ("3", f"Ubuntu 22.04 · {UBUNTU} · ports 22/tcp · 10 GB disk"),
                ("9", "Llama 405B · docker.io/acme/llama-405b:1 · ports 8000/http · 2000 GB disk"),
            ],
        ),
    ]
    assert "template" in {name for section in form.sections for name in section[2]}


def test_novita_without_templates_the_picker_says_when_they_come(team):
    AccountFactory(team=team, vendor="novita", metadata={**METADATA, "templates": []})
    form = NovitaDeploymentForm(accounts=ProviderAccount.objects.all(), offers=OFFERS)
    assert form.main.fields["template"].choices == [("", "None yet: templates are listed when a key is verified")]


def test_novita_template_fills_the_empty_fields(novita_account):
    form = posted(blank(novita_account, template="tpl-77"))
    assert not form.is_valid()
    assert [dict(f.errors) for f in form.sets["env"].forms] == [
        {"value": ["HF_TOKEN has no value: fill it in or remove the row."]}
    ]
    typed = posted(blank(novita_account, template="tpl-77", **rows("env", [{"key": "HF_TOKEN", "value": "hf_mine"}])))
    assert typed.is_valid(), (typed.main.errors, [f.errors for fs in typed.sets.values() for f in fs.forms])
    assert typed.spec == {
        "name": "llama-serve-01",
        "productId": "A100-80GB.14c240g",
        "kind": "gpu",
        "gpuNum": 1,
        "rootfsSize": 100,
        "imageUrl": VLLM,
        "ports": "8000/http, 22/tcp",
        "envs": [{"key": "HF_TOKEN", "value": "hf_mine"}],
        "command": "--model meta-llama/Llama-3.1-8B-Instruct",
        "billingMode": "onDemand",
    }
    # The page shows what was filled in, so the user sees what will be sent (and gives
    # HF_TOKEN its value there).
    assert (form.main["imageUrl"].value(), form.main["rootfsSize"].value()) == (VLLM, "100")
    ports = [(f["port"].value(), f["type"].value()) for f in form.sets["ports"].forms]
    assert ports == [("8000", "http"), ("22", "tcp")]
    assert [(f["key"].value(), f["value"].value()) for f in form.sets["env"].forms] == [("HF_TOKEN", "")]


def test_novita_template_keeps_what_the_user_typed(novita_account):
    form = bound(
        novita_account,
        template="tpl-77",
        command="--model Qwen/Qwen2.5-7B-Instruct",
        **rows("env", [{"key": "HF_TOKEN", "value": "hf_mine"}, {"key": "MODEL", "value": "qwen"}]),
    )
    assert form.is_valid(), form.main.errors
    assert form.spec == {
        **SEED_SPEC,
        "command": "--model Qwen/Qwen2.5-7B-Instruct",
        "envs": [{"key": "HF_TOKEN", "value": "hf_mine"}, {"key": "MODEL", "value": "qwen"}],
    }
    # Everything typed stays; the template adds only its Jupyter, not ticked here.
    typed = {"imageUrl": "docker.io/acme/serve:2", "command": "--port 9000", "rootfsSize": "200", "jupyter": None}
    form = bound(novita_account, template="1", **typed, **rows("ports", [{"port": 9000, "type": "http"}]))
    assert form.is_valid(), form.main.errors
    assert form.spec == {
        **SEED_SPEC,
        "imageUrl": "docker.io/acme/serve:2",
        "command": "--port 9000",
        "rootfsSize": 200,
        "ports": "9000/http",
    }


def test_novita_template_env_values_are_never_copied(novita_account):
    # Even a template that (from some older sync) still carries values gives names only.
    leaky = {**TEMPLATES[0], "id": "tpl-88", "envs": [{"key": "HF_TOKEN", "value": "hf_t3mplate_s3cret"}]}
    novita_account.metadata = {**METADATA, "templates": [leaky]}
    novita_account.save()
    form = posted(blank(novita_account, template="tpl-88"))
    assert not form.is_valid()  # the name comes, its value does not: the row says so
    assert form.errors_for("env-0-value") == ["HF_TOKEN has no value: fill it in or remove the row."]
    assert [(f["key"].value(), f["value"].value()) for f in form.sets["env"].forms] == [("HF_TOKEN", "")]
    assert "hf_t3mplate_s3cret" not in repr(dict(form.main.data)) + str(form.sets["env"].forms[0])


def test_novita_template_with_jupyter_ticks_the_tool_and_leaves_its_port_to_it(novita_account):
    form = posted(blank(novita_account, template="1"))
    assert form.is_valid(), form.main.errors
    assert form.spec == {
        "name": "llama-serve-01",
        "productId": "A100-80GB.14c240g",
        "kind": "gpu",
        "gpuNum": 1,
        "rootfsSize": 60,
        "imageUrl": PYTORCH,
        "ports": "22/tcp",
        "tools": [{"name": "Jupyter", "port": "8888", "type": "http"}],
        "billingMode": "onDemand",
    }
    assert form.main["jupyter"].value() is True
    # A port row of the user's already on Jupyter's port: the tool is left unticked.
    form = posted(blank(novita_account, template="1", **rows("ports", [{"port": 8888, "type": "http"}])))
    assert form.is_valid(), form.main.errors
    assert (form.spec["ports"], "tools" in form.spec) == ("8888/http", False)


def test_novita_switching_templates_replaces_the_previous_ones_values(novita_account):
    filled = posted(blank(novita_account, template="tpl-77")).main.data
    form = posted({**filled, "template": "3"})
    assert form.is_valid(), form.main.errors
    assert form.spec == {
        "name": "llama-serve-01",
        "productId": "A100-80GB.14c240g",
        "kind": "gpu",
        "gpuNum": 1,
        "rootfsSize": 10,
        "imageUrl": UBUNTU,
        "ports": "22/tcp",
        "command": "sleep infinity",
        "billingMode": "onDemand",
    }
    # A value given on the review page is the user's: switching keeps that row.
    given = {**filled, "env-0-value": "hf_given", "template": "3"}
    assert posted(given).main.data["env-0-value"] == "hf_given"


def test_novita_template_disk_below_the_products_window_is_raised_to_its_floor(novita_account):
    # The RTX 4090 takes 20–400 GB; Ubuntu's template says 10.
    form = posted(blank(novita_account, template="3", productId="4090.16c62g"))
    assert form.is_valid(), form.main.errors
    assert (form.spec["rootfsSize"], form.main["rootfsSize"].value()) == (20, "20")


def test_novita_template_disk_above_the_products_window_is_reported_on_the_field(novita_account):
    # Not shrunk quietly: the image may need it. The user picks a smaller disk or another product.
    form = posted(blank(novita_account, template="9"))
    assert invalid(form) == {"rootfsSize": ["A100 SXM 80GB takes a root disk of 10–1024 GB."]}
    assert form.main["rootfsSize"].value() == "2000"
    assert form.main["imageUrl"].value() == "docker.io/acme/llama-405b:1"


def test_novita_templates_are_the_chosen_keys(novita_account, team):
    mine = {**TEMPLATES[0], "id": "tpl-prod", "name": "prod-only"}
    other = AccountFactory(team=team, vendor="novita", label="Novita prod", metadata={**METADATA, "templates": [mine]})
    unchosen = NovitaDeploymentForm(accounts=ProviderAccount.objects.all(), offers=OFFERS)
    assert ("tpl-prod", f"prod-only · {VLLM} · ports 8000/http, 22/tcp · 100 GB disk — Novita prod") in dict(
        unchosen.main.fields["template"].choices
    )["Your templates"]
    form = posted(blank(novita_account, template="tpl-prod"))
    assert invalid(form)["template"] == ["Select a valid choice. tpl-prod is not one of the available choices."]
    assert posted(blank(other, template="tpl-prod", **rows("env", [{"key": "HF_TOKEN", "value": "hf"}]))).is_valid()


def test_novita_editing_has_no_template_picker(novita_account):
    post = {
        "rootfsSize": "100",
        "imageUrl": "",
        "template": "3",
        **rows("ports", []),
        **rows("env", []),
        **rows("volumes", []),
    }
    form = editing_form(SEED_SPEC, post)
    assert "template" not in form.main.fields
    assert invalid(form)["imageUrl"] == ["This field is required."]


# --- money ---------------------------------------------------------------------------------------------------


def test_novita_estimate_compares_on_demand_spot_and_monthly(novita_account):
    estimate = bound(novita_account, gpuNum="2").estimate()
    assert (estimate["unit"], estimate["low"], estimate["unit_label"]) == (Decimal("3.2"), Decimal("3.2"), "instance")
    assert estimate["day"] == Decimal("3.2") * 24
    assert estimate["note"] == (
        "2 × A100 SXM 80GB, on demand. Compare: on demand $3.20/h, billed per second from the image pull; "
        "spot $1.60/h, but Novita can reclaim it; monthly $1,900.00 a month, prepaid at creation."
    )


def test_novita_estimate_for_spot_and_monthly(novita_account):
    spot = bound(novita_account, billingMode="spot").estimate()
    assert spot["low"] == Decimal("0.8")
    monthly = bound(novita_account, billingMode="monthly", month="3").estimate()
    assert monthly["low"] == Decimal("2707.5") / (3 * 720)  # the 3-month price spread over its hours
    assert monthly["note"].startswith("1 × A100 SXM 80GB, monthly. Compare:")


def test_novita_estimate_before_the_form_is_complete(novita_account):
    assert bound(novita_account, name="", imageUrl="").estimate()["low"] == Decimal("1.6")


def test_novita_monthly_charges_the_months_times_gpus_at_creation(novita_account):
    form = bound(novita_account, gpuNum="2", billingMode="monthly", month="3")
    assert form.is_valid(), form.main.errors
    [charge] = form.charges()
    assert charge.amount == Decimal("5415.00")
    assert charge.description == "Charged at creation: 3 months of A100 SXM 80GB × 2 GPUs, prepaid."


def test_novita_on_demand_charges_nothing_and_spot_warns(novita_account):
    on_demand = bound(novita_account)
    assert on_demand.is_valid()
    assert on_demand.charges() == []
    spot = bound(novita_account, billingMode="spot")
    assert spot.is_valid()
    [charge] = spot.charges()
    assert charge.amount == 0
    assert "Novita can reclaim a spot instance" in charge.description


# --- editing, cloning, round trips ------------------------------------------------------------------------------


def editing_form(spec: dict[str, Any], post: dict[str, Any] | None = None, **kwargs: Any) -> NovitaDeploymentForm:
    initial, row_initial = NovitaDeploymentForm.initial_from_spec(spec)
    return NovitaDeploymentForm(
        post,
        initial=initial,
        row_initial=row_initial,
        editing=True,
        offers=OFFERS,
        accounts=ProviderAccount.objects.all(),
        **kwargs,
    )


def test_novita_initial_from_spec_round_trips(novita_account):
    initial, row_initial = NovitaDeploymentForm.initial_from_spec(SEED_SPEC)
    assert row_initial == {
        "ports": [{"port": 8000, "type": "http"}, {"port": 22, "type": "tcp"}],
        "env": [{"key": "HF_TOKEN", "value": "hf_xxx"}],
        "volumes": [{"Id": VOLUME, "mountPoint": "/network"}],
    }
    post = {**{k: str(v) for k, v in initial.items()}, "account": novita_account.pk, "jupyter": "on"}
    for prefix, items in row_initial.items():
        post.update(rows(prefix, items))
    form = NovitaDeploymentForm(post, accounts=ProviderAccount.objects.all(), offers=OFFERS)
    assert form.is_valid(), form.main.errors
    assert form.spec == SEED_SPEC


def test_novita_editing_fixes_what_novita_cannot_change(novita_account):
    form = editing_form(SEED_SPEC)
    disabled = {name for name, field in form.main.fields.items() if field.disabled}
    assert disabled == {
        "name",
        "productId",
        "gpuNum",
        "clusterId",
        "networkId",
        "minCudaVersion",
        "imageAuth",
        "billingMode",
        "month",
        "autoRenew",
        "autoRenewMonth",
        "jupyter",
        "jupyter_port",
        "jupyter_type",
    }
    assert "account" not in form.main.fields
    editable = {"rootfsSize", "imageUrl", "imageAuthId", "command", "entrypoint"}
    assert editable <= set(form.main.fields) - disabled


def test_novita_update_post_changes_image_env_ports_and_grows_the_disk(novita_account):
    post = {
        "name": "hijacked",
        "productId": "4090.16c62g",
        "gpuNum": "8",
        "billingMode": "spot",  # locked: ignored
        "rootfsSize": "150",
        "imageUrl": "docker.io/vllm/vllm-openai:v0.6.0",
        "command": "--port 8000",
        # The page showed two ports, one variable and one volume: the second port and the
        # volume are removed (cleared), the variable changed.
        **rows("ports", [{"port": 8000, "type": "http"}, {"port": "", "type": "tcp"}], initial=2),
        **rows("env", [{"key": "HF_TOKEN", "value": "hf_new"}], initial=1),
        **rows("volumes", [{"Id": "", "mountPoint": ""}], initial=1),
    }
    form = editing_form(SEED_SPEC, post)
    assert form.is_valid(), (form.main.errors, [f.errors for f in form.sets["ports"].forms])
    expected = {
        **SEED_SPEC,
        "rootfsSize": 150,
        "imageUrl": "docker.io/vllm/vllm-openai:v0.6.0",
        "command": "--port 8000",
        "ports": "8000/http",
        "envs": [{"key": "HF_TOKEN", "value": "hf_new"}],
    }
    del expected["networkStorages"]  # every volume row removed: the upgrade unmounts them
    assert form.spec == expected


def test_novita_update_cannot_shrink_the_root_disk(novita_account):
    post = {
        "rootfsSize": "80",
        "imageUrl": SEED_SPEC["imageUrl"],
        **rows("ports", []),
        **rows("env", []),
        **rows("volumes", []),
    }
    form = editing_form(SEED_SPEC, post)
    assert invalid(form) == {"rootfsSize": ["Novita can only grow the root disk: it has 100 GB now."]}


def test_novita_update_of_an_image_pulled_with_username_password_asks_for_a_saved_credential(novita_account):
    spec = {**SEED_SPEC, "imageAuth": "bot:pw", "networkStorages": []}
    spec.pop("imageAuthId", None)
    post = {
        "rootfsSize": "100",
        "imageUrl": "ghcr.io/acme/app:2",
        **rows("ports", []),
        **rows("env", []),
        **rows("volumes", []),
    }
    form = editing_form(spec, post)
    assert invalid(form) == {"imageAuth": [UPGRADE_NEEDS_SAVED_AUTH]}


def test_novita_update_of_a_sold_out_product_is_not_refused_for_capacity(novita_account):
    spec = {**SEED_SPEC, "productId": "H200-141GB.24c240g", "rootfsSize": 100, "networkStorages": []}
    post = {
        "rootfsSize": "100",
        "imageUrl": "docker.io/vllm/vllm-openai:v0.6.0",
        **rows("ports", []),
        **rows("env", []),
        **rows("volumes", []),
    }
    form = editing_form(spec, post)
    assert form.is_valid(), form.main.errors


def test_novita_fix_and_resubmit_may_change_what_would_be_fixed(novita_account):
    post = data(novita_account, gpuNum="2", name="llama-serve-02")
    post.pop("account")
    form = editing_form(SEED_SPEC, post, fixed=False)
    assert not form.main.fields["gpuNum"].disabled
    assert form.is_valid(), form.main.errors
    assert (form.spec["gpuNum"], form.spec["name"]) == (2, "llama-serve-02")


def test_novita_a_stored_registry_password_is_never_written_into_a_page(novita_account):
    spec = {**SEED_SPEC, "imageAuth": "bot:s3cret"}
    clone = NovitaDeploymentForm(
        initial=NovitaDeploymentForm.initial_from_spec(spec)[0], accounts=ProviderAccount.objects.all(), offers=OFFERS
    )
    assert "s3cret" not in str(clone.main["imageAuth"])
    editing = editing_form(spec)
    assert "s3cret" not in str(editing.main["imageAuth"])
    assert editing.main.fields["imageAuth"].disabled  # and kept as it is on update


def test_novita_editing_keeps_ids_gone_from_the_lists(novita_account):
    spec = {
        **SEED_SPEC,
        "productId": "gone.1c1g",
        "clusterId": "42",
        "imageAuthId": "9",
        "networkStorages": [{"Id": "vol-gone", "mountPoint": "/w"}],
    }
    form = editing_form(spec)
    assert ("gone.1c1g", "gone.1c1g (not in the synced product list)") in form.main.fields["productId"].choices
    assert ("42", "42 (not in the key's cluster list)") in form.main.fields["clusterId"].choices
    assert ("9", "9 (not in the key's credential list)") in form.main.fields["imageAuthId"].choices
    volume_choices = form.sets["volumes"].forms[0].fields["Id"].choices
    assert ("vol-gone", "vol-gone (in the spec; not in the key's volume list)") in volume_choices


def test_novita_clone_to_another_vendor_carries_name_image_and_env():
    from providers import neutral

    common = neutral.from_vendor("novita", SEED_SPEC)
    assert (common.name, common.image, common.env) == (
        "llama-serve-01",
        "docker.io/vllm/vllm-openai:latest",
        (("HF_TOKEN", "hf_xxx"),),
    )
    initial, row_initial = neutral.to_form("novita", common)
    assert initial["name"] == "llama-serve-01"
    assert initial["imageUrl"] == "docker.io/vllm/vllm-openai:latest"
    assert row_initial["env"] == [{"key": "HF_TOKEN", "value": "hf_xxx"}]
