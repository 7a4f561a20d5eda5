"""Fluence's GPU Cloud API (containers, VMs, bare metal) and its account routes, as a
twin under ``/sandbox/fluence/``: ``gpu/plans/``, ``gpu/plans/vms``, ``gpu/plans/baremetal``,
``gpu/default-images/``, ``gpu/instances/`` (+ ``{id}``, ``{id}/logs``, ``{id}/events``),
``gpu/instances/vms`` and ``gpu/instances/baremetal`` (+ ``{id}``), ``v2/users/balances``
and ``v1/users/me``.

Shapes, rules and messages follow ``shared/vendor-apis/fluence.md`` (§2 endpoints and
examples, §4 errors and money, §5 rules) and the seed ``shared/seeds/003_e6650c0f53784ee2.txt``,
whose example requests, plan ids and images are accepted as written.

Auth: ``X-API-KEY: <key>`` [V], or ``Authorization: Bearer <key>`` (the newer overview's
access tokens) [V]. The GPU routes are a FastAPI service [V: error shapes], so errors are
``{"detail": "..."}`` and request validation answers 422 with pydantic's ``detail[]``
(``type``, ``loc`` starting with ``"body"``, ``msg``, ``input``, ``ctx`` for value errors);
every field problem is reported at once, as pydantic does. Business rules answer 400
``{"detail": "..."}``. The account routes are another service whose errors are
``{"code", "error"}`` (their OpenAPI, as mirrored in api-evangelist/fluence's Postman
collection); ``GET /v2/users/balances`` answers a list of entitlement values
``{balance, usage, estimatedUsage, overage, totalDepositedAmount, userId, featureKey,
usageDaysLeft}`` with amounts as 2-decimal strings, and ``GET /v1/users/me`` answers
``{id, email, permissions}`` (same source; the Fluence docs leave both undocumented).

Choices where the notes leave things open, the strict reading each time [I]:
- a bad or missing key is 403 (fluencelabs/docs ``docs/build/api/overview.md``: "If you
  omit or supply an invalid key, you'll get a 403 error"), ``{"detail": "Invalid API key"}``
  on the GPU routes (the words are ours) and the overview's own example
  ``{"error": "Auth failed. No such API Key"}`` in the account service's ``{code, error}``
  shape; a key starting with ``sandbox-readonly`` carries read-only scopes, which "GPU
  Cloud does not accept" [V]: 403 as well, in other words;
- create answers 201 ``{"instance_id"}`` (the code is not stated); names need not be
  unique (not documented); unknown extra keys are ignored (pydantic's default);
- ports must be JSON strings (pydantic refuses an int for a ``str``); a port+protocol
  twice and an environment name twice are refused; the http-only-on-80 error sits on
  ``protocol``; ``plan_id`` must be a UUID; ``constraints.location`` must be two capital
  letters (422) and one of the plan's locations (400); ``ssh_key`` must be one OpenSSH
  public key line (type, key, optional comment: the seed's "AAAAC3…" is accepted);
- ``SSH_PUBKEY`` in ``environment`` is refused (400) when an ``ssh_key`` is sent or the
  image is one of the default images: the seed says the deploy then fails;
- an unknown instance id is 404 ``{"detail": "Instance not found"}``, an unknown route
  404 ``{"detail": "Not Found"}``, a wrong method 405 ``{"detail": "Method Not Allowed"}``
  with ``Allow``; a path with the wrong trailing slash answers 307 to the documented
  path (FastAPI's ``redirect_slashes``; httpx does not follow it), after the key check;
- DELETE and container PUT need ``ACTIVE`` (400 otherwise); a VM/bare-metal rename is
  refused only once FAILED or ENDED; a PUT while an earlier one (or the first start) is
  still applying is 400; PUT ignores ``expose`` (the original ports stay [V]) and any
  other extra key; a VM/bare-metal PUT changes the name only;
- ``?last=`` must be an integer ≥ 1 (422 on the query otherwise); logs and events exist
  for containers only (``…/vms/{id}/logs`` is an unknown route);
- ENDED comes at once on DELETE; ENDED and FAILED instances stay in the lists.

Simulated behaviour (not in any vendor document; it exercises the panel):
- an instance is INITIALIZED for ``SANDBOX_PROVISION_SECONDS``, then ACTIVE. A
  container then stays ``NOT_STARTED`` (``network.domain`` null, no forwarded ports) for a
  quarter of that time before it is ``STARTED`` with its domain, one forwarded port per
  tcp/udp port and ``network.uri`` when port 80 is http. A container PUT redeploys: a new
  pod, ``NOT_STARTED`` for half the provisioning time, same external ports. VMs and bare
  metal get an IP (``domain``) and ``ssh_connection`` (``ubuntu@``/``debian@``/``root@``
  by OS) when ACTIVE. Everything is computed on read from stored timestamps;
- an image whose name contains ``crashloop`` starts and keeps crashing, one containing
  ``does-not-exist`` never pulls: both stay ACTIVE + ``NOT_STARTED`` with Kubernetes-style
  BackOff events, the case the notes say to surface through ``/events``;
- the ``no_capacity`` fault: new deploys turn FAILED when provisioning ends, with a
  FailedScheduling event and the full 3 h refunded [V: "provisioning failure → full
  refund"]; the plan lists keep showing everything (the marketplace lists offers that a
  provider then cannot fill);
- money: each account starts with ``START_CREDIT`` USDC. A deploy needs 3 h of rent
  (``upfront_hours``) in the balance and moves it to the instance: 1 h charged, 2 h
  reserve. One more hour is charged at every wall-clock hour boundary (UTC) while the
  instance lives, the reserve staying at 2 h; terminating refunds the reserve, a failed
  deploy everything. Hourly top-ups that the balance cannot cover are not simulated;
- logs: the current pod's lines (sshd for ssh images, the startup command, one
  "Listening" per port), then a health line every ``LOG_TICK_SECONDS``; events: pod
  scheduling, pulls, starts, kills and back-offs, each at the moment it happened.

The twin is the vendor, not the panel: it does not import ``providers.fluence``, so the
adapter's rules are checked against an independent copy of the contract.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from functools import wraps
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, path, resolve
from django.utils import timezone

from controlpanel.sandbox.core import Faults, VendorErrors, bearer_key, endpoint, json_body, json_response
from controlpanel.sandbox.models import SandboxObject

VENDOR = "fluence"
# The kind of SandboxObject a create makes (the lost-answer tests look for it by name).
CREATES = "container"
START_CREDIT = Decimal("1000.00")  # USDC in a new sandbox account
# Lifted by bench_refresh while it seeds a fleet: every deploy moves 3 hours of rent out.
BENCH_LIFTED = {"START_CREDIT": Decimal(10**9)}
UPFRONT_HOURS = 3  # moved from the account on deploy [V]
RESERVE_HOURS = 2  # of which kept as reserve [V]
FEATURE_KEY = "gpu_cloud"  # [I] the entitlement's key is not documented
LOG_TICK_SECONDS = 10
MAX_LINES = 1000
READ_ONLY_PREFIX = "sandbox-readonly"
CURRENCY = "USDC"
CONTAINER, VM, BAREMETAL = "container", "vm", "baremetal"
KINDS = (CONTAINER, VM, BAREMETAL)
DEPLOYMENT_TYPE = {VM: "VM", BAREMETAL: "BAREMETAL"}

# §5: 1–25 characters, [a-z0-9-], not starting or ending with "-" [V rule].
NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,23}[a-z0-9])?$")
ENV_NAME_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")
PORT_RE = re.compile(r"^[0-9]{1,5}$")
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
SSH_KEY_RE = re.compile(
    r"^(ssh-ed25519|ssh-rsa|ssh-dss|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com"
    r"|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/=.]+( [^\r\n]*)?$"
)
PROTOCOLS = ("tcp", "udp", "http")
REGISTRY_HOSTS = ("docker.io", "ghcr.io")
MAX_PORTS, MAX_ENV, MAX_IMAGE, MAX_COMMAND = 10, 64, 255, 2048
RESERVED_ENV = "SSH_PUBKEY"


# --- the catalog ---------------------------------------------------------------------------------
# Prices are illustrative. The seed's container plan (075e40d4…) and VM option (e5f00ba8…)
# and the notes' examples (36cdb646…, d8312018…) are here so their requests work as written.


def _container_plan(
    plan_id: str,
    model: str,
    vram: int,
    interface: str,
    gpus: int,
    vcpu: int,
    ram: int,
    disk: int,
    hour: str,
    locations: tuple[str, ...],
) -> dict[str, Any]:
    return {
        "plan": {
            "id": plan_id,
            # The slug as the notes give it: {gpu}-{vram}-{interface}-{n}gpu-{vcpu}cpu-{ram}gi-{disk}gi.
            "name": f"{model}-{vram}gi-{interface.lower()}-{gpus}gpu-{vcpu}cpu-{ram}gi-{disk}gi",
            "supply": {
                "vcpu": {"count": vcpu},
                "memory": {"count": ram, "units": "Gi"},
                "storage": {"count": disk, "units": "Gi"},
                "gpu_count": gpus,
            },
            # Upper-case interface here, lower case elsewhere, as the vendor does [V].
            "gpu_model": {"vendor": "nvidia", "model": model, "vram": f"{vram}Gi", "interface": interface},
            "pricing": {"hour": float(hour), "upfront_hours": UPFRONT_HOURS, "currency": CURRENCY},
        },
        "attributes": {"location": list(locations)},
    }


CONTAINER_PLANS: tuple[dict[str, Any], ...] = (
    _container_plan("075e40d4-2766-4347-833b-205245fe3629", "a100", 80, "SXM", 1, 16, 120, 200, "1.22", ("US", "CA")),
    _container_plan("c63f5cda-ad05-4b2d-9761-aa88eeb7d06f", "a100", 80, "SXM", 2, 32, 240, 400, "2.44", ("US",)),
    _container_plan("58b6d0e2-674e-445c-ba20-51d337c67ece", "h100", 80, "SXM", 1, 20, 180, 400, "2.19", ("US", "FI")),
    _container_plan("1ae8400f-66b4-44cd-a878-486f6b08393d", "h100", 80, "SXM", 8, 160, 1440, 3200, "17.52", ("US",)),
    _container_plan("36cdb646-1246-42d8-b2d1-9480ca546536", "h200", 141, "SXM", 1, 16, 128, 120, "2.96", ("US",)),
    _container_plan("5be2c641-0d55-4c24-9a93-96724c434538", "l40s", 48, "PCIE", 1, 16, 64, 200, "0.89", ("DE", "NL")),
    _container_plan("1fc907d6-ea0b-4b4f-b95a-4c0181c0a933", "rtx4090", 24, "PCIE", 1, 8, 32, 100, "0.39", ("PL", "US")),
)
CONTAINER_PLAN_BY_ID = {p["plan"]["id"]: p for p in CONTAINER_PLANS}

UBUNTU_22, UBUNTU_24, DEBIAN_12 = "Ubuntu Server 22.04", "Ubuntu Server 24.04", "Debian 12"

# (kind, model, vram, interface, gpu_count, option id, location, provider, vcpu, ram, disk, hour, nvlink, os_options)
# Laid out by hand (the formatter skips it): one option per two lines reads as a table; one
# value per line would hide which machine each number belongs to.
MACHINE_OPTIONS: tuple[tuple[Any, ...], ...] = (
    (VM, "a100", "80Gi", "pcie", 1, "d8312018-c50c-4278-89db-69e40013414d", "us-central-3", "massed-compute",
     14, 93, 582, "1.07", False, (UBUNTU_22,)),
    (VM, "a100", "80Gi", "pcie", 1, "e5f00ba8-268e-4279-9672-eabca860f19e", "tokyo-japan-2", "sesterce",
     12, 96, 500, "1.19", False, (UBUNTU_22, UBUNTU_24)),
    (VM, "a100", "80Gi", "pcie", 2, "962702f0-3b7f-47be-bc4c-1759f8aa269e", "dulles-usa-1", "massed-compute",
     28, 186, 1164, "2.14", False, (UBUNTU_22,)),
    (VM, "h100", "80Gi", "sxm", 1, "d8f43bba-e15e-43dc-997f-204df301e80d", "dulles-usa-1", "hyperbolic",
     24, 200, 1000, "2.29", False, (UBUNTU_22, UBUNTU_24, DEBIAN_12)),
    (VM, "h100", "80Gi", "sxm", 8, "527dcd80-082b-404e-832f-595758183358", "helsinki-finland-1", "sesterce",
     192, 1600, 8000, "18.32", True, (UBUNTU_22, UBUNTU_24)),
    (VM, "l40s", "48Gi", "pcie", 1, "4ecbfc86-54f0-4b6d-b391-88204cc12858", "Texas", "cloudzy",
     16, 64, 400, "0.95", False, (UBUNTU_22, DEBIAN_12)),
    (BAREMETAL, "h100", "80Gi", "sxm", 8, "6bcfad6e-3003-422e-aadb-a1e82d171f1d", "dulles-usa-1", "massed-compute",
     224, 2048, 30000, "17.90", True, (UBUNTU_22, UBUNTU_24, DEBIAN_12)),
    (BAREMETAL, "h100", "80Gi", "sxm", 8, "4cbbedb6-8ee5-4d6a-8a56-aafa941865bf", "amsterdam-netherlands-1", "sesterce",
     192, 2048, 24000, "18.64", True, (UBUNTU_22,)),
    (BAREMETAL, "a100", "80Gi", "sxm", 8, "d2e00cbd-ec50-4f2a-85d2-dea1cc762ace", "us-central-3", "massed-compute",
     128, 1024, 12000, "9.52", True, (UBUNTU_22, UBUNTU_24)),
    (BAREMETAL, "h200", "141Gi", "sxm", 8, "ab16bb28-b402-47c6-924a-3fd7db0309dc", "dulles-usa-1", "hyperbolic",
     224, 2048, 30000, "26.40", True, (UBUNTU_22,)),
)  # fmt: skip


def _option_json(row: tuple[Any, ...]) -> dict[str, Any]:
    kind, _m, _v, _i, _n, option_id, location, provider, vcpu, ram, disk, hour, nvlink, os_options = row
    return {
        "id": option_id,
        "location": location,
        "provider": provider,
        "vcpu": {"count": vcpu},
        "memory": {"count": ram, "units": "Gi"},
        "storage": {"count": disk, "units": "Gi"},
        "deployment_type": DEPLOYMENT_TYPE[kind],
        "pricing": {"hour": float(hour), "upfront_hours": UPFRONT_HOURS, "currency": CURRENCY},
        "nvlink": nvlink,
        "os_options": list(os_options),
    }


def _machine_plans(kind: str) -> list[dict[str, Any]]:
    """``{"data": [...]}``'s items for ``/gpu/plans/vms`` or ``/baremetal`` [V shape]: one group
    per GPU model, one entry per GPU count, with the totals worked out from the options."""
    groups: dict[tuple[str, str, str], dict[int, list[tuple[Any, ...]]]] = {}
    for row in MACHINE_OPTIONS:
        if row[0] == kind:
            groups.setdefault(row[1:4], {}).setdefault(row[4], []).append(row)
    out = []
    for (model, vram, interface), by_count in groups.items():
        entries = []
        for count, rows in sorted(by_count.items()):
            options = [_option_json(r) for r in sorted(rows, key=lambda r: Decimal(r[11]))]
            entries.append(
                {
                    "gpu_count": count,
                    "minimum_price": options[0]["pricing"]["hour"],
                    "options_available_total": len(options),
                    "providers_available_total": len({o["provider"] for o in options}),
                    "data_center_available_total": len({o["location"] for o in options}),
                    "locations": sorted({o["location"] for o in options}),
                    "providers": sorted({o["provider"] for o in options}),
                    "options": options,
                }
            )
        out.append(
            {
                "gpu_model": {"vendor": "nvidia", "model": model, "vram": vram, "interface": interface},
                "minimum_price": min(e["minimum_price"] for e in entries),
                "availability_by_number": entries,
            }
        )
    return out


def _machine_option(kind: str, plan_id: str) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
    for row in MACHINE_OPTIONS:
        if row[0] == kind and row[5] == plan_id:
            return row, _option_json(row)
    return None


# §2.3 [V shape]; the first is the seed's.
SSH_PORT = {"port": "22", "protocol": "tcp"}
DEFAULT_IMAGES: tuple[dict[str, Any], ...] = (
    {
        "slug": "debian-ssh-11",
        "name": "Debian SSH 11",
        "description": "Debian 11 with an SSH server; log in as root.",
        "image": "docker.io/fluencelabs/debian-ssh-root:11",
        "expose": [SSH_PORT],
        "environment": [],
        "startup_command": None,
        "requires_ssh": True,
    },
    {
        "slug": "ubuntu-ssh-22-04",
        "name": "Ubuntu SSH 22.04",
        "description": "Ubuntu 22.04 with CUDA and an SSH server.",
        "image": "docker.io/fluencelabs/ubuntu-ssh-root:22.04",
        "expose": [SSH_PORT],
        "environment": [],
        "startup_command": None,
        "requires_ssh": True,
    },
    {
        "slug": "pytorch-jupyter",
        "name": "PyTorch + Jupyter",
        "description": "PyTorch 2.4, CUDA 12.4 and JupyterLab.",
        "image": "quay.io/jupyter/pytorch-notebook:cuda12-latest",
        "expose": [{"port": "8888", "protocol": "tcp"}],
        "environment": [{"name": "JUPYTER_ENABLE_LAB", "value": "yes"}],
        "startup_command": None,
        "requires_ssh": False,
    },
    {
        "slug": "vllm-openai",
        "name": "vLLM OpenAI server",
        "description": "An OpenAI-compatible LLM server on port 8000.",
        "image": "docker.io/vllm/vllm-openai:v0.6.3",
        "expose": [{"port": "8000", "protocol": "tcp"}],
        "environment": [{"name": "HF_HOME", "value": "/root/.cache/huggingface"}],
        "startup_command": "vllm serve Qwen/Qwen2.5-7B-Instruct --port 8000",
        "requires_ssh": None,
    },
    {
        "slug": "nginx",
        "name": "NGINX",
        "description": None,
        "image": "docker.io/library/nginx:1.27",
        "expose": [{"port": "80", "protocol": "http"}],
        "environment": [],
        "startup_command": None,
        "requires_ssh": False,
    },
)
DEFAULT_IMAGE_NAMES = frozenset(i["image"] for i in DEFAULT_IMAGES)
SSH_IMAGES = frozenset(i["image"] for i in DEFAULT_IMAGES if i["requires_ssh"])


# --- errors in Fluence's words -----------------------------------------------------------------------


def detail(status: int, message: str, headers: dict[str, str] | None = None) -> HttpResponse:
    """FastAPI's ``HTTPException`` body [V]."""
    return json_response({"detail": message}, status=status, headers=headers)


def unprocessable(errors: list[dict[str, Any]]) -> HttpResponse:
    return json_response({"detail": errors}, status=422)


def _json_invalid(message: str) -> HttpResponse:
    # FastAPI's answer to a body that is not JSON: the position and json's own message.
    position = re.search(r"\(char (\d+)\)", message)
    error = message.split(":", 1)[0]
    loc = ["body", int(position.group(1)) if position else 0]
    return unprocessable(
        [{"type": "json_invalid", "loc": loc, "msg": "JSON decode error", "input": {}, "ctx": {"error": error}}]
    )


GPU_ERRORS = VendorErrors(
    # fluencelabs/docs docs/build/api/overview.md: an omitted or invalid key is a 403.
    unauthorized=lambda: detail(403, "Invalid API key"),
    unavailable=lambda: detail(503, "Service Unavailable"),
    rate_limited=lambda seconds: detail(
        429, f"Rate limit exceeded. Try again in {seconds} seconds.", headers={"Retry-After": str(seconds)}
    ),
    bad_json=_json_invalid,
)


def _account_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> HttpResponse:
    """The account service's ``ErrorBody`` ``{code, error}``."""
    return json_response({"code": code, "error": message}, status=status, headers=headers)


ACCOUNT_ERRORS = VendorErrors(
    # 403 with the example body of fluencelabs/docs docs/build/api/overview.md (revisions
    # 3f4e419, 76ef658); code "forbidden", which api-evangelist/fluence's
    # errors/fluence-error-codes.yml (from Fluence's OpenAPI) says "also returned for a
    # missing/invalid X-API-KEY".
    unauthorized=lambda: _account_error(403, "forbidden", "Auth failed. No such API Key"),
    unavailable=lambda: _account_error(503, "service_unavailable", "Service temporarily unavailable"),
    rate_limited=lambda seconds: _account_error(
        429, "too_many_requests", "Too many requests", headers={"Retry-After": str(seconds)}
    ),
    bad_json=lambda _detail: _account_error(400, "bad_request", "Wrong parameters"),
)


def fluence_key(request: HttpRequest) -> str | None:
    """``X-API-KEY`` [V], else an ``Authorization: Bearer`` token [V, newer overview]."""
    return request.headers.get("X-API-KEY", "").strip() or bearer_key(request)


gpu_api = endpoint(VENDOR, key=fluence_key, errors=GPU_ERRORS)
account_api = endpoint(VENDOR, key=fluence_key, errors=ACCOUNT_ERRORS)


def _read_only(request: HttpRequest) -> bool:
    return (fluence_key(request) or "").startswith(READ_ONLY_PREFIX)


def _forbidden() -> HttpResponse:
    return detail(403, "API key does not have the required scopes: GPU Cloud needs a key with write access")


def _allow(request: HttpRequest, *methods: str) -> HttpResponse | None:
    """405 as FastAPI words it, unless the method is one of ``methods`` (HEAD goes with GET)."""
    method = "GET" if request.method == "HEAD" else request.method
    if method in methods:
        return None
    return detail(405, "Method Not Allowed", headers={"Allow": ", ".join(methods)})


def gpu_route(*methods: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """A GPU Cloud view: the key checked by ``gpu_api``, read-only scopes refused, and any
    method but ``methods`` answered 405, before the view runs."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if _read_only(request):
                return _forbidden()
            return _allow(request, *methods) or view(request, *args, **kwargs)

        return gpu_api(guarded)

    return decorator


# --- request validation: pydantic's 422 entries --------------------------------------------------------

_ABSENT = object()
Loc = tuple[Any, ...]


class Problems:
    """Collects pydantic-style error entries; like pydantic, reports every one at once."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def __bool__(self) -> bool:
        return bool(self.items)

    def add(self, type_: str, loc: Loc, msg: str, value: Any, ctx: dict[str, Any] | None = None) -> None:
        item = {"type": type_, "loc": ["body", *loc], "msg": msg, "input": value}
        if ctx is not None:
            item["ctx"] = ctx
        self.items.append(item)

    def value_error(self, loc: Loc, msg: str, value: Any) -> None:
        # The seed's example: type value_error, "Value error, ..." and an empty ctx.error.
        self.add("value_error", loc, f"Value error, {msg}", value, {"error": {}})

    def missing(self, loc: Loc, parent: Any) -> None:
        self.add("missing", loc, "Field required", parent)

    def _typed(self, obj: dict[str, Any], key: str, loc: Loc, *, required: bool, expected: type) -> Any:
        """``obj[key]`` if it is an ``expected``; else pydantic's entry for what is wrong."""
        if key not in obj:
            if required:
                self.missing(loc, obj)
            return None
        value = obj[key]
        if value is None and not required:
            return None
        if isinstance(value, expected):
            return value
        if expected is dict:
            self.not_an_object(loc, value)
        elif expected is list:
            self.add("list_type", loc, "Input should be a valid list", value)
        else:
            self.add("string_type", loc, "Input should be a valid string", value)
        return None

    def string(self, obj: dict[str, Any], key: str, loc: Loc, *, required: bool) -> str | None:
        return self._typed(obj, key, loc, required=required, expected=str)

    def mapping(self, obj: dict[str, Any], key: str, loc: Loc, *, required: bool) -> dict[str, Any] | None:
        return self._typed(obj, key, loc, required=required, expected=dict)

    def listing(self, obj: dict[str, Any], key: str, loc: Loc, *, required: bool) -> list[Any] | None:
        return self._typed(obj, key, loc, required=required, expected=list)

    def not_an_object(self, loc: Loc, value: Any) -> None:
        self.add(
            "model_attributes_type", loc, "Input should be a valid dictionary or object to extract fields from", value
        )


def _read_body(request: HttpRequest) -> Any:
    """The decoded body as FastAPI sees it: JSON when the content type is JSON or absent,
    the raw text otherwise, ``_ABSENT`` when there is none."""
    if not request.body:
        return _ABSENT
    content_type = request.headers.get("Content-Type", "")
    if content_type:
        main = content_type.split(";", 1)[0].strip().lower()
        if main != "application/json" and not main.endswith("+json"):
            return request.body.decode("utf-8", "replace")
    return json_body(request)  # a JSONBodyError becomes GPU_ERRORS.bad_json


def _check_object(body: Any, problems: Problems) -> dict[str, Any] | None:
    if body is _ABSENT:
        problems.missing((), None)
        return None
    if not isinstance(body, dict):
        problems.not_an_object((), body)
        return None
    return body


def _check_name(problems: Problems, body: dict[str, Any]) -> str | None:
    name = problems.string(body, "name", ("name",), required=True)
    if name is not None and not NAME_RE.match(name):
        problems.value_error(
            ("name",),
            "Name must be 1-25 characters long, contain only lowercase letters, digits or hyphens, "
            "and cannot start or end with a hyphen",
            name,
        )
        return None
    return name


def _check_plan_id(problems: Problems, body: dict[str, Any]) -> str | None:
    plan_id = problems.string(body, "plan_id", ("plan_id",), required=True)
    if plan_id is not None and not UUID_RE.match(plan_id):
        problems.add("uuid_parsing", ("plan_id",), "Input should be a valid UUID", plan_id)
        return None
    return str(uuid.UUID(plan_id)) if plan_id is not None else None


def _check_ssh_key(problems: Problems, body: dict[str, Any], *, required: bool) -> str | None:
    key = problems.string(body, "ssh_key", ("ssh_key",), required=required)
    if key is not None and not SSH_KEY_RE.match(key.strip()):
        problems.value_error(("ssh_key",), "Invalid SSH public key: expected one OpenSSH public key line", key)
        return None
    return key.strip() if key is not None else None


def _check_expose(problems: Problems, settings_: dict[str, Any]) -> list[dict[str, str]]:
    loc = ("container_settings", "expose")
    items = problems.listing(settings_, "expose", loc, required=True)
    if items is None:
        return []
    if not 1 <= len(items) <= MAX_PORTS:
        problems.value_error(loc, f"You can expose between 1 and {MAX_PORTS} ports", items)
    out, seen = [], set()
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            problems.not_an_object((*loc, i), item)
            continue
        port = problems.string(item, "port", (*loc, i, "port"), required=True)
        protocol = item.get("protocol", "tcp")  # the documented default
        if protocol not in PROTOCOLS:
            problems.add(
                "enum",
                (*loc, i, "protocol"),
                "Input should be 'tcp', 'udp' or 'http'",
                protocol,
                {"expected": "'tcp', 'udp' or 'http'"},
            )
            protocol = None
        if port is not None and (not PORT_RE.match(port) or not 1 <= int(port) <= 65535):
            problems.value_error((*loc, i, "port"), "Port must be between 1 and 65535", port)
            port = None
        if port is None or protocol is None:
            continue
        port = str(int(port))
        if protocol == "http" and port != "80":
            problems.value_error((*loc, i, "protocol"), "Only port 80 supports the http protocol", protocol)
            continue
        if (port, protocol) in seen:
            problems.value_error((*loc, i, "port"), f"Port {port}/{protocol} is exposed more than once", port)
            continue
        seen.add((port, protocol))
        out.append({"port": port, "protocol": protocol})
    return out


def _check_environment(problems: Problems, settings_: dict[str, Any]) -> list[dict[str, str]]:
    loc = ("container_settings", "environment")
    items = problems.listing(settings_, "environment", loc, required=False)
    if items is None:
        return []
    if len(items) > MAX_ENV:
        problems.value_error(loc, f"At most {MAX_ENV} environment variables are allowed", items)
    out, seen = [], set()
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            problems.not_an_object((*loc, i), item)
            continue
        name = problems.string(item, "name", (*loc, i, "name"), required=True)
        value = problems.string(item, "value", (*loc, i, "value"), required=True)
        if name is not None and not ENV_NAME_RE.match(name):
            problems.value_error(
                (*loc, i, "name"),
                "Environment variable name must contain only uppercase letters, digits and underscores "
                "and start with a letter",
                name,
            )
            continue
        if name is not None and name in seen:
            problems.value_error((*loc, i, "name"), f"Environment variable {name} is defined more than once", name)
            continue
        if name is not None and value is not None:
            seen.add(name)
            out.append({"name": name, "value": value})
    return out


def _check_credentials(problems: Problems, settings_: dict[str, Any]) -> dict[str, str] | None:
    loc = ("container_settings", "credentials")
    creds = problems.mapping(settings_, "credentials", loc, required=False)
    if creds is None:
        return None
    host = problems.string(creds, "host", (*loc, "host"), required=True)
    username = problems.string(creds, "username", (*loc, "username"), required=True)
    password = problems.string(creds, "password", (*loc, "password"), required=True)
    if host is not None and host not in REGISTRY_HOSTS:
        problems.value_error((*loc, "host"), f"Registry host must be one of: {', '.join(REGISTRY_HOSTS)}", host)
        return None
    if host is None or username is None or password is None:
        return None
    return {"host": host, "username": username, "password": password}


def _check_container(body: Any, *, update: bool) -> tuple[Problems, dict[str, Any]]:
    """The create body of §2.4, or (``update``) the PUT body of §2.8, checked field by field."""
    problems = Problems()
    obj = _check_object(body, problems)
    if obj is None:
        return problems, {}
    spec: dict[str, Any] = {"name": _check_name(problems, obj)}
    if not update:
        spec["plan_id"] = _check_plan_id(problems, obj)
    settings_ = problems.mapping(obj, "container_settings", ("container_settings",), required=True)
    if settings_ is not None:
        image = problems.string(settings_, "image", ("container_settings", "image"), required=True)
        if image is not None:
            if not image.strip():
                problems.value_error(("container_settings", "image"), "Image must not be empty", image)
            elif len(image) > MAX_IMAGE:
                problems.value_error(
                    ("container_settings", "image"), f"Image must be at most {MAX_IMAGE} characters", image
                )
            elif image != image.lower():
                problems.value_error(("container_settings", "image"), "Image must be lowercase", image)
        spec["image"] = image
        if not update:  # PUT keeps the original ports and ignores any sent [V]
            spec["expose"] = _check_expose(problems, settings_)
        spec["environment"] = _check_environment(problems, settings_)
        command = problems.string(
            settings_, "startup_command", ("container_settings", "startup_command"), required=False
        )
        if command is not None and len(command) > MAX_COMMAND:
            problems.value_error(
                ("container_settings", "startup_command"),
                f"Startup command must be at most {MAX_COMMAND} characters",
                command,
            )
        spec["startup_command"] = command
        spec["credentials"] = _check_credentials(problems, settings_)
    if not update:
        constraints = problems.mapping(obj, "constraints", ("constraints",), required=False)
        location = None
        if constraints is not None:
            location = problems.string(constraints, "location", ("constraints", "location"), required=False)
            if location is not None and not COUNTRY_RE.match(location):
                problems.value_error(
                    ("constraints", "location"), "Location must be a two-letter country code", location
                )
        spec["location"] = location
    spec["ssh_key"] = _check_ssh_key(problems, obj, required=False)
    return problems, spec


def _check_machine(body: Any) -> tuple[Problems, dict[str, Any]]:
    """The VM / bare-metal create body of §2.5."""
    problems = Problems()
    obj = _check_object(body, problems)
    if obj is None:
        return problems, {}
    spec = {
        "plan_id": _check_plan_id(problems, obj),
        "name": _check_name(problems, obj),
        "ssh_key": _check_ssh_key(problems, obj, required=True),
        "os_image": problems.string(obj, "os_image", ("os_image",), required=True),
    }
    return problems, spec


def _reserved_env(spec: dict[str, Any]) -> HttpResponse | None:
    if any(e["name"] == RESERVED_ENV for e in spec["environment"]) and (
        spec.get("ssh_key") or spec.get("image") in DEFAULT_IMAGE_NAMES
    ):
        return detail(
            400,
            f"Environment variable {RESERVED_ENV} is reserved for injecting your SSH key and cannot be defined "
            "together with ssh_key or with a predefined image",
        )
    return None


# --- time, money and the account ---------------------------------------------------------------------


def _now() -> dt.datetime:
    return timezone.now()


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _time(value: Any) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _seconds(fraction: float = 1.0) -> dt.timedelta:
    return dt.timedelta(seconds=float(settings.SANDBOX_PROVISION_SECONDS) * fraction)


def _money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _objects(account: str, *kinds: str):
    return SandboxObject.objects.filter(vendor=VENDOR, account=account, kind__in=kinds or KINDS)


def _account_row(account: str) -> SandboxObject:
    """The account's own record: its user id and the credit it started with."""
    defaults = {
        "data": {
            "user_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"fluence-sandbox:{account}")),
            "credit": str(START_CREDIT),
        }
    }
    try:
        with transaction.atomic():
            row, _ = SandboxObject.objects.get_or_create(
                vendor=VENDOR, account=account, kind="account", object_id="account", defaults=defaults
            )
    except IntegrityError:  # created by a concurrent request
        row = SandboxObject.objects.get(vendor=VENDOR, account=account, kind="account", object_id="account")
    return row


def _hour_boundaries(start: dt.datetime, end: dt.datetime) -> int:
    """Wall-clock hour boundaries (15:00, 16:00 … UTC) in ``(start, end]``: billing periods are fixed [V]."""
    return max(0, int(end.timestamp() // 3600) - int(start.timestamp() // 3600))


def _billing(data: dict[str, Any], status: str, now: dt.datetime) -> dict[str, Any]:
    """The instance's own balance [V]: 1 h charged on deploy and one more per hour boundary,
    2 h held as reserve while it lives; ENDED refunds the reserve, FAILED everything."""
    price = Decimal(data["_price"])
    created = _time(data["created_at"])
    if status == "FAILED":
        return {"hourly_usage": 0.0, "total_spendings": 0.0, "reserved_amount": 0.0, "next_billing_period": None}
    end = _time(data["_ended_at"]) if status == "ENDED" else now
    spent = price * (1 + _hour_boundaries(created, end))
    if status == "ENDED":
        return {
            "hourly_usage": 0.0,
            "total_spendings": float(_money(spent)),
            "reserved_amount": 0.0,
            "next_billing_period": None,
        }
    next_period = now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    return {
        "hourly_usage": float(price),
        "total_spendings": float(_money(spent)),
        "reserved_amount": float(_money(price * RESERVE_HOURS)),
        "next_billing_period": next_period.isoformat().replace("+00:00", "Z"),
    }


def _holdings(objects: list[SandboxObject], now: dt.datetime) -> tuple[Decimal, Decimal, Decimal]:
    """(held by instances: spent + reserves, spent, hourly rate of the live ones)."""
    held = spent = rate = Decimal(0)
    for obj in objects:
        status = _status(obj.data, now)
        bill = _billing(obj.data, status, now)
        spent += Decimal(str(bill["total_spendings"]))
        held += Decimal(str(bill["total_spendings"])) + Decimal(str(bill["reserved_amount"]))
        rate += Decimal(str(bill["hourly_usage"]))
    return held, spent, rate


def _balance(account: str, row: SandboxObject, now: dt.datetime) -> Decimal:
    held, _spent, _rate = _holdings(list(_objects(account)), now)
    return Decimal(row.data["credit"]) - held


# --- instances: state computed on read --------------------------------------------------------------


def _digest(*parts: Any) -> str:
    return hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()


def _status(data: dict[str, Any], now: dt.datetime) -> str:
    ended = _time(data.get("_ended_at"))
    if ended is not None and now >= ended:
        return "ENDED"
    if now < _time(data["_active_at"]):
        return "INITIALIZED"
    return "FAILED" if data.get("_fails") else "ACTIVE"


def _broken(image: str) -> str | None:
    if "does-not-exist" in image:
        return "pull"
    if "crashloop" in image:
        return "crash"
    return None


def _rollout(data: dict[str, Any]) -> dict[str, Any]:
    return data["_rollouts"][-1]


def _pod(data: dict[str, Any], rollout: dict[str, Any]) -> str:
    """A Kubernetes-style pod name per rollout, like the notes' ``service-1-b4fcd99f7-f5xr5``."""
    digest = _digest(data["id"], rollout["rev"])
    return f"service-1-{digest[:9]}-{digest[9:14]}"


def _started(data: dict[str, Any], now: dt.datetime) -> bool:
    if _status(data, now) != "ACTIVE":
        return False
    rollout = _rollout(data)
    return now >= _time(rollout["ready_at"]) and rollout["broken"] is None


def _external_port(data: dict[str, Any], port: str, protocol: str) -> str:
    return str(30000 + int(_digest(data["id"], port, protocol)[:8], 16) % 2768)  # the NodePort range


def _updated_at(data: dict[str, Any], now: dt.datetime) -> str:
    moments = [
        _time(data["created_at"]),
        _time(data["_active_at"]),
        _time(data.get("_renamed_at")),
        _time(data.get("_ended_at")),
    ]
    for rollout in () if data.get("_fails") else data.get("_rollouts", ()):
        moments += [_time(rollout["scheduled_at"]), _time(rollout["ready_at"])]
    return _iso(max(m for m in moments if m is not None and m <= now))


def _resources(data: dict[str, Any]) -> dict[str, Any]:
    return {"supply": data["_supply"], "gpu_model": data["_gpu_model"]}


def _container_json(data: dict[str, Any], now: dt.datetime, *, full: bool) -> dict[str, Any]:
    status = _status(data, now)
    started = _started(data, now)
    domain = data["_domain"] if started else None
    out: dict[str, Any] = {"id": data["id"], "name": data["name"], "instance_status": status}
    if full:
        out["container_status"] = "STARTED" if started else "NOT_STARTED"
    out["resources"] = _resources(data)
    out["domain"] = domain
    out["location"] = data["location"]
    if full:
        environment = list(data["environment"])
        if data.get("ssh_key"):
            environment.append({"name": RESERVED_ENV, "value": data["ssh_key"]})  # the platform injects it [V]
        out["container_info"] = {
            "image": data["image"],
            "expose": data["expose"],
            "environment": environment,
            "startup_command": data.get("startup_command"),
        }
        out["billing"] = _billing(data, status, now)
        network = None
        if status == "ACTIVE":
            # [I] http goes through network.uri, not a forwarded port.
            forwarded = [
                {
                    "port": e["port"],
                    "external_port": _external_port(data, e["port"], e["protocol"]),
                    "protocol": e["protocol"],
                }
                for e in data["expose"]
                if started and e["protocol"] != "http"
            ]
            http = started and {"port": "80", "protocol": "http"} in data["expose"]
            network = {
                "domain": domain,
                "forwarded_ports": forwarded,
                "uri": f"https://{data['id'][:8]}.{domain}" if http else None,
            }
        out["network"] = network
    out["created_at"] = data["created_at"]
    out["updated_at"] = _updated_at(data, now)
    return out


def _ssh_user(os_image: str) -> str:
    lowered = os_image.lower()
    return "ubuntu" if "ubuntu" in lowered else "debian" if "debian" in lowered else "root"


def _machine_json(data: dict[str, Any], now: dt.datetime, *, full: bool) -> dict[str, Any]:
    status = _status(data, now)
    ip = data["_ip"] if status == "ACTIVE" else None
    out: dict[str, Any] = {
        "id": data["id"],
        "name": data["name"],
        "status": status,
        "resources": _resources(data),
        "domain": ip,
        "location": data["location"],
    }
    if full:
        out["availability"] = data["_kind"]
        out["os_image"] = data["os_image"]
        out["ssh_connection"] = f"ssh {_ssh_user(data['os_image'])}@{ip}" if ip else None
        out["billing"] = _billing(data, status, now)
        out["network"] = {"domain": ip, "forwarded_ports": [], "uri": None} if ip else None
        out["ssh_key"] = data["ssh_key"]
    out["created_at"] = data["created_at"]
    out["updated_at"] = _updated_at(data, now)
    return out


def _find(account: str, kind: str, instance_id: str) -> SandboxObject | None:
    try:
        key = str(uuid.UUID(instance_id))
    except ValueError:
        return None
    return _objects(account, kind).filter(object_id=key).first()


def _instance_not_found() -> HttpResponse:
    return detail(404, "Instance not found")


def _new_instance(
    account: str,
    kind: str,
    instance_id: str,
    *,
    name: str,
    price: str,
    location: str,
    supply: dict[str, Any],
    gpu_model: dict[str, Any],
    faults: Faults,
    extra: dict[str, Any],
) -> HttpResponse:
    """Take the 3 h from the balance and record the instance, or refuse for want of money."""
    now = _now()
    cost = Decimal(price) * UPFRONT_HOURS
    with transaction.atomic():
        row = SandboxObject.objects.select_for_update().get(pk=_account_row(account).pk)
        if _balance(account, row, now) < cost:
            return detail(400, "Insufficient balance to deploy instance")  # the documented words [V]
        data = {
            "id": instance_id,
            "name": name,
            "location": location,
            "created_at": _iso(now),
            "_kind": kind,
            "_price": price,
            "_supply": supply,
            "_gpu_model": gpu_model,
            "_active_at": _iso(now + _seconds()),
            "_fails": faults.no_capacity,
            **extra,
        }
        SandboxObject.objects.create(
            vendor=VENDOR, account=account, kind=kind, object_id=instance_id, name=name, data=data
        )
    return json_response({"instance_id": instance_id}, status=201)


# --- views: catalog -----------------------------------------------------------------------------------


@gpu_route("GET")
def plans(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    return json_response(list(CONTAINER_PLANS))


@gpu_route("GET")
def machine_plans(request: HttpRequest, kind: str, *, account: str, faults: Faults) -> HttpResponse:
    return json_response({"data": _machine_plans(kind)})


@gpu_route("GET")
def default_images(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    return json_response(list(DEFAULT_IMAGES))


# --- views: containers ----------------------------------------------------------------------------------


@gpu_route("GET", "POST")
def containers(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    if request.method == "POST":
        return _create_container(request, account, faults)
    now = _now()
    return json_response([_container_json(o.data, now, full=False) for o in _objects(account, CONTAINER)])


def _create_container(request: HttpRequest, account: str, faults: Faults) -> HttpResponse:
    problems, spec = _check_container(_read_body(request), update=False)
    if problems:
        return unprocessable(problems.items)
    found = CONTAINER_PLAN_BY_ID.get(spec["plan_id"])
    if found is None:
        return detail(400, f"Plan {spec['plan_id']} is no longer available")
    plan, locations = found["plan"], found["attributes"]["location"]
    location = spec["location"] or locations[0]  # omitted: the platform picks one [V]
    if location not in locations:
        # [I] worded like the documented OS-image refusal ("the selected offer").
        return detail(
            400,
            f"Location {location} is not available for the selected offer. Available locations: {', '.join(locations)}",
        )
    refused = _reserved_env(spec)
    if refused:
        return refused
    now = _now()
    active_at = now + _seconds()
    first = {
        "rev": 0,
        "image": spec["image"],
        "scheduled_at": _iso(active_at),
        "ready_at": _iso(active_at + _seconds(0.25)),
        "broken": _broken(spec["image"]),
    }
    gpu_model = {**plan["gpu_model"], "interface": plan["gpu_model"]["interface"].lower()}
    extra = {
        "plan_id": plan["id"],
        "image": spec["image"],
        "expose": spec["expose"],
        "environment": spec["environment"],
        "startup_command": spec["startup_command"],
        # Only what the pull needs to show: the password is never stored.
        "_registry": _registry(spec["credentials"]),
        "ssh_key": spec["ssh_key"],
        "_domain": f"provider.{plan['gpu_model']['model']}.pub",
        "_rollouts": [first],
    }
    return _new_instance(
        account,
        CONTAINER,
        str(uuid.uuid4()),
        name=spec["name"],
        price=str(plan["pricing"]["hour"]),
        location=location,
        supply=plan["supply"],
        gpu_model=gpu_model,
        faults=faults,
        extra=extra,
    )


def _registry(credentials: dict[str, str] | None) -> dict[str, str] | None:
    return {"host": credentials["host"], "username": credentials["username"]} if credentials else None


@gpu_route("GET", "PUT", "DELETE")
def container(request: HttpRequest, instance_id: str, *, account: str, faults: Faults) -> HttpResponse:
    obj = _find(account, CONTAINER, instance_id)
    if obj is None:
        return _instance_not_found()
    if request.method == "GET":
        return json_response(_container_json(obj.data, _now(), full=True))
    if request.method == "DELETE":
        return _terminate(obj)
    return _redeploy(request, obj)


def _terminate(obj: SandboxObject) -> HttpResponse:
    now = _now()
    status = _status(obj.data, now)
    if status != "ACTIVE":
        # Only ACTIVE instances can be terminated [V]; the words are ours.
        return detail(400, f"Only ACTIVE instances can be terminated; this instance is {status}")
    obj.data["_ended_at"] = _iso(now)
    obj.save(update_fields=["data", "updated_at"])
    return HttpResponse(status=204)


def _redeploy(request: HttpRequest, obj: SandboxObject) -> HttpResponse:
    """PUT: a full replacement of the container's settings, applied by redeploying [V]."""
    problems, spec = _check_container(_read_body(request), update=True)
    if problems:
        return unprocessable(problems.items)
    data, now = obj.data, _now()
    status = _status(data, now)
    if status != "ACTIVE":
        return detail(400, f"Only ACTIVE instances can be updated; this instance is {status}")
    current = _rollout(data)
    if now < _time(current["ready_at"]):
        return detail(400, "Instance update is already in progress; wait until it is applied")
    refused = _reserved_env(spec)
    if refused:
        return refused
    for key in ("name", "image", "environment", "startup_command", "ssh_key"):
        data[key] = spec[key]  # omitted optional settings are cleared: a full replacement [V]
    data["_registry"] = _registry(spec["credentials"])
    data["_rollouts"].append(
        {
            "rev": current["rev"] + 1,
            "image": spec["image"],
            "scheduled_at": _iso(now),
            "ready_at": _iso(now + _seconds(0.5)),
            "broken": _broken(spec["image"]),
        }
    )
    obj.name = spec["name"]
    obj.save(update_fields=["data", "name", "updated_at"])
    return HttpResponse(status=204)


def _last(request: HttpRequest) -> tuple[int | None, HttpResponse | None]:
    raw = request.GET.get("last")
    if raw is None:
        return None, None
    try:
        last = int(raw)
    except ValueError:
        return None, json_response(
            {
                "detail": [
                    {
                        "type": "int_parsing",
                        "loc": ["query", "last"],
                        "msg": "Input should be a valid integer, unable to parse string as an integer",
                        "input": raw,
                    }
                ]
            },
            status=422,
        )
    if last < 1:
        return None, json_response(
            {
                "detail": [
                    {
                        "type": "greater_than_equal",
                        "loc": ["query", "last"],
                        "msg": "Input should be greater than or equal to 1",
                        "input": raw,
                        "ctx": {"ge": 1},
                    }
                ]
            },
            status=422,
        )
    return last, None


def _ticks(start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    count = max(0, int((end - start).total_seconds() // LOG_TICK_SECONDS))
    return [start + dt.timedelta(seconds=LOG_TICK_SECONDS * (i + 1)) for i in range(min(count, MAX_LINES))]


def _log_lines(data: dict[str, Any], now: dt.datetime) -> list[str]:
    """The current pod's stdout/stderr, as ``[pod] line`` [V format], up to now (or the end)."""
    until = min(now, _time(data["_ended_at"])) if data.get("_ended_at") else now
    if _status(data, until) not in ("ACTIVE", "ENDED"):  # nothing ran while provisioning, or ever once FAILED
        return []
    rollout = _rollout(data)
    ready = _time(rollout["ready_at"])
    if until < ready or rollout["broken"] == "pull":
        return []
    pod = _pod(data, rollout)
    if rollout["broken"] == "crash":
        return [f"[{pod}] exec /usr/local/bin/entrypoint.sh: exec format error"] * (1 + len(_ticks(ready, until)))
    lines = [f"[{pod}] Starting {rollout['image']}"]
    if data.get("startup_command"):
        lines.append(f"[{pod}] + {data['startup_command']}")
    for item in data["expose"]:
        if item["port"] == "22" and item["protocol"] == "tcp":
            lines += [f"[{pod}] Server listening on 0.0.0.0 port 22.", f"[{pod}] Server listening on :: port 22."]
        else:
            lines.append(f"[{pod}] Listening on 0.0.0.0:{item['port']} ({item['protocol']})")
    lines += [f"[{pod}] {_iso(t)} health check ok" for t in _ticks(ready, until)]
    return lines[-MAX_LINES:]


def _event_lines(data: dict[str, Any], now: dt.datetime) -> list[str]:
    """Cluster events for every rollout, in order, each once its moment has come [V format
    ``[pod]: [Normal] [Pulled] ...``]."""
    timeline: list[tuple[dt.datetime, str]] = []
    node = f"gpu-node-{_digest(data['id'], 'node')[:5]}"
    active_at = _time(data["_active_at"])
    if data.get("_fails"):
        timeline.append(
            (active_at, "[pod]: [Warning] [FailedScheduling] 0/4 nodes are available: 4 Insufficient nvidia.com/gpu.")
        )
    rollouts = data.get("_rollouts", [])
    ended = _time(data.get("_ended_at"))
    for i, rollout in enumerate(rollouts if not data.get("_fails") else ()):
        scheduled, ready = _time(rollout["scheduled_at"]), _time(rollout["ready_at"])
        pod, image = _pod(data, rollout), rollout["image"]
        same_image = i > 0 and rollouts[i - 1]["image"] == image
        timeline.append((scheduled, f"[pod]: [Normal] [Scheduled] Successfully assigned default/{pod} to {node}"))
        if rollout["broken"] == "pull":
            timeline.append((scheduled, f'[pod]: [Normal] [Pulling] Pulling image "{image}"'))
            timeline.append((ready, f'[pod]: [Warning] [Failed] Failed to pull image "{image}": manifest unknown'))
            timeline.append((ready, "[pod]: [Warning] [Failed] Error: ErrImagePull"))
            stop = _time(rollouts[i + 1]["scheduled_at"]) if i + 1 < len(rollouts) else ended or now
            timeline += [
                (t, f'[pod]: [Normal] [BackOff] Back-off pulling image "{image}"') for t in _ticks(ready, stop)
            ]
        else:
            if same_image:
                timeline.append(
                    (ready, f'[pod]: [Normal] [Pulled] Container image "{image}" already present on machine')
                )
            else:
                timeline.append((scheduled, f'[pod]: [Normal] [Pulling] Pulling image "{image}"'))
                timeline.append((ready, f'[pod]: [Normal] [Pulled] Successfully pulled image "{image}"'))
            timeline.append((ready, "[pod]: [Normal] [Created] Created container service-1"))
            timeline.append((ready, "[pod]: [Normal] [Started] Started container service-1"))
            if rollout["broken"] == "crash":
                stop = _time(rollouts[i + 1]["scheduled_at"]) if i + 1 < len(rollouts) else ended or now
                timeline += [
                    (t, f"[pod]: [Warning] [BackOff] Back-off restarting failed container service-1 in pod {pod}")
                    for t in _ticks(ready, stop)
                ]
        if i + 1 < len(rollouts):
            timeline.append(
                (_time(rollouts[i + 1]["scheduled_at"]), "[pod]: [Normal] [Killing] Stopping container service-1")
            )
    if ended is not None and not data.get("_fails"):
        timeline.append((ended, "[pod]: [Normal] [Killing] Stopping container service-1"))
    # Stable by moment: lines of one instant keep their written order.
    return [line for at, line in sorted(timeline, key=lambda pair: pair[0]) if at <= now][-MAX_LINES:]


def _lines_view(request: HttpRequest, account: str, instance_id: str, lines) -> HttpResponse:
    last, problem = _last(request)
    if problem:
        return problem
    obj = _find(account, CONTAINER, instance_id)
    if obj is None:
        return _instance_not_found()
    out = lines(obj.data, _now())
    return json_response(out[-last:] if last else out)


@gpu_route("GET")
def container_logs(request: HttpRequest, instance_id: str, *, account: str, faults: Faults) -> HttpResponse:
    return _lines_view(request, account, instance_id, _log_lines)


@gpu_route("GET")
def container_events(request: HttpRequest, instance_id: str, *, account: str, faults: Faults) -> HttpResponse:
    return _lines_view(request, account, instance_id, _event_lines)


# --- views: VMs and bare metal ---------------------------------------------------------------------------


@gpu_route("GET", "POST")
def machines(request: HttpRequest, kind: str, *, account: str, faults: Faults) -> HttpResponse:
    if request.method == "GET":
        now = _now()
        return json_response([_machine_json(o.data, now, full=False) for o in _objects(account, kind)])
    problems, spec = _check_machine(_read_body(request))
    if problems:
        return unprocessable(problems.items)
    found = _machine_option(kind, spec["plan_id"])
    if found is None:  # gone from the marketplace, or an option of the other kind
        return detail(400, f"Plan {spec['plan_id']} is no longer available")
    row, option = found
    if spec["os_image"] not in option["os_options"]:
        return detail(  # the documented words [V]
            400,
            f"Provided OS image {spec['os_image']} is not supported for the selected offer. "
            f"Available OS images: {', '.join(option['os_options'])}",
        )
    supply = {"vcpu": option["vcpu"], "memory": option["memory"], "storage": option["storage"], "gpu_count": row[4]}
    gpu_model = {"vendor": "nvidia", "model": row[1], "vram": row[2], "interface": row[3]}
    instance_id = str(uuid.uuid4())
    digest = int(_digest(instance_id, "ip")[:8], 16)
    extra = {
        "plan_id": option["id"],
        "os_image": spec["os_image"],
        "ssh_key": spec["ssh_key"],
        "_ip": f"216.81.{248 + digest % 8}.{2 + (digest >> 3) % 252}",
    }
    return _new_instance(
        account,
        kind,
        instance_id,
        name=spec["name"],
        price=str(option["pricing"]["hour"]),
        location=option["location"],
        supply=supply,
        gpu_model=gpu_model,
        faults=faults,
        extra=extra,
    )


@gpu_route("GET", "PUT", "DELETE")
def machine(request: HttpRequest, kind: str, instance_id: str, *, account: str, faults: Faults) -> HttpResponse:
    obj = _find(account, kind, instance_id)
    if obj is None:
        return _instance_not_found()
    if request.method == "GET":
        return json_response(_machine_json(obj.data, _now(), full=True))
    if request.method == "DELETE":
        return _terminate(obj)
    problems = Problems()
    body = _check_object(_read_body(request), problems)
    name = _check_name(problems, body) if body is not None else None
    if problems:
        return unprocessable(problems.items)
    now = _now()
    status = _status(obj.data, now)
    if status in ("FAILED", "ENDED"):
        return detail(400, f"Instance cannot be renamed; it is {status}")
    obj.data["name"] = obj.name = name
    obj.data["_renamed_at"] = _iso(now)
    obj.save(update_fields=["data", "name", "updated_at"])
    return HttpResponse(status=204)


# --- views: account ---------------------------------------------------------------------------------------


@account_api
def balances(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return _account_error(405, "method_not_allowed", "Method not allowed", headers={"Allow": "GET"})
    row, now = _account_row(account), _now()
    held, spent, rate = _holdings(list(_objects(account)), now)
    balance = Decimal(row.data["credit"]) - held
    daily = rate * 24
    entry = {
        "balance": str(_money(balance)),
        "usage": str(_money(spent)),
        # [I] the next 24 h at the current hourly rates; days left from that.
        "estimatedUsage": str(_money(daily)),
        "overage": "0.00",
        "totalDepositedAmount": str(_money(Decimal(row.data["credit"]))),
        "userId": row.data["user_id"],
        "featureKey": FEATURE_KEY,
        "usageDaysLeft": int(max(balance, Decimal(0)) // daily) if daily else None,
    }
    wanted = request.GET.get("entitlementKey")
    return json_response([entry] if wanted in (None, FEATURE_KEY) else [])


@account_api
def users_me(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return _account_error(405, "method_not_allowed", "Method not allowed", headers={"Allow": "GET"})
    row = _account_row(account)
    permissions = ["gpu:read", "balances:read"] if _read_only(request) else ["gpu:read", "gpu:write", "balances:read"]
    return json_response(
        {
            "id": row.data["user_id"],
            "email": f"sandbox-{account[:8]}@users.sandbox.fluence.dev",
            "permissions": permissions,
        }
    )


# --- routes -------------------------------------------------------------------------------------------------

ROUTES = [
    path("gpu/plans/", plans, name="fluence-plans"),
    path("gpu/plans/vms", machine_plans, {"kind": VM}, name="fluence-plans-vms"),
    path("gpu/plans/baremetal", machine_plans, {"kind": BAREMETAL}, name="fluence-plans-baremetal"),
    path("gpu/default-images/", default_images, name="fluence-default-images"),
    path("gpu/instances/", containers, name="fluence-instances"),
    # Before {instance_id}: "vms" and "baremetal" are path segments, not ids.
    path("gpu/instances/vms", machines, {"kind": VM}, name="fluence-vms"),
    path("gpu/instances/vms/<str:instance_id>", machine, {"kind": VM}, name="fluence-vm"),
    path("gpu/instances/baremetal", machines, {"kind": BAREMETAL}, name="fluence-baremetals"),
    path("gpu/instances/baremetal/<str:instance_id>", machine, {"kind": BAREMETAL}, name="fluence-baremetal"),
    path("gpu/instances/<str:instance_id>", container, name="fluence-instance"),
    path("gpu/instances/<str:instance_id>/logs", container_logs, name="fluence-instance-logs"),
    path("gpu/instances/<str:instance_id>/events", container_events, name="fluence-instance-events"),
    path("v2/users/balances", balances, name="fluence-balances"),
    path("v1/users/me", users_me, name="fluence-users-me"),
]
ROUTE_NAMES = frozenset(r.name for r in ROUTES)


@gpu_api
def fallback(request: HttpRequest, rest: str, *, account: str, faults: Faults) -> HttpResponse:
    """Any other path: 307 to the documented one when only the trailing slash differs
    (FastAPI's ``redirect_slashes``), else FastAPI's 404."""
    toggled = request.path_info[:-1] if request.path_info.endswith("/") else f"{request.path_info}/"
    try:
        match = resolve(toggled)
    except Resolver404:
        match = None
    if match is not None and match.url_name in ROUTE_NAMES:
        location = request.path[: len(request.path) - len(request.path_info)] + toggled
        if request.META.get("QUERY_STRING"):
            location += f"?{request.META['QUERY_STRING']}"
        return HttpResponse(status=307, headers={"Location": request.build_absolute_uri(location)})
    return detail(404, "Not Found")


urlpatterns = [*ROUTES, path("<path:rest>", fallback, name="fluence-fallback")]
