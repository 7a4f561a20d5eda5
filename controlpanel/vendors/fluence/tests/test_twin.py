"""The Fluence twin through Django's test client: auth, catalog, the seed's requests as
written, every validation rule (422) and business rule (400), the state progression on
a clock moved by hand, money, faults, routing; and through the real adapter over HTTP
against ``live_server`` (what the panel's workers do). Nothing here sleeps to wait."""

from __future__ import annotations

import copy
import datetime as dt
import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from controlpanel.sandbox.core import account_for_key as twin_account
from controlpanel.sandbox.models import SandboxFault, SandboxObject
from controlpanel.vendors.fluence import twin
from providers.base import AuthError, NotFound, RateLimited, Rejected, RemoteState, SpecError, Transient, Unsupported
from providers.fluence import FluenceProvider

ROOT = "/sandbox/fluence"
SOME_ID = "3f0c2a3e-8c1e-4d55-9a53-8f3cf7d0c000"  # fixed, not uuid4(): xdist workers must collect the same test ids
KEY = "sandbox-fluence-alpha"
SEED_PLAN = "075e40d4-2766-4347-833b-205245fe3629"
SEED_VM_PLAN = "e5f00ba8-268e-4279-9672-eabca860f19e"
NOTES_VM_PLAN = "d8312018-c50c-4278-89db-69e40013414d"
BM_PLAN = "6bcfad6e-3003-422e-aadb-a1e82d171f1d"
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI... user@host"
PROVISION = 40  # seconds, for the clock-driven tests

# The seed's container request body, exactly as written there.
SEED_CONTAINER = """{
  "plan_id": "075e40d4-2766-4347-833b-205245fe3629",
  "name": "my-gpu-container",
  "container_settings": {
    "image": "docker.io/fluencelabs/debian-ssh-root:11",
    "expose": [
      {
        "port": "22",
        "protocol": "tcp"
      },
      {
        "port": "80",
        "protocol": "http"
      },
      {
        "port": "443",
        "protocol": "tcp"
      },
      {
        "port": "8000",
        "protocol": "tcp"
      }
    ],
    "environment": [
      {
        "name": "MODEL_PATH",
        "value": "/models/llama"
      }
    ],
    "startup_command": "python3 serve.py --port 8000"
  },
  "constraints": {
    "location": "US"
  },
  "ssh_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI... user@host"
}"""
# The seed's curl example.
SEED_CURL = """{
    "plan_id": "075e40d4-2766-4347-833b-205245fe3629",
    "name": "my-gpu-container",
    "container_settings": {
      "image": "docker.io/fluencelabs/debian-ssh-root:11",
      "expose": [
        { "port": "22", "protocol": "tcp" },
        { "port": "80", "protocol": "http" }
      ]
    },
    "ssh_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI... user@host"
  }"""
# The seed's private-image fragment, placed in a request.
SEED_PRIVATE_SETTINGS = """{
  "image": "ghcr.io/myorg/private-model:v1",
  "expose": [
    { "port": "22", "protocol": "tcp" },
    { "port": "8080", "protocol": "tcp" }
  ],
  "credentials": {
    "host": "ghcr.io",
    "username": "myuser",
    "password": "ghp_xxxxxxxxxxxx"
  }
}"""
# The seed's VM request, exactly as written.
SEED_VM = """{
  "plan_id": "e5f00ba8-268e-4279-9672-eabca860f19e",
  "name": "my-gpu-vm",
  "ssh_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI... user@host",
  "os_image": "Ubuntu Server 22.04"
}"""
# The notes' examples (§2.4, §2.5).
NOTES_CONTAINER = {
    "plan_id": SEED_PLAN,
    "name": "llama-serve-01",
    "container_settings": {
        "image": "docker.io/fluencelabs/debian-ssh-root:11",
        "expose": [
            {"port": "22", "protocol": "tcp"},
            {"port": "80", "protocol": "http"},
            {"port": "8000", "protocol": "tcp"},
        ],
        "environment": [{"name": "MODEL_PATH", "value": "/models/llama"}],
        "startup_command": "python3 serve.py --port 8000",
    },
    "constraints": {"location": "US"},
    "ssh_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI... ops@panel",
}
NOTES_VM = {
    "plan_id": SEED_VM_PLAN,
    "name": "train-a100-01",
    "ssh_key": "ssh-ed25519 AAAAC3... ops@panel",
    "os_image": "Ubuntu Server 22.04",
}
# A container of our own: a custom image, so SSH_PUBKEY rules do not get in the way.
WEB = {
    "plan_id": SEED_PLAN,
    "name": "web-01",
    "container_settings": {
        "image": "docker.io/library/nginx:1.27",
        "expose": [{"port": "80", "protocol": "http"}, {"port": "22", "protocol": "tcp"}],
    },
}
VM_BODY = {"plan_id": NOTES_VM_PLAN, "name": "vm-01", "ssh_key": SSH_KEY, "os_image": "Ubuntu Server 22.04"}
BM_BODY = {"plan_id": BM_PLAN, "name": "bm-01", "ssh_key": SSH_KEY, "os_image": "Debian 12"}


def call(
    client,
    method: str,
    path: str,
    body: Any = None,
    *,
    key: str | None = KEY,
    bearer: bool = False,
    content_type: str = "application/json",
    **headers,
):
    if key:
        headers["Authorization" if bearer else "X-API-KEY"] = f"Bearer {key}" if bearer else key
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs.update(data=body if isinstance(body, str) else json.dumps(body), content_type=content_type)
    return getattr(client, method.lower())(f"{ROOT}{path}", **kwargs)


def create(client, body: Any = None, *, path: str = "/gpu/instances/", key: str = KEY) -> str:
    response = call(client, "POST", path, WEB if body is None else body, key=key)
    assert response.status_code == 201, response.content
    instance_id = response.json()["instance_id"]
    assert str(uuid.UUID(instance_id)) == instance_id
    return instance_id


def get(client, instance_id: str, family: str = "", *, key: str = KEY) -> dict[str, Any]:
    response = call(client, "GET", f"/gpu/instances/{family}{instance_id}", key=key)
    assert response.status_code == 200, response.content
    return response.json()


def errors(response) -> list[dict[str, Any]]:
    """pydantic's 422 ``detail[]``, each entry in FastAPI's shape."""
    assert response.status_code == 422, response.content
    entries = response.json()["detail"]
    assert entries
    for entry in entries:
        assert {"type", "loc", "msg", "input"} <= set(entry)
        assert entry["loc"][0] in ("body", "query")
    return entries


def refused(response, status: int = 400) -> str:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"detail"}
    assert isinstance(body["detail"], str)
    return body["detail"]


class Clock:
    """The twin's clock, moved by hand from a fixed start (14:10 UTC: no hour boundary
    is crossed unless a test crosses one)."""

    START = dt.datetime(2026, 2, 7, 14, 10, tzinfo=dt.UTC)

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = self.START
        monkeypatch.setattr(twin, "_now", lambda: self.now)

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock(monkeypatch, settings, db) -> Clock:
    settings.SANDBOX_PROVISION_SECONDS = PROVISION
    return Clock(monkeypatch)


@pytest.fixture
def instant(settings, db):
    settings.SANDBOX_PROVISION_SECONDS = 0
    return settings


def active(clock: Clock) -> None:
    """Past provisioning and the container's start."""
    clock.advance(seconds=PROVISION * 1.25)


# --- auth and accounts ------------------------------------------------------------------------------

GPU_PATHS = [
    "/gpu/plans/",
    "/gpu/plans/vms",
    "/gpu/plans/baremetal",
    "/gpu/default-images/",
    "/gpu/instances/",
    "/gpu/instances/vms",
    "/gpu/instances/baremetal",
    f"/gpu/instances/{SOME_ID}",
]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-API-KEY": "flu_live_0123456789"},
        {"Authorization": "Basic sandbox-a"},
        {"X-API-KEY": ""},
        {"Authorization": "sandbox-a"},
    ],
    ids=["missing", "not-a-sandbox-key", "wrong-scheme", "empty", "no-scheme"],
)
@pytest.mark.parametrize("path", GPU_PATHS)
def test_fluence_sandbox_refuses_a_bad_key_with_403(client, db, headers, path):
    # fluencelabs/docs docs/build/api/overview.md: "If you omit or supply an invalid key,
    # you'll get a 403 error".
    response = client.get(f"{ROOT}{path}", headers=headers)
    assert response.status_code == 403
    assert response.json() == {"detail": "Invalid API key"}


@pytest.mark.parametrize("path", ["/v2/users/balances", "/v1/users/me"])
def test_fluence_sandbox_account_routes_refuse_a_bad_key_in_their_own_shape(client, db, path):
    response = client.get(f"{ROOT}{path}", headers={"X-API-KEY": "flu_live_0123456789"})
    assert response.status_code == 403  # the overview's example, in the account service's shape
    assert response.json() == {"code": "forbidden", "error": "Auth failed. No such API Key"}


def test_fluence_sandbox_takes_the_key_as_x_api_key_or_bearer(client, instant):
    instance_id = create(client)
    by_bearer = call(client, "GET", f"/gpu/instances/{instance_id}", bearer=True)
    assert by_bearer.status_code == 200
    assert by_bearer.json()["id"] == instance_id


@pytest.mark.parametrize("path", GPU_PATHS)
def test_fluence_sandbox_read_only_key_is_forbidden_on_gpu_routes(client, db, path):
    assert refused(call(client, "GET", path, key="sandbox-readonly-1"), 403).startswith("API key does not have")


def test_fluence_sandbox_read_only_key_reads_its_account(client, db):
    me = call(client, "GET", "/v1/users/me", key="sandbox-readonly-1").json()
    assert "gpu:write" not in me["permissions"]
    assert call(client, "GET", "/v2/users/balances", key="sandbox-readonly-1").status_code == 200


def test_fluence_sandbox_users_me_names_the_account_not_the_key(client, db):
    me = call(client, "GET", "/v1/users/me").json()
    assert set(me) == {"id", "email", "permissions"}
    assert str(uuid.UUID(me["id"])) == me["id"]
    assert "gpu:write" in me["permissions"]
    assert "alpha" not in json.dumps(me)
    # Stable per key, and the same user as the balance's.
    assert call(client, "GET", "/v1/users/me").json() == me
    assert call(client, "GET", "/v2/users/balances").json()[0]["userId"] == me["id"]


def test_fluence_sandbox_keys_are_isolated_accounts(client, instant):
    mine = create(client)
    theirs = create(client, VM_BODY, path="/gpu/instances/vms", key="sandbox-fluence-beta")
    assert [i["id"] for i in call(client, "GET", "/gpu/instances/").json()] == [mine]
    assert call(client, "GET", "/gpu/instances/", key="sandbox-fluence-beta").json() == []
    assert call(client, "GET", "/gpu/instances/vms").json() == []
    assert refused(call(client, "GET", f"/gpu/instances/{mine}", key="sandbox-fluence-beta"), 404)
    assert refused(call(client, "GET", f"/gpu/instances/vms/{theirs}"), 404) == "Instance not found"
    assert refused(call(client, "DELETE", f"/gpu/instances/vms/{theirs}"), 404)
    mine_balance = call(client, "GET", "/v2/users/balances").json()[0]
    theirs_balance = call(client, "GET", "/v2/users/balances", key="sandbox-fluence-beta").json()[0]
    assert mine_balance["userId"] != theirs_balance["userId"]
    assert mine_balance["balance"] == "996.34"  # 1000 - 3 h × 1.22
    assert theirs_balance["balance"] == "996.79"  # 1000 - 3 h × 1.07


# --- catalog ------------------------------------------------------------------------------------------


def test_fluence_sandbox_container_plans_are_a_flat_array_in_the_documented_shape(client, db):
    body = call(client, "GET", "/gpu/plans/").json()
    assert isinstance(body, list)
    by_id = {p["plan"]["id"]: p for p in body}
    assert {SEED_PLAN, "36cdb646-1246-42d8-b2d1-9480ca546536"} <= set(by_id)
    # The notes' example, field for field.
    assert by_id["36cdb646-1246-42d8-b2d1-9480ca546536"] == {
        "plan": {
            "id": "36cdb646-1246-42d8-b2d1-9480ca546536",
            "name": "h200-141gi-sxm-1gpu-16cpu-128gi-120gi",
            "supply": {
                "vcpu": {"count": 16},
                "memory": {"count": 128, "units": "Gi"},
                "storage": {"count": 120, "units": "Gi"},
                "gpu_count": 1,
            },
            "gpu_model": {"vendor": "nvidia", "model": "h200", "vram": "141Gi", "interface": "SXM"},
            "pricing": {"hour": 2.96, "upfront_hours": 3, "currency": "USDC"},
        },
        "attributes": {"location": ["US"]},
    }
    assert "US" in by_id[SEED_PLAN]["attributes"]["location"]  # the seed deploys it with location US
    for item in body:
        plan, supply = item["plan"], item["plan"]["supply"]
        gpu = plan["gpu_model"]
        slug = (
            f"{gpu['model']}-{gpu['vram'].lower()}-{gpu['interface'].lower()}-{supply['gpu_count']}gpu-"
            f"{supply['vcpu']['count']}cpu-{supply['memory']['count']}gi-{supply['storage']['count']}gi"
        )
        assert plan["name"] == slug
        assert plan["pricing"]["upfront_hours"] == 3
        assert all(len(code) == 2 and code.isupper() for code in item["attributes"]["location"])


@pytest.mark.parametrize(("path", "deployment_type"), [("/gpu/plans/vms", "VM"), ("/gpu/plans/baremetal", "BAREMETAL")])
def test_fluence_sandbox_machine_plans_are_grouped_by_model_and_count(client, db, path, deployment_type):
    body = call(client, "GET", path).json()
    assert set(body) == {"data"}
    assert body["data"]
    for group in body["data"]:
        assert set(group) == {"gpu_model", "minimum_price", "availability_by_number"}
        assert group["minimum_price"] == min(e["minimum_price"] for e in group["availability_by_number"])
        for entry in group["availability_by_number"]:
            options = entry["options"]
            assert entry["options_available_total"] == len(options)
            assert entry["minimum_price"] == min(o["pricing"]["hour"] for o in options)
            assert set(entry["locations"]) == {o["location"] for o in options}
            assert set(entry["providers"]) == {o["provider"] for o in options}
            assert entry["providers_available_total"] == len(entry["providers"])
            assert entry["data_center_available_total"] == len(entry["locations"])
            for option in options:
                assert set(option) == {
                    "id",
                    "location",
                    "provider",
                    "vcpu",
                    "memory",
                    "storage",
                    "deployment_type",
                    "pricing",
                    "nvlink",
                    "os_options",
                }
                assert option["deployment_type"] == deployment_type
                assert option["os_options"]


def test_fluence_sandbox_vm_plans_hold_the_seed_and_notes_options(client, db):
    options = {
        o["id"]: o
        for g in call(client, "GET", "/gpu/plans/vms").json()["data"]
        for e in g["availability_by_number"]
        for o in e["options"]
    }
    assert options[NOTES_VM_PLAN] == {
        "id": NOTES_VM_PLAN,
        "location": "us-central-3",
        "provider": "massed-compute",
        "vcpu": {"count": 14},
        "memory": {"count": 93, "units": "Gi"},
        "storage": {"count": 582, "units": "Gi"},
        "deployment_type": "VM",
        "pricing": {"hour": 1.07, "upfront_hours": 3, "currency": "USDC"},
        "nvlink": False,
        "os_options": ["Ubuntu Server 22.04"],
    }
    assert "Ubuntu Server 22.04" in options[SEED_VM_PLAN]["os_options"]


def test_fluence_sandbox_default_images_include_the_seeds(client, db):
    images = call(client, "GET", "/gpu/default-images/").json()
    for image in images:
        assert set(image) == {
            "slug",
            "name",
            "description",
            "image",
            "expose",
            "environment",
            "startup_command",
            "requires_ssh",
        }
        assert all(isinstance(e["port"], str) for e in image["expose"])
    debian = next(i for i in images if i["slug"] == "debian-ssh-11")
    assert (debian["name"], debian["image"]) == ("Debian SSH 11", "docker.io/fluencelabs/debian-ssh-root:11")
    assert debian["requires_ssh"] is True


# --- the seed's and the notes' requests, as written --------------------------------------------------


@pytest.mark.parametrize("raw", [SEED_CONTAINER, SEED_CURL, json.dumps(NOTES_CONTAINER)], ids=["seed", "curl", "notes"])
def test_fluence_sandbox_accepts_the_documented_container_requests(client, instant, raw):
    instance_id = create(client, raw)
    details = get(client, instance_id)
    sent = json.loads(raw)
    assert details["name"] == sent["name"]
    assert details["container_info"]["image"] == sent["container_settings"]["image"]
    assert details["container_info"]["expose"] == sent["container_settings"]["expose"]
    assert details["location"] == "US"


def test_fluence_sandbox_accepts_the_seeds_private_image_and_never_shows_the_password(client, instant):
    body = {"plan_id": SEED_PLAN, "name": "private-01", "container_settings": json.loads(SEED_PRIVATE_SETTINGS)}
    instance_id = create(client, body)
    details = get(client, instance_id)
    assert details["container_info"]["image"] == "ghcr.io/myorg/private-model:v1"
    everything = json.dumps([details, call(client, "GET", "/gpu/instances/").json()])
    assert "ghp_xxxxxxxxxxxx" not in everything
    stored = SandboxObject.objects.get(object_id=instance_id)
    assert "ghp_xxxxxxxxxxxx" not in json.dumps(stored.data)


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("/gpu/instances/vms", SEED_VM),
        ("/gpu/instances/vms", json.dumps(NOTES_VM)),
        ("/gpu/instances/baremetal", json.dumps(BM_BODY)),
    ],
    ids=["seed-vm", "notes-vm", "baremetal"],
)
def test_fluence_sandbox_accepts_the_documented_vm_and_baremetal_requests(client, instant, path, raw):
    instance_id = create(client, raw, path=path)
    details = get(client, instance_id, path.removeprefix("/gpu/instances/") + "/")
    assert (details["name"], details["os_image"]) == (json.loads(raw)["name"], json.loads(raw)["os_image"])
    assert details["availability"] == ("vm" if path.endswith("vms") else "baremetal")


def test_fluence_sandbox_os_image_error_is_the_documented_message(client, instant):
    response = call(client, "POST", "/gpu/instances/vms", {**VM_BODY, "os_image": "sss"})
    assert refused(response) == (
        "Provided OS image sss is not supported for the selected offer. Available OS images: Ubuntu Server 22.04"
    )


def test_fluence_sandbox_port_error_is_the_seeds_422_entry(client, instant):
    body = copy.deepcopy(WEB)
    body["container_settings"]["expose"] = [{"port": "999999999", "protocol": "tcp"}]
    assert errors(call(client, "POST", "/gpu/instances/", body)) == [
        {
            "type": "value_error",
            "loc": ["body", "container_settings", "expose", 0, "port"],
            "msg": "Value error, Port must be between 1 and 65535",
            "input": "999999999",
            "ctx": {"error": {}},
        }
    ]


# --- 422: one test per field rule ---------------------------------------------------------------------


def with_settings(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(WEB)
    for key, value in changes.items():
        if value is None:
            body["container_settings"].pop(key, None)
        else:
            body["container_settings"][key] = value
    return body


def with_body(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(WEB)
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


PORTS = [{"port": str(p), "protocol": "tcp"} for p in range(8000, 8011)]
ENV = [{"name": f"VAR_{i}", "value": "x"} for i in range(65)]
CONTAINER_RULES = [
    # (id, body, loc after "body", type, msg contains)
    ("name-too-long", with_body(name="a" * 26), ["name"], "value_error", "1-25 characters"),
    ("name-upper-case", with_body(name="Web-01"), ["name"], "value_error", "lowercase letters"),
    ("name-leading-hyphen", with_body(name="-web"), ["name"], "value_error", "cannot start or end with a hyphen"),
    ("name-trailing-hyphen", with_body(name="web-"), ["name"], "value_error", "cannot start or end with a hyphen"),
    ("name-underscore", with_body(name="web_01"), ["name"], "value_error", "hyphens"),
    ("name-empty", with_body(name=""), ["name"], "value_error", "1-25 characters"),
    ("name-missing", with_body(name=None), ["name"], "missing", "Field required"),
    ("name-not-a-string", with_body(name=7), ["name"], "string_type", "valid string"),
    ("plan-missing", with_body(plan_id=None), ["plan_id"], "missing", "Field required"),
    ("plan-not-a-uuid", with_body(plan_id="h100-plan"), ["plan_id"], "uuid_parsing", "valid UUID"),
    ("settings-missing", with_body(container_settings=None), ["container_settings"], "missing", "Field required"),
    (
        "settings-not-an-object",
        with_body(container_settings=["x"]),
        ["container_settings"],
        "model_attributes_type",
        "valid dictionary",
    ),
    ("image-missing", with_settings(image=None), ["container_settings", "image"], "missing", "Field required"),
    ("image-empty", with_settings(image=""), ["container_settings", "image"], "value_error", "must not be empty"),
    (
        "image-upper-case",
        with_settings(image="docker.io/Library/nginx"),
        ["container_settings", "image"],
        "value_error",
        "Image must be lowercase",
    ),
    (
        "image-too-long",
        with_settings(image="a" * 256),
        ["container_settings", "image"],
        "value_error",
        "at most 255 characters",
    ),
    ("expose-missing", with_settings(expose=None), ["container_settings", "expose"], "missing", "Field required"),
    ("expose-empty", with_settings(expose=[]), ["container_settings", "expose"], "value_error", "between 1 and 10"),
    ("expose-eleven", with_settings(expose=PORTS), ["container_settings", "expose"], "value_error", "between 1 and 10"),
    ("expose-not-a-list", with_settings(expose="22/tcp"), ["container_settings", "expose"], "list_type", "valid list"),
    (
        "port-zero",
        with_settings(expose=[{"port": "0", "protocol": "tcp"}]),
        ["container_settings", "expose", 0, "port"],
        "value_error",
        "between 1 and 65535",
    ),
    (
        "port-word",
        with_settings(expose=[{"port": "ssh", "protocol": "tcp"}]),
        ["container_settings", "expose", 0, "port"],
        "value_error",
        "between 1 and 65535",
    ),
    (
        "port-integer",
        with_settings(expose=[{"port": 22, "protocol": "tcp"}]),
        ["container_settings", "expose", 0, "port"],
        "string_type",
        "valid string",
    ),
    (
        "port-missing",
        with_settings(expose=[{"protocol": "tcp"}]),
        ["container_settings", "expose", 0, "port"],
        "missing",
        "Field required",
    ),
    (
        "protocol-unknown",
        with_settings(expose=[{"port": "22", "protocol": "sctp"}]),
        ["container_settings", "expose", 0, "protocol"],
        "enum",
        "'tcp', 'udp' or 'http'",
    ),
    (
        "http-not-on-80",
        with_settings(expose=[{"port": "8080", "protocol": "http"}]),
        ["container_settings", "expose", 0, "protocol"],
        "value_error",
        "Only port 80 supports the http protocol",
    ),
    (
        "port-twice",
        with_settings(expose=[{"port": "22", "protocol": "tcp"}, {"port": "22"}]),
        ["container_settings", "expose", 1, "port"],
        "value_error",
        "exposed more than once",
    ),
    (
        "env-sixty-five",
        with_settings(environment=ENV),
        ["container_settings", "environment"],
        "value_error",
        "At most 64",
    ),
    (
        "env-lower-case",
        with_settings(environment=[{"name": "model_path", "value": "x"}]),
        ["container_settings", "environment", 0, "name"],
        "value_error",
        "uppercase letters",
    ),
    (
        "env-leading-digit",
        with_settings(environment=[{"name": "1PATH", "value": "x"}]),
        ["container_settings", "environment", 0, "name"],
        "value_error",
        "start with a letter",
    ),
    (
        "env-value-missing",
        with_settings(environment=[{"name": "PATH"}]),
        ["container_settings", "environment", 0, "value"],
        "missing",
        "Field required",
    ),
    (
        "env-twice",
        with_settings(environment=[{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]),
        ["container_settings", "environment", 1, "name"],
        "value_error",
        "defined more than once",
    ),
    (
        "command-too-long",
        with_settings(startup_command="x" * 2049),
        ["container_settings", "startup_command"],
        "value_error",
        "at most 2048 characters",
    ),
    (
        "registry-host",
        with_settings(credentials={"host": "quay.io", "username": "u", "password": "p"}),
        ["container_settings", "credentials", "host"],
        "value_error",
        "docker.io, ghcr.io",
    ),
    (
        "registry-password-missing",
        with_settings(credentials={"host": "ghcr.io", "username": "u"}),
        ["container_settings", "credentials", "password"],
        "missing",
        "Field required",
    ),
    (
        "location-not-a-country-code",
        with_body(constraints={"location": "us-east"}),
        ["constraints", "location"],
        "value_error",
        "two-letter country code",
    ),
    ("ssh-key-not-a-key", with_body(ssh_key="hello"), ["ssh_key"], "value_error", "Invalid SSH public key"),
    (
        "ssh-key-two-lines",
        with_body(ssh_key=f"{SSH_KEY}\n{SSH_KEY}"),
        ["ssh_key"],
        "value_error",
        "Invalid SSH public key",
    ),
]


@pytest.mark.parametrize(
    ("body", "loc", "type_", "msg"), [r[1:] for r in CONTAINER_RULES], ids=[r[0] for r in CONTAINER_RULES]
)
def test_fluence_sandbox_refuses_each_container_rule_with_422(client, instant, body, loc, type_, msg):
    (entry,) = errors(call(client, "POST", "/gpu/instances/", body))
    assert entry["loc"] == ["body", *loc]
    assert entry["type"] == type_
    assert msg in entry["msg"]
    if type_ == "value_error":
        assert entry["msg"].startswith("Value error, ")
        assert entry["ctx"] == {"error": {}}
    assert not SandboxObject.objects.filter(vendor="fluence", kind="container").exists()


def test_fluence_sandbox_accepts_the_edges_of_each_rule(client, instant):
    body = with_settings(
        expose=[*PORTS[:9], {"port": "80", "protocol": "http"}],
        environment=ENV[:64],
        startup_command="x" * 2048,
        credentials={"host": "docker.io", "username": "u", "password": "p"},
        image="docker.io/" + "a" * 245,
    )
    body["name"] = "a" * 25
    create(client, body)
    create(client, with_body(name="a"))
    create(client, with_settings(expose=[{"port": "65535", "protocol": "udp"}, {"port": "1"}]))


def test_fluence_sandbox_reports_every_problem_at_once(client, instant):
    body = with_body(name="Bad_Name", plan_id=None, ssh_key="nope")
    body["container_settings"]["expose"] = [{"port": "70000", "protocol": "tcp"}]
    locs = [e["loc"] for e in errors(call(client, "POST", "/gpu/instances/", body))]
    assert locs == [
        ["body", "name"],
        ["body", "plan_id"],
        ["body", "container_settings", "expose", 0, "port"],
        ["body", "ssh_key"],
    ]


def test_fluence_sandbox_protocol_defaults_to_tcp(client, instant):
    instance_id = create(client, with_settings(expose=[{"port": "22"}]))
    assert get(client, instance_id)["container_info"]["expose"] == [{"port": "22", "protocol": "tcp"}]


@pytest.mark.parametrize(
    ("raw", "content_type", "type_", "loc"),
    [
        ("[1, 2]", "application/json", "model_attributes_type", ["body"]),
        ("", "application/json", "missing", ["body"]),
        ('{"name": ', "application/json", "json_invalid", ["body", 9]),
        (json.dumps(WEB), "text/plain", "model_attributes_type", ["body"]),
    ],
    ids=["array", "empty", "broken-json", "not-json-content"],
)
def test_fluence_sandbox_refuses_a_body_that_is_not_a_json_object(client, instant, raw, content_type, type_, loc):
    (entry,) = errors(call(client, "POST", "/gpu/instances/", raw, content_type=content_type))
    assert (entry["type"], entry["loc"]) == (type_, loc)


MACHINE_RULES = [
    ("plan-missing", {"plan_id": None}, ["plan_id"], "missing"),
    ("plan-not-a-uuid", {"plan_id": "a100"}, ["plan_id"], "uuid_parsing"),
    ("name-bad", {"name": "My VM"}, ["name"], "value_error"),
    ("ssh-key-missing", {"ssh_key": None}, ["ssh_key"], "missing"),
    ("ssh-key-bad", {"ssh_key": "AAAA"}, ["ssh_key"], "value_error"),
    ("os-image-missing", {"os_image": None}, ["os_image"], "missing"),
    ("os-image-not-a-string", {"os_image": 22.04}, ["os_image"], "string_type"),
]


@pytest.mark.parametrize("path", ["/gpu/instances/vms", "/gpu/instances/baremetal"])
@pytest.mark.parametrize(("changes", "loc", "type_"), [r[1:] for r in MACHINE_RULES], ids=[r[0] for r in MACHINE_RULES])
def test_fluence_sandbox_refuses_each_machine_rule_with_422(client, instant, path, changes, loc, type_):
    body = {**(VM_BODY if path.endswith("vms") else BM_BODY), **changes}
    body = {k: v for k, v in body.items() if v is not None}
    (entry,) = errors(call(client, "POST", path, body))
    assert (entry["loc"], entry["type"]) == (["body", *loc], type_)


# --- 400: business rules -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "plan_id"),
    [
        ("/gpu/instances/", "3f0c2a3e-8c1e-4d55-9a53-8f3cf7d0c002"),
        ("/gpu/instances/", NOTES_VM_PLAN),
        ("/gpu/instances/vms", "3f0c2a3e-8c1e-4d55-9a53-8f3cf7d0c003"),
        ("/gpu/instances/vms", SEED_PLAN),
        ("/gpu/instances/vms", BM_PLAN),
        ("/gpu/instances/baremetal", SEED_VM_PLAN),
    ],
    ids=[
        "unknown-container",
        "vm-option-as-container",
        "unknown-vm",
        "container-plan-as-vm",
        "bm-option-as-vm",
        "vm-option-as-bm",
    ],
)
def test_fluence_sandbox_refuses_a_plan_that_is_not_on_offer(client, instant, path, plan_id):
    body = {"/gpu/instances/": WEB, "/gpu/instances/vms": VM_BODY, "/gpu/instances/baremetal": BM_BODY}[path]
    assert refused(call(client, "POST", path, {**body, "plan_id": plan_id})) == (
        f"Plan {plan_id} is no longer available"
    )


def test_fluence_sandbox_refuses_a_location_the_plan_does_not_have(client, instant):
    message = refused(call(client, "POST", "/gpu/instances/", with_body(constraints={"location": "DE"})))
    assert message == "Location DE is not available for the selected offer. Available locations: US, CA"


def test_fluence_sandbox_picks_the_plans_first_location_when_none_is_asked(client, instant):
    assert get(client, create(client))["location"] == "US"
    assert get(client, create(client, with_body(constraints={"location": "CA"})))["location"] == "CA"
    assert get(client, create(client, with_body(constraints={})))["location"] == "US"


@pytest.mark.parametrize(
    "body",
    [
        with_body(
            ssh_key=SSH_KEY,
            container_settings={**WEB["container_settings"], "environment": [{"name": "SSH_PUBKEY", "value": SSH_KEY}]},
        ),
        with_settings(
            image="docker.io/fluencelabs/debian-ssh-root:11", environment=[{"name": "SSH_PUBKEY", "value": SSH_KEY}]
        ),
    ],
    ids=["with-ssh-key", "with-a-default-image"],
)
def test_fluence_sandbox_refuses_ssh_pubkey_where_the_platform_injects_it(client, instant, body):
    assert "SSH_PUBKEY is reserved" in refused(call(client, "POST", "/gpu/instances/", body))


def test_fluence_sandbox_lets_a_custom_image_take_its_key_from_ssh_pubkey(client, instant):
    body = with_settings(image="ghcr.io/acme/sshd:2", environment=[{"name": "SSH_PUBKEY", "value": SSH_KEY}])
    instance_id = create(client, body)
    assert get(client, instance_id)["container_info"]["environment"] == [{"name": "SSH_PUBKEY", "value": SSH_KEY}]


@pytest.mark.parametrize(
    ("path", "body", "price"),
    [
        ("/gpu/instances/", WEB, "1.22"),
        ("/gpu/instances/vms", VM_BODY, "1.07"),
        ("/gpu/instances/baremetal", BM_BODY, "17.90"),
    ],
    ids=["container", "vm", "baremetal"],
)
def test_fluence_sandbox_refuses_a_deploy_the_balance_cannot_cover(client, instant, path, body, price):
    call(client, "GET", "/v2/users/balances")  # opens the account
    row = SandboxObject.objects.get(vendor="fluence", kind="account")
    row.data["credit"] = str(Decimal(price) * 3 - Decimal("0.01"))
    row.save()
    assert refused(call(client, "POST", path, body)) == "Insufficient balance to deploy instance"
    assert not SandboxObject.objects.filter(vendor="fluence", kind__in=twin.KINDS).exists()
    row.data["credit"] = str(Decimal(price) * 3)
    row.save()
    create(client, body, path=path)
    assert call(client, "GET", "/v2/users/balances").json()[0]["balance"] == "0.00"


# --- containers: state progression ---------------------------------------------------------------------

LIST_KEYS = {"id", "name", "instance_status", "resources", "domain", "location", "created_at", "updated_at"}


def test_fluence_sandbox_container_provisions_then_starts(client, clock):
    instance_id = create(client, SEED_CONTAINER)
    created_at = "2026-02-07T14:10:00.000000Z"

    first = get(client, instance_id)
    assert (first["instance_status"], first["container_status"]) == ("INITIALIZED", "NOT_STARTED")
    assert (first["network"], first["domain"]) == (None, None)
    assert first["created_at"] == first["updated_at"] == created_at
    assert first["resources"] == {
        "supply": {
            "vcpu": {"count": 16},
            "memory": {"count": 120, "units": "Gi"},
            "storage": {"count": 200, "units": "Gi"},
            "gpu_count": 1,
        },
        "gpu_model": {"vendor": "nvidia", "model": "a100", "vram": "80Gi", "interface": "sxm"},  # lower case here
    }
    # The platform injects the key through SSH_PUBKEY and shows it back [V].
    assert first["container_info"] == {
        "image": "docker.io/fluencelabs/debian-ssh-root:11",
        "expose": [
            {"port": "22", "protocol": "tcp"},
            {"port": "80", "protocol": "http"},
            {"port": "443", "protocol": "tcp"},
            {"port": "8000", "protocol": "tcp"},
        ],
        "environment": [{"name": "MODEL_PATH", "value": "/models/llama"}, {"name": "SSH_PUBKEY", "value": SSH_KEY}],
        "startup_command": "python3 serve.py --port 8000",
    }
    assert call(client, "GET", f"/gpu/instances/{instance_id}/logs").json() == []
    assert call(client, "GET", f"/gpu/instances/{instance_id}/events").json() == []

    clock.advance(seconds=PROVISION)
    up = get(client, instance_id)
    assert (up["instance_status"], up["container_status"]) == ("ACTIVE", "NOT_STARTED")
    assert up["network"] == {"domain": None, "forwarded_ports": [], "uri": None}
    assert up["updated_at"] == "2026-02-07T14:10:40.000000Z"
    events = call(client, "GET", f"/gpu/instances/{instance_id}/events").json()
    assert [e.split("] ")[1] for e in events] == ["[Scheduled", "[Pulling"]

    clock.advance(seconds=PROVISION / 4)
    started = get(client, instance_id)
    assert (started["instance_status"], started["container_status"]) == ("ACTIVE", "STARTED")
    assert started["domain"] == started["network"]["domain"] == "provider.a100.pub"
    forwarded = started["network"]["forwarded_ports"]
    assert [(f["port"], f["protocol"]) for f in forwarded] == [("22", "tcp"), ("443", "tcp"), ("8000", "tcp")]
    assert all(30000 <= int(f["external_port"]) < 32768 and isinstance(f["external_port"], str) for f in forwarded)
    assert started["network"]["uri"] == f"https://{instance_id[:8]}.provider.a100.pub"  # port 80 is http
    assert started["updated_at"] == "2026-02-07T14:10:50.000000Z"
    # Same ports on every read.
    assert get(client, instance_id)["network"]["forwarded_ports"] == forwarded
    events = call(client, "GET", f"/gpu/instances/{instance_id}/events").json()
    assert events[-3:] == [
        '[pod]: [Normal] [Pulled] Successfully pulled image "docker.io/fluencelabs/debian-ssh-root:11"',
        "[pod]: [Normal] [Created] Created container service-1",
        "[pod]: [Normal] [Started] Started container service-1",
    ]
    logs = call(client, "GET", f"/gpu/instances/{instance_id}/logs").json()
    pod = logs[0].split("]")[0] + "]"
    assert pod.startswith("[service-1-")
    assert f"{pod} Server listening on 0.0.0.0 port 22." in logs
    assert f"{pod} + python3 serve.py --port 8000" in logs


def test_fluence_sandbox_list_items_have_the_list_shape(client, clock):
    first, second = create(client), create(client, NOTES_CONTAINER)
    items = call(client, "GET", "/gpu/instances/").json()
    assert [i["id"] for i in items] == [first, second]
    assert all(set(i) == LIST_KEYS for i in items)
    assert items[0]["instance_status"] == "INITIALIZED"
    active(clock)
    items = call(client, "GET", "/gpu/instances/").json()
    assert [(i["instance_status"], i["domain"]) for i in items] == [("ACTIVE", "provider.a100.pub")] * 2


def test_fluence_sandbox_names_need_not_be_unique(client, instant):
    create(client)
    create(client)
    assert [i["name"] for i in call(client, "GET", "/gpu/instances/").json()] == ["web-01", "web-01"]


def test_fluence_sandbox_logs_grow_with_age_and_last_takes_the_tail(client, clock):
    instance_id = create(client, SEED_CONTAINER)
    active(clock)
    before = call(client, "GET", f"/gpu/instances/{instance_id}/logs").json()
    clock.advance(seconds=35)
    after = call(client, "GET", f"/gpu/instances/{instance_id}/logs").json()
    assert after[: len(before)] == before
    assert len(after) == len(before) + 3
    assert after[-1].endswith("2026-02-07T14:11:20.000000Z health check ok")
    assert call(client, "GET", f"/gpu/instances/{instance_id}/logs?last=2").json() == after[-2:]
    assert call(client, "GET", f"/gpu/instances/{instance_id}/events?last=1").json() == [
        "[pod]: [Normal] [Started] Started container service-1"
    ]


@pytest.mark.parametrize(("value", "type_"), [("abc", "int_parsing"), ("0", "greater_than_equal")])
@pytest.mark.parametrize("what", ["logs", "events"])
def test_fluence_sandbox_refuses_a_bad_last(client, instant, value, type_, what):
    instance_id = create(client)
    (entry,) = errors(call(client, "GET", f"/gpu/instances/{instance_id}/{what}?last={value}"))
    assert (entry["type"], entry["loc"], entry["input"]) == (type_, ["query", "last"], value)


@pytest.mark.parametrize("what", ["", "/logs", "/events"])
@pytest.mark.parametrize("ref", ["3f0c2a3e-8c1e-4d55-9a53-8f3cf7d0c004", "not-a-uuid"])
def test_fluence_sandbox_unknown_instance_is_404(client, db, what, ref):
    assert refused(call(client, "GET", f"/gpu/instances/{ref}{what}"), 404) == "Instance not found"


# --- terminate ------------------------------------------------------------------------------------------


def test_fluence_sandbox_terminates_only_active_instances_and_keeps_them_listed(client, clock):
    instance_id = create(client)
    assert refused(call(client, "DELETE", f"/gpu/instances/{instance_id}")) == (
        "Only ACTIVE instances can be terminated; this instance is INITIALIZED"
    )
    active(clock)
    response = call(client, "DELETE", f"/gpu/instances/{instance_id}")
    assert (response.status_code, response.content) == (204, b"")
    ended = get(client, instance_id)
    assert (ended["instance_status"], ended["network"], ended["domain"]) == ("ENDED", None, None)
    assert ended["updated_at"] == "2026-02-07T14:10:50.000000Z"
    assert [i["instance_status"] for i in call(client, "GET", "/gpu/instances/").json()] == ["ENDED"]
    assert call(client, "GET", f"/gpu/instances/{instance_id}/events").json()[-1] == (
        "[pod]: [Normal] [Killing] Stopping container service-1"
    )
    assert refused(call(client, "DELETE", f"/gpu/instances/{instance_id}")).endswith("this instance is ENDED")
    # Logs stop where the container stopped.
    logs = call(client, "GET", f"/gpu/instances/{instance_id}/logs").json()
    clock.advance(minutes=5)
    assert call(client, "GET", f"/gpu/instances/{instance_id}/logs").json() == logs


# --- money ----------------------------------------------------------------------------------------------


def balance(client, key: str = KEY) -> dict[str, Any]:
    (entry,) = call(client, "GET", "/v2/users/balances", key=key).json()
    return entry


def test_fluence_sandbox_balance_starts_full_in_the_entitlement_shape(client, db):
    entry = balance(client)
    assert entry == {
        "balance": "1000.00",
        "usage": "0.00",
        "estimatedUsage": "0.00",
        "overage": "0.00",
        "totalDepositedAmount": "1000.00",
        "userId": entry["userId"],
        "featureKey": "gpu_cloud",
        "usageDaysLeft": None,
    }
    assert call(client, "GET", "/v2/users/balances?entitlementKey=gpu_cloud").json() == [entry]
    assert call(client, "GET", "/v2/users/balances?entitlementKey=storage").json() == []


def test_fluence_sandbox_moves_three_hours_on_deploy_charges_hourly_and_refunds_the_reserve(client, clock):
    instance_id = create(client)  # 1.22 an hour
    assert get(client, instance_id)["billing"] == {
        "hourly_usage": 1.22,
        "total_spendings": 1.22,
        "reserved_amount": 2.44,
        "next_billing_period": "2026-02-07T15:00:00Z",
    }
    assert (balance(client)["balance"], balance(client)["usage"]) == ("996.34", "1.22")
    assert balance(client)["estimatedUsage"] == "29.28"  # a day at 1.22
    assert balance(client)["usageDaysLeft"] == 34

    clock.advance(minutes=55)  # 15:05: the 15:00 period is charged, the reserve topped up
    assert get(client, instance_id)["billing"] == {
        "hourly_usage": 1.22,
        "total_spendings": 2.44,
        "reserved_amount": 2.44,
        "next_billing_period": "2026-02-07T16:00:00Z",
    }
    assert (balance(client)["balance"], balance(client)["usage"]) == ("995.12", "2.44")

    assert call(client, "DELETE", f"/gpu/instances/{instance_id}").status_code == 204
    assert get(client, instance_id)["billing"] == {
        "hourly_usage": 0.0,
        "total_spendings": 2.44,
        "reserved_amount": 0.0,
        "next_billing_period": None,
    }
    clock.advance(hours=3)
    assert (balance(client)["balance"], balance(client)["usage"]) == ("997.56", "2.44")  # reserve back, no more charges


# --- update (PUT) ---------------------------------------------------------------------------------------


def put_body(**changes: Any) -> dict[str, Any]:
    body = {
        "name": "web-02",
        "container_settings": {
            "image": "docker.io/library/nginx:1.27",
            "environment": [{"name": "MODE", "value": "blue"}],
            "startup_command": "nginx -g 'daemon off;'",
        },
    }
    body.update(changes)
    return body


def test_fluence_sandbox_put_replaces_the_settings_and_redeploys(client, clock):
    instance_id = create(client, with_body(ssh_key=SSH_KEY))
    active(clock)
    before = get(client, instance_id)
    pod_before = call(client, "GET", f"/gpu/instances/{instance_id}/logs").json()[0].split("]")[0]
    # expose is sent too, and ignored: the original ports stay [V].
    body = put_body()
    body["container_settings"]["expose"] = [{"port": "9999", "protocol": "tcp"}]
    response = call(client, "PUT", f"/gpu/instances/{instance_id}", body)
    assert (response.status_code, response.content) == (204, b"")

    applying = get(client, instance_id)
    assert (applying["instance_status"], applying["container_status"]) == ("ACTIVE", "NOT_STARTED")
    assert applying["name"] == "web-02"
    assert applying["container_info"] == {
        "image": "docker.io/library/nginx:1.27",
        "expose": before["container_info"]["expose"],
        # No ssh_key in the PUT: a full replacement drops it, and with it the injected SSH_PUBKEY.
        "environment": [{"name": "MODE", "value": "blue"}],
        "startup_command": "nginx -g 'daemon off;'",
    }
    assert call(client, "GET", f"/gpu/instances/{instance_id}/logs").json() == []  # the new pod has not started
    assert refused(call(client, "PUT", f"/gpu/instances/{instance_id}", put_body())) == (
        "Instance update is already in progress; wait until it is applied"
    )

    clock.advance(seconds=PROVISION / 2)
    after = get(client, instance_id)
    assert after["container_status"] == "STARTED"
    assert after["network"]["forwarded_ports"] == before["network"]["forwarded_ports"]
    logs = call(client, "GET", f"/gpu/instances/{instance_id}/logs").json()
    assert logs[0].split("]")[0] != pod_before
    assert "+ nginx -g 'daemon off;'" in logs[1]
    events = call(client, "GET", f"/gpu/instances/{instance_id}/events").json()
    assert "[pod]: [Normal] [Killing] Stopping container service-1" in events
    assert (
        events[-3]
        == '[pod]: [Normal] [Pulled] Container image "docker.io/library/nginx:1.27" already present on machine'
    )
    assert [i["name"] for i in call(client, "GET", "/gpu/instances/").json()] == ["web-02"]


def test_fluence_sandbox_put_needs_an_active_started_container(client, clock):
    instance_id = create(client)
    assert refused(call(client, "PUT", f"/gpu/instances/{instance_id}", put_body())) == (
        "Only ACTIVE instances can be updated; this instance is INITIALIZED"
    )
    clock.advance(seconds=PROVISION)  # ACTIVE, the first start still applying
    assert "already in progress" in refused(call(client, "PUT", f"/gpu/instances/{instance_id}", put_body()))
    clock.advance(seconds=PROVISION / 4)
    assert call(client, "PUT", f"/gpu/instances/{instance_id}", put_body()).status_code == 204
    assert refused(call(client, "PUT", f"/gpu/instances/{uuid.uuid4()}", put_body()), 404)


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        (put_body(name="Web"), ["name"]),
        ({"container_settings": {"image": "x"}}, ["name"]),
        (put_body(container_settings={"environment": []}), ["container_settings", "image"]),
        (
            put_body(container_settings={"image": "x", "environment": [{"name": "a", "value": "1"}]}),
            ["container_settings", "environment", 0, "name"],
        ),
        (put_body(ssh_key="nope"), ["ssh_key"]),
    ],
    ids=["name", "name-missing", "image-missing", "env-name", "ssh-key"],
)
def test_fluence_sandbox_put_checks_the_body_like_a_deploy(client, instant, body, loc):
    instance_id = create(client)
    (entry,) = errors(call(client, "PUT", f"/gpu/instances/{instance_id}", body))
    assert entry["loc"] == ["body", *loc]


def test_fluence_sandbox_put_echoing_the_injected_key_fails_like_a_deploy(client, instant):
    """The notes' gotcha: GET shows SSH_PUBKEY; sending it back with ssh_key is refused."""
    instance_id = create(client, with_body(ssh_key=SSH_KEY))
    shown = get(client, instance_id)["container_info"]
    body = {
        "name": "web-01",
        "ssh_key": SSH_KEY,
        "container_settings": {"image": shown["image"], "environment": shown["environment"]},
    }
    assert "SSH_PUBKEY is reserved" in refused(call(client, "PUT", f"/gpu/instances/{instance_id}", body))
    body["container_settings"]["environment"] = [e for e in shown["environment"] if e["name"] != "SSH_PUBKEY"]
    assert call(client, "PUT", f"/gpu/instances/{instance_id}", body).status_code == 204
    assert get(client, instance_id)["container_info"]["environment"] == shown["environment"]


# --- VMs and bare metal ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("family", "body", "availability", "user"),
    [("vms", VM_BODY, "vm", "ubuntu"), ("baremetal", BM_BODY, "baremetal", "debian")],
)
def test_fluence_sandbox_machine_provisions_then_offers_ssh(client, clock, family, body, availability, user):
    instance_id = create(client, body, path=f"/gpu/instances/{family}")
    first = get(client, instance_id, f"{family}/")
    assert "instance_status" not in first  # VMs say "status" [V]
    assert first["status"] == "INITIALIZED"
    assert (first["ssh_connection"], first["network"], first["domain"]) == (None, None, None)
    assert (first["availability"], first["os_image"], first["ssh_key"]) == (availability, body["os_image"], SSH_KEY)

    clock.advance(seconds=PROVISION)
    up = get(client, instance_id, f"{family}/")
    ip = up["domain"]
    assert up["status"] == "ACTIVE"
    assert ip.startswith("216.81.")
    assert up["ssh_connection"] == f"ssh {user}@{ip}"
    assert up["network"] == {"domain": ip, "forwarded_ports": [], "uri": None}
    assert up["billing"]["reserved_amount"] == round(2 * up["billing"]["hourly_usage"], 2)
    (item,) = call(client, "GET", f"/gpu/instances/{family}").json()
    assert set(item) == {"id", "name", "status", "resources", "domain", "location", "created_at", "updated_at"}
    assert (item["status"], item["domain"], item["location"]) == ("ACTIVE", ip, up["location"])
    assert item["resources"]["supply"]["gpu_count"] == (1 if family == "vms" else 8)


@pytest.mark.parametrize(("family", "body"), [("vms", VM_BODY), ("baremetal", BM_BODY)])
def test_fluence_sandbox_machine_rename_is_the_only_update(client, clock, family, body):
    instance_id = create(client, body, path=f"/gpu/instances/{family}")
    rename = {"name": "renamed-01", "os_image": "Ubuntu Server 24.04", "ssh_key": "ssh-rsa AAAAB3 other"}
    response = call(client, "PUT", f"/gpu/instances/{family}/{instance_id}", rename)
    assert (response.status_code, response.content) == (204, b"")
    details = get(client, instance_id, f"{family}/")
    assert (details["name"], details["os_image"], details["ssh_key"]) == ("renamed-01", body["os_image"], SSH_KEY)
    (entry,) = errors(call(client, "PUT", f"/gpu/instances/{family}/{instance_id}", {"name": "Renamed"}))
    assert entry["loc"] == ["body", "name"]
    (entry,) = errors(call(client, "PUT", f"/gpu/instances/{family}/{instance_id}", {}))
    assert (entry["loc"], entry["type"]) == (["body", "name"], "missing")
    assert refused(call(client, "DELETE", f"/gpu/instances/{family}/{instance_id}")).endswith("INITIALIZED")
    clock.advance(seconds=PROVISION)
    assert call(client, "DELETE", f"/gpu/instances/{family}/{instance_id}").status_code == 204
    assert get(client, instance_id, f"{family}/")["status"] == "ENDED"
    assert refused(call(client, "PUT", f"/gpu/instances/{family}/{instance_id}", {"name": "again"})) == (
        "Instance cannot be renamed; it is ENDED"
    )


def test_fluence_sandbox_families_do_not_share_ids(client, instant):
    vm = create(client, VM_BODY, path="/gpu/instances/vms")
    container = create(client)
    assert refused(call(client, "GET", f"/gpu/instances/{vm}"), 404) == "Instance not found"
    assert refused(call(client, "GET", f"/gpu/instances/baremetal/{vm}"), 404) == "Instance not found"
    assert refused(call(client, "GET", f"/gpu/instances/vms/{container}"), 404) == "Instance not found"
    # Logs and events are for containers only.
    assert refused(call(client, "GET", f"/gpu/instances/vms/{vm}/logs"), 404) == "Not Found"
    assert refused(call(client, "GET", f"/gpu/instances/{vm}/events"), 404) == "Instance not found"


# --- faults and simulated failures ---------------------------------------------------------------------


def test_fluence_sandbox_no_capacity_fails_the_deploy_and_refunds_it(client, clock):
    SandboxFault.objects.create(vendor="fluence", no_capacity=True)
    container = create(client)
    vm = create(client, VM_BODY, path="/gpu/instances/vms")
    assert balance(client)["balance"] == "993.13"  # 3 h of each taken while provisioning
    assert call(client, "GET", "/gpu/plans/").json()  # the plans still list
    clock.advance(seconds=PROVISION * 2)
    failed = get(client, container)
    assert (failed["instance_status"], failed["container_status"], failed["network"]) == ("FAILED", "NOT_STARTED", None)
    assert failed["billing"] == {
        "hourly_usage": 0.0,
        "total_spendings": 0.0,
        "reserved_amount": 0.0,
        "next_billing_period": None,
    }
    assert failed["updated_at"] == "2026-02-07T14:10:40.000000Z"
    assert get(client, vm, "vms/")["status"] == "FAILED"
    assert balance(client)["balance"] == "1000.00"
    assert call(client, "GET", f"/gpu/instances/{container}/events").json() == [
        "[pod]: [Warning] [FailedScheduling] 0/4 nodes are available: 4 Insufficient nvidia.com/gpu."
    ]
    assert refused(call(client, "DELETE", f"/gpu/instances/{container}")).endswith("this instance is FAILED")
    assert refused(call(client, "PUT", f"/gpu/instances/vms/{vm}", {"name": "x"})).endswith("FAILED")


def test_fluence_sandbox_crashing_image_stays_not_started_until_fixed(client, clock):
    instance_id = create(client, with_settings(image="docker.io/acme/crashloop:1"))
    active(clock)
    clock.advance(seconds=25)
    details = get(client, instance_id)
    assert (details["instance_status"], details["container_status"]) == ("ACTIVE", "NOT_STARTED")
    assert details["network"] == {"domain": None, "forwarded_ports": [], "uri": None}
    events = call(client, "GET", f"/gpu/instances/{instance_id}/events").json()
    assert events[-1].startswith("[pod]: [Warning] [BackOff] Back-off restarting failed container service-1")
    assert len([e for e in events if "[BackOff]" in e]) == 2
    logs = call(client, "GET", f"/gpu/instances/{instance_id}/logs").json()
    assert len(logs) == 3
    assert logs[0].endswith("exec /usr/local/bin/entrypoint.sh: exec format error")
    # A PUT with a working image fixes it.
    assert call(client, "PUT", f"/gpu/instances/{instance_id}", put_body()).status_code == 204
    clock.advance(seconds=PROVISION / 2)
    assert get(client, instance_id)["container_status"] == "STARTED"
    # The back-offs stop with the old pod.
    assert len([e for e in call(client, "GET", f"/gpu/instances/{instance_id}/events").json() if "[BackOff]" in e]) == 2


def test_fluence_sandbox_missing_image_never_pulls(client, clock):
    instance_id = create(client, with_settings(image="docker.io/acme/does-not-exist:1"))
    active(clock)
    assert get(client, instance_id)["container_status"] == "NOT_STARTED"
    events = call(client, "GET", f"/gpu/instances/{instance_id}/events").json()
    assert events[-2:] == [
        '[pod]: [Warning] [Failed] Failed to pull image "docker.io/acme/does-not-exist:1": manifest unknown',
        "[pod]: [Warning] [Failed] Error: ErrImagePull",
    ]
    assert call(client, "GET", f"/gpu/instances/{instance_id}/logs").json() == []


def test_fluence_sandbox_rate_limit_and_outage_in_fluences_words(client, db):
    SandboxFault.objects.create(vendor="fluence", rate_limit_rate=1.0, retry_after_seconds=17)
    response = call(client, "GET", "/gpu/instances/")
    assert (response.status_code, response["Retry-After"]) == (429, "17")
    assert response.json() == {"detail": "Rate limit exceeded. Try again in 17 seconds."}
    account = call(client, "GET", "/v2/users/balances")
    assert (account.status_code, account["Retry-After"]) == (429, "17")
    assert account.json() == {"code": "too_many_requests", "error": "Too many requests"}
    SandboxFault.objects.filter(vendor="fluence").update(rate_limit_rate=0.0, error_rate=1.0)
    assert refused(call(client, "GET", "/gpu/plans/"), 503) == "Service Unavailable"
    assert call(client, "GET", "/v1/users/me").json() == {
        "code": "service_unavailable",
        "error": "Service temporarily unavailable",
    }


# --- routing: methods, slashes, unknown paths -------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/gpu/plans/", "GET"),
        ("POST", "/gpu/plans/vms", "GET"),
        ("PUT", "/gpu/default-images/", "GET"),
        ("PUT", "/gpu/instances/", "GET, POST"),
        ("DELETE", "/gpu/instances/vms", "GET, POST"),
        ("POST", f"/gpu/instances/{SOME_ID}", "GET, PUT, DELETE"),
        ("PATCH", f"/gpu/instances/baremetal/{SOME_ID}", "GET, PUT, DELETE"),
        ("POST", f"/gpu/instances/{SOME_ID}/logs", "GET"),
    ],
)
def test_fluence_sandbox_wrong_method_is_405(client, db, method, path, allow):
    response = call(client, method, path)
    assert refused(response, 405) == "Method Not Allowed"
    assert response["Allow"] == allow


@pytest.mark.parametrize(
    ("path", "documented"),
    [
        ("/gpu/plans", "/gpu/plans/"),
        ("/gpu/default-images", "/gpu/default-images/"),
        ("/gpu/instances", "/gpu/instances/"),
        ("/gpu/plans/vms/", "/gpu/plans/vms"),
        ("/gpu/instances/vms/", "/gpu/instances/vms"),
        ("/v2/users/balances/", "/v2/users/balances"),
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_fluence_sandbox_wrong_trailing_slash_is_a_307_to_the_documented_path(client, db, path, documented, method):
    response = call(client, method, f"{path}?last=5", {} if method == "POST" else None)
    assert response.status_code == 307
    assert response["Location"] == f"http://testserver{ROOT}{documented}?last=5"
    assert not SandboxObject.objects.filter(vendor="fluence", kind__in=twin.KINDS).exists()
    assert client.get(f"{ROOT}{path}").status_code == 403  # the key is checked first


@pytest.mark.parametrize("path", ["/gpu/nothing", "/gpu/instances/a/b/c", "/v3/users/me", "/gpu/plans/containers"])
def test_fluence_sandbox_unknown_route_is_fastapis_404(client, db, path):
    assert refused(call(client, "GET", path), 404) == "Not Found"


# --- the real adapter over HTTP ------------------------------------------------------------------------------

ADAPTER_KEY = "sandbox-live-adapter"


@pytest.fixture
def adapter(live_server, clock) -> Iterator[FluenceProvider]:
    provider = FluenceProvider(api_key=ADAPTER_KEY, base_url=f"{live_server.url}{ROOT}", timeout=10)
    yield provider
    provider.close()


def test_fluence_adapter_runs_a_containers_whole_life_against_the_sandbox(adapter, clock):
    spec = {"kind": "container", **NOTES_CONTAINER}
    created = adapter.create(copy.deepcopy(spec))
    external_id = created.external_id
    assert str(uuid.UUID(external_id)) == external_id  # a container's id is the bare instance id
    assert (created.state, created.name) == (RemoteState.PROVISIONING, "llama-serve-01")

    provisioning = adapter.get(external_id)
    assert (provisioning.state, provisioning.vendor_state) == (RemoteState.PROVISIONING, "INITIALIZED")
    assert provisioning.price_per_hour == Decimal("1.22")
    assert [(r.external_id, r.state) for r in adapter.list_remotes()] == [(external_id, RemoteState.PROVISIONING)]

    clock.advance(seconds=PROVISION)
    assert adapter.get(external_id).state == RemoteState.UPDATING  # ACTIVE, the container starting
    clock.advance(seconds=PROVISION / 4)
    running = adapter.get(external_id)
    assert (running.state, running.vendor_state) == (RemoteState.RUNNING, "ACTIVE")
    ssh_port = next(f["external_port"] for f in running.raw["network"]["forwarded_ports"] if f["port"] == "22")
    assert running.connection == {
        "HTTP": f"https://{external_id[:8]}.provider.a100.pub",
        "SSH": f"ssh -p {ssh_port} root@provider.a100.pub",
    }
    assert running.primary_url == f"https://{external_id[:8]}.provider.a100.pub"
    assert NOTES_CONTAINER["ssh_key"] not in json.dumps(running.raw)  # the injected SSH_PUBKEY is masked
    assert [r.state for r in adapter.list_remotes()] == [RemoteState.RUNNING]
    found = adapter.find_by_name("llama-serve-01")
    assert found is not None
    assert found.external_id == external_id
    assert adapter.find_by_name("nobody") is None

    logs = adapter.logs(external_id)
    assert any(line.endswith("Server listening on 0.0.0.0 port 22.") for line in logs.lines)
    events = adapter.events(external_id)
    assert [e.kind for e in events] == ["scheduled", "pulling", "pulled", "created", "started"]

    changed = copy.deepcopy(spec)
    changed["container_settings"]["environment"] = [{"name": "MODEL_PATH", "value": "/models/mistral"}]
    updated = adapter.update(external_id, changed, previous=spec)
    assert updated is not None
    assert updated.state == RemoteState.UPDATING  # redeploying
    assert updated.raw["container_info"]["environment"][0] == {"name": "MODEL_PATH", "value": "/models/mistral"}
    with pytest.raises(Rejected) as busy:
        adapter.restart(external_id, changed)
    assert busy.value.message == "Instance update is already in progress; wait until it is applied"
    clock.advance(seconds=PROVISION / 2)
    assert adapter.get(external_id).state == RemoteState.RUNNING
    restarted = adapter.restart(external_id, changed)
    assert restarted is not None
    assert restarted.state == RemoteState.UPDATING
    assert [e.kind for e in adapter.events(external_id)[-2:]] == ["killing", "scheduled"]  # the old pod, the new
    clock.advance(seconds=PROVISION / 2)

    adapter.delete(external_id)
    ended = adapter.get(external_id)
    assert (ended.state, ended.vendor_state, ended.price_per_hour) == (RemoteState.DELETED, "ENDED", 0)
    assert [r.state for r in adapter.list_remotes()] == [RemoteState.DELETED]  # ENDED stays listed
    assert adapter.find_by_name("llama-serve-01") is None
    balance, currency = adapter.balance()
    assert (balance, currency) == (Decimal("998.78"), "USDC")  # one hour paid, the reserve refunded


@pytest.mark.parametrize(
    ("kind", "body", "ssh"),
    [("vm", json.loads(SEED_VM), "ssh ubuntu@"), ("baremetal", BM_BODY, "ssh debian@")],
)
def test_fluence_adapter_runs_a_machines_whole_life_against_the_sandbox(adapter, clock, kind, body, ssh):
    spec = {"kind": kind, **body}
    created = adapter.create(dict(spec))
    family = "vms" if kind == "vm" else "baremetal"
    assert created.external_id.startswith(f"{family}/")
    assert adapter.get(created.external_id).state == RemoteState.PROVISIONING
    clock.advance(seconds=PROVISION)
    running = adapter.get(created.external_id)
    assert running.state == RemoteState.RUNNING
    assert running.connection["SSH"].startswith(ssh)
    renamed = adapter.update(created.external_id, {**spec, "name": "renamed-01"}, previous=spec)
    assert renamed is not None
    assert renamed.name == "renamed-01"
    with pytest.raises(Unsupported):
        adapter.logs(created.external_id)
    with pytest.raises(Unsupported):
        adapter.restart(created.external_id, spec)
    adapter.delete(created.external_id)
    assert adapter.get(created.external_id).state == RemoteState.DELETED
    assert [(r.external_id, r.state) for r in adapter.list_remotes()] == [(created.external_id, RemoteState.DELETED)]


def test_fluence_adapter_reads_the_account_and_the_catalog(adapter):
    info = adapter.verify()
    assert info.balance == Decimal("1000.00")
    assert info.currency == "USDC"
    assert info.username.endswith("@users.sandbox.fluence.dev")
    assert "gpu:write" in info.summary
    offers = adapter.catalog()
    by_sku = {o.sku: o for o in offers}
    assert (by_sku[SEED_PLAN].kind, by_sku[SEED_PLAN].price_per_hour) == ("container", Decimal("1.22"))
    assert by_sku[SEED_VM_PLAN].kind == "vm"
    assert by_sku[BM_PLAN].kind == "baremetal"
    assert len(offers) == len(twin.CONTAINER_PLANS) + len(twin.MACHINE_OPTIONS)
    images = adapter.account_metadata()["default_images"]
    debian = next(i for i in images if i["slug"] == "debian-ssh-11")
    assert (debian["image"], debian["requires_ssh"]) == ("docker.io/fluencelabs/debian-ssh-root:11", True)


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"kind": "container", **with_body(plan_id="h100-plan")}, "plan_id"),
        ({"kind": "container", **with_body(plan_id="3f0c2a3e-8c1e-4d55-9a53-8f3cf7d0c005")}, "plan_id"),
        ({"kind": "container", **with_body(constraints={"location": "DE"})}, "constraints.location"),
        ({"kind": "vm", **VM_BODY, "os_image": "Windows 11"}, "os_image"),
    ],
    ids=["plan-not-a-uuid", "plan-gone", "location", "os-image"],
)
def test_fluence_adapter_sandbox_refusal_lands_on_the_field(adapter, spec, field):
    with pytest.raises(SpecError) as caught:
        adapter.create(spec)
    assert field in caught.value.fields


def test_fluence_adapter_refusals_and_faults_map_to_their_error_classes(adapter, live_server, clock):
    created = adapter.create({"kind": "container", **WEB})
    with pytest.raises(Rejected, match="Only ACTIVE instances can be terminated"):
        adapter.delete(created.external_id)
    with pytest.raises(NotFound):
        adapter.get(str(uuid.uuid4()))
    row = SandboxObject.objects.get(vendor="fluence", kind="account", account=twin_account(ADAPTER_KEY))
    row.data["credit"] = "1.00"
    row.save()
    with pytest.raises(Rejected, match="Insufficient balance to deploy instance"):
        adapter.create({"kind": "container", **WEB})
    with FluenceProvider(api_key="flu_not_a_sandbox_key", base_url=f"{live_server.url}{ROOT}") as stranger:
        with pytest.raises(AuthError) as caught:
            stranger.verify()
        assert caught.value.status_code == 403  # the balance's 403, then the instance list's
    SandboxFault.objects.create(vendor="fluence", rate_limit_rate=1.0, retry_after_seconds=9)
    with pytest.raises(RateLimited) as limited:
        adapter.get(created.external_id)
    assert limited.value.retry_after == 9
    SandboxFault.objects.filter(vendor="fluence").update(rate_limit_rate=0.0, error_rate=1.0)
    with pytest.raises(Transient):
        adapter.get(created.external_id)


def test_fluence_adapter_sees_a_deploy_fail_for_want_of_capacity(adapter, clock):
    SandboxFault.objects.create(vendor="fluence", no_capacity=True)
    created = adapter.create({"kind": "container", **WEB})
    clock.advance(seconds=PROVISION)
    failed = adapter.get(created.external_id)
    assert (failed.state, failed.vendor_state, failed.price_per_hour) == (RemoteState.FAILED, "FAILED", 0)
    assert "FailedScheduling" in adapter.events(created.external_id)[0].message


def test_fluence_no_capacity_event_reads_as_a_capacity_refusal(adapter, clock):
    from providers.neutral import refused_for_capacity

    SandboxFault.objects.create(vendor="fluence", no_capacity=True)
    created = adapter.create({"kind": "container", **WEB})
    clock.advance(seconds=PROVISION)
    assert refused_for_capacity(" ".join(e.message for e in adapter.events(created.external_id)))


def test_fluence_adapter_two_keys_are_two_accounts(live_server, clock):
    base = f"{live_server.url}{ROOT}"
    with (
        FluenceProvider(api_key="sandbox-one", base_url=base) as one,
        FluenceProvider(api_key="sandbox-two", base_url=base) as two,
    ):
        mine = one.create({"kind": "container", **WEB})
        assert [r.external_id for r in one.list_remotes()] == [mine.external_id]
        assert two.list_remotes() == []
        with pytest.raises(NotFound):
            two.get(mine.external_id)
