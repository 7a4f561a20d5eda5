"""Novita's rules for a create body, one test per rule, and the chosen product's rules."""

from __future__ import annotations

import copy

import pytest

from providers.base import SpecError, ValidationContext
from providers.novita import NovitaProvider, format_ports, parse_ports
from providers.novita.fields import CREATE_FIELDS
from providers.novita.rules import check_spec, cluster_in_regions
from providers.novita.tests.helpers import MINIMAL, NOTES_BODY, NOTES_CREATE, errors_of, metadata, offers

# --- rules: the create body ----------------------------------------------------------------------------


def test_novita_rules_accept_the_notes_create_example_verbatim():
    assert NovitaProvider.validate(copy.deepcopy(NOTES_CREATE)) == NOTES_BODY


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


def test_novita_rules_cpu_instances_take_at_most_30_envs():
    # The create-cpu-instance page allows 30 variables; the GPU create allows 100 [V].
    cpu = {"productId": "cpu.4c8g", "kind": "cpu", "imageUrl": "ubuntu:22.04"}
    envs = [{"key": f"K{i}", "value": "v"} for i in range(31)]
    assert errors_of({**cpu, "envs": envs}) == {"envs": ["At most 30 environment variables."]}
    assert len(check_spec({**cpu, "envs": envs[:30]})["envs"]) == 30


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


def test_novita_port_helpers_round_trip():
    rows, problems = parse_ports("8000/http, 22/tcp")
    assert (rows, problems) == ([{"port": 8000, "type": "http"}, {"port": 22, "type": "tcp"}], [])
    assert format_ports(rows) == "8000/http, 22/tcp"


# --- the interface: validate(spec, context) ------------------------------------------------------------


def test_novita_validate_applies_the_product_rules_from_the_context():
    context = ValidationContext(offers=tuple(offers()), metadata=metadata())
    with pytest.raises(SpecError) as caught:
        NovitaProvider.validate({**MINIMAL, "rootfsSize": 15}, context)
    assert caught.value.fields == {"rootfsSize": ["RTX 4090 24GB takes a root disk of 20–500 GB."]}
    assert NovitaProvider.validate({**MINIMAL, "rootfsSize": 15}) == {**MINIMAL, "rootfsSize": 15}


def test_novita_validate_of_an_update_says_what_the_update_would_refuse():
    context = ValidationContext(existing=True, previous={**MINIMAL, "rootfsSize": 80})
    with pytest.raises(SpecError) as caught:
        NovitaProvider.validate({**MINIMAL, "rootfsSize": 60}, context)
    assert caught.value.fields == {"rootfsSize": ["Novita can only grow the root disk: it has 80 GB now."]}
    assert NovitaProvider.validate({**MINIMAL, "rootfsSize": 90}, context)["rootfsSize"] == 90


def test_novita_validate_of_an_update_leaves_an_unreadable_previous_spec_to_the_rules():
    context = ValidationContext(existing=True, previous={"productId": ""})
    assert NovitaProvider.validate(dict(MINIMAL), context) == MINIMAL
