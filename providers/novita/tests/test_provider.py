"""The Novita adapter against respx: its rules (one test per rule), prices, the status
table (one test per row) and its overlays, the action gates, every call's request and
parsed result, and each error class. Fixture JSON follows contract §2 (the §2.3 create
example, the §2.5 instance, the §2.2 product) with invented values."""

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
    Offer,
    ProviderError,
    RateLimited,
    Rejected,
    RemoteState,
    SpecError,
    Transient,
)
from providers.novita import (
    BILLED_STATUSES,
    CREATE_FIELDS,
    ERRORS,
    MASK,
    STATUS_MESSAGES,
    STATUS_TABLE,
    NovitaProvider,
    blocked,
    check_spec,
    cluster_in_regions,
    field_named_in,
    format_ports,
    gpu_model_of,
    parse_ports,
    product_offer,
    remote_state,
    spec_from_instance,
    template_entry,
)
from providers.testing import load_fixture

BASE = "https://api.novita.ai"
GPU = f"{BASE}/gpu-instance/openapi/v1"
KEY = "sk_unit_test_key_0001"
ID = "8b7f3c2e1a9d4f60"
CREATE = f"{GPU}/gpu/instance/create"
ONE = f"{GPU}/gpu/instance"
LIST = f"{GPU}/gpu/instances"
PRODUCTS = f"{GPU}/products"
BALANCE = f"{BASE}/openapi/v1/billing/balance/detail"
SYSTEM_LOG = "https://logs.novita.example/s/8b7f3c2e1a9d4f60/tok-sys-91f2"
INSTANCE_LOG = "https://logs.novita.example/i/8b7f3c2e1a9d4f60/tok-ins-3c7d"

# The create example of contract §2.3, exactly as written there.
NOTES_CREATE: dict[str, Any] = {
    "name": "llama-serve-01",
    "productId": "A100-80GB.14c240g",
    "kind": "gpu",
    "gpuNum": 1,
    "rootfsSize": 100,
    "imageUrl": "docker.io/vllm/vllm-openai:latest",
    "imageAuthId": "",
    "ports": "8000/http, 22/tcp",
    "envs": [{"key": "HF_TOKEN", "value": "hf_xxx"}],
    "tools": [{"name": "Jupyter", "port": "8888", "type": "http"}],
    "command": "",
    "entrypoint": "",
    "clusterId": "",
    "networkStorages": [{"Id": "d4e82677-3f80-4020-a731-d15b1c589aa8", "mountPoint": "/network"}],
    "billingMode": "onDemand",
    "month": 0,
    "minCudaVersion": "12.4",
}
# What validate_spec makes of it: the empty optional strings left out.
NOTES_BODY = {k: v for k, v in NOTES_CREATE.items() if v != ""}
MINIMAL = {"productId": "4090.16c62g", "kind": "gpu", "gpuNum": 1, "rootfsSize": 60, "imageUrl": "ubuntu:22.04"}


def fixture(name: str) -> Any:
    return load_fixture("novita", name)


def offers() -> list[Offer]:
    return [product_offer(p) for p in fixture("products")["data"]]


def metadata() -> dict[str, Any]:
    return {
        "clusters": [{"id": "5", "name": "US-CA-06"}, {"id": "9", "name": "EU-DE-01"}],
        "network_storages": [
            {"id": "d4e82677-3f80-4020-a731-d15b1c589aa8", "name": "models", "cluster_id": "5"},
            {"id": "0f3b9c1e-2222-4a7b-9c44-1a2b3c4d5e6f", "name": "datasets", "cluster_id": "9"},
        ],
    }


def errors_of(spec: dict[str, Any], **kwargs: Any) -> dict[str, list[str]]:
    with pytest.raises(SpecError) as caught:
        check_spec(spec, **kwargs)
    return caught.value.fields


def sent_json(route) -> Any:
    return json.loads(route.calls.last.request.content)


def assert_sent(route, method: str, path: str) -> httpx.Request:
    request = route.calls.last.request
    assert request.method == method
    assert request.url.path == path
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    return request


def error(name: str) -> tuple[int, dict[str, Any]]:
    body = fixture(name)
    return body["code"], body


def err(name: str) -> dict[str, Any]:
    """``respond()`` arguments for an error fixture: its ``code`` is the HTTP status."""
    status, body = error(name)
    return {"status_code": status, "json": body}


@pytest.fixture
def novita() -> Iterator[NovitaProvider]:
    provider = NovitaProvider(api_key=KEY)
    yield provider
    provider.close()


@pytest.fixture
def products(respx_mock):
    """The product list, whatever billing method is asked for."""
    return respx_mock.get(PRODUCTS).respond(200, json=fixture("products"))


# --- registry and interface ------------------------------------------------------------------------


def test_novita_is_registered_with_its_real_base_url_and_actions():
    cls = get_provider_class("novita")
    assert cls is NovitaProvider
    assert (cls.default_base_url, cls.sandbox_path) == ("https://api.novita.ai", "/novita")
    assert cls.actions == {Action.START, Action.STOP, Action.RESTART, Action.UPDATE, Action.DELETE, Action.LOGS}
    assert cls.unique_names is False


def test_novita_repr_never_shows_the_key(novita):
    assert KEY not in repr(novita)


# --- rules: the create body ----------------------------------------------------------------------------


def test_novita_rules_accept_the_notes_create_example_verbatim():
    assert NovitaProvider.validate_spec(copy.deepcopy(NOTES_CREATE)) == NOTES_BODY


def test_novita_rules_keep_the_vendor_field_order_and_drop_empty_optionals():
    spec = {**MINIMAL, "command": "", "envs": [], "networkStorages": [], "name": None, "ports": ""}
    body = check_spec(spec)
    assert body == MINIMAL
    assert list(body) == [k for k in CREATE_FIELDS if k in body]


def test_novita_rules_default_kind_to_gpu_and_coerce_numbers_sent_as_text():
    body = check_spec({**{k: v for k, v in MINIMAL.items() if k != "kind"}, "gpuNum": "2", "rootfsSize": 60.0})
    assert (body["kind"], body["gpuNum"], body["rootfsSize"]) == ("gpu", 2, 60)


def test_novita_rules_refuse_an_unknown_field():
    assert errors_of({**MINIMAL, "gpu_count": 2}) == {
        "gpu_count": ["Novita's create request has no field “gpu_count”."]
    }


def test_novita_rules_refuse_an_unknown_kind():
    assert set(errors_of({**MINIMAL, "kind": "tpu"})) == {"kind"}


@pytest.mark.parametrize("name", ["llama serve", "llama_serve", "lläma"])
def test_novita_rules_name_is_letters_digits_and_hyphens(name):
    assert errors_of({**MINIMAL, "name": name}) == {"name": ["Use letters, digits and hyphens only."]}


def test_novita_rules_name_at_most_255():
    assert errors_of({**MINIMAL, "name": "a" * 256}) == {"name": ["At most 255 characters."]}
    assert check_spec({**MINIMAL, "name": "a" * 255})["name"] == "a" * 255


@pytest.mark.parametrize("key", ["productId", "imageUrl", "gpuNum", "rootfsSize"])
def test_novita_rules_required_fields(key):
    spec = {k: v for k, v in MINIMAL.items() if k != key}
    assert errors_of(spec) == {key: ["This field is required."]}


def test_novita_rules_product_id_at_most_255():
    assert errors_of({**MINIMAL, "productId": "p" * 256}) == {"productId": ["At most 255 characters."]}


@pytest.mark.parametrize("value", [0, 9, -1, 1.5, "two", True])
def test_novita_rules_gpu_num_is_1_to_8(value):
    assert errors_of({**MINIMAL, "gpuNum": value}) == {"gpuNum": ["1 to 8 GPUs."]}


@pytest.mark.parametrize("value", [9, 6145, "big"])
def test_novita_rules_rootfs_is_10_to_6144(value):
    assert errors_of({**MINIMAL, "rootfsSize": value}) == {"rootfsSize": ["10 to 6144 GB."]}


def test_novita_rules_image_url_at_most_500_without_spaces():
    assert errors_of({**MINIMAL, "imageUrl": "x" * 501}) == {"imageUrl": ["At most 500 characters."]}
    assert errors_of({**MINIMAL, "imageUrl": "ubuntu 22.04"}) == {"imageUrl": ["An image reference has no spaces."]}


@pytest.mark.parametrize("value", ["justuser", ":secret", "user:"])
def test_novita_rules_image_auth_is_username_colon_password(value):
    assert errors_of({**MINIMAL, "imageAuth": value}) == {"imageAuth": ["Registry credentials are username:password."]}


def test_novita_rules_image_auth_or_a_saved_credential_not_both():
    assert set(errors_of({**MINIMAL, "imageAuth": "u:p", "imageAuthId": "ra-1"})) == {"imageAuth"}
    assert check_spec({**MINIMAL, "imageAuth": "u:p"})["imageAuth"] == "u:p"


def test_novita_rules_image_auth_at_most_10239():
    assert "At most 10239 characters." in errors_of({**MINIMAL, "imageAuth": "u:" + "p" * 10238})["imageAuth"]


def test_novita_rules_ports_are_normalised_to_the_documented_string():
    assert check_spec({**MINIMAL, "ports": " 80/HTTP ,3306 / tcp"})["ports"] == "80/http, 3306/tcp"


@pytest.mark.parametrize("port", [2222, 2223, 2224])
def test_novita_rules_reserved_ports_are_refused(port):
    assert errors_of({**MINIMAL, "ports": f"80/http, {port}/tcp"}) == {
        "ports": [f"{port}: 2222, 2223 and 2224 are reserved by Novita."]
    }


@pytest.mark.parametrize("port", [0, 65536])
def test_novita_rules_ports_are_1_to_65535(port):
    assert errors_of({**MINIMAL, "ports": f"{port}/tcp"}) == {"ports": [f"{port}: Ports run from 1 to 65535."]}


def test_novita_rules_port_types_are_tcp_or_http():
    assert errors_of({**MINIMAL, "ports": "53/udp"}) == {"ports": ["53/udp: the type is tcp or http (no udp)."]}


@pytest.mark.parametrize(
    ("ports", "message"),
    [
        ("8000", "“8000” is not port/type, e.g. 8000/http."),
        ("8000/http,,22/tcp", "An empty entry: separate ports with single commas."),
        ("http/8000", "“http/8000” is not port/type, e.g. 8000/http."),
    ],
)
def test_novita_rules_ports_are_port_slash_type_entries(ports, message):
    assert errors_of({**MINIMAL, "ports": ports}) == {"ports": [message]}


def test_novita_rules_ports_must_be_text():
    assert errors_of({**MINIMAL, "ports": [{"port": 80, "type": "http"}]}) == {
        "ports": ['Ports are text like "8000/http, 22/tcp".']
    }


def test_novita_rules_a_port_listed_twice_is_refused():
    assert errors_of({**MINIMAL, "ports": "80/http, 80/tcp"}) == {"ports": ["80 is listed twice."]}


def test_novita_rules_ports_and_tools_share_a_budget_of_15():
    fourteen = ", ".join(f"{8000 + i}/tcp" for i in range(14))
    jupyter = [{"name": "Jupyter", "port": "8888", "type": "http"}]
    assert check_spec({**MINIMAL, "ports": fourteen, "tools": jupyter})["ports"] == fourteen
    fifteen = fourteen + ", 9000/http"
    assert errors_of({**MINIMAL, "ports": fifteen, "tools": jupyter}) == {
        "ports": ["At most 15 ports, Jupyter included."]
    }


def test_novita_rules_tools_name_port_and_type():
    tools = [{"name": "VSCode", "port": "2222", "type": "udp"}]
    assert errors_of({**MINIMAL, "tools": tools}) == {
        "tools.0.name": ["Novita's tools: Jupyter."],
        "tools.0.port": ["2222, 2223 and 2224 are reserved by Novita."],
        "tools.0.type": ["tcp or http."],
    }


def test_novita_rules_a_tool_needs_a_port_not_already_exposed():
    assert errors_of({**MINIMAL, "tools": [{"name": "Jupyter", "type": "http"}]}) == {
        "tools.0.port": ["This field is required."]
    }
    assert errors_of(
        {**MINIMAL, "ports": "8888/http", "tools": [{"name": "Jupyter", "port": 8888, "type": "http"}]}
    ) == {"tools.0.port": ["8888 is already exposed as a port."]}


def test_novita_rules_tool_ports_are_sent_as_text():
    tools = [{"name": "Jupyter", "port": 8888, "type": "http"}]
    assert check_spec({**MINIMAL, "tools": tools})["tools"] == [{"name": "Jupyter", "port": "8888", "type": "http"}]


def test_novita_rules_at_most_100_envs():
    envs = [{"key": f"K{i}", "value": "v"} for i in range(101)]
    assert errors_of({**MINIMAL, "envs": envs}) == {"envs": ["At most 100 environment variables."]}
    assert len(check_spec({**MINIMAL, "envs": envs[:100]})["envs"]) == 100


def test_novita_rules_env_key_rules():
    envs = [
        {"key": "", "value": "a"},
        {"key": "K" * 512, "value": "b"},
        {"key": "A=B", "value": "c"},
        {"key": "OK", "value": "d"},
        {"key": "OK", "value": "e"},
    ]
    assert errors_of({**MINIMAL, "envs": envs}) == {
        "envs.0.key": ["A variable needs a name."],
        "envs.1.key": ["At most 511 characters."],
        "envs.2.key": ["A name has no spaces and no “=”."],
        "envs.4.key": ["OK is set twice."],
    }


def test_novita_rules_env_value_at_most_4095():
    assert errors_of({**MINIMAL, "envs": [{"key": "K", "value": "v" * 4096}]}) == {
        "envs.0.value": ["At most 4095 characters."]
    }
    assert check_spec({**MINIMAL, "envs": [{"key": "K"}]})["envs"] == [{"key": "K", "value": ""}]


@pytest.mark.parametrize("key", ["command", "entrypoint"])
def test_novita_rules_command_and_entrypoint_at_most_2047(key):
    assert errors_of({**MINIMAL, key: "x" * 2048}) == {key: ["At most 2047 characters."]}
    assert check_spec({**MINIMAL, key: "x" * 2047})[key] == "x" * 2047


def test_novita_rules_network_storages_at_most_30():
    volumes = [{"Id": f"v{i}", "mountPoint": f"/v{i}"} for i in range(31)]
    assert errors_of({**MINIMAL, "networkStorages": volumes}) == {"networkStorages": ["At most 30 network volumes."]}


def test_novita_rules_network_storage_mount_point_defaults_to_network():
    body = check_spec({**MINIMAL, "networkStorages": [{"Id": "v1", "mountPoint": ""}]})
    assert body["networkStorages"] == [{"Id": "v1", "mountPoint": "/network"}]


def test_novita_rules_network_storage_rules():
    volumes = [
        {"Id": "", "mountPoint": "/a"},
        {"Id": "v1", "mountPoint": "data"},
        {"Id": "v2", "mountPoint": "/" + "m" * 4095},
        {"Id": "v3", "mountPoint": "/b"},
        {"Id": "v3", "mountPoint": "/b"},
    ]
    assert errors_of({**MINIMAL, "networkStorages": volumes}) == {
        "networkStorages.0.Id": ["Choose a network volume."],
        "networkStorages.1.mountPoint": ["An absolute path, e.g. /network."],
        "networkStorages.2.mountPoint": ["At most 4095 characters."],
        "networkStorages.4.Id": ["This volume is mounted twice."],
        "networkStorages.4.mountPoint": ["Another volume is mounted here."],
    }


def test_novita_rules_billing_mode_is_one_of_three():
    assert errors_of({**MINIMAL, "billingMode": "yearly"}) == {"billingMode": ["onDemand, monthly or spot."]}
    for mode in ("onDemand", "spot"):
        assert check_spec({**MINIMAL, "billingMode": mode})["billingMode"] == mode


def test_novita_rules_monthly_needs_at_least_one_month():
    assert errors_of({**MINIMAL, "billingMode": "monthly"}) == {"month": ["Monthly billing needs at least 1 month."]}
    assert errors_of({**MINIMAL, "billingMode": "monthly", "month": 0}) == {
        "month": ["Monthly billing needs at least 1 month."]
    }
    assert check_spec({**MINIMAL, "billingMode": "monthly", "month": 3})["month"] == 3


def test_novita_rules_months_with_on_demand_or_spot_are_refused():
    for mode in ("onDemand", "spot"):
        assert errors_of({**MINIMAL, "billingMode": mode, "month": 2}) == {
            "month": ["Months apply to monthly billing only: set 0, or choose monthly."]
        }


def test_novita_rules_month_alone_means_monthly():
    body = check_spec({**MINIMAL, "month": 1})
    assert body["month"] == 1
    assert "billingMode" not in body


def test_novita_rules_month_is_a_whole_number_from_0():
    assert errors_of({**MINIMAL, "month": -1}) == {"month": ["Whole months, 0 or more."]}


def test_novita_rules_auto_renew_is_for_monthly_only():
    assert errors_of({**MINIMAL, "autoRenew": True, "autoRenewMonth": 1}) == {
        "autoRenew": ["Auto-renew applies to monthly billing only."]
    }
    assert errors_of({**MINIMAL, "autoRenew": "yes"}) == {"autoRenew": ["Yes or no."]}


def test_novita_rules_auto_renew_month_only_with_auto_renew_and_1_to_12():
    monthly = {**MINIMAL, "billingMode": "monthly", "month": 1}
    assert errors_of({**monthly, "autoRenewMonth": 3}) == {"autoRenewMonth": ["Only with auto-renew."]}
    assert errors_of({**monthly, "autoRenew": True, "autoRenewMonth": 13}) == {"autoRenewMonth": ["1 to 12 months."]}
    assert errors_of({**monthly, "autoRenew": True}) == {
        "autoRenewMonth": ["Say for how many months it renews (1 to 12)."]
    }
    body = check_spec({**monthly, "autoRenew": True, "autoRenewMonth": 12})
    assert (body["autoRenew"], body["autoRenewMonth"]) == (True, 12)


@pytest.mark.parametrize("value", ["12", "v12.4", "12.4.1"])
def test_novita_rules_min_cuda_version_is_major_dot_minor(value):
    assert errors_of({**MINIMAL, "minCudaVersion": value}) == {"minCudaVersion": ["A CUDA version like 12.4."]}


def test_novita_rules_cpu_instances_have_no_gpu_or_billing_fields():
    cpu = {"productId": "cpu.4c8g", "kind": "cpu", "imageUrl": "ubuntu:22.04", "localStorageMountPoint": "/workspace"}
    assert check_spec(cpu) == cpu
    assert set(errors_of({**cpu, "gpuNum": 1, "billingMode": "spot"})) == {"gpuNum", "billingMode"}
    assert set(errors_of({**MINIMAL, "localStorageMountPoint": "/workspace"})) == {"localStorageMountPoint"}


def test_novita_rules_refuse_a_spec_that_is_not_an_object():
    assert errors_of(["not", "a", "spec"]) == {"": ["A Novita spec is a JSON object (the create request)."]}  # type: ignore[arg-type]


# --- rules that depend on the product (with the account's offers and metadata) --------------------------


def test_novita_product_rules_rootfs_within_the_product_window():
    spec = {**MINIMAL, "rootfsSize": 15}  # RTX 4090: 20–500 GB
    assert errors_of(spec, offers=offers()) == {"rootfsSize": ["RTX 4090 24GB takes a root disk of 20–500 GB."]}
    assert errors_of({**MINIMAL, "rootfsSize": 501}, offers=offers())["rootfsSize"]
    assert check_spec({**MINIMAL, "rootfsSize": 500}, offers=offers())["rootfsSize"] == 500


def test_novita_product_rules_billing_mode_within_the_product_methods():
    spec = {**MINIMAL, "billingMode": "monthly", "month": 1}
    assert errors_of(spec, offers=offers()) == {"billingMode": ["RTX 4090 24GB is sold on demand, spot only."]}


def test_novita_product_rules_cluster_within_the_product_regions():
    a100 = {**MINIMAL, "productId": "A100-80GB.14c240g", "rootfsSize": 100}
    assert errors_of({**a100, "clusterId": "9"}, offers=offers(), metadata=metadata()) == {
        "clusterId": ["A100 SXM 80GB is not sold in this cluster; it is in: US-CA-06 (California)."]
    }
    assert check_spec({**a100, "clusterId": "5"}, offers=offers(), metadata=metadata())["clusterId"] == "5"
    # Empty regions: every cluster [V].
    assert check_spec({**MINIMAL, "clusterId": "9"}, offers=offers(), metadata=metadata())["clusterId"] == "9"


def test_novita_cluster_in_regions_matches_names_ids_and_unknowns():
    regions = ["US-CA-06 (California)"]
    clusters = [{"id": "5", "name": "US-CA-06"}, {"id": "9", "name": "EU-DE-01"}]
    assert cluster_in_regions("5", regions, clusters)
    assert not cluster_in_regions("9", regions, clusters)
    assert cluster_in_regions("US-CA-06", regions)  # a region given by name
    assert cluster_in_regions("42", regions, clusters)  # not nameable: Novita decides
    assert cluster_in_regions("9", [], clusters)


def test_novita_product_rules_capacity_for_new_instances_only():
    h100 = {**MINIMAL, "productId": "H100-80GB.16c200g", "rootfsSize": 100}
    assert errors_of(h100, offers=offers()) == {
        "productId": ["H100 SXM 80GB has no capacity now: choose another product."]
    }
    assert check_spec(h100, offers=offers(), existing=True)["productId"] == "H100-80GB.16c200g"


def test_novita_product_rules_volumes_in_the_instance_cluster():
    a100 = {**MINIMAL, "productId": "A100-80GB.14c240g", "rootfsSize": 100, "clusterId": "5"}
    volumes = [{"Id": "0f3b9c1e-2222-4a7b-9c44-1a2b3c4d5e6f", "mountPoint": "/data"}]
    assert errors_of({**a100, "networkStorages": volumes}, offers=offers(), metadata=metadata()) == {
        "networkStorages.0.Id": [
            "The volume datasets is in another cluster (9): Novita mounts volumes of the instance's cluster only."
        ]
    }


def test_novita_product_rules_skip_a_product_not_in_the_catalog():
    assert (
        check_spec({**MINIMAL, "productId": "new.product", "rootfsSize": 5000}, offers=offers())["rootfsSize"] == 5000
    )


# --- prices and upfront charges ----------------------------------------------------------------------------


def test_novita_offer_from_a_product():
    a100 = next(o for o in offers() if o.sku == "A100-80GB.14c240g")
    assert (a100.name, a100.kind, a100.gpu_model, a100.gpu_count, a100.gpu_memory_gb) == (
        "A100 SXM 80GB", "gpu", "A100", 1, 80
    )  # fmt: skip
    assert a100.price_per_hour == Decimal("1.6")  # "160000" in 1/100 000 USD
    assert a100.available is True
    assert a100.extra == {
        "regions": ["US-CA-06 (California)"],
        "minRootFS": 10,
        "maxRootFS": 1024,
        "billingMethods": ["onDemand", "spot", "monthly"],
        "spotPrice": "0.80000",
        "monthlyPrice": [{"month": 1, "price": "950.00000"}, {"month": 3, "price": "2700.00000"}],
        "inventoryState": "high",
        "cpuPerGpu": 14,
        "memoryPerGpu": 240,
        "diskPerGpu": 1024,
    }
    assert a100.raw == fixture("products")["data"][0]


def test_novita_offer_availability_needs_capacity_and_stock():
    by_sku = {o.sku: o for o in offers()}
    assert by_sku["4090.16c62g"].available is True  # low stock is still stock
    assert by_sku["H100-80GB.16c200g"].available is False
    no_stock = {**fixture("products")["data"][0], "inventoryState": "none"}
    assert product_offer(no_stock).available is False


@pytest.mark.parametrize(
    ("name", "model"),
    [("RTX 4090 24GB", "RTX 4090"), ("A100 SXM 80GB", "A100"), ("NVIDIA H100 80GB HBM3", "H100"),
     ("RTX A6000 48GB", "RTX A6000"), ("L40S 48GB", "L40S"), ("RTX 3090 Ti", "RTX 3090 Ti")],
)  # fmt: skip
def test_novita_gpu_model_names(name, model):
    assert gpu_model_of(name) == model


def test_novita_estimate_on_demand_is_price_times_gpus():
    spec = {**NOTES_BODY, "gpuNum": 2}
    assert NovitaProvider.estimate_price(spec, offers()) == Decimal("3.2")


def test_novita_estimate_spot_uses_the_spot_price():
    spec = {**NOTES_BODY, "gpuNum": 4, "billingMode": "spot"}
    assert NovitaProvider.estimate_price(spec, offers()) == Decimal("3.2")  # 4 × $0.80


def test_novita_estimate_monthly_spreads_the_term_over_its_hours():
    spec = {**NOTES_BODY, "gpuNum": 2, "billingMode": "monthly", "month": 3}
    assert NovitaProvider.estimate_price(spec, offers()) == Decimal("2700") / (3 * 720) * 2


def test_novita_estimate_unknown_without_the_product():
    assert NovitaProvider.estimate_price(NOTES_BODY, []) is None
    assert (
        NovitaProvider.estimate_price({**MINIMAL, "billingMode": "spot"}, [product_offer({"id": "4090.16c62g"})])
        is None
    )


def test_novita_upfront_charges_monthly_is_the_term_times_gpus():
    spec = {**NOTES_BODY, "gpuNum": 2, "billingMode": "monthly", "month": 3}
    [charge] = NovitaProvider.upfront_charges(spec, offers())
    assert charge.amount == Decimal("5400.00")
    assert charge.description == "Charged at creation: 3 months of A100 SXM 80GB × 2 GPUs, prepaid."


def test_novita_upfront_charges_monthly_unlisted_term_and_auto_renew():
    spec = {**NOTES_BODY, "billingMode": "monthly", "month": 2, "autoRenew": True, "autoRenewMonth": 1}
    [charge] = NovitaProvider.upfront_charges(spec, offers())
    assert charge.amount == Decimal("1900.00")
    assert "estimated from the 1-month price" in charge.description
    assert charge.description.endswith("it renews automatically for 1 month at expiry.")


def test_novita_upfront_charges_none_on_demand_and_a_warning_for_spot():
    assert NovitaProvider.upfront_charges(NOTES_BODY, offers()) == []
    [spot] = NovitaProvider.upfront_charges({**NOTES_BODY, "billingMode": "spot"}, offers())
    assert spot.amount == Decimal("0")
    assert "reclaim" in spot.description


# --- status: one test per row, then the overlays ----------------------------------------------------------

ROWS = [
    ("toCreate", RemoteState.PROVISIONING),
    ("creating", RemoteState.PROVISIONING),
    ("pending", RemoteState.PROVISIONING),
    ("pulling", RemoteState.PROVISIONING),
    ("running", RemoteState.RUNNING),
    ("toStart", RemoteState.PROVISIONING),
    ("starting", RemoteState.PROVISIONING),
    ("toStop", RemoteState.STOPPING),
    ("stopping", RemoteState.STOPPING),
    ("exited", RemoteState.STOPPED),
    ("toRestart", RemoteState.UPDATING),
    ("restarting", RemoteState.UPDATING),
    ("toReset", RemoteState.UPDATING),
    ("resetting", RemoteState.UPDATING),
    ("migrating", RemoteState.UPDATING),
    ("freezing", RemoteState.FAILED),
    ("toRemove", RemoteState.DELETING),
    ("removing", RemoteState.DELETING),
    ("removed", RemoteState.DELETED),
]


def test_novita_status_rows_cover_the_table():
    assert dict(ROWS) == STATUS_TABLE
    assert set(STATUS_MESSAGES) == set(STATUS_TABLE)


@pytest.mark.parametrize(("status", "state"), ROWS)
def test_novita_status_row(status, state):
    item = {**fixture("instance_running"), "status": status}
    assert remote_state(item) == (state, STATUS_MESSAGES[status])


def test_novita_status_unknown_is_logged_and_unknown(caplog):
    with caplog.at_level(logging.WARNING, logger="providers.novita"):
        state, message = remote_state({"id": "x", "status": "hibernating"})
    assert (state, message) == (RemoteState.UNKNOWN, "Novita reports an unknown status 'hibernating'.")
    assert "hibernating" in caplog.text


def test_novita_status_error_overlay_fails_it_with_novitas_words():
    item = {**fixture("instance_running"), "statusError": {"state": "pullImageFailed", "message": "image not found"}}
    assert remote_state(item) == (RemoteState.FAILED, "Novita reports an error (pullImageFailed): image not found")
    only_message = {**item, "status": "exited", "statusError": {"state": "", "message": "OOM killed"}}
    assert remote_state(only_message) == (RemoteState.FAILED, "Novita reports an error (exited): OOM killed")


def test_novita_status_error_does_not_hide_a_release():
    item = {**fixture("instance_running"), "status": "removing", "statusError": {"state": "x", "message": "y"}}
    assert remote_state(item)[0] == RemoteState.DELETING


@pytest.mark.parametrize(
    ("spot", "state", "note"),
    [
        ("", RemoteState.RUNNING, ""),
        ("running", RemoteState.RUNNING, ""),
        ("notified", RemoteState.RUNNING, "Novita has announced it will reclaim this spot instance."),
        ("reclaiming", RemoteState.RUNNING, "Novita is reclaiming this spot instance."),
        ("terminated", RemoteState.FAILED, "Novita reclaimed this spot instance."),
    ],
)
def test_novita_spot_status_overlay(spot, state, note):
    item = {**fixture("instance_running"), "billingMode": "spot", "spotStatus": spot, "spotReclaimTime": "0"}
    got_state, message = remote_state(item)
    assert got_state == state
    assert note in message
    if spot in ("", "running"):
        assert message == STATUS_MESSAGES["running"]


def test_novita_spot_reclaimed_and_exited_is_stopped():
    item = {**fixture("instance_running"), "status": "exited", "billingMode": "spot", "spotStatus": "terminated"}
    assert remote_state(item) == (RemoteState.STOPPED, "Novita reclaimed this spot instance. It can be started again.")


def test_novita_spot_notice_says_when():
    item = {
        **fixture("instance_running"),
        "billingMode": "spot",
        "spotStatus": "notified",
        "spotReclaimTime": "1772449200",
    }
    assert remote_state(item)[1].endswith("Reclaim at 2026-03-02 11:00 UTC.")


def test_novita_spot_status_ignored_for_other_billing_modes():
    item = {**fixture("instance_running"), "billingMode": "", "spotStatus": "terminated"}
    assert remote_state(item)[0] == RemoteState.RUNNING


# --- action gates ------------------------------------------------------------------------------------------


def test_novita_blocks_start_unless_exited():
    assert blocked(Action.START, raw={"status": "exited"}) == ""
    assert blocked(Action.START, raw={"status": "running"}) == (
        "Novita starts an instance only when it is stopped (exited); it is running."
    )


@pytest.mark.parametrize("action", [Action.STOP, Action.RESTART])
def test_novita_blocks_stop_and_restart_unless_running(action):
    assert blocked(action, raw={"status": "running"}) == ""
    assert "only while it is running; it is pulling" in blocked(action, raw={"status": "pulling"})


def test_novita_blocks_update_while_in_motion():
    assert blocked(Action.UPDATE, raw={"status": "exited"}) == ""
    assert blocked(Action.UPDATE, raw={"status": "resetting"}) == (
        "Novita changes an instance only when it is running or stopped; it is resetting."
    )


def test_novita_blocks_everything_while_releasing():
    assert "releasing" in blocked(Action.STOP, raw={"status": "removing"})


def test_novita_blocks_releasing_a_subscription_before_it_ends():
    ends = dt.datetime(2026, 4, 2, 10, 0, tzinfo=dt.UTC)
    raw = {"status": "running", "billingMode": "monthly", "endTime": str(int(ends.timestamp()))}
    before = blocked(Action.DELETE, raw=raw, now=ends - dt.timedelta(days=1))
    assert before == (
        "Novita does not release a monthly (prepaid) instance before its subscription ends on 2026-04-02 10:00 UTC: "
        "it can be deleted from then on."
    )
    assert blocked(Action.DELETE, raw=raw, now=ends + dt.timedelta(seconds=1)) == ""
    assert blocked(Action.DELETE, raw={"status": "running", "billingMode": "onDemand", "endTime": "-1"}) == ""


def test_novita_blocks_release_of_a_subscription_with_an_iso_end_time():
    raw = {"status": "exited", "billingMode": "monthly", "endTime": "2099-01-01T00:00:00Z"}
    assert "2099-01-01 00:00 UTC" in NovitaProvider.action_blocked(Action.DELETE, spec={}, raw=raw, since=None)


def test_novita_blocks_nothing_without_a_status():
    assert NovitaProvider.action_blocked(Action.START, spec={}, raw={}, since=None) == ""


# --- create -------------------------------------------------------------------------------------------------


def test_novita_create_posts_the_body_and_reads_the_instance_back(respx_mock, novita, products):
    route = respx_mock.post(CREATE).respond(200, json=fixture("create"))
    get = respx_mock.get(ONE).respond(200, json=fixture("instance_creating"))
    remote = novita.create(copy.deepcopy(NOTES_CREATE))
    request = assert_sent(route, "POST", "/gpu-instance/openapi/v1/gpu/instance/create")
    assert request.headers["Content-Type"] == "application/json"
    assert sent_json(route) == NOTES_BODY
    assert_sent(get, "GET", "/gpu-instance/openapi/v1/gpu/instance")
    assert get.calls.last.request.url.params["instanceId"] == ID
    assert (remote.external_id, remote.name, remote.state, remote.vendor_state) == (
        ID, "llama-serve-01", RemoteState.PROVISIONING, "toCreate"
    )  # fmt: skip
    assert remote.price_per_hour == Decimal("0")  # billing starts at pulling
    assert products.call_count == 0  # nothing billed: no prices needed


def test_novita_create_checks_the_spec_before_any_request(respx_mock, novita):
    route = respx_mock.post(CREATE).respond(200, json=fixture("create"))
    with pytest.raises(SpecError) as caught:
        novita.create({**NOTES_CREATE, "ports": "2222/tcp"})
    assert set(caught.value.fields) == {"ports"}
    assert route.call_count == 0


def test_novita_create_is_not_retried_on_a_server_error(respx_mock, novita):
    route = respx_mock.post(CREATE).respond(**err("error_unknown"))
    with pytest.raises(Transient):
        novita.create(copy.deepcopy(NOTES_CREATE))
    assert route.call_count == 1


def test_novita_create_is_not_retried_on_a_timeout(respx_mock, novita):
    route = respx_mock.post(CREATE).mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(Transient):
        novita.create(copy.deepcopy(NOTES_CREATE))
    assert route.call_count == 1


def test_novita_create_survives_a_failed_read_back(respx_mock, novita):
    route = respx_mock.post(CREATE).respond(200, json=fixture("create"))
    respx_mock.get(ONE).respond(**err("error_not_found"))  # not visible yet
    remote = novita.create(copy.deepcopy(NOTES_CREATE))
    assert (remote.external_id, remote.state, remote.name) == (ID, RemoteState.PROVISIONING, "llama-serve-01")
    assert remote.message == "Created; Novita has not reported its status yet."
    assert route.call_count == 1


def test_novita_create_without_an_id_is_refused(respx_mock, novita):
    respx_mock.post(CREATE).respond(200, json=fixture("empty"))
    with pytest.raises(Rejected, match="no instance id"):
        novita.create(copy.deepcopy(NOTES_CREATE))


@pytest.mark.parametrize(
    ("name", "cls", "field"),
    [
        ("error_balance", Rejected, None),
        ("error_insufficient", Rejected, None),
        ("error_billing_mode", SpecError, "billingMode"),
        ("error_validator_gpunum", SpecError, "gpuNum"),
        ("error_validator_env", SpecError, "envs.0.key"),
    ],
)
def test_novita_create_maps_novitas_refusals(respx_mock, novita, name, cls, field):
    respx_mock.post(CREATE).respond(**err(name))
    with pytest.raises(cls) as caught:
        novita.create(copy.deepcopy(NOTES_CREATE))
    assert fixture(name)["message"] in caught.value.message
    if field:
        assert caught.value.fields == {field: [f"{fixture(name)['message']} ({fixture(name)['reason']})"]}


# --- get -------------------------------------------------------------------------------------------------------


def test_novita_get_parses_the_instance(respx_mock, novita, products):
    route = respx_mock.get(ONE).respond(200, json=fixture("instance_running"))
    remote = novita.get(ID)
    assert_sent(route, "GET", "/gpu-instance/openapi/v1/gpu/instance")
    assert dict(route.calls.last.request.url.params) == {"instanceId": ID}
    assert (remote.state, remote.vendor_state, remote.message) == (RemoteState.RUNNING, "running", "Running.")
    assert remote.price_per_hour == Decimal("1.6")  # one A100 on demand
    assert products.calls.last.request.url.params["billingMethod"] == "onDemand"
    assert remote.created_at == dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
    assert [e.as_dict() for e in remote.endpoints] == [
        {"url": f"https://{ID}-8000.proxy.novita.example", "port": 8000, "protocol": "http", "label": "8000/http"},
        {"host": "203.0.113.10", "port": 31522, "protocol": "tcp", "label": "22/tcp"},
        {"url": f"https://{ID}-8888.proxy.novita.example", "port": 8888, "protocol": "http", "label": "8888/http"},
    ]
    assert remote.primary_url == f"https://{ID}-8000.proxy.novita.example"
    assert remote.connection == {
        "SSH": "ssh root@203.0.113.10 -p 31522",
        "Web terminal": f"https://terminal.novita.example/{ID} (user root)",
        "Jupyter": f"https://{ID}-8888.proxy.novita.example/lab",
    }


def test_novita_get_masks_every_password_and_the_log_urls(respx_mock, novita, products):
    respx_mock.get(ONE).respond(200, json=fixture("instance_running"))
    remote = novita.get(ID)
    text = json.dumps(remote.raw) + json.dumps(remote.connection)
    for secret in ("Zq8vR2mKp4Lx", "Tw7nB3cYh9Qe", "tok-sys-91f2", "tok-ins-3c7d"):
        assert secret not in text
    assert remote.raw["connectComponentSSH"]["password"] == MASK
    assert remote.raw["connectComponentWebTerminal"]["password"] == MASK
    assert remote.raw["connectComponentLog"]["instanceLogAddress"] == MASK
    # Everything else is Novita's answer as sent.
    expected = fixture("instance_running")
    for key in ("connectComponentSSH", "connectComponentWebTerminal", "connectComponentLog"):
        expected.pop(key)
        remote.raw.pop(key)
    assert remote.raw == expected


def test_novita_get_endpoint_forms_not_documented(respx_mock, novita, products):
    item = fixture("instance_running")
    item["portMappings"] = [
        {"port": 22, "endpoint": "ssh.novita.example", "type": "tcp"},
        {"port": "80", "type": "HTTP"},
    ]
    respx_mock.get(ONE).respond(200, json=item)
    assert [e.as_dict() for e in novita.get(ID).endpoints] == [
        {"host": "ssh.novita.example", "port": 22, "protocol": "tcp", "label": "22/tcp"},
        {"port": 80, "protocol": "http", "label": "80/http"},
    ]


def test_novita_get_of_an_unknown_id_is_not_found(respx_mock, novita):
    respx_mock.get(ONE).respond(**err("error_not_found"))
    with pytest.raises(NotFound, match="instance not found"):
        novita.get("nope")


def test_novita_get_of_an_empty_answer_is_not_found(respx_mock, novita):
    respx_mock.get(ONE).respond(200, json=fixture("empty"))
    with pytest.raises(NotFound):
        novita.get(ID)


def test_novita_get_reads_a_wrapped_answer(respx_mock, novita, products):
    respx_mock.get(ONE).respond(200, json={"instance": fixture("instance_running")})
    assert novita.get(ID).external_id == ID


@pytest.mark.parametrize(
    ("changes", "price"),
    [
        ({"status": "exited"}, Decimal("0")),  # GPU not billed while stopped
        ({"status": "creating"}, Decimal("0")),  # billing starts at pulling
        ({"status": "pulling", "gpuNum": "2"}, Decimal("3.2")),
        ({"status": "toStop"}, Decimal("1.6")),
        ({"status": "removed"}, Decimal("0")),
        ({"status": "freezing"}, None),
        ({"billingMode": "spot"}, Decimal("0.8")),
        ({"billingMode": "monthly", "status": "exited"}, Decimal("1.3194")),
        ({"productId": "gone.product"}, None),
        ({"kind": "cpu"}, None),
    ],
)
def test_novita_instance_price_per_hour(respx_mock, novita, products, changes, price):
    respx_mock.get(ONE).respond(200, json={**fixture("instance_running"), **changes})
    got = novita.get(ID).price_per_hour
    assert got == price
    if got is not None:
        assert got.as_tuple().exponent >= -4  # the panel's 4 places: no change on every poll


def test_novita_instance_price_reads_the_list_of_its_billing_mode(respx_mock, novita):
    route = respx_mock.get(PRODUCTS).mock(
        side_effect=lambda request: httpx.Response(
            200,
            json=fixture("products_monthly_only") if request.url.params["billingMethod"] == "monthly" else {"data": []},
        )
    )
    item = {**fixture("instance_running"), "billingMode": "monthly", "productId": "L40S.8c64g"}
    respx_mock.get(ONE).respond(200, json=item)
    assert novita.get(ID).price_per_hour == Decimal("0.7222")
    assert [c.request.url.params["billingMethod"] for c in route.calls] == ["monthly"]


def test_novita_instance_price_unknown_when_products_fail(respx_mock, novita):
    respx_mock.get(PRODUCTS).respond(**err("error_unknown"))
    respx_mock.get(ONE).respond(200, json=fixture("instance_running"))
    assert novita.get(ID).price_per_hour is None


# --- list and find_by_name --------------------------------------------------------------------------------


def pages(*answers: dict[str, Any]):
    def respond(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["pageNum"])
        return httpx.Response(200, json=answers[page - 1] if page <= len(answers) else {"instances": [], "total": 0})

    return respond


def test_novita_list_reads_every_page_dedupes_and_details_running_ones(respx_mock, novita, products):
    route = respx_mock.get(LIST).mock(side_effect=pages(fixture("instances_page1"), fixture("instances_page2")))
    details = respx_mock.get(ONE).mock(
        side_effect=lambda request: httpx.Response(
            200,
            json={**fixture("instance_running"), "id": request.url.params["instanceId"]},
        )
    )
    remotes = novita.list_remotes()
    assert [c.request.url.params["pageNum"] for c in route.calls] == ["1", "2"]  # 1-based; stops at total
    assert {c.request.url.params["pageSize"] for c in route.calls} == {"100"}
    assert_sent(route, "GET", "/gpu-instance/openapi/v1/gpu/instances")
    assert [r.external_id for r in remotes] == ["inst0001", "inst0002", ID, "inst0004", "inst0005"]
    assert sorted(c.request.url.params["instanceId"] for c in details.calls) == [ID, "inst0005"]
    by_id = {r.external_id: r for r in remotes}
    assert (by_id["inst0001"].state, by_id["inst0001"].price_per_hour) == (RemoteState.STOPPED, Decimal("0"))
    assert (by_id["inst0002"].state, by_id["inst0002"].price_per_hour) == (RemoteState.PROVISIONING, Decimal("0.7"))
    assert [e.as_dict() for e in by_id["inst0002"].endpoints] == [{"port": 22, "protocol": "tcp", "label": "22/tcp"}]
    assert by_id["inst0002"].connection == {}
    assert by_id[ID].connection["SSH"] == "ssh root@203.0.113.10 -p 31522"
    assert by_id["inst0004"].state == RemoteState.STOPPING


def test_novita_list_keeps_the_listed_answer_when_a_detail_read_fails(respx_mock, novita, products):
    respx_mock.get(LIST).mock(side_effect=pages(fixture("instances_page2")))
    respx_mock.get(ONE).respond(**err("error_unknown"))
    remotes = {r.external_id: r for r in novita.list_remotes()}
    assert remotes["inst0005"].state == RemoteState.RUNNING
    assert "Novita has announced it will reclaim this spot instance." in remotes["inst0005"].message
    assert remotes["inst0005"].price_per_hour == Decimal("0.35")  # 2 × $0.175 spot


def test_novita_list_stops_on_an_empty_page(respx_mock, novita, products):
    first = {"instances": fixture("instances_page1")["instances"], "total": 50}
    route = respx_mock.get(LIST).mock(side_effect=pages(first))
    respx_mock.get(ONE).respond(200, json=fixture("instance_running"))
    assert len(novita.list_remotes()) == 3
    assert route.call_count == 2


def test_novita_list_stops_when_a_page_brings_nothing_new(respx_mock, novita, products):
    page = {"instances": fixture("instances_page1")["instances"][:2], "total": 50}
    route = respx_mock.get(LIST).respond(200, json=page)  # a server that ignores pageNum
    assert len(novita.list_remotes()) == 2
    assert route.call_count == 2


def test_novita_list_of_an_empty_account(respx_mock, novita):
    route = respx_mock.get(LIST).respond(200, json={"instances": [], "total": 0})
    assert novita.list_remotes() == []
    assert route.call_count == 1


def test_novita_find_by_name_takes_the_newest_exact_live_match(respx_mock, novita, products):
    older = {**fixture("instances_page1")["instances"][0], "id": "old", "name": "job-7", "createdAt": "100"}
    newer = {**older, "id": "new", "createdAt": "200"}
    gone = {**older, "id": "gone", "status": "removed", "createdAt": "300"}
    fuzzy = {**older, "id": "fuzzy", "name": "job-77", "createdAt": "400"}
    route = respx_mock.get(LIST).respond(200, json={"instances": [older, newer, gone, fuzzy], "total": 4})
    found = novita.find_by_name("job-7")
    assert route.calls.last.request.url.params["name"] == "job-7"
    assert found is not None
    assert found.external_id == "new"


def test_novita_find_by_name_none_when_absent(respx_mock, novita):
    respx_mock.get(LIST).respond(200, json={"instances": [], "total": 0})
    assert novita.find_by_name("ghost") is None
    assert novita.find_by_name("") is None


# --- start, stop, restart, delete ----------------------------------------------------------------------


@pytest.mark.parametrize(("verb", "status"), [("start", "starting"), ("stop", "stopping"), ("restart", "restarting")])
def test_novita_actions_post_the_instance_id_and_read_it_back(respx_mock, novita, products, verb, status):
    route = respx_mock.post(f"{GPU}/gpu/instance/{verb}").respond(200, json={})
    respx_mock.get(ONE).respond(200, json={**fixture("instance_running"), "status": status})
    remote = getattr(novita, verb)(ID, NOTES_BODY)
    assert_sent(route, "POST", f"/gpu-instance/openapi/v1/gpu/instance/{verb}")
    assert sent_json(route) == {"instanceId": ID}
    assert remote is not None
    assert remote.vendor_state == status


def test_novita_action_with_an_empty_body_answer(respx_mock, novita, products):
    respx_mock.post(f"{GPU}/gpu/instance/stop").respond(200, content=b"")
    respx_mock.get(ONE).respond(200, json={**fixture("instance_running"), "status": "toStop"})
    assert novita.stop(ID, NOTES_BODY).state == RemoteState.STOPPING


def test_novita_action_survives_a_failed_read_back(respx_mock, novita):
    route = respx_mock.post(f"{GPU}/gpu/instance/start").respond(200, json={})
    respx_mock.get(ONE).mock(side_effect=httpx.ConnectError("down"))
    assert novita.start(ID, NOTES_BODY) is None
    assert route.call_count == 1


@pytest.mark.parametrize(("verb", "status"), [("start", "running"), ("stop", "exited"), ("restart", "restarting")])
def test_novita_repeated_action_already_reached_counts_as_done(respx_mock, novita, products, verb, status):
    respx_mock.post(f"{GPU}/gpu/instance/{verb}").respond(**err("error_conflict"))
    respx_mock.get(ONE).respond(200, json={**fixture("instance_running"), "status": status})
    assert getattr(novita, verb)(ID, NOTES_BODY).vendor_state == status


def test_novita_action_in_the_wrong_state_is_rejected(respx_mock, novita):
    respx_mock.post(f"{GPU}/gpu/instance/start").respond(**err("error_conflict"))
    respx_mock.get(ONE).respond(200, json={**fixture("instance_running"), "status": "pulling"})
    with pytest.raises(Rejected, match="instance status conflict"):
        novita.start(ID, NOTES_BODY)


def test_novita_delete_posts_the_instance_id(respx_mock, novita):
    route = respx_mock.post(f"{GPU}/gpu/instance/delete").respond(200, json={})
    assert novita.delete(ID) is None
    assert_sent(route, "POST", "/gpu-instance/openapi/v1/gpu/instance/delete")
    assert sent_json(route) == {"instanceId": ID}


def test_novita_delete_of_a_subscription_before_it_ends_is_rejected(respx_mock, novita):
    respx_mock.post(f"{GPU}/gpu/instance/delete").respond(**err("error_prepaid"))
    with pytest.raises(Rejected) as caught:
        novita.delete(ID)
    assert caught.value.message == (
        "prepaid instance can not be released before expiration (PREPAID_INSTANCE_NOT_SUPPORT_RELEASE)"
    )


def test_novita_delete_of_an_unknown_instance_is_not_found(respx_mock, novita):
    respx_mock.post(f"{GPU}/gpu/instance/delete").respond(**err("error_not_found"))
    with pytest.raises(NotFound):
        novita.delete(ID)


def test_novita_delete_repeated_while_removing_counts_as_done(respx_mock, novita):
    respx_mock.post(f"{GPU}/gpu/instance/delete").respond(**err("error_conflict"))
    respx_mock.get(ONE).respond(200, json={**fixture("instance_running"), "status": "removing"})
    assert novita.delete(ID) is None


def test_novita_actions_need_an_id(novita):
    with pytest.raises(NotFound):
        novita.stop("", {})


# --- update: edit and upgrade ------------------------------------------------------------------------------

EDIT = f"{GPU}/gpu/instance/edit"
UPGRADE = f"{GPU}/gpu/instance/upgrade"


@pytest.fixture
def read_back(respx_mock, products):
    return respx_mock.get(ONE).respond(200, json=fixture("instance_running"))


def test_novita_update_ports_is_an_edit_with_the_tools_ports(respx_mock, novita, read_back):
    edit = respx_mock.post(EDIT).respond(200, json={})
    upgrade = respx_mock.post(UPGRADE).respond(200, json={})
    remote = novita.update(ID, {**NOTES_BODY, "ports": "8000/http, 22/tcp, 6006/http"}, NOTES_BODY)
    assert_sent(edit, "POST", "/gpu-instance/openapi/v1/gpu/instance/edit")
    assert sent_json(edit) == {
        "instanceId": ID,
        "ports": [
            {"port": 8000, "type": "http"},
            {"port": 22, "type": "tcp"},
            {"port": 6006, "type": "http"},
            {"port": 8888, "type": "http"},
        ],
        "expandRootDisk": 0,
    }
    assert upgrade.call_count == 0
    assert remote is not None
    assert remote.external_id == ID


def test_novita_update_grows_the_root_disk_by_the_difference(respx_mock, novita, read_back):
    edit = respx_mock.post(EDIT).respond(200, json={})
    novita.update(ID, {**NOTES_BODY, "rootfsSize": 250}, NOTES_BODY)
    assert sent_json(edit)["expandRootDisk"] == 150
    assert sent_json(edit)["ports"][:2] == [{"port": 8000, "type": "http"}, {"port": 22, "type": "tcp"}]


def test_novita_update_cannot_shrink_the_root_disk(respx_mock, novita):
    edit = respx_mock.post(EDIT).respond(200, json={})
    with pytest.raises(SpecError) as caught:
        novita.update(ID, {**NOTES_BODY, "rootfsSize": 50}, NOTES_BODY)
    assert caught.value.fields == {"rootfsSize": ["Novita can only grow the root disk: it has 100 GB now."]}
    assert edit.call_count == 0


def test_novita_update_image_env_command_is_a_full_upgrade(respx_mock, novita, read_back):
    edit = respx_mock.post(EDIT).respond(200, json={})
    upgrade = respx_mock.post(UPGRADE).respond(200, json={})
    new = {**NOTES_BODY, "imageUrl": "docker.io/vllm/vllm-openai:v0.6.0", "command": "vllm serve meta-llama/Llama-3-8B"}
    novita.update(ID, new, NOTES_BODY)
    assert_sent(upgrade, "POST", "/gpu-instance/openapi/v1/gpu/instance/upgrade")
    assert sent_json(upgrade) == {
        "instanceId": ID,
        "imageUrl": "docker.io/vllm/vllm-openai:v0.6.0",
        "imageAuthId": "",
        "envs": [{"key": "HF_TOKEN", "value": "hf_xxx"}],
        "command": "vllm serve meta-llama/Llama-3-8B",
        "entrypoint": "",
        "save": True,
        "networkVolume": {
            "volumeMounts": [{"type": "network", "id": "d4e82677-3f80-4020-a731-d15b1c589aa8", "mountPath": "/network"}]
        },
    }
    assert edit.call_count == 0


def test_novita_update_removing_every_volume_sends_an_empty_list(respx_mock, novita, read_back):
    upgrade = respx_mock.post(UPGRADE).respond(200, json={})
    new = {k: v for k, v in NOTES_BODY.items() if k != "networkStorages"}
    novita.update(ID, {**new, "imageAuthId": "ra-1"}, NOTES_BODY)
    assert sent_json(upgrade)["networkVolume"] == {"volumeMounts": []}
    assert sent_json(upgrade)["imageAuthId"] == "ra-1"


def test_novita_update_of_ports_and_env_sends_edit_then_upgrade(respx_mock, novita, read_back):
    edit = respx_mock.post(EDIT).respond(200, json={})
    upgrade = respx_mock.post(UPGRADE).respond(200, json={})
    new = {**NOTES_BODY, "ports": "8000/http", "envs": [{"key": "HF_TOKEN", "value": "hf_new"}]}
    novita.update(ID, new, NOTES_BODY)
    assert (edit.call_count, upgrade.call_count) == (1, 1)
    order = [c.request.url.path.rsplit("/", 1)[1] for c in respx_mock.calls if c.request.method == "POST"]
    assert order == ["edit", "upgrade"]


def test_novita_update_refuses_what_cannot_change(respx_mock, novita):
    route = respx_mock.post(url__startswith=f"{GPU}/gpu/instance/").respond(200, json={})
    new = {**NOTES_BODY, "productId": "4090.16c62g", "gpuNum": 2, "name": "renamed", "billingMode": "spot"}
    with pytest.raises(SpecError) as caught:
        novita.update(ID, new, NOTES_BODY)
    assert set(caught.value.fields) == {"productId", "gpuNum", "name", "billingMode"}
    assert caught.value.fields["gpuNum"] == [
        "Novita cannot change this on an existing instance: create a new one instead."
    ]
    assert route.call_count == 0


def test_novita_redeploy_is_an_upgrade_with_the_same_fields(respx_mock, novita, read_back):
    edit = respx_mock.post(EDIT).respond(200, json={})
    upgrade = respx_mock.post(UPGRADE).respond(200, json={})
    remote = novita.redeploy(ID, NOTES_BODY)
    assert sent_json(upgrade)["imageUrl"] == NOTES_BODY["imageUrl"]
    assert sent_json(upgrade)["save"] is True  # the instance's data is kept
    assert edit.call_count == 0
    assert remote is not None


def test_novita_redeploy_cannot_carry_username_password(respx_mock, novita):
    route = respx_mock.post(UPGRADE).respond(200, json={})
    with pytest.raises(SpecError) as caught:
        novita.redeploy(ID, {**NOTES_BODY, "imageAuth": "bot:pw"})
    assert set(caught.value.fields) == {"imageAuth"}
    assert route.call_count == 0


def test_novita_update_cannot_carry_username_password(respx_mock, novita):
    route = respx_mock.post(UPGRADE).respond(200, json={})
    old = {**NOTES_BODY, "imageAuth": "bot:pw"}
    with pytest.raises(SpecError) as caught:
        novita.update(ID, {**old, "imageUrl": "ghcr.io/acme/app:2"}, old)
    assert set(caught.value.fields) == {"imageAuth"}
    assert route.call_count == 0


def test_novita_update_with_nothing_changed_sends_nothing(respx_mock, novita, read_back):
    route = respx_mock.post(url__startswith=f"{GPU}/gpu/instance/").respond(200, json={})
    same = {**NOTES_BODY, "ports": "22/tcp, 8000/HTTP", "month": None, "billingMode": None}
    remote = novita.update(ID, same, NOTES_BODY)
    assert route.call_count == 0
    assert remote is not None
    assert remote.state == RemoteState.RUNNING


def test_novita_update_without_a_previous_spec_reads_the_instance(respx_mock, novita, read_back):
    upgrade = respx_mock.post(UPGRADE).respond(200, json={})
    current = spec_from_instance(fixture("instance_running"))
    novita.update(ID, {**current, "envs": []}, None)
    assert sent_json(upgrade)["envs"] == []
    assert read_back.call_count == 2  # the current state, then the answer


def test_novita_spec_from_instance():
    spec = spec_from_instance(fixture("instance_running"))
    assert spec == {
        "name": "llama-serve-01",
        "productId": "A100-80GB.14c240g",
        "gpuNum": 1,
        "rootfsSize": 100,
        "imageUrl": "docker.io/vllm/vllm-openai:latest",
        "ports": "8000/http, 22/tcp, 8888/http",
        "envs": [{"key": "HF_TOKEN", "value": "hf_xxx"}],
        "clusterId": "5",
        "networkStorages": [{"Id": "d4e82677-3f80-4020-a731-d15b1c589aa8", "mountPoint": "/network"}],
        "kind": "gpu",
        "billingMode": "onDemand",
    }


# --- logs ------------------------------------------------------------------------------------------------------


def test_novita_logs_reads_both_streams_without_the_key(respx_mock, novita):
    respx_mock.get(ONE).respond(200, json=fixture("instance_running"))
    system = respx_mock.get(SYSTEM_LOG).respond(200, text="pulling image\nimage pulled\n")
    instance = respx_mock.get(INSTANCE_LOG).respond(200, text="INFO started server\nINFO ready on :8000")
    logs = novita.logs(ID)
    assert logs.lines == [
        "── system log ──",
        "pulling image",
        "image pulled",
        "── instance log ──",
        "INFO started server",
        "INFO ready on :8000",
    ]
    assert logs.source == "system log and instance log"
    for route in (system, instance):
        request = route.calls.last.request
        assert "Authorization" not in request.headers
        assert KEY not in str(request.headers)
        assert request.headers["Accept"] == "text/plain"


def test_novita_logs_never_sends_the_key_even_through_a_shared_client(respx_mock):
    shared = httpx.Client(headers={"Authorization": f"Bearer {KEY}"})
    provider = NovitaProvider(api_key=KEY, client=shared)
    respx_mock.get(ONE).respond(200, json=fixture("instance_running"))
    route = respx_mock.get(INSTANCE_LOG).respond(200, text="hello")
    assert provider.logs(ID, which="instance").lines == ["hello"]
    assert "Authorization" not in route.calls.last.request.headers
    shared.close()


def test_novita_logs_keep_one_source_when_the_other_fails(respx_mock, novita):
    respx_mock.get(ONE).respond(200, json=fixture("instance_running"))
    respx_mock.get(SYSTEM_LOG).respond(404, text="expired")
    respx_mock.get(INSTANCE_LOG).respond(200, text="line")
    assert novita.logs(ID).lines == [
        "── system log unavailable: the log stream answered HTTP 404 ──",
        "── instance log ──",
        "line",
    ]


def test_novita_logs_fail_when_every_source_fails(respx_mock, novita):
    respx_mock.get(ONE).respond(200, json=fixture("instance_running"))
    respx_mock.get(SYSTEM_LOG).respond(503)
    respx_mock.get(INSTANCE_LOG).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(Transient):
        novita.logs(ID)


def test_novita_logs_of_a_following_stream_end_when_it_falls_quiet(respx_mock, novita):
    class Following(httpx.SyncByteStream):
        def __iter__(self):
            yield b"first\nsecond\n"
            raise httpx.ReadTimeout("quiet")

    respx_mock.get(ONE).respond(200, json=fixture("instance_running"))
    respx_mock.get(INSTANCE_LOG).mock(return_value=httpx.Response(200, stream=Following()))
    assert novita.logs(ID, which="instance").lines == ["first", "second"]


def test_novita_logs_when_no_stream_is_offered(respx_mock, novita):
    item = {**fixture("instance_creating"), "connectComponentLog": {"systemLogAddress": "", "instanceLogAddress": ""}}
    respx_mock.get(ONE).respond(200, json=item)
    assert novita.logs(ID).lines == ["Novita offers no log stream for this instance now (it is toCreate)."]


def test_novita_logs_refuse_an_address_that_is_not_http(respx_mock, novita):
    item = fixture("instance_running")
    item["connectComponentLog"] = {"systemLogAddress": "", "instanceLogAddress": "file:///etc/passwd"}
    respx_mock.get(ONE).respond(200, json=item)
    with pytest.raises(Rejected, match="not an http"):
        novita.logs(ID)


def test_novita_logs_keep_the_last_lines(respx_mock, novita, monkeypatch):
    monkeypatch.setattr("providers.novita.provider.LOG_LINES", 3)
    respx_mock.get(ONE).respond(200, json=fixture("instance_running"))
    respx_mock.get(INSTANCE_LOG).respond(200, text="\n".join(f"l{i}" for i in range(10)))
    assert novita.logs(ID, which="instance").lines == ["l7", "l8", "l9"]


# --- verify, catalog, account metadata ----------------------------------------------------------------------


def test_novita_verify_reads_the_balance_in_usd(respx_mock, novita):
    route = respx_mock.get(BALANCE).respond(200, json=fixture("balance"))
    info = novita.verify()
    assert_sent(route, "GET", "/openapi/v1/billing/balance/detail")
    assert info.balance == Decimal("125.34")  # "1253400" in 1/10 000 USD
    assert info.summary == (
        "Key accepted: $125.34 available (cash $100.34, credit limit $25.00, pending charges $1.20, "
        "outstanding invoices $0.00)."
    )


def test_novita_verify_with_a_sparse_answer(respx_mock, novita):
    respx_mock.get(BALANCE).respond(200, json={"data": {"availableBalance": "10000"}})
    assert novita.verify().summary == "Key accepted: $1.00 available."


def test_novita_verify_refused_key(respx_mock, novita):
    respx_mock.get(BALANCE).respond(**err("error_unauthorized"))
    with pytest.raises(AuthError) as caught:
        novita.verify()
    assert caught.value.message == "invalid api key (UNAUTHORIZED)"


def test_novita_catalog_merges_the_lists_of_every_billing_method(respx_mock, novita):
    def respond(request: httpx.Request) -> httpx.Response:
        method = request.url.params["billingMethod"]
        return httpx.Response(200, json=fixture("products_monthly_only" if method == "monthly" else "products"))

    route = respx_mock.get(PRODUCTS).mock(side_effect=respond)
    catalog = novita.catalog()
    assert sorted(c.request.url.params["billingMethod"] for c in route.calls) == ["monthly", "onDemand", "spot"]
    assert [o.sku for o in catalog] == ["A100-80GB.14c240g", "4090.16c62g", "H100-80GB.16c200g", "L40S.8c64g"]
    assert {o.sku: o.price_per_hour for o in catalog}["4090.16c62g"] == Decimal("0.35")
    assert all(o.gpu_count == 1 and o.kind == "gpu" for o in catalog)


def test_novita_account_metadata_names_but_never_passwords(respx_mock, novita):
    respx_mock.get(f"{GPU}/clusters").respond(200, json=fixture("clusters"))
    respx_mock.get(f"{GPU}/repository/auths").respond(200, json=fixture("registry_auths"))
    storages = respx_mock.get(f"{GPU}/networkstorages/list").respond(200, json=fixture("network_storages"))
    templates = respx_mock.get(f"{GPU}/templates").mock(
        side_effect=lambda request: httpx.Response(200, json=fixture(f"templates_{request.url.params['channel']}"))
    )
    meta = novita.account_metadata()
    assert meta["clusters"][0] == {
        "id": "5",
        "name": "US-CA-06",
        "gpu_types": ["A100 SXM 80GB", "H100 SXM 80GB"],
        "network_storage": True,
        "instance_network": True,
    }
    assert meta["registry_auths"] == [{"id": "ra-1", "name": "ghcr-team"}, {"id": "ra-2", "name": "dockerhub"}]
    assert meta["network_storages"] == [
        {"id": "d4e82677-3f80-4020-a731-d15b1c589aa8", "name": "models", "cluster_id": "5", "cluster_name": "US-CA-06",
         "size_gb": 10},
        {"id": "0f3b9c1e-2222-4a7b-9c44-1a2b3c4d5e6f", "name": "datasets", "cluster_id": "9",
         "cluster_name": "EU-DE-01", "size_gb": 200},
    ]  # fmt: skip
    assert dict(storages.calls.last.request.url.params) == {"pageNo": "1", "pageSize": "100"}
    # What the form's template picker fills in; a port listed twice once, a port that is no
    # number left out, the entry without an id skipped.
    assert meta["templates"] == [
        {"id": "tpl-77", "name": "vllm-llama3", "channel": "private", "image": "docker.io/vllm/vllm-openai:latest",
         "ports": [{"port": 8000, "type": "http"}, {"port": 22, "type": "tcp"}], "env_keys": ["HF_TOKEN", "MODEL"],
         "start_command": "--model meta-llama/Llama-3.1-8B-Instruct", "rootfs_gb": 100, "tools": []},
        {"id": "tpl-1", "name": "PyTorch 2.4 CUDA 12.4", "channel": "official",
         "image": "docker.io/pytorch/pytorch:2.4.0-cuda12.4-cudnn9-runtime",
         "ports": [{"port": 8888, "type": "http"}, {"port": 22, "type": "tcp"}], "env_keys": [], "start_command": "",
         "rootfs_gb": 60, "tools": ["Jupyter"]},
        {"id": "tpl-2", "name": "Jupyter Lab", "channel": "official", "image": "docker.io/jupyter/base-notebook:latest",
         "ports": [{"port": 8888, "type": "http"}], "env_keys": ["JUPYTER_TOKEN"], "start_command": "start-notebook.sh",
         "rootfs_gb": 20, "tools": ["Jupyter"]},
    ]  # fmt: skip
    assert [dict(c.request.url.params) for c in templates.calls] == [
        {"channel": channel, "isMyCommunity": "false", "pageSize": "100"} for channel in ("private", "official")
    ]
    text = json.dumps(meta)
    assert "ghp_s3cr3tT0ken" not in text
    assert "dckr_pat_abc" not in text
    assert "acme-bot" not in text
    # A template's env values and registry credential stay at Novita.
    for secret in ("hf_tplS3cr3tValue", "m0del-v4lue", "official-default-token", "ghp_tplS3cr3t", "imageAuth"):
        assert secret not in text


def test_novita_template_entry_reads_what_the_schema_leaves_open():
    entry = template_entry(
        {"id": 9, "ports": [{"type": "http", "ports": "8080, 8090"}, {"type": "tcp", "ports": 0}, "22/tcp"],
         "envs": [{"key": "A", "value": "secret"}, {"key": ""}, "B=1"], "tools": [{"name": "Jupyter", "port": 8888}],
         "rootfsSize": "40"},
        "private",
    )  # fmt: skip
    assert entry == {
        "id": "9", "name": "9", "channel": "private", "image": "", "start_command": "", "rootfs_gb": 40,
        "ports": [{"port": 8080, "type": "http"}, {"port": 8090, "type": "http"}], "env_keys": ["A"],
        "tools": ["Jupyter"],
    }  # fmt: skip
    assert template_entry({"name": "no id"}, "official") is None
    assert template_entry("tpl-1", "official") is None


def test_novita_account_metadata_survives_one_missing_list(respx_mock, novita):
    respx_mock.get(f"{GPU}/clusters").respond(200, json=fixture("clusters"))
    respx_mock.get(f"{GPU}/repository/auths").respond(**err("error_unknown"))
    respx_mock.get(f"{GPU}/networkstorages/list").respond(200, json={"data": [], "total": 0})
    respx_mock.get(f"{GPU}/templates").respond(200, json={"template": [], "total": 0})
    meta = novita.account_metadata()
    assert meta["registry_auths"] == []
    assert len(meta["clusters"]) == 2


def test_novita_account_metadata_refused_key_is_an_auth_error(respx_mock, novita):
    respx_mock.get(f"{GPU}/clusters").respond(**err("error_unauthorized"))
    with pytest.raises(AuthError):
        novita.account_metadata()


# --- errors: each class, from Novita's bodies ----------------------------------------------------------------


def test_novita_every_error_name_of_the_contract_has_a_class():
    names = {
        "UNAUTHORIZED", "FORBIDDEN", "RATE_LIMIT_EXCEEDED", "UNKNOWN", "VALIDATOR_PARAM", "REQUEST",
        "RESOURCE_NOT_FOUND", "CONFLICT", "OPERATION_LIMIT", "INSUFFICIENT_RESOURCE", "CLUSTER_STATUS",
        "NODE_STATUS", "DEPENDENT_RESOURCE_STATE", "PREPAID_INSTANCE_NOT_SUPPORT_RELEASE",
        "CREATING_INSTANCE_NOT_SUPPORT_RENEWAL", "INVALID_COMMAND_PARAM", "GPU_SPEC_USED",
        "MIGRATE_INSUFFICIENT_RESOURCE", "BALANCE_NOT_ENOUGH", "EXPIRED_OR_BALANCE_NOT_ENOUGH",
        "UNSUPPORTED_BILLING_MODE", "CREATE_INSTANCE_LIMIT", "NETWORK_STORAGE_TOO_LARGE", "NETWORK_STORAGE_IN_USE",
        "NETWORK_STORAGE_UNAVAILABLE", "NETWORK_STORAGE_NOT_FOUND", "CUR_CLUSTER_NETWORK_STORAGE_NOT_SUPPORT",
        "IMAGE_NOT_FOUND", "IMAGE_AUTH_IN_USE", "NETWORK_NOT_FOUND", "NETWORK_IN_USE", "NETWORK_MAX_LIMIT",
        "JOB_NOT_FOUND", "TEMPLATE_NOT_FOUND", "TEMPLATE_IS_PRIVATE",
    }  # fmt: skip
    assert set(ERRORS) == names


REJECTED = [n for n, kind in ERRORS.items() if kind == "rejected"]
SPEC_FIELDS = {
    "INVALID_COMMAND_PARAM": "command",
    "UNSUPPORTED_BILLING_MODE": "billingMode",
    "IMAGE_NOT_FOUND": "imageUrl",
    "NETWORK_STORAGE_NOT_FOUND": "networkStorages",
    "NETWORK_STORAGE_UNAVAILABLE": "networkStorages",
    "CUR_CLUSTER_NETWORK_STORAGE_NOT_SUPPORT": "clusterId",
    "NETWORK_NOT_FOUND": "networkId",
    "REQUEST": "",
}


def _fail(respx_mock, novita, status: int, body: Any, **kwargs: Any):
    respx_mock.post(f"{GPU}/gpu/instance/stop").respond(status, **({"json": body} if body is not None else kwargs))
    with pytest.raises(ProviderError) as caught:
        novita._action(ID, "stop", ())
    return caught.value


@pytest.mark.parametrize("name", REJECTED)
def test_novita_refusals_are_rejected(respx_mock, novita, name):
    respx_mock.get(ONE).respond(200, json=fixture("instance_running"))  # CONFLICT looks at the state
    exc = _fail(respx_mock, novita, 400, {"code": 400, "reason": name, "message": "refused", "metadata": {}})
    assert type(exc) is Rejected
    assert exc.message == f"refused ({name})"
    assert exc.status_code == 400


@pytest.mark.parametrize(("name", "field"), SPEC_FIELDS.items())
def test_novita_field_errors_are_spec_errors_on_their_field(respx_mock, novita, name, field):
    exc = _fail(respx_mock, novita, 400, {"code": 400, "reason": name, "message": "bad value", "metadata": {}})
    assert type(exc) is SpecError
    assert exc.fields == {field: [f"bad value ({name})"]}


@pytest.mark.parametrize("status", [401, 403])
def test_novita_auth_errors(respx_mock, novita, status):
    body = fixture("error_unauthorized" if status == 401 else "error_forbidden")
    exc = _fail(respx_mock, novita, status, body)
    assert type(exc) is AuthError
    assert KEY not in exc.message


def test_novita_auth_error_without_a_body(respx_mock, novita):
    exc = _fail(respx_mock, novita, 401, None, text="")
    assert type(exc) is AuthError


def test_novita_rate_limit_honours_retry_after(respx_mock, novita):
    status, body = error("error_rate_limited")
    respx_mock.post(f"{GPU}/gpu/instance/stop").respond(status, json=body, headers={"Retry-After": "7"})
    with pytest.raises(RateLimited) as caught:
        novita._action(ID, "stop", ())
    assert caught.value.retry_after == 7.0


def test_novita_reads_are_retried_after_a_rate_limit(respx_mock, novita, sleeps):
    status, body = error("error_rate_limited")
    route = respx_mock.get(BALANCE).mock(
        side_effect=[httpx.Response(status, json=body, headers={"Retry-After": "1"}),
                     httpx.Response(200, json=fixture("balance"))]
    )  # fmt: skip
    assert novita.verify().balance == Decimal("125.34")
    assert route.call_count == 2
    assert sleeps
    assert sleeps[0] >= 1


def test_novita_unknown_server_error_is_transient(respx_mock, novita):
    exc = _fail(respx_mock, novita, *error("error_unknown"))
    assert type(exc) is Transient
    assert "internal error" in exc.message


def test_novita_unknown_on_a_4xx_is_still_transient(respx_mock, novita):
    exc = _fail(respx_mock, novita, 400, {"code": 400, "reason": "UNKNOWN", "message": "try again", "metadata": {}})
    assert type(exc) is Transient


def test_novita_timeout_is_transient(respx_mock, novita):
    respx_mock.post(f"{GPU}/gpu/instance/stop").mock(side_effect=httpx.ConnectTimeout("slow"))
    with pytest.raises(Transient):
        novita._action(ID, "stop", ())


def test_novita_resource_not_found_is_a_400_not_found(respx_mock, novita):
    exc = _fail(respx_mock, novita, *error("error_not_found"))
    assert type(exc) is NotFound
    assert exc.status_code == 400


def test_novita_404_of_an_unknown_path_is_not_found(respx_mock, novita):
    exc = _fail(respx_mock, novita, 404, None, text="404 page not found")
    assert type(exc) is NotFound
    assert exc.message == "404 page not found"


def test_novita_unnamed_400_is_a_spec_error_on_the_field_it_names(respx_mock, novita):
    exc = _fail(respx_mock, novita, 400, {"message": "rootfsSize exceeds the node's free disk"})
    assert exc.fields == {"rootfsSize": ["rootfsSize exceeds the node's free disk"]}


def test_novita_unnamed_409_is_rejected(respx_mock, novita):
    exc = _fail(respx_mock, novita, 409, {"code": 409, "message": "busy"})
    assert type(exc) is Rejected


def test_novita_error_name_may_come_as_a_string_code(respx_mock, novita):
    exc = _fail(respx_mock, novita, 400, {"code": "BALANCE_NOT_ENOUGH", "message": "recharge"})
    assert (type(exc), exc.message) == (Rejected, "recharge (BALANCE_NOT_ENOUGH)")


def test_novita_error_without_a_message_uses_its_name(respx_mock, novita):
    exc = _fail(respx_mock, novita, 400, {"code": 400, "reason": "CREATE_INSTANCE_LIMIT"})
    assert exc.message == "CREATE_INSTANCE_LIMIT"


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ("gpuNum must be between 1 and 8", "gpuNum"),
        ("envs[3].value too long", "envs.3.value"),
        ("tools.0.port is reserved", "tools.0.port"),
        ("networkStorages[1].mountPoint is empty", "networkStorages.1.mountPoint"),
        ("expandRootDisk must be >= 0", "rootfsSize"),
        ("invalid port 2222", "ports"),
        ("Tool name must be Jupyter, productId unknown", "productId"),
        ("name too long", "name"),
        ("something went wrong", ""),
    ],
)
def test_novita_field_named_in_a_message(message, field):
    assert field_named_in(message) == field


def test_novita_port_helpers_round_trip():
    rows, problems = parse_ports("8000/http, 22/tcp")
    assert (rows, problems) == ([{"port": 8000, "type": "http"}, {"port": 22, "type": "tcp"}], [])
    assert format_ports(rows) == "8000/http, 22/tcp"


def test_novita_billed_statuses_are_live_ones():
    assert all(STATUS_TABLE[s] in (RemoteState.PROVISIONING, RemoteState.RUNNING, RemoteState.STOPPING,
                                   RemoteState.UPDATING) for s in BILLED_STATUSES)  # fmt: skip
    assert "exited" not in BILLED_STATUSES
    assert "creating" not in BILLED_STATUSES
