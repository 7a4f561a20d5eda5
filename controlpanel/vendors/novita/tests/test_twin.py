"""The Novita twin driven two ways: through Django's test client (its routes, rules,
error names and bodies, paging, simulated progress and money) and through the real
adapter over HTTP against ``live_server`` (what the panel's workers do). Time moves only
by patching the twin's clock (``_now``), set to a fixed moment so that hour boundaries
are known: nothing here sleeps."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from controlpanel.sandbox.core import account_for_key
from controlpanel.sandbox.models import SandboxFault, SandboxObject
from controlpanel.vendors.novita import twin as twin
from providers.base import Action, AuthError, NotFound, RateLimited, Rejected, RemoteState, SpecError, Transient
from providers.novita import NovitaProvider

ROOT = "/sandbox/novita/gpu-instance/openapi/v1"
BALANCE = "/sandbox/novita/openapi/v1/billing/balance/detail"
KEY = "sandbox-novita-a"
STORAGE = "d4e82677-3f80-4020-a731-d15b1c589aa8"  # the notes' volume, in California
EU_STORAGE = twin.SEED_STORAGES[1][0]  # in Frankfurt
START = 500 * 10_000  # the starting balance in 1/10 000 USD
# The create request of contract §2.3, exactly as written there.
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
# A small instance with nothing optional: one 4090, on demand.
PLAIN = {
    "name": "plain",
    "productId": "4090.16c62g",
    "kind": "gpu",
    "gpuNum": 1,
    "rootfsSize": 50,
    "imageUrl": "docker.io/library/ubuntu:22.04",
    "ports": "80/http, 3306/tcp",
}
DROP = object()


class Clock:
    """The twin's clock, moved by hand from a fixed moment (10:15 UTC)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = dt.datetime(2030, 1, 7, 10, 15, tzinfo=dt.UTC)
        monkeypatch.setattr(twin, "_now", lambda: self.now)

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock(monkeypatch, settings, db) -> Clock:
    """Provisioning takes 10 s of the twin's clock."""
    settings.SANDBOX_PROVISION_SECONDS = 10
    return Clock(monkeypatch)


@pytest.fixture
def instant(clock, settings) -> Clock:
    """Every step happens at once."""
    settings.SANDBOX_PROVISION_SECONDS = 0
    return clock


def call(client, method: str, path: str, body: Any = None, *, key: str | None = KEY, **params: Any):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    url = path if path.startswith(("/sandbox", "http")) else ROOT + path
    if method == "GET":
        return client.get(url, params, headers=headers)
    data = body if isinstance(body, str) else json.dumps({} if body is None else body)
    return client.post(url, data, content_type="application/json", headers=headers)


def ok(response) -> Any:
    assert response.status_code == 200, response.content
    return response.json()


def refused(response, reason: str, status: int = 400) -> str:
    """Novita's error body, exactly: ``{code, reason, message, metadata}``."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "reason", "message", "metadata"}
    assert (body["code"], body["reason"], body["metadata"]) == (status, reason, {})
    assert body["message"]
    return body["message"]


def invalid_field(response, field: str) -> str:
    message = refused(response, "VALIDATOR_PARAM")
    assert message.startswith(f"invalid field {field}: "), message
    return message


def body_with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = {**base, **changes}
    return {k: v for k, v in out.items() if v is not DROP}


def create(client, base: dict[str, Any] | None = None, *, key: str = KEY, **changes: Any) -> str:
    response = call(client, "POST", "/gpu/instance/create", body_with(base or NOTES_CREATE, **changes), key=key)
    return ok(response)["id"]


def get(client, instance_id: str, *, key: str = KEY) -> dict[str, Any]:
    return ok(call(client, "GET", "/gpu/instance", key=key, instanceId=instance_id))


def status(client, instance_id: str) -> str:
    return get(client, instance_id)["status"]


def act(client, action: str, instance_id: str, *, key: str = KEY, **extra: Any):
    return call(client, "POST", f"/gpu/instance/{action}", {"instanceId": instance_id, **extra}, key=key)


def balance(client, *, key: str = KEY) -> dict[str, str]:
    return ok(call(client, "GET", BALANCE, key=key))


def set_balance_usd(usd: float, *, key: str = KEY) -> None:
    """Give the account a different starting credit (it must exist already)."""
    acct = SandboxObject.objects.get(vendor="novita", account=account_for_key(key), kind="account")
    acct.data["credit"] = int(usd * twin.UNITS_PER_USD)
    acct.save()


# --- auth, methods, bodies ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer sk_live_0123456789", "Basic sandbox-novita-a", "Bearer ", "sandbox-novita-a"],
    ids=["missing", "not-a-sandbox-key", "wrong-scheme", "empty-token", "no-scheme"],
)
@pytest.mark.parametrize("path", [f"{ROOT}/gpu/instances", f"{ROOT}/products", f"{ROOT}/gpu/instance", BALANCE])
def test_novita_sandbox_refuses_a_bad_key_with_novitas_401(client, db, authorization, path):
    headers = {"Authorization": authorization} if authorization is not None else {}
    message = refused(client.get(path, headers=headers), "UNAUTHORIZED", 401)
    assert "API key" in message


def test_novita_sandbox_checks_the_key_before_the_method(client, db):
    refused(client.post(f"{ROOT}/gpu/instances"), "UNAUTHORIZED", 401)
    refused(call(client, "POST", "/gpu/instances"), "METHOD_NOT_ALLOWED", 405)
    refused(call(client, "GET", "/gpu/instance/create"), "METHOD_NOT_ALLOWED", 405)


def test_novita_sandbox_bad_json_is_a_request_error(client, db):
    assert "not valid JSON" in refused(call(client, "POST", "/gpu/instance/create", "{nope"), "REQUEST")
    assert "JSON object" in refused(call(client, "POST", "/gpu/instance/create", "[1, 2]"), "REQUEST")


def test_novita_sandbox_keys_are_isolated_accounts(client, clock):
    mine = create(client)
    other = "sandbox-novita-b"
    assert ok(call(client, "GET", "/gpu/instances", key=other, pageNum=0, pageSize=10)) == {"instances": [], "total": 0}
    assert "not found" in refused(
        call(client, "GET", "/gpu/instance", key=other, instanceId=mine), "RESOURCE_NOT_FOUND"
    )
    refused(act(client, "delete", mine, key=other), "RESOURCE_NOT_FOUND")
    # Each account's balance, storages and registry credentials are its own.
    assert balance(client, key=other)["availableBalance"] == str(START)
    ok(call(client, "POST", "/networkstorage/create", {"clusterId": "1", "storageName": "mine", "storageSize": 20}))
    names = [s["storageName"] for s in ok(call(client, "GET", "/networkstorages/list", key=other))["data"]]
    assert "mine" not in names
    ok(call(client, "POST", "/repository/auth/save", {"name": "quay.io", "username": "u", "password": "p"}))
    assert [a["name"] for a in ok(call(client, "GET", "/repository/auths", key=other))["data"]] == ["ghcr.io"]
    assert get(client, mine)["status"] == "toCreate"


# --- create: the notes' and the seed's requests -------------------------------------------------------------


def test_novita_sandbox_accepts_the_notes_create_request_verbatim(client, instant):
    response = call(client, "POST", "/gpu/instance/create", NOTES_CREATE)
    body = ok(response)
    assert list(body) == ["id"]
    assert re.fullmatch(r"[0-9a-f]{16}", body["id"])
    item = get(client, body["id"])
    assert (item["status"], item["clusterId"], item["clusterName"]) == ("running", "5", "US-CA-06 (California)")
    assert (item["productId"], item["productName"], item["kind"]) == ("A100-80GB.14c240g", "A100 SXM 80GB", "gpu")
    assert (item["cpuNum"], item["memory"], item["gpuNum"], item["rootfsSize"]) == ("14", "240", "1", 100)
    assert item["volumeMounts"] == [{"type": "network", "size": 10, "id": STORAGE, "mountPath": "/network"}]
    assert item["envs"] == [{"key": "HF_TOKEN", "value": "hf_xxx"}]
    assert [(p["port"], p["type"]) for p in item["portMappings"]] == [(8000, "http"), (22, "tcp")]
    assert item["connectComponentJupyter"]["port"] == 8888
    assert (item["billingMode"], item["endTime"], item["spotStatus"], item["spotReclaimTime"]) == (
        "onDemand",
        "-1",
        "",
        "0",
    )


def test_novita_sandbox_accepts_the_seeds_port_example(client, instant):
    # "Instance open ports, e.g.: 80/http, 3306/tcp" (seed).
    instance_id = create(client, PLAIN, ports="80/http, 3306/tcp")
    assert get(client, instance_id)["portMappings"][1] == {
        "port": 3306,
        "endpoint": get(client, instance_id)["portMappings"][1]["endpoint"],
        "type": "tcp",
    }


def test_novita_sandbox_get_answers_the_full_shape_with_a_real_password(client, instant):
    item = get(client, create(client))
    listed = {
        "id",
        "name",
        "clusterId",
        "clusterName",
        "status",
        "imageUrl",
        "imageAuthId",
        "command",
        "entrypoint",
        "cpuNum",
        "memory",
        "gpuNum",
        "portMappings",
        "productId",
        "productName",
        "rootfsSize",
        "volumeMounts",
        "statusError",
        "envs",
        "kind",
        "billingMode",
        "endTime",
        "spotStatus",
        "spotReclaimTime",
        "createdAt",
        "startedAt",
        "stoppedAt",
        "lastStartedAt",
        "lastStoppedAt",
    }
    extra = {
        "network",
        "node",
        "jobs",
        "freeStorageSize",
        "keepDataDay",
        "connectComponentSSH",
        "connectComponentWebTerminal",
        "connectComponentJupyter",
        "connectComponentLog",
    }
    assert set(item) == listed | extra
    ssh, terminal = item["connectComponentSSH"], item["connectComponentWebTerminal"]
    assert re.fullmatch(r"ssh root@203\.0\.113\.\d+ -p \d+", ssh["sshCommand"])
    assert ssh["password"] == terminal["password"] != "******"  # the vendor sends it; the adapter masks it
    assert len(ssh["password"]) >= 12
    assert (ssh["isRunning"], terminal["username"]) == (True, "root")
    assert item["node"] == {"maxRootfsSize": 1024}
    assert (item["network"], item["jobs"], item["keepDataDay"]) == ({"id": "", "ip": ""}, [], 7)
    http, tcp = item["portMappings"]
    assert http["endpoint"].endswith(f"/sandbox/novita/proxy/{item['id']}-8000/")
    assert re.fullmatch(r"203\.0\.113\.\d+:\d+", tcp["endpoint"])
    assert ssh["sshCommand"].endswith(tcp["endpoint"].split(":")[1])  # port 22's public port
    log = item["connectComponentLog"]
    assert "/sandbox/novita/instance-logs/" in log["systemLogAddress"]
    assert log["isRunning"] is True


def test_novita_sandbox_creates_a_cpu_instance(client, instant):
    instance_id = create(
        client,
        {
            "kind": "cpu",
            "productId": "cpu.8c16g",
            "imageUrl": "docker.io/library/redis:7",
            "localStorageMountPoint": "/data",
        },
    )
    item = get(client, instance_id)
    assert (item["kind"], item["gpuNum"], item["cpuNum"], item["memory"], item["rootfsSize"]) == (
        "cpu",
        "0",
        "8",
        "16",
        60,
    )
    assert item["volumeMounts"] == [{"type": "local", "size": 80, "id": "", "mountPath": "/data"}]
    assert item["clusterId"] == "1"


def test_novita_sandbox_cpu_instances_take_30_environment_variables(client, instant):
    # The create-cpu-instance page allows 30 variables; the GPU create allows 100 [V].
    cpu = {"kind": "cpu", "productId": "cpu.8c16g", "imageUrl": "docker.io/library/redis:7"}
    envs = [{"key": f"K{i}", "value": ""} for i in range(31)]
    invalid_field(call(client, "POST", "/gpu/instance/create", {**cpu, "envs": envs}), "envs")
    assert len(get(client, create(client, {**cpu, "envs": envs[:30]}))["envs"]) == 30


def test_novita_sandbox_raises_a_small_root_disk_to_10_gb(client, instant):
    # "If the minimum value is less than 10 GB, the system will default to 10 GB" [V].
    assert get(client, create(client, PLAIN, rootfsSize=5))["rootfsSize"] == 10


def test_novita_sandbox_month_forces_monthly_billing(client, instant):
    instance_id = create(client, PLAIN, billingMode="onDemand", month=1)
    item = get(client, instance_id)
    assert item["billingMode"] == "monthly"
    assert int(item["endTime"]) == int((instant.now + dt.timedelta(days=30)).timestamp())


def test_novita_sandbox_ignores_auto_renew_months_without_a_subscription(client, instant):
    create(client, PLAIN, autoRenew=True, autoRenewMonth=99)  # "only effective when monthly…" [V]


def test_novita_sandbox_picks_the_storages_cluster_or_the_first_sold_one(client, instant):
    assert get(client, create(client, PLAIN))["clusterId"] == "1"  # Oregon, the 4090's first cluster
    eu = create(client, PLAIN, networkStorages=[{"Id": EU_STORAGE}])
    item = get(client, eu)
    assert item["clusterId"] == "3"
    assert item["volumeMounts"][0]["mountPath"] == "/network"  # the documented default
    assert get(client, create(client, PLAIN, clusterId="8"))["clusterName"] == "AS-SG-02 (Singapore)"


def test_novita_sandbox_uses_a_saved_registry_credential(client, instant):
    assert get(client, create(client, PLAIN, imageAuthId="1001"))["imageAuthId"] == "1001"
    create(client, PLAIN, imageAuth="robot:s3cret")


# --- create: one test per rule --------------------------------------------------------------------------------

LONG_PORTS = ", ".join(f"{9000 + i}/tcp" for i in range(15))  # with the notes' Jupyter tool: 16


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": "tpu"}, "kind"),
        ({"kind": DROP}, "kind"),
        ({"name": "llama serve"}, "name"),
        ({"name": "a" * 256}, "name"),
        ({"productId": ""}, "productId"),
        ({"productId": "B200.32c256g"}, "productId"),
        ({"gpuNum": 0}, "gpuNum"),
        ({"gpuNum": 9}, "gpuNum"),
        ({"gpuNum": "1"}, "gpuNum"),
        ({"rootfsSize": 6145}, "rootfsSize"),
        ({"rootfsSize": -1}, "rootfsSize"),
        ({"rootfsSize": 2000}, "rootfsSize"),
        ({"productId": "H100-80GB.16c200g", "rootfsSize": 15}, "rootfsSize"),
        ({"imageUrl": ""}, "imageUrl"),
        ({"imageUrl": "x" * 501}, "imageUrl"),
        ({"imageAuth": "just-a-user"}, "imageAuth"),
        ({"imageAuth": "u" * 10240}, "imageAuth"),
        ({"imageAuth": "u:p", "imageAuthId": "1001"}, "imageAuth"),
        ({"imageAuthId": "4242"}, "imageAuthId"),
        ({"ports": "2222/tcp"}, "ports"),
        ({"ports": "70000/http"}, "ports"),
        ({"ports": "0/http"}, "ports"),
        ({"ports": "53/udp"}, "ports"),
        ({"ports": "8000"}, "ports"),
        ({"ports": "8000/http, 8000/tcp"}, "ports"),
        ({"ports": [{"port": 8000, "type": "http"}]}, "ports"),
        ({"ports": LONG_PORTS}, "ports"),
        ({"envs": [{"key": f"K{i}", "value": ""} for i in range(101)]}, "envs"),
        ({"envs": [{"key": "K" * 512, "value": ""}]}, "envs.0.key"),
        ({"envs": [{"key": "", "value": "x"}]}, "envs.0.key"),
        ({"envs": [{"key": "A", "value": "1"}, {"key": "A", "value": "2"}]}, "envs.1.key"),
        ({"envs": [{"key": "A", "value": "v" * 4096}]}, "envs.0.value"),
        ({"tools": [{"name": "VSCode", "port": "8080", "type": "http"}]}, "tools.0.name"),
        ({"tools": [{"name": "Jupyter", "port": 8888, "type": "http"}]}, "tools.0.port"),
        ({"tools": [{"name": "Jupyter", "port": "2224", "type": "http"}]}, "tools.0.port"),
        ({"tools": [{"name": "Jupyter", "port": "8000", "type": "http"}]}, "tools.0.port"),
        ({"tools": [{"name": "Jupyter", "port": "8888", "type": "udp"}]}, "tools.0.type"),
        ({"command": "c" * 2048}, "command"),
        ({"entrypoint": "e" * 2048}, "entrypoint"),
        ({"clusterId": "99"}, "clusterId"),
        ({"clusterId": "1", "networkStorages": []}, "clusterId"),
        ({"networkStorages": [{"Id": STORAGE, "mountPoint": f"/n{i}"} for i in range(31)]}, "networkStorages"),
        ({"networkStorages": [{"id": STORAGE, "mountPoint": "/network"}]}, "networkStorages.0.Id"),
        ({"networkStorages": [{"Id": STORAGE, "mountPoint": "/" + "m" * 4095}]}, "networkStorages.0.mountPoint"),
        ({"networkStorages": [{"Id": STORAGE, "mountPoint": "network"}]}, "networkStorages.0.mountPoint"),
        (
            {"networkStorages": [{"Id": STORAGE, "mountPoint": "/a"}, {"Id": STORAGE, "mountPoint": "/b"}]},
            "networkStorages.1.Id",
        ),
        ({"billingMode": "hourly"}, "billingMode"),
        ({"month": -1}, "month"),
        ({"billingMode": "monthly"}, "month"),
        ({"autoRenew": "yes"}, "autoRenew"),
        ({"month": 1, "autoRenew": True, "autoRenewMonth": 13}, "autoRenewMonth"),
        ({"minCudaVersion": "12"}, "minCudaVersion"),
        ({"minCudaVersion": "v12.4"}, "minCudaVersion"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_novita_sandbox_create_rule_names_the_field(client, clock, changes, field):
    invalid_field(call(client, "POST", "/gpu/instance/create", body_with(NOTES_CREATE, **changes)), field)
    assert not SandboxObject.objects.filter(vendor="novita", kind="instance").exists()


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"productId": "H200-141GB.24c240g"}, "INSUFFICIENT_RESOURCE"),  # sold out
        ({"minCudaVersion": "13.0"}, "INSUFFICIENT_RESOURCE"),  # no such driver
        ({"productId": "L40S.12c94g", "billingMode": "monthly", "month": 1}, "UNSUPPORTED_BILLING_MODE"),
        ({"productId": "3090.8c30g", "billingMode": "spot"}, "UNSUPPORTED_BILLING_MODE"),
        ({"productId": "RTX6000Ada.12c94g", "billingMode": "spot"}, "UNSUPPORTED_BILLING_MODE"),
        ({"billingMode": "monthly", "month": 1}, "BALANCE_NOT_ENOUGH"),  # an A100 month is $950; $500 here
        ({"imageUrl": "docker.io/acme/does-not-exist:1"}, "IMAGE_NOT_FOUND"),
        ({"networkStorages": [{"Id": "0b8f9a52-0000-4000-8000-000000000000"}]}, "NETWORK_STORAGE_NOT_FOUND"),
        ({"networkStorages": [{"Id": EU_STORAGE}]}, "NETWORK_STORAGE_UNAVAILABLE"),  # A100s are not sold there
        (
            {"clusterId": "5", "productId": "H100-80GB.16c200g", "networkStorages": [{"Id": EU_STORAGE}]},
            "NETWORK_STORAGE_UNAVAILABLE",
        ),
        (
            {
                "productId": "H100-80GB.16c200g",
                "networkStorages": [{"Id": STORAGE, "mountPoint": "/a"}, {"Id": EU_STORAGE, "mountPoint": "/b"}],
            },
            "NETWORK_STORAGE_UNAVAILABLE",
        ),
        ({"networkId": "vpc-7"}, "NETWORK_NOT_FOUND"),
    ],
)
def test_novita_sandbox_create_refusal_uses_novitas_name(client, clock, changes, reason):
    refused(call(client, "POST", "/gpu/instance/create", body_with(NOTES_CREATE, **changes)), reason)
    assert not SandboxObject.objects.filter(vendor="novita", kind="instance").exists()


def test_novita_sandbox_no_capacity_fault_refuses_create(client, clock):
    SandboxFault.objects.create(vendor="novita", no_capacity=True)
    assert "A100" in refused(call(client, "POST", "/gpu/instance/create", NOTES_CREATE), "INSUFFICIENT_RESOURCE")


def test_novita_sandbox_refuses_an_instance_the_balance_cannot_run_an_hour(client, clock):
    balance(client)
    set_balance_usd(1.5)  # an A100 hour is $1.60
    assert "an hour" in refused(call(client, "POST", "/gpu/instance/create", NOTES_CREATE), "BALANCE_NOT_ENOUGH")
    create(client, PLAIN)  # a 4090 hour is $0.35


def test_novita_sandbox_caps_instances_per_account(client, clock, monkeypatch):
    monkeypatch.setattr(twin, "INSTANCE_LIMIT", 2)
    first = create(client, PLAIN)
    create(client, PLAIN)
    message = refused(call(client, "POST", "/gpu/instance/create", PLAIN), "CREATE_INSTANCE_LIMIT")
    assert "recharge or delete other instances" in message
    ok(act(client, "delete", first))  # an instance being removed no longer counts
    create(client, PLAIN)


# --- list: paging and filters ---------------------------------------------------------------------------------


def _names(client, **params: Any) -> tuple[list[str], int]:
    body = ok(call(client, "GET", "/gpu/instances", **params))
    return [i["name"] for i in body["instances"]], body["total"]


def test_novita_sandbox_lists_newest_first_in_pages_counted_from_zero(client, clock):
    # pageNum is documented as ">= 0" (Novita's docs, "List Instances"); the cnovita client starts at 0.
    for i in range(5):
        create(client, PLAIN, name=f"box-{i}")
    assert _names(client, pageNum=0, pageSize=2) == (["box-4", "box-3"], 5)
    assert _names(client, pageNum=1, pageSize=2) == (["box-2", "box-1"], 5)
    assert _names(client, pageNum=2, pageSize=2) == (["box-0"], 5)
    assert _names(client, pageNum=3, pageSize=2) == ([], 5)
    assert _names(client, pageNum=0, pageSize=0)[0] == [f"box-{i}" for i in (4, 3, 2, 1, 0)]  # 0: the default
    assert _names(client) == ([f"box-{i}" for i in (4, 3, 2, 1, 0)], 5)  # both "required" parameters missing


def test_novita_sandbox_caps_the_page_size(client, clock, monkeypatch):
    monkeypatch.setattr(twin, "PAGE_MAX", 3)
    for i in range(4):
        create(client, PLAIN, name=f"box-{i}")
    assert _names(client, pageNum=0, pageSize=50) == (["box-3", "box-2", "box-1"], 4)
    assert _names(client, pageNum=1, pageSize=50) == (["box-0"], 4)


@pytest.mark.parametrize(
    ("params", "field"),
    [({"pageSize": "ten"}, "pageSize"), ({"pageNum": -1}, "pageNum"), ({"status": "sleeping"}, "status")],
)
def test_novita_sandbox_list_query_rule_names_the_field(client, db, params, field):
    invalid_field(call(client, "GET", "/gpu/instances", **params), field)


def test_novita_sandbox_list_filters_by_name_product_and_status(client, clock):
    create(client, PLAIN, name="web-frontend")
    create(client, PLAIN, name="WEB-backend")
    create(client, NOTES_CREATE)
    clock.advance(seconds=11)
    assert _names(client, name="web")[0] == ["WEB-backend", "web-frontend"]  # fuzzy, any case
    assert _names(client, productName="a100")[0] == ["llama-serve-01"]
    ok(act(client, "stop", _id_of(client, "web-frontend")))
    assert _names(client, status="toStop")[0] == ["web-frontend"]
    assert _names(client, status="running")[0] == ["llama-serve-01", "WEB-backend"]


def _id_of(client, name: str) -> str:
    return next(i["id"] for i in ok(call(client, "GET", "/gpu/instances"))["instances"] if i["name"] == name)


def test_novita_sandbox_list_items_have_the_list_shape(client, instant):
    create(client)
    [item] = ok(call(client, "GET", "/gpu/instances", pageNum=0, pageSize=10))["instances"]
    assert item["portMappings"] == [{"port": 8000, "type": "http"}, {"port": 22, "type": "tcp"}]  # no endpoints
    assert not any(key.startswith("connectComponent") for key in item)
    assert (item["cpuNum"], item["memory"], item["gpuNum"]) == ("14", "240", "1")  # strings [V]
    assert item["createdAt"] == str(int(instant.now.timestamp()))


# --- state progression -----------------------------------------------------------------------------------------


def test_novita_sandbox_create_provisions_then_runs(client, clock):
    instance_id = create(client)
    seen = [status(client, instance_id)]
    for seconds in (1, 2, 7):
        clock.advance(seconds=seconds)
        seen.append(status(client, instance_id))
    assert seen == ["toCreate", "creating", "pulling", "running"]
    item = get(client, instance_id)
    assert item["startedAt"] == item["lastStartedAt"] == str(int(clock.now.timestamp()))


def test_novita_sandbox_stop_start_and_restart_go_through_their_states(client, clock):
    instance_id = create(client)
    clock.advance(seconds=10)
    ok(act(client, "stop", instance_id))
    assert status(client, instance_id) == "toStop"
    clock.advance(seconds=1)
    assert status(client, instance_id) == "stopping"
    clock.advance(seconds=4)
    assert status(client, instance_id) == "exited"
    assert get(client, instance_id)["connectComponentSSH"]["isRunning"] is False
    assert ok(act(client, "start", instance_id)) == {}
    assert status(client, instance_id) == "toStart"
    clock.advance(seconds=1)
    assert status(client, instance_id) == "starting"
    clock.advance(seconds=4)
    assert status(client, instance_id) == "running"
    ok(act(client, "restart", instance_id))
    assert status(client, instance_id) == "toRestart"
    clock.advance(seconds=1)
    assert status(client, instance_id) == "restarting"
    clock.advance(seconds=4)
    item = get(client, instance_id)
    assert item["status"] == "running"
    assert item["stoppedAt"] == item["lastStoppedAt"] != "0"
    assert int(item["lastStartedAt"]) > int(item["startedAt"])


def test_novita_sandbox_delete_removes_then_forgets(client, clock):
    instance_id = create(client)
    clock.advance(seconds=10)
    assert ok(act(client, "delete", instance_id)) == {}
    assert status(client, instance_id) == "toRemove"
    clock.advance(seconds=1)
    assert status(client, instance_id) == "removing"
    clock.advance(seconds=4)
    assert status(client, instance_id) == "removed"
    assert _names(client, status="removed")[0] == ["llama-serve-01"]
    clock.advance(seconds=10)
    assert "not found" in refused(call(client, "GET", "/gpu/instance", instanceId=instance_id), "RESOURCE_NOT_FOUND")
    assert _names(client) == ([], 0)
    assert not SandboxObject.objects.filter(vendor="novita", kind="instance").exists()


def test_novita_sandbox_deletes_in_any_state_but_while_removing(client, clock):
    instance_id = create(client)  # still toCreate
    ok(act(client, "delete", instance_id))
    refused(act(client, "delete", instance_id), "CONFLICT")


@pytest.mark.parametrize(
    ("action", "wait", "prepare"),
    [
        ("start", 10, None),  # running
        ("stop", 0, None),  # toCreate
        ("stop", 4, None),  # pulling
        ("restart", 1, None),  # creating
        ("stop", 10, "stop"),  # toStop
        ("restart", 20, "stop"),  # exited
        ("edit", 0, None),
        ("upgrade", 0, None),
        ("migrate", 0, None),
    ],
)
def test_novita_sandbox_wrong_state_is_a_conflict(client, clock, action, wait, prepare):
    instance_id = create(client)
    clock.advance(seconds=min(wait, 10))
    if prepare:
        ok(act(client, prepare, instance_id))
        clock.advance(seconds=wait - 10)
    extra = UPGRADE if action == "upgrade" else {}
    message = refused(act(client, action, instance_id, **extra), "CONFLICT")
    assert status(client, instance_id) in message


@pytest.mark.parametrize("action", ["start", "stop", "restart", "delete", "edit", "upgrade", "migrate"])
def test_novita_sandbox_unknown_instance_is_a_400_not_found(client, db, action):
    assert "not found" in refused(act(client, action, "0123456789abcdef"), "RESOURCE_NOT_FOUND")
    invalid_field(call(client, "POST", f"/gpu/instance/{action}", {}), "instanceId")


def test_novita_sandbox_get_needs_an_instance_id(client, db):
    invalid_field(call(client, "GET", "/gpu/instance"), "instanceId")


def test_novita_sandbox_no_capacity_refuses_a_start(client, instant):
    instance_id = create(client)
    ok(act(client, "stop", instance_id))
    SandboxFault.objects.create(vendor="novita", no_capacity=True)
    refused(act(client, "start", instance_id), "INSUFFICIENT_RESOURCE")


def test_novita_sandbox_refuses_a_start_the_balance_cannot_run(client, instant):
    instance_id = create(client)
    ok(act(client, "stop", instance_id))
    set_balance_usd(1)
    assert "an hour" in refused(act(client, "start", instance_id), "EXPIRED_OR_BALANCE_NOT_ENOUGH")


def test_novita_sandbox_crashloop_image_runs_with_a_status_error(client, clock):
    instance_id = create(client, PLAIN, imageUrl="docker.io/acme/crashloop:1")
    assert get(client, instance_id)["statusError"] == {"state": "", "message": ""}
    clock.advance(seconds=10)
    item = get(client, instance_id)
    assert (item["status"], item["statusError"]["state"]) == ("running", "CrashLoopBackOff")
    ok(act(client, "stop", instance_id))
    assert get(client, instance_id)["statusError"] == {"state": "", "message": ""}


def test_novita_sandbox_spot_reclaim_switch(client, clock):
    instance_id = create(client, PLAIN, name="reclaim-me", billingMode="spot")
    clock.advance(seconds=10)
    item = get(client, instance_id)
    assert (item["status"], item["spotStatus"], item["spotReclaimTime"]) == ("running", "running", "0")
    clock.advance(seconds=10)
    item = get(client, instance_id)
    assert (item["status"], item["spotStatus"]) == ("running", "notified")
    assert int(item["spotReclaimTime"]) == int((clock.now + dt.timedelta(seconds=10)).timestamp())
    clock.advance(seconds=5)
    assert (get(client, instance_id)["status"], get(client, instance_id)["spotStatus"]) == ("stopping", "reclaiming")
    clock.advance(seconds=5)
    assert (get(client, instance_id)["status"], get(client, instance_id)["spotStatus"]) == ("exited", "terminated")
    ok(act(client, "start", instance_id))  # new spot capacity; the switch fires once
    clock.advance(seconds=60)
    item = get(client, instance_id)
    assert (item["status"], item["spotStatus"], item["spotReclaimTime"]) == ("running", "running", "0")


def test_novita_sandbox_spot_without_the_switch_is_never_reclaimed(client, clock):
    instance_id = create(client, PLAIN, billingMode="spot")
    clock.advance(hours=5)
    assert (get(client, instance_id)["status"], get(client, instance_id)["spotStatus"]) == ("running", "running")


def test_novita_sandbox_migrate_moves_to_a_new_node_and_keeps_the_state(client, clock):
    instance_id = create(client)
    clock.advance(seconds=10)
    ok(act(client, "stop", instance_id))
    clock.advance(seconds=5)
    ok(act(client, "migrate", instance_id))
    assert status(client, instance_id) == "migrating"
    clock.advance(seconds=10)
    assert status(client, instance_id) == "exited"
    SandboxFault.objects.create(vendor="novita", no_capacity=True)
    refused(act(client, "migrate", instance_id), "MIGRATE_INSUFFICIENT_RESOURCE")


# --- edit and upgrade -----------------------------------------------------------------------------------------

UPGRADE = {
    "imageUrl": "docker.io/vllm/vllm-openai:v0.6.0",
    "imageAuthId": "1001",
    "envs": [{"key": "HF_TOKEN", "value": "hf_new"}, {"key": "VLLM_PORT", "value": "8000"}],
    "command": "--model Qwen/Qwen2.5-7B",
    "entrypoint": "python3 -m vllm.entrypoints.openai.api_server",
    "save": True,
    "networkVolume": {"volumeMounts": []},
}


def test_novita_sandbox_edit_replaces_ports_and_grows_the_disk(client, instant):
    instance_id = create(client)
    ports = [{"port": 8000, "type": "http"}, {"port": 9090, "type": "tcp"}, {"port": 8888, "type": "http"}]
    assert ok(act(client, "edit", instance_id, ports=ports, expandRootDisk=50)) == {}
    item = get(client, instance_id)
    assert [(p["port"], p["type"]) for p in item["portMappings"]] == [(8000, "http"), (9090, "tcp")]
    assert item["rootfsSize"] == 150
    assert item["connectComponentJupyter"]["port"] == 8888  # its port listed again stays the tool's
    assert item["status"] == "running"  # at once, no restart [I]
    ok(act(client, "edit", instance_id, expandRootDisk=0))
    assert get(client, instance_id)["portMappings"] == []  # a missing list is an empty one [I]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"expandRootDisk": -10}, "expandRootDisk"),
        ({"expandRootDisk": 1000}, "expandRootDisk"),  # 100 + 1000 > the A100's 1024
        ({"ports": [{"port": 2223, "type": "tcp"}]}, "ports.0.port"),
        ({"ports": [{"port": "80", "type": "tcp"}]}, "ports.0.port"),
        ({"ports": [{"port": 80, "type": "udp"}]}, "ports.0.type"),
        ({"ports": [{"port": 80, "type": "tcp"}, {"port": 80, "type": "http"}]}, "ports.1.port"),
        ({"ports": [{"port": 8888, "type": "tcp"}]}, "ports.0.type"),  # Jupyter's port is http
        ({"ports": [{"port": 9000 + i, "type": "tcp"} for i in range(15)]}, "ports"),  # + Jupyter
    ],
)
def test_novita_sandbox_edit_rule_names_the_field(client, instant, changes, field):
    instance_id = create(client)
    invalid_field(act(client, "edit", instance_id, **changes), field)
    assert get(client, instance_id)["rootfsSize"] == 100


def test_novita_sandbox_upgrade_replaces_the_configuration(client, clock):
    instance_id = create(client)
    clock.advance(seconds=10)
    assert ok(act(client, "upgrade", instance_id, **UPGRADE)) == {}
    assert status(client, instance_id) == "toReset"
    clock.advance(seconds=1)
    assert status(client, instance_id) == "resetting"
    clock.advance(seconds=9)
    item = get(client, instance_id)
    assert item["status"] == "running"
    assert (item["imageUrl"], item["imageAuthId"], item["command"], item["entrypoint"]) == (
        UPGRADE["imageUrl"],
        "1001",
        UPGRADE["command"],
        UPGRADE["entrypoint"],
    )
    assert item["envs"] == UPGRADE["envs"]
    assert item["volumeMounts"] == []  # [] removes every mount [V]
    mounts = {"volumeMounts": [{"type": "network", "id": STORAGE, "mountPath": "/models"}]}
    ok(act(client, "upgrade", instance_id, **{**UPGRADE, "networkVolume": mounts}))
    assert get(client, instance_id)["volumeMounts"][0]["mountPath"] == "/models"


@pytest.mark.parametrize("missing", ["imageUrl", "envs", "command", "entrypoint", "save", "networkVolume"])
def test_novita_sandbox_upgrade_needs_every_field(client, instant, missing):
    instance_id = create(client)
    message = invalid_field(act(client, "upgrade", instance_id, **body_with(UPGRADE, **{missing: DROP})), missing)
    assert "full" in message or "whole" in message


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"imageUrl": ""}, "imageUrl"),
        ({"imageAuthId": "4242"}, "imageAuthId"),
        ({"envs": [{"key": "", "value": "x"}]}, "envs.0.key"),
        ({"command": "c" * 2048}, "command"),
        ({"entrypoint": "e" * 2048}, "entrypoint"),
        ({"save": "yes"}, "save"),
        ({"networkVolume": {}}, "networkVolume.volumeMounts"),
        (
            {"networkVolume": {"volumeMounts": [{"type": "local", "id": STORAGE, "mountPath": "/m"}]}},
            "networkVolume.volumeMounts.0.type",
        ),
        (
            {"networkVolume": {"volumeMounts": [{"type": "network", "id": STORAGE, "mountPath": "m"}]}},
            "networkVolume.volumeMounts.0.mountPath",
        ),
    ],
)
def test_novita_sandbox_upgrade_rule_names_the_field(client, instant, changes, field):
    instance_id = create(client)
    invalid_field(act(client, "upgrade", instance_id, **{**UPGRADE, **changes}), field)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"imageUrl": "docker.io/acme/does-not-exist:2"}, "IMAGE_NOT_FOUND"),
        (
            {"networkVolume": {"volumeMounts": [{"type": "network", "id": EU_STORAGE, "mountPath": "/eu"}]}},
            "NETWORK_STORAGE_UNAVAILABLE",
        ),
        (
            {"networkVolume": {"volumeMounts": [{"type": "network", "id": "nope", "mountPath": "/x"}]}},
            "NETWORK_STORAGE_NOT_FOUND",
        ),
    ],
)
def test_novita_sandbox_upgrade_refusal_uses_novitas_name(client, instant, changes, reason):
    instance_id = create(client)
    refused(act(client, "upgrade", instance_id, **{**UPGRADE, **changes}), reason)
    assert get(client, instance_id)["imageUrl"] == NOTES_CREATE["imageUrl"]


# --- subscriptions ------------------------------------------------------------------------------------------


def _monthly(client, **changes: Any) -> str:
    return create(client, PLAIN, billingMode="monthly", month=1, **changes)


def test_novita_sandbox_refuses_to_release_a_subscription_before_it_ends(client, instant):
    instance_id = _monthly(client)
    end = get(client, instance_id)["endTime"]
    message = refused(act(client, "delete", instance_id), "PREPAID_INSTANCE_NOT_SUPPORT_RELEASE")
    assert end in message
    assert "2030-02-06 10:15:00 UTC" in message


def test_novita_sandbox_subscription_stops_at_its_end_until_renewed(client, instant):
    instance_id = _monthly(client)
    instant.advance(days=30, seconds=1)
    assert status(client, instance_id) == "exited"
    assert "expired" in refused(act(client, "start", instance_id), "EXPIRED_OR_BALANCE_NOT_ENOUGH")
    ok(act(client, "delete", instance_id))  # past its end it may go


def test_novita_sandbox_renew_extends_and_charges(client, instant):
    instance_id = _monthly(client)
    instant.advance(days=31)
    before = int(balance(client)["availableBalance"])
    assert ok(act(client, "renewInstance", instance_id, month=1)) == {}
    assert int(balance(client)["availableBalance"]) == before - 1_890_000  # $189 in 1/10 000 USD
    assert int(get(client, instance_id)["endTime"]) == int((instant.now + dt.timedelta(days=30)).timestamp())
    ok(act(client, "start", instance_id))
    assert status(client, instance_id) == "running"


def test_novita_sandbox_auto_renew_keeps_a_subscription_running(client, instant):
    instance_id = _monthly(client, autoRenew=True, autoRenewMonth=1)
    first_end = int(get(client, instance_id)["endTime"])
    instant.advance(days=30, hours=1)
    item = get(client, instance_id)
    assert (item["status"], int(item["endTime"])) == ("running", first_end + 30 * 86400)
    assert balance(client)["availableBalance"] == str(START - 2 * 1_890_000)


@pytest.mark.parametrize(
    ("setup", "body", "reason"),
    [
        ("onDemand", {"month": 1}, "UNSUPPORTED_BILLING_MODE"),
        ("monthly-creating", {"month": 1}, "CREATING_INSTANCE_NOT_SUPPORT_RENEWAL"),
        ("monthly", {"month": 0}, "VALIDATOR_PARAM"),
        ("monthly", {"month": 12}, "BALANCE_NOT_ENOUGH"),
    ],
)
def test_novita_sandbox_renew_refusals(client, clock, setup, body, reason):
    instance_id = create(client, PLAIN) if setup == "onDemand" else _monthly(client)
    if setup != "monthly-creating":
        clock.advance(seconds=10)
    refused(act(client, "renewInstance", instance_id, **body), reason)


def test_novita_sandbox_converts_on_demand_to_monthly(client, instant):
    instance_id = create(client, PLAIN)
    assert ok(act(client, "transToMonthlyInstance", instance_id, month=1)) == {}
    item = get(client, instance_id)
    assert item["billingMode"] == "monthly"
    assert int(item["endTime"]) == int((instant.now + dt.timedelta(days=30)).timestamp())
    assert balance(client)["availableBalance"] == str(START - 1_890_000)
    refused(act(client, "transToMonthlyInstance", instance_id, month=1), "UNSUPPORTED_BILLING_MODE")


@pytest.mark.parametrize(
    ("base", "changes", "reason"),
    [
        (PLAIN, {"billingMode": "spot"}, "UNSUPPORTED_BILLING_MODE"),
        ({**PLAIN, "productId": "L40S.12c94g", "clusterId": "3"}, {}, "UNSUPPORTED_BILLING_MODE"),
    ],
)
def test_novita_sandbox_conversion_refusals(client, instant, base, changes, reason):
    refused(act(client, "transToMonthlyInstance", create(client, base, **changes), month=1), reason)


def test_novita_sandbox_conversion_waits_for_creation(client, clock):
    refused(
        act(client, "transToMonthlyInstance", create(client, PLAIN), month=1), "CREATING_INSTANCE_NOT_SUPPORT_RENEWAL"
    )


# --- money -------------------------------------------------------------------------------------------------------


def test_novita_sandbox_balance_starts_full(client, db):
    assert balance(client) == {
        "availableBalance": str(START),
        "cashBalance": str(START),
        "creditLimit": "0",
        "pendingCharges": "0",
        "outstandingInvoices": "0",
    }


def test_novita_sandbox_bills_per_second_and_settles_on_the_hour(client, instant):
    create(client)  # an A100 at $1.60/h, from 10:15
    instant.advance(minutes=30)  # 10:45
    assert balance(client) == {
        "availableBalance": str(START - 8_000),
        "cashBalance": str(START),
        "creditLimit": "0",
        "pendingCharges": "8000",
        "outstandingInvoices": "0",
    }
    instant.advance(minutes=30)  # 11:15: 10:15–11:00 is settled
    money = balance(client)
    assert (money["cashBalance"], money["pendingCharges"]) == (str(START - 12_000), "4000")
    assert money["availableBalance"] == str(START - 16_000)
    instant.advance(seconds=9)
    assert money != balance(client)  # by the second


def test_novita_sandbox_billing_starts_at_pulling_and_stops_when_stopped(client, clock):
    instance_id = create(client)  # pulling at 3 s
    clock.advance(seconds=3)
    assert balance(client)["availableBalance"] == str(START)
    clock.advance(seconds=3600)
    assert balance(client)["availableBalance"] == str(START - 16_000)
    ok(act(client, "stop", instance_id))
    clock.advance(seconds=5)  # billed until exited
    spent = START - int(balance(client)["availableBalance"])
    clock.advance(hours=3)
    assert START - int(balance(client)["availableBalance"]) == spent


def test_novita_sandbox_bills_spot_at_the_spot_price(client, instant):
    create(client, PLAIN, billingMode="spot", gpuNum=2)
    instant.advance(hours=1)
    assert balance(client)["availableBalance"] == str(START - 2 * 1_800)  # 18000 / 100 000 USD per GPU-hour


def test_novita_sandbox_charges_a_subscription_up_front(client, instant):
    _monthly(client, gpuNum=2)
    assert balance(client)["availableBalance"] == str(START - 2 * 1_890_000)
    instant.advance(hours=5)
    assert balance(client)["availableBalance"] == str(START - 2 * 1_890_000)  # nothing per second


@pytest.mark.parametrize(
    ("month", "key", "units"), [(3, "sandbox-novita-3", 3_277_500), (2, "sandbox-novita-2", 2_300_000)]
)
def test_novita_sandbox_prices_a_term_from_its_table_or_by_the_month(client, instant, month, key, units):
    # The 3090: $115 a month, 3 months listed at 5% off; 2 months unlisted, so 2 × one month [I].
    create(client, {**PLAIN, "productId": "3090.8c30g"}, key=key, month=month)
    assert balance(client, key=key)["availableBalance"] == str(START - units)


def test_novita_sandbox_keeps_a_released_instances_usage(client, instant):
    instance_id = create(client)
    instant.advance(hours=1)
    ok(act(client, "delete", instance_id))
    instant.advance(hours=1)
    assert _names(client) == ([], 0)
    assert balance(client)["availableBalance"] == str(START - 16_000)


# --- catalog -----------------------------------------------------------------------------------------------------


def test_novita_sandbox_lists_clusters(client, db):
    clusters = ok(call(client, "GET", "/clusters"))["data"]
    assert [c["id"] for c in clusters] == ["1", "3", "5", "8"]
    california = clusters[2]
    assert set(california) == {"id", "name", "availableGpuType", "supportNetworkStorage", "supportInstanceNetwork"}
    assert "A100 SXM 80GB" in california["availableGpuType"]
    assert clusters[3]["supportNetworkStorage"] is False


def test_novita_sandbox_lists_products_as_the_docs_show(client, db):
    products = {p["id"]: p for p in ok(call(client, "GET", "/products"))["data"]}
    assert {"A100-80GB.14c240g", "4090.16c62g"} <= set(products)
    a100 = products["A100-80GB.14c240g"]
    assert set(a100) == {
        "id",
        "name",
        "cpuPerGpu",
        "memoryPerGpu",
        "diskPerGpu",
        "availableDeploy",
        "minRootFS",
        "maxRootFS",
        "minLocalStorage",
        "maxLocalStorage",
        "regions",
        "price",
        "spotPrice",
        "monthlyPrice",
        "billingMethods",
        "inventoryState",
    }
    assert (a100["price"], a100["spotPrice"], a100["regions"]) == ("160000", "80000", ["US-CA-06 (California)"])
    assert a100["monthlyPrice"][0] == {"price": 95000000, "month": 1}
    assert (products["H200-141GB.24c240g"]["availableDeploy"], products["H200-141GB.24c240g"]["inventoryState"]) == (
        False,
        "none",
    )
    assert products["3090.8c30g"]["regions"] == []  # sold everywhere


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"clusterId": 3}, {"4090.16c62g", "H100-80GB.16c200g", "L40S.12c94g", "3090.8c30g"}),
        ({"productName": "rtx"}, {"4090.16c62g", "3090.8c30g", "RTX6000Ada.12c94g"}),
        ({"minCpuPerGpu": 16}, {"4090.16c62g", "H100-80GB.16c200g", "H200-141GB.24c240g"}),
        ({"minMemoryPerGpu": 200}, {"A100-80GB.14c240g", "H100-80GB.16c200g", "H200-141GB.24c240g"}),
        ({"minRootFSSize": 1500}, {"H100-80GB.16c200g", "H200-141GB.24c240g"}),
        ({"billingMethod": "spot"}, {"4090.16c62g", "A100-80GB.14c240g", "H100-80GB.16c200g", "L40S.12c94g"}),
        ({"gpuNum": 8, "clusterId": 8}, {"4090.16c62g", "3090.8c30g", "RTX6000Ada.12c94g"}),
    ],
)
def test_novita_sandbox_filters_products(client, db, params, expected):
    assert {p["id"] for p in ok(call(client, "GET", "/products", **params))["data"]} == expected


@pytest.mark.parametrize(
    ("params", "field"),
    [({"billingMethod": "weekly"}, "billingMethod"), ({"gpuNum": 9}, "gpuNum"), ({"clusterId": 256}, "clusterId")],
)
def test_novita_sandbox_product_query_rule_names_the_field(client, db, params, field):
    invalid_field(call(client, "GET", "/products", **params), field)


def test_novita_sandbox_no_capacity_shows_products_sold_out(client, db):
    SandboxFault.objects.create(vendor="novita", no_capacity=True)
    products = ok(call(client, "GET", "/products"))["data"]
    assert {(p["availableDeploy"], p["inventoryState"]) for p in products} == {(False, "none")}


def test_novita_sandbox_lists_cpu_products(client, db):
    items = ok(call(client, "GET", "/cpu/products"))["data"]
    assert set(items[0]) == {
        "id",
        "name",
        "cpuNum",
        "memorySize",
        "rootfsSize",
        "localVolumeSize",
        "availableDeploy",
        "price",
    }
    assert [p["id"] for p in ok(call(client, "GET", "/cpu/products", productName="16 vcpu"))["data"]] == ["cpu.16c64g"]
    assert ok(call(client, "GET", "/cpu/products", clusterId=42))["data"] == []


# --- network storage --------------------------------------------------------------------------------------------


def test_novita_sandbox_lists_the_accounts_storages(client, db):
    body = ok(call(client, "GET", "/networkstorages/list"))
    assert body["total"] == 2
    notes = next(s for s in body["data"] if s["storageId"] == STORAGE)
    assert notes == {
        "storageId": STORAGE,
        "storageName": "llama-weights",
        "storageSize": 10,
        "clusterId": "5",
        "clusterName": "US-CA-06 (California)",
        "price": "70000",
    }
    assert ok(call(client, "GET", "/networkstorages/list", storageName="EU"))["total"] == 1
    assert [s["storageId"] for s in ok(call(client, "GET", "/networkstorages/list", storageId=STORAGE))["data"]] == [
        STORAGE
    ]
    first = ok(call(client, "GET", "/networkstorages/list", pageNo=1, pageSize=1))
    second = ok(call(client, "GET", "/networkstorages/list", pageNo=2, pageSize=1))
    assert (first["total"], len(first["data"]), len(second["data"])) == (2, 1, 1)
    assert first["data"] != second["data"]


def test_novita_sandbox_creates_updates_and_deletes_a_storage(client, db):
    response = call(
        client, "POST", "/networkstorage/create", {"clusterId": "1", "storageName": "ckpt", "storageSize": 100}
    )
    storage_id = ok(response)
    assert isinstance(storage_id, str)  # a bare string [V]
    assert re.fullmatch(r"[0-9a-f-]{36}", storage_id)
    update = {"storageId": storage_id, "storageName": "checkpoints", "storageSize": 200}
    assert ok(call(client, "POST", "/networkstorage/update", update)) == {}
    [item] = ok(call(client, "GET", "/networkstorages/list", storageId=storage_id))["data"]
    assert (item["storageName"], item["storageSize"], item["clusterName"]) == ("checkpoints", 200, "US-OR-01 (Oregon)")
    assert ok(call(client, "POST", "/networkstorage/delete", {"storageId": storage_id})) == {}
    assert ok(call(client, "GET", "/networkstorages/list", storageId=storage_id))["total"] == 0


@pytest.mark.parametrize(
    ("path", "body", "reason", "field"),
    [
        (
            "create",
            {"clusterId": "8", "storageName": "x", "storageSize": 10},
            "CUR_CLUSTER_NETWORK_STORAGE_NOT_SUPPORT",
            None,
        ),
        ("create", {"clusterId": "1", "storageName": "x", "storageSize": 20000}, "NETWORK_STORAGE_TOO_LARGE", None),
        ("create", {"clusterId": "77", "storageName": "x", "storageSize": 10}, "VALIDATOR_PARAM", "clusterId"),
        ("create", {"clusterId": "1", "storageSize": 10}, "VALIDATOR_PARAM", "storageName"),
        ("create", {"clusterId": "1", "storageName": "x", "storageSize": 5}, "VALIDATOR_PARAM", "storageSize"),
        ("update", {"storageId": STORAGE, "storageName": "x", "storageSize": 5}, "VALIDATOR_PARAM", "storageSize"),
        ("update", {"storageId": "nope", "storageName": "x", "storageSize": 50}, "NETWORK_STORAGE_NOT_FOUND", None),
        ("update", {"storageId": STORAGE, "storageName": "x", "storageSize": 10241}, "NETWORK_STORAGE_TOO_LARGE", None),
        ("delete", {"storageId": "nope"}, "NETWORK_STORAGE_NOT_FOUND", None),
    ],
)
def test_novita_sandbox_storage_refusals(client, db, path, body, reason, field):
    response = call(client, "POST", f"/networkstorage/{path}", body)
    if field:
        invalid_field(response, field)
    else:
        refused(response, reason)


def test_novita_sandbox_refuses_to_delete_a_mounted_storage(client, instant):
    instance_id = create(client)
    message = refused(call(client, "POST", "/networkstorage/delete", {"storageId": STORAGE}), "NETWORK_STORAGE_IN_USE")
    assert instance_id in message
    ok(act(client, "delete", instance_id))
    ok(call(client, "POST", "/networkstorage/delete", {"storageId": STORAGE}))


# --- templates and registry credentials -------------------------------------------------------------------------


def test_novita_sandbox_lists_templates_as_the_docs_show(client, db):
    body = ok(call(client, "GET", "/templates"))
    assert (body["total"], body["pageNum"], body["pageSize"]) == (5, 1, 10)
    assert set(body["template"][0]) == {
        "Id",
        "user",
        "name",
        "readme",
        "logo",
        "type",
        "channel",
        "image",
        "imageAuth",
        "startCommand",
        "rootfsSize",
        "volumes",
        "ports",
        "envs",
        "tools",
        "createTime",
    }
    assert ok(call(client, "GET", "/templates", channel="official"))["total"] == 3
    assert ok(call(client, "GET", "/templates", channel="official,community"))["total"] == 5
    assert ok(call(client, "GET", "/templates", channel="private", isMyCommunity="false"))["total"] == 0
    assert ok(call(client, "GET", "/templates", isMyCommunity="true"))["total"] == 3
    assert [t["Id"] for t in ok(call(client, "GET", "/templates", name="vllm"))["template"]] == ["2"]
    page = ok(call(client, "GET", "/templates", pageNum=2, pageSize=2))
    assert [t["Id"] for t in page["template"]] == ["3", "104"]
    invalid_field(call(client, "GET", "/templates", channel="secret"), "channel")


def test_novita_sandbox_gets_one_template(client, db):
    template = ok(call(client, "GET", "/template", templateId="2"))["template"]
    assert (template["image"], template["ports"][0]) == (
        "docker.io/vllm/vllm-openai:latest",
        {"type": "http", "ports": [8000]},
    )
    refused(call(client, "GET", "/template", templateId="77"), "TEMPLATE_NOT_FOUND")
    refused(call(client, "GET", "/template", templateId=twin.OTHERS_PRIVATE_TEMPLATE), "TEMPLATE_IS_PRIVATE")
    invalid_field(call(client, "GET", "/template"), "templateId")


def test_novita_sandbox_keeps_registry_credentials(client, instant):
    [seeded] = ok(call(client, "GET", "/repository/auths"))["data"]
    assert set(seeded) == {"id", "name", "username", "password"}
    assert seeded["password"]  # as stored: the adapter must not show it
    body = {"name": "registry.example.com", "username": "robot", "password": "s3cret"}
    assert ok(call(client, "POST", "/repository/auth/save", body)) == {}
    saved = ok(call(client, "GET", "/repository/auths"))["data"][1]
    assert saved == {"id": "1002", **body}
    instance_id = create(client, PLAIN, imageAuthId="1002")
    assert instance_id in refused(call(client, "POST", "/repository/auth/delete", {"id": "1002"}), "IMAGE_AUTH_IN_USE")
    ok(act(client, "delete", instance_id))
    assert ok(call(client, "POST", "/repository/auth/delete", {"id": "1002"})) == {}
    refused(call(client, "POST", "/repository/auth/delete", {"id": "1002"}), "RESOURCE_NOT_FOUND")


@pytest.mark.parametrize("key", ["name", "username", "password"])
@pytest.mark.parametrize("value", ["", "x" * 501], ids=["empty", "too-long"])
def test_novita_sandbox_registry_credential_rule_names_the_field(client, db, key, value):
    body = {"name": "registry.example.com", "username": "robot", "password": "s3cret", key: value}
    invalid_field(call(client, "POST", "/repository/auth/save", body), key)
    invalid_field(call(client, "POST", "/repository/auth/delete", {}), "id")


# --- logs and ports --------------------------------------------------------------------------------------------


def test_novita_sandbox_serves_logs_at_the_addresses_it_names(client, clock):
    instance_id = create(client, command="--model x")
    clock.advance(seconds=10)
    log = get(client, instance_id)["connectComponentLog"]
    system = client.get(log["systemLogAddress"])
    assert system.status_code == 200
    assert system["Content-Type"] == "text/plain; charset=utf-8"
    lines = system.content.decode().splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == [
        f"instance {instance_id} queued on cluster US-CA-06 (California)",
        "allocating 1 x A100 SXM 80GB",
        "pulling image docker.io/vllm/vllm-openai:latest",
        "container started",
    ]
    container = client.get(log["instanceLogAddress"]).content.decode()
    assert "starting docker.io/vllm/vllm-openai:latest: --model x" in container
    assert "environment: HF_TOKEN" in container
    assert "hf_xxx" not in container  # env values are never printed


def test_novita_sandbox_log_addresses_take_no_key_and_check_their_token(client, clock):
    instance_id = create(client)
    address = get(client, instance_id)["connectComponentLog"]["systemLogAddress"]
    assert client.get(address, headers={"Authorization": f"Bearer {KEY}"}).status_code == 400
    assert client.get(address.rsplit("/", 1)[0] + "/" + "0" * 32).status_code == 403
    other = create(client, key="sandbox-novita-b")
    assert client.get(address.replace(instance_id, other)).status_code == 403  # a token opens one instance's log
    assert client.get(address.replace("/system/", "/kernel/")).status_code == 404
    assert client.post(address).status_code == 405


def test_novita_sandbox_proxies_http_ports_while_running(client, clock):
    instance_id = create(client)
    item = get(client, instance_id)
    url = item["portMappings"][0]["endpoint"]
    assert client.get(url).status_code == 502  # not running yet
    clock.advance(seconds=10)
    assert ok(client.get(url + "v1/models")) == {
        "instance": instance_id,
        "port": "8000",
        "path": "/v1/models",
        "method": "GET",
    }
    assert client.get(item["connectComponentJupyter"]["address"]).status_code == 200
    assert client.get(item["connectComponentWebTerminal"]["address"]).status_code == 200
    assert client.get(f"/sandbox/novita/proxy/{instance_id}-22/").status_code == 404  # tcp, not proxied
    assert client.get("/sandbox/novita/proxy/0123456789abcdef-8000/").status_code == 404
    ok(act(client, "stop", instance_id))
    clock.advance(seconds=5)
    assert client.get(url).status_code == 502


# --- faults --------------------------------------------------------------------------------------------------------


def test_novita_sandbox_rate_limit_is_a_429_with_retry_after(client, db):
    SandboxFault.objects.create(vendor="novita", rate_limit_rate=1.0, retry_after_seconds=30)
    response = call(client, "GET", "/gpu/instances")
    refused(response, "RATE_LIMIT_EXCEEDED", 429)
    assert response.headers["Retry-After"] == "30"


def test_novita_sandbox_outage_is_a_503(client, db):
    SandboxFault.objects.create(vendor="novita", error_rate=1.0)
    refused(call(client, "GET", "/gpu/instances"), "UNKNOWN", 503)


# --- the real adapter over HTTP ------------------------------------------------------------------------------

LIVE_KEY = "sandbox-novita-live"


def provider(live_server, key: str = LIVE_KEY) -> NovitaProvider:
    return NovitaProvider(api_key=key, base_url=f"{live_server.url}/sandbox/novita", timeout=10)


@pytest.fixture
def adapter(live_server, instant) -> Iterator[NovitaProvider]:
    with provider(live_server) as made:
        yield made


def test_novita_adapter_runs_the_whole_lifecycle_against_the_sandbox(adapter, live_server):
    spec = dict(NOTES_CREATE)
    created = adapter.create(spec)
    instance_id = created.external_id
    assert (created.state, created.vendor_state, created.name) == (RemoteState.RUNNING, "running", "llama-serve-01")
    assert created.price_per_hour == Decimal("1.6")
    # The twin sends the real password, as Novita does; the adapter keeps none of it.
    password = SandboxObject.objects.get(vendor="novita", object_id=instance_id).data["password"]
    assert created.raw["connectComponentSSH"]["password"] == created.raw["connectComponentWebTerminal"]["password"]
    assert created.raw["connectComponentSSH"]["password"] == "******"
    assert password not in json.dumps(created.raw) + json.dumps(created.connection)
    assert created.connection["SSH"].startswith("ssh root@203.0.113.")
    http, tcp = created.endpoints
    assert http.url == f"{live_server.url}/sandbox/novita/proxy/{instance_id}-8000/"
    assert (tcp.host.startswith("203.0.113."), tcp.protocol) == (True, "tcp")

    assert adapter.get(instance_id).state == RemoteState.RUNNING
    assert [r.external_id for r in adapter.list_remotes()] == [instance_id]
    found = adapter.find_by_name("llama-serve-01")
    assert found is not None
    assert found.external_id == instance_id
    assert adapter.find_by_name("nobody") is None

    stopped = adapter.stop(instance_id, spec)
    assert (stopped.state, stopped.vendor_state, stopped.price_per_hour) == (RemoteState.STOPPED, "exited", 0)
    assert adapter.stop(instance_id, spec).state == RemoteState.STOPPED  # a repeat: CONFLICT, already there
    assert NovitaProvider.action_blocked(Action.START, spec=spec, raw=stopped.raw, since=None) == ""
    with pytest.raises(Rejected) as wrong:
        adapter.restart(instance_id, spec)
    assert "CONFLICT" in wrong.value.message
    assert adapter.start(instance_id, spec).state == RemoteState.RUNNING
    assert adapter.restart(instance_id, spec).state == RemoteState.RUNNING

    newer = {
        **spec,
        "ports": "8000/http, 22/tcp, 9090/tcp",
        "rootfsSize": 150,
        "command": "--model x",
        "imageUrl": "docker.io/vllm/vllm-openai:v0.6.0",
        "envs": [{"key": "HF_TOKEN", "value": "hf_new"}],
    }
    updated = adapter.update(instance_id, newer, previous=spec)
    assert updated.state == RemoteState.RUNNING
    raw = updated.raw
    assert (raw["imageUrl"], raw["command"], raw["rootfsSize"]) == (newer["imageUrl"], "--model x", 150)
    assert [m["port"] for m in raw["portMappings"]] == [8000, 22, 9090]
    assert raw["connectComponentJupyter"]["port"] == 8888
    assert raw["volumeMounts"][0]["id"] == STORAGE  # the upgrade sent the volumes again

    logs = adapter.logs(instance_id)  # fetched without the key, or the twin would refuse them
    text = "\n".join(logs.lines)
    assert "container started" in text
    assert "recreating container with image docker.io/vllm/vllm-openai:v0.6.0" in text
    assert "starting docker.io/vllm/vllm-openai:v0.6.0: --model x" in text
    assert "hf_new" not in text

    adapter.delete(instance_id)
    with pytest.raises(NotFound):
        adapter.get(instance_id)
    assert adapter.list_remotes() == []


def test_novita_adapter_subscription_is_charged_up_front_and_kept(adapter):
    assert adapter.verify().balance == Decimal(500)
    spec = {**PLAIN, "billingMode": "monthly", "month": 1}
    created = adapter.create(spec)
    info = adapter.verify()
    assert info.balance == Decimal(500 - 189)
    assert info.summary.startswith("Key accepted: $311.00 available")
    blocked = NovitaProvider.action_blocked(Action.DELETE, spec=spec, raw=created.raw, since=None)
    assert "subscription ends" in blocked
    with pytest.raises(Rejected) as refused_:
        adapter.delete(created.external_id)
    assert "PREPAID_INSTANCE_NOT_SUPPORT_RELEASE" in refused_.value.message


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"clusterId": "1", "networkStorages": []}, "clusterId"),
        ({"productId": "B200.32c256g"}, "productId"),
        (
            {"networkStorages": [{"Id": "0b8f9a52-0000-4000-8000-000000000000", "mountPoint": "/network"}]},
            "networkStorages.0.Id",
        ),
        ({"imageUrl": "docker.io/acme/does-not-exist:1"}, "imageUrl"),
        (
            {"productId": "L40S.12c94g", "clusterId": "3", "networkStorages": [], "billingMode": "monthly", "month": 1},
            "billingMode",
        ),
    ],
)
def test_novita_adapter_sandbox_refusal_lands_on_the_field(adapter, changes, field):
    # Rules only the twin knows (the catalog, the account's volumes): its 400 on the field.
    with pytest.raises(SpecError) as caught:
        adapter.create({**NOTES_CREATE, **changes})
    assert list(caught.value.fields) == [field]
    assert caught.value.status_code == 400


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"productId": "H200-141GB.24c240g"}, "INSUFFICIENT_RESOURCE"),
        ({"billingMode": "monthly", "month": 1}, "BALANCE_NOT_ENOUGH"),
    ],
)
def test_novita_adapter_sandbox_refusal_is_rejected_in_novitas_words(adapter, changes, reason):
    with pytest.raises(Rejected) as caught:
        adapter.create({**NOTES_CREATE, **changes})
    assert reason in caught.value.message
    assert caught.value.status_code == 400


def test_novita_adapter_unknown_instance_is_not_found(adapter):
    with pytest.raises(NotFound) as caught:
        adapter.get("0123456789abcdef")
    assert caught.value.status_code == 400  # RESOURCE_NOT_FOUND is a 400 [V]


def test_novita_adapter_bad_key_is_an_auth_error(live_server, db):
    with provider(live_server, key="sk_not_a_sandbox_key") as made, pytest.raises(AuthError) as caught:
        made.verify()
    assert caught.value.status_code == 401


def test_novita_adapter_rate_limit_is_raised_with_its_wait(adapter):
    SandboxFault.objects.create(vendor="novita", rate_limit_rate=1.0, retry_after_seconds=60)
    with pytest.raises(RateLimited) as caught:
        adapter.list_remotes()
    assert caught.value.retry_after == 60.0


def test_novita_adapter_server_error_is_transient(adapter):
    SandboxFault.objects.create(vendor="novita", error_rate=1.0)
    with pytest.raises(Transient) as caught:
        adapter.create(dict(NOTES_CREATE))
    assert caught.value.status_code == 503


def test_novita_adapter_two_keys_are_two_accounts(live_server, instant):
    with provider(live_server, "sandbox-novita-one") as one, provider(live_server, "sandbox-novita-two") as two:
        made = one.create(dict(NOTES_CREATE))
        assert [r.external_id for r in one.list_remotes()] == [made.external_id]
        assert two.list_remotes() == []
        with pytest.raises(NotFound):
            two.get(made.external_id)
        assert two.find_by_name("llama-serve-01") is None
        instant.advance(hours=1)
        assert (one.verify().balance, two.verify().balance) == (Decimal("498.4"), Decimal(500))


def test_novita_adapter_lists_every_page(adapter, monkeypatch):
    monkeypatch.setattr(twin, "PAGE_MAX", 2)  # the adapter asks for 100 a page; the twin gives 2
    for i in range(5):
        adapter.create({**PLAIN, "name": f"page-{i}"})
    assert sorted(r.name for r in adapter.list_remotes()) == [f"page-{i}" for i in range(5)]


def test_novita_adapter_reads_the_catalog_and_account(adapter):
    offers = {o.sku: o for o in adapter.catalog()}
    assert set(offers) == set(twin.PRODUCT_BY_ID)
    a100 = offers["A100-80GB.14c240g"]
    assert (a100.price_per_hour, a100.available, Decimal(a100.extra["spotPrice"])) == (
        Decimal("1.6"),
        True,
        Decimal("0.8"),
    )
    assert a100.extra["regions"] == ["US-CA-06 (California)"]
    assert offers["H200-141GB.24c240g"].available is False
    metadata = adapter.account_metadata()
    assert [c["id"] for c in metadata["clusters"]] == ["1", "3", "5", "8"]
    assert metadata["registry_auths"] == [{"id": "1001", "name": "ghcr.io"}]  # never the password
    storages = {s["id"]: s for s in metadata["network_storages"]}
    assert (storages[STORAGE]["name"], storages[STORAGE]["cluster_id"]) == ("llama-weights", "5")
    official = [t for t in metadata["templates"] if t["channel"] == "official"]
    assert [t["id"] for t in official] == [t["Id"] for t in twin.TEMPLATES if t["channel"] == "official"]
    # What the form's template picker fills in: the image and ports as the twin lists them,
    # env names without values.
    vllm = next(t for t in official if t["id"] == "2")
    assert (vllm["image"], vllm["ports"]) == (
        twin.TEMPLATE_BY_ID["2"]["image"],
        [{"port": 8000, "type": "http"}, {"port": 22, "type": "tcp"}],
    )
    assert (vllm["env_keys"], vllm["start_command"], vllm["rootfs_gb"]) == (
        ["HF_TOKEN"],
        "--model meta-llama/Llama-3.1-8B-Instruct",
        100,
    )
    assert next(t for t in official if t["id"] == "1")["tools"] == ["Jupyter"]


def test_novita_adapter_reads_a_status_error_as_failed(adapter):
    created = adapter.create({**PLAIN, "imageUrl": "docker.io/acme/crashloop:1"})
    assert created.state == RemoteState.FAILED
    assert "back-off restarting failed container" in created.message


def test_novita_adapter_follows_a_spot_reclaim(live_server, clock):
    with provider(live_server) as made:
        created = made.create({**PLAIN, "name": "reclaim-me", "billingMode": "spot"})
        clock.advance(seconds=20)
        noticed = made.get(created.external_id)
        assert noticed.state == RemoteState.RUNNING
        assert "announced it will reclaim" in noticed.message
        clock.advance(seconds=10)
        reclaimed = made.get(created.external_id)
        assert (reclaimed.state, reclaimed.vendor_state) == (RemoteState.STOPPED, "exited")
        assert "reclaimed" in reclaimed.message


def test_novita_adapter_reads_every_page_of_the_sandbox(adapter, monkeypatch):
    monkeypatch.setattr(twin, "PAGE_MAX", 2)  # the adapter asks for 100 a page: the twin answers 2
    made = [adapter.create({**NOTES_CREATE, "name": f"box-{i}"}).external_id for i in range(5)]
    assert sorted(r.external_id for r in adapter.list_remotes()) == sorted(made)


@pytest.mark.parametrize(("base", "asked"), [(0, ["0", "1", "2"]), (1, ["0", "1", "2", "3"])])
def test_novita_adapter_lists_every_instance_whichever_base_the_twin_counts_from(
    live_server, instant, settings, monkeypatch, base, asked
):
    # Novita's docs say pageNum ">= 0" and cnovita starts at 0; its MCP server starts at 1
    # (page 0 read as 1): the twin serves either, and the adapter reads every row of both.
    from providers.novita import provider as novita_provider

    settings.SANDBOX_NOVITA_PAGE_BASE = base
    monkeypatch.setattr(novita_provider, "PAGE_SIZE", 2)
    with provider(live_server, key="sandbox-novita-pages") as adapter:
        made = [adapter.create({**PLAIN, "name": f"box-{i}"}).external_id for i in range(5)]
        pages: list[str] = []
        real_page = adapter._list_page

        def counted(page: int, filters: Any) -> Any:
            pages.append(str(page))
            return real_page(page, filters)

        monkeypatch.setattr(adapter, "_list_page", counted)
        listing = adapter.listing()
    assert listing.complete
    assert sorted(r.external_id for r in listing.remotes) == sorted(made)
    assert pages == asked  # from 1: page 1 repeats page 0, so 2 and 3 follow; it ends at total
