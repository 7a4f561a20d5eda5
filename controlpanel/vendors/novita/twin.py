"""Novita AI's GPU instance API (v1), as a twin under ``/sandbox/novita/``.

Routes follow the vendor's real paths: the instance API under
``/sandbox/novita/gpu-instance/openapi/v1/…`` and the balance under
``/sandbox/novita/openapi/v1/billing/balance/detail``. Shapes, field names, limits
and error names come from ``shared/vendor-apis/novita.md`` (§2 endpoints, §2.3 create
rules, §2.4/§2.5 list and get shapes, §3 statuses, §4 error names and money units) and
the seed ``shared/seeds/004_fec64cfa50edafd2.txt``; the template shapes from the
vendor's list/get-template pages. The notes' §2.3 create example is accepted exactly
as written (its product, its network storage and its ports exist here).

Auth is ``Authorization: Bearer <key>`` [V]. Every error body is
``{"code": <http status>, "reason": "<ERROR_NAME>", "message": "…", "metadata": {}}``
[I: the shape of Novita's other APIs]; ``RESOURCE_NOT_FOUND`` is a 400 [V], a wrong
state is ``CONFLICT`` (400). A ``VALIDATOR_PARAM`` message always names the field by
its spec path, e.g. ``invalid field envs.0.key: …`` (the vendor's wording is not
documented; the field has to be findable in it). Mutations answer ``{}`` [V].

Choices where the notes leave things open (the strict reading each time, marked [I]):
- paging: the instance list counts ``pageNum`` from 0 (documented as ">= 0" [V], the
  cnovita client's first page [C]), or from 1 with ``SANDBOX_NOVITA_PAGE_BASE=1`` (as the
  MCP server asks [C]); templates and ``networkstorages/list`` (by ``pageNo``)
  count from 1 and read 0 as 1 [I]; ``pageSize`` 0 means 10 and is capped at 100; newest
  first;
- regions: a product's ``regions`` are cluster names exactly as ``/clusters`` spells them
  (``"US-CA-06 (California)"``), and an instance's ``clusterName`` is that name; an empty
  ``clusterId`` picks the storage's cluster, else the first cluster the product is sold
  in (the docs say "random": deterministic here so tests can rely on it);
- rules the docs do not state but a sane API has: env keys non-empty and unique, no port
  listed twice (tools included), ``name`` only letters, digits and hyphens [C: the
  official MCP tool], ``month`` ≥ 1 for monthly, ``autoRenewMonth`` 1–12 when
  ``autoRenew`` is on, not both ``imageAuth`` and ``imageAuthId``, network-storage
  ``Id`` spelt with the capital ``I`` as documented;
- ``month`` > 0 forces ``monthly`` whatever ``billingMode`` says [V]; a ``month`` the
  product's ``monthlyPrice`` does not list costs ``month`` × the one-month price;
  a month is 30 days;
- edit: a missing ``ports`` means no ports (a protobuf list cannot tell missing from
  empty), a tool's own port may be listed again (same type) and stays the tool's,
  ``expandRootDisk`` grows the disk at once, without a restart; upgrade needs
  every documented field (full replacement) and ends ``running`` (from running or
  exited); migrate keeps the state it started from and moves to a new node;
- start/stop/restart/edit/upgrade/migrate/renew/convert in the wrong state → CONFLICT;
  delete works in any state except while already being removed [C], and a monthly
  instance before ``endTime`` → ``PREPAID_INSTANCE_NOT_SUPPORT_RELEASE``; a removed
  instance is listed as ``removed`` for ``SANDBOX_PROVISION_SECONDS``, then it is gone
  (get → 400 ``RESOURCE_NOT_FOUND``) [C];
- money: prices in 1/100 000 USD per GPU-hour, balance in 1/10 000 USD, both strings
  [V/C]. Each key's account starts with ``START_BALANCE_USD``. On-demand and spot
  instances are billed per second at price × gpuNum while ``pulling``, ``running``,
  ``starting``, ``restarting``, ``resetting`` or stopping [V: billing starts at
  pulling]; usage of the current clock hour is ``pendingCharges`` and is settled into
  ``cashBalance`` on the hour (a released instance's usage when its record goes); a
  monthly instance is charged price(month) × gpuNum at once. The balance may go below
  zero (what the real API then does is not documented); new instances and starts are
  refused while it does not cover an hour (``BALANCE_NOT_ENOUGH``);
- a monthly instance reaching ``endTime`` is renewed for ``autoRenewMonth`` months if
  ``autoRenew`` is on and the balance covers it, else it stops; starting it again needs a
  renewal first (``EXPIRED_OR_BALANCE_NOT_ENOUGH``);
- templates: a fixed official/community set; ``channel`` and ``isMyCommunity`` filter
  but are not required (the docs mark them required; the official MCP server omits
  them); one other user's private template answers ``TEMPLATE_IS_PRIVATE``;
- registry credentials are returned with their password, as stored (the adapter must
  not show it); network storage ``price`` is in 1/100 000 USD per month, never charged.

Simulated behaviour (not in any vendor document; it exercises the panel):
- time: create → ``toCreate``, ``creating`` (a tenth of ``SANDBOX_PROVISION_SECONDS``),
  ``pulling`` (three tenths), ``running`` (the whole); stop → ``toStop``, ``stopping``,
  ``exited`` after half; start and restart likewise back to ``running``; upgrade →
  ``toReset``, ``resetting``, ``running`` after the whole; delete → ``toRemove``,
  ``removing``, ``removed`` after half. All computed on read from stored steps;
- switches: an image whose name contains ``does-not-exist`` is ``IMAGE_NOT_FOUND``; one
  containing ``crashloop`` runs with a ``statusError`` overlay; a spot instance whose
  name contains ``reclaim`` gets a reclaim notice ``SANDBOX_PROVISION_SECONDS`` after it
  first runs (``spotStatus`` ``notified`` with ``spotReclaimTime``), ``reclaiming`` half
  that later and is ``terminated`` (status ``exited``) after as long again; it may be
  started again. The ``no_capacity`` fault shows every product sold out and refuses
  create and start with ``INSUFFICIENT_RESOURCE`` (migrate:
  ``MIGRATE_INSUFFICIENT_RESOURCE``); ``minCudaVersion`` above 12.8 finds no machine;
- each account holds at most ``INSTANCE_LIMIT`` instances (``CREATE_INSTANCE_LIMIT``),
  has two network storages (the notes' ``d4e82677-…`` in California, one in Frankfurt)
  and one registry credential to begin with, and no VPC networks (``NETWORK_NOT_FOUND``);
- log addresses in ``connectComponentLog`` point at ``/sandbox/novita/instance-logs/…``
  with an HMAC token in the path and answer ``text/plain`` lines once (not a live
  stream). They refuse a request that carries an ``Authorization`` header, so a client
  leaking its key to a host named in an answer fails loudly. ``http`` port endpoints,
  the web terminal and Jupyter point at ``/sandbox/novita/proxy/<id>-<port>/``, which
  answers while the instance runs; ``tcp`` endpoints are ``<node ip>:<port>`` strings on
  TEST-NET addresses.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import uuid
from collections.abc import Callable, Iterable
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from functools import wraps
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.views.decorators.csrf import csrf_exempt

from controlpanel.core.text import plain_int
from controlpanel.sandbox.core import Faults, VendorErrors, bearer_key, endpoint, json_body, json_response
from controlpanel.sandbox.models import SandboxObject

VENDOR = "novita"
# The kind of SandboxObject a create makes (the lost-answer tests look for it by name).
CREATES = "instance"
API = "gpu-instance/openapi/v1/"
START_BALANCE_USD = 500
UNITS_PER_USD = 100_000  # prices: 1/100 000 USD [C]
BALANCE_UNITS_PER_USD = 10_000  # balances: 1/10 000 USD [V]
INSTANCE_LIMIT = 50
# Lifted by bench_refresh while it seeds a fleet: the instance cap, and the balance that
# must cover each new instance's first hour.
BENCH_LIFTED = {"INSTANCE_LIMIT": 10**9, "START_BALANCE_USD": 10**9}
PAGE_DEFAULT, PAGE_MAX = 10, 100
MONTH = dt.timedelta(days=30)
MAX_ROOTFS = 6144
MAX_CUDA = (12, 8)
RESERVED_PORTS = frozenset({2222, 2223, 2224})
MAX_PORTS = 15  # ports + tools [V]
MAX_ENVS, MAX_ENVS_CPU = 100, 30  # GPU and CPU instances [V]
BILLING_MODES = ("onDemand", "monthly", "spot")
STATUSES = (
    "toCreate",
    "creating",
    "pulling",
    "running",
    "toStart",
    "starting",
    "toStop",
    "stopping",
    "exited",
    "toRestart",
    "restarting",
    "toRemove",
    "removing",
    "removed",
    "toReset",
    "resetting",
    "migrating",
    "freezing",
)
BILLED = frozenset(
    {"pulling", "running", "starting", "toStop", "stopping", "toRestart", "restarting", "toReset", "resetting"}
)
BEING_REMOVED = frozenset({"toRemove", "removing", "removed"})
NAME_RE = re.compile(r"^[A-Za-z0-9-]*$")
CUDA_RE = re.compile(r"^(\d+)\.(\d+)$")
PORT_ITEM_RE = re.compile(r"^(\d{1,5})/([A-Za-z]+)$")
NOT_FOUND_IMAGE = "does-not-exist"
CRASH_IMAGE = "crashloop"
RECLAIM_NAME = "reclaim"
CRASH_ERROR = {"state": "CrashLoopBackOff", "message": "back-off restarting failed container: exit code 1"}
NO_ERROR = {"state": "", "message": ""}

# --- the catalog ---------------------------------------------------------------------------------------
# Cluster ids and names are invented in the notes' style ("5", "US-CA-06 (California)").
CLUSTERS: tuple[dict[str, Any], ...] = (
    {"id": "1", "name": "US-OR-01 (Oregon)", "supportNetworkStorage": True, "supportInstanceNetwork": True},
    {"id": "3", "name": "EU-DE-01 (Frankfurt)", "supportNetworkStorage": True, "supportInstanceNetwork": False},
    {"id": "5", "name": "US-CA-06 (California)", "supportNetworkStorage": True, "supportInstanceNetwork": True},
    {"id": "8", "name": "AS-SG-02 (Singapore)", "supportNetworkStorage": False, "supportInstanceNetwork": False},
)
CLUSTER_BY_ID = {c["id"]: c for c in CLUSTERS}
OREGON, FRANKFURT, CALIFORNIA, SINGAPORE = (c["name"] for c in CLUSTERS)


def _months(one: int, *discounts: tuple[int, float]) -> list[dict[str, int]]:
    """``monthlyPrice`` entries: one month at ``one`` units, longer terms discounted."""
    return [{"price": one, "month": 1}] + [{"price": int(one * m * (1 - off)), "month": m} for m, off in discounts]


TERMS = ((3, 0.05), (6, 0.10), (12, 0.15))
# Illustrative prices; the notes' A100 example (160000 / 80000 / 95000000) and the
# 4090's id from the notes are kept as written.
PRODUCTS: tuple[dict[str, Any], ...] = (
    {
        "id": "4090.16c62g",
        "name": "RTX 4090 24GB",
        "cpuPerGpu": 16,
        "memoryPerGpu": 62,
        "diskPerGpu": 100,
        "availableDeploy": True,
        "minRootFS": 10,
        "maxRootFS": 400,
        "minLocalStorage": 0,
        "maxLocalStorage": 0,
        "regions": [OREGON, FRANKFURT, SINGAPORE],
        "price": "35000",
        "spotPrice": "18000",
        "monthlyPrice": _months(18_900_000, *TERMS),
        "billingMethods": ["onDemand", "spot", "monthly"],
        "inventoryState": "high",
    },
    {
        "id": "A100-80GB.14c240g",
        "name": "A100 SXM 80GB",
        "cpuPerGpu": 14,
        "memoryPerGpu": 240,
        "diskPerGpu": 1024,
        "availableDeploy": True,
        "minRootFS": 10,
        "maxRootFS": 1024,
        "minLocalStorage": 0,
        "maxLocalStorage": 0,
        "regions": [CALIFORNIA],
        "price": "160000",
        "spotPrice": "80000",
        "monthlyPrice": _months(95_000_000, *TERMS),
        "billingMethods": ["onDemand", "spot", "monthly"],
        "inventoryState": "high",
    },
    {
        "id": "H100-80GB.16c200g",
        "name": "H100 SXM 80GB",
        "cpuPerGpu": 16,
        "memoryPerGpu": 200,
        "diskPerGpu": 1500,
        "availableDeploy": True,
        "minRootFS": 20,
        "maxRootFS": 2048,
        "minLocalStorage": 0,
        "maxLocalStorage": 0,
        "regions": [CALIFORNIA, FRANKFURT],
        "price": "249000",
        "spotPrice": "149000",
        "monthlyPrice": _months(159_000_000, *TERMS),
        "billingMethods": ["onDemand", "spot", "monthly"],
        "inventoryState": "low",
    },
    {
        "id": "L40S.12c94g",
        "name": "L40S 48GB",
        "cpuPerGpu": 12,
        "memoryPerGpu": 94,
        "diskPerGpu": 500,
        "availableDeploy": True,
        "minRootFS": 10,
        "maxRootFS": 800,
        "minLocalStorage": 0,
        "maxLocalStorage": 0,
        "regions": [FRANKFURT],
        "price": "86000",
        "spotPrice": "43000",
        "monthlyPrice": [],
        "billingMethods": ["onDemand", "spot"],
        "inventoryState": "normal",
    },
    {
        "id": "3090.8c30g",
        "name": "RTX 3090 24GB",
        "cpuPerGpu": 8,
        "memoryPerGpu": 30,
        "diskPerGpu": 100,
        "availableDeploy": True,
        "minRootFS": 10,
        "maxRootFS": 300,
        "minLocalStorage": 0,
        "maxLocalStorage": 0,
        "regions": [],
        "price": "21000",
        "spotPrice": "0",
        "monthlyPrice": _months(11_500_000, *TERMS),
        "billingMethods": ["onDemand", "monthly"],
        "inventoryState": "normal",
    },
    {
        "id": "RTX6000Ada.12c94g",
        "name": "RTX 6000 Ada 48GB",
        "cpuPerGpu": 12,
        "memoryPerGpu": 94,
        "diskPerGpu": 400,
        "availableDeploy": True,
        "minRootFS": 10,
        "maxRootFS": 600,
        "minLocalStorage": 0,
        "maxLocalStorage": 0,
        "regions": [SINGAPORE, OREGON],
        "price": "77000",
        "spotPrice": "0",
        "monthlyPrice": [],
        "billingMethods": ["onDemand"],
        "inventoryState": "low",
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
        "minLocalStorage": 0,
        "maxLocalStorage": 0,
        "regions": [CALIFORNIA],
        "price": "349000",
        "spotPrice": "0",
        "monthlyPrice": _months(220_000_000, *TERMS),
        "billingMethods": ["onDemand", "monthly"],
        "inventoryState": "none",
    },
)
PRODUCT_BY_ID = {p["id"]: p for p in PRODUCTS}
# CPU products: all clusters, on demand only [I]; price in the same unit per hour [I].
CPU_PRODUCTS: tuple[dict[str, Any], ...] = (
    {
        "id": "cpu.4c8g",
        "name": "4 vCPU 8 GB",
        "cpuNum": 4,
        "memorySize": 8,
        "rootfsSize": 40,
        "localVolumeSize": 40,
        "availableDeploy": True,
        "price": "6000",
    },
    {
        "id": "cpu.8c16g",
        "name": "8 vCPU 16 GB",
        "cpuNum": 8,
        "memorySize": 16,
        "rootfsSize": 60,
        "localVolumeSize": 80,
        "availableDeploy": True,
        "price": "12000",
    },
    {
        "id": "cpu.16c64g",
        "name": "16 vCPU 64 GB",
        "cpuNum": 16,
        "memorySize": 64,
        "rootfsSize": 100,
        "localVolumeSize": 200,
        "availableDeploy": True,
        "price": "30000",
    },
)
CPU_PRODUCT_BY_ID = {p["id"]: p for p in CPU_PRODUCTS}


def _cluster_json(cluster: dict[str, Any]) -> dict[str, Any]:
    gpus = [p["name"] for p in PRODUCTS if not p["regions"] or cluster["name"] in p["regions"]]
    return {
        "id": cluster["id"],
        "name": cluster["name"],
        "availableGpuType": gpus,
        "supportNetworkStorage": cluster["supportNetworkStorage"],
        "supportInstanceNetwork": cluster["supportInstanceNetwork"],
    }


def _sold_in(product: dict[str, Any]) -> list[dict[str, Any]]:
    """The clusters a GPU product is sold in: its ``regions``, or all when empty [V]."""
    return [c for c in CLUSTERS if not product["regions"] or c["name"] in product["regions"]]


# The notes' network storage (§2.3 example) and a second one elsewhere, in every account.
SEED_STORAGES = (
    ("d4e82677-3f80-4020-a731-d15b1c589aa8", "llama-weights", 10, "5"),
    ("7c1d0b8e-5a42-4f0e-9d63-2b8f4c1e9a70", "eu-datasets", 50, "3"),
)
STORAGE_SIZES = (10, 10240)  # GB [I]
STORAGE_PRICE_PER_GB_MONTH = 7000  # 1/100 000 USD, i.e. $0.07 per GB-month [I]

TEMPLATE_USER = "1000000000000001"  # the Novita account that publishes the official templates
TEMPLATES: tuple[dict[str, Any], ...] = (
    {
        "Id": "1",
        "user": TEMPLATE_USER,
        "name": "PyTorch 2.4 (CUDA 12.4)",
        "readme": "# PyTorch\nPyTorch 2.4 with CUDA 12.4 and JupyterLab on port 8888.",
        "logo": "",
        "type": "instance",
        "channel": "official",
        "image": "docker.io/pytorch/pytorch:2.4.0-cuda12.4-cudnn9-runtime",
        "imageAuth": "",
        "startCommand": "",
        "rootfsSize": 60,
        "volumes": [{"type": "local", "size": 20, "mountPath": "/workspace"}],
        "ports": [{"type": "http", "ports": [8888]}, {"type": "tcp", "ports": [22]}],
        "envs": [],
        "tools": ["Jupyter"],
        "createTime": "1711995567",
    },
    {
        "Id": "2",
        "user": TEMPLATE_USER,
        "name": "vLLM OpenAI server",
        "readme": "# vLLM\nAn OpenAI-compatible server on port 8000. Set HF_TOKEN for gated models.",
        "logo": "",
        "type": "instance",
        "channel": "official",
        "image": "docker.io/vllm/vllm-openai:latest",
        "imageAuth": "",
        "startCommand": "--model meta-llama/Llama-3.1-8B-Instruct",
        "rootfsSize": 100,
        "volumes": [],
        "ports": [{"type": "http", "ports": [8000]}, {"type": "tcp", "ports": [22]}],
        "envs": [{"key": "HF_TOKEN", "value": ""}],
        "tools": [],
        "createTime": "1713162260",
    },
    {
        "Id": "3",
        "user": TEMPLATE_USER,
        "name": "Ubuntu 22.04",
        "readme": "# Ubuntu\nA plain Ubuntu with SSH.",
        "logo": "",
        "type": "instance",
        "channel": "official",
        "image": "docker.io/library/ubuntu:22.04",
        "imageAuth": "",
        "startCommand": "sleep infinity",
        "rootfsSize": 20,
        "volumes": [],
        "ports": [{"type": "tcp", "ports": [22]}],
        "envs": [],
        "tools": [],
        "createTime": "1709251200",
    },
    {
        "Id": "104",
        "user": "1032922317920824",
        "name": "ComfyUI",
        "readme": "# ComfyUI\nNode-based diffusion UI.",
        "logo": "",
        "type": "instance",
        "channel": "community",
        "image": "ghcr.io/ai-dock/comfyui:latest",
        "imageAuth": "",
        "startCommand": "",
        "rootfsSize": 80,
        "volumes": [],
        "ports": [{"type": "http", "ports": [8188]}],
        "envs": [],
        "tools": [],
        "createTime": "1716940800",
    },
    {
        "Id": "105",
        "user": "1032922317920824",
        "name": "Stable Diffusion WebUI",
        "readme": "# AUTOMATIC1111\nThe classic web UI on port 7860.",
        "logo": "",
        "type": "instance",
        "channel": "community",
        "image": "docker.io/universonic/stable-diffusion-webui:latest",
        "imageAuth": "",
        "startCommand": "",
        "rootfsSize": 80,
        "volumes": [],
        "ports": [{"type": "http", "ports": [7860]}],
        "envs": [],
        "tools": [],
        "createTime": "1718150400",
    },
)
TEMPLATE_BY_ID = {t["Id"]: t for t in TEMPLATES}
OTHERS_PRIVATE_TEMPLATE = "9001"  # exists, but belongs to another user


def _now() -> dt.datetime:
    return timezone.now()


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def _unix(moment: dt.datetime | None) -> str:
    return str(int(moment.timestamp())) if moment is not None else "0"


def _provision_seconds() -> float:
    return float(settings.SANDBOX_PROVISION_SECONDS)


# --- errors in Novita's words ----------------------------------------------------------------------


def error(status: int, reason: str, message: str, headers: dict[str, str] | None = None) -> HttpResponse:
    return json_response(
        {"code": status, "reason": reason, "message": message, "metadata": {}}, status=status, headers=headers
    )


class Refused(Exception):
    """An answer other than success, raised from deep in a view's checks."""

    def __init__(self, reason: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.reason, self.message, self.status = reason, message, status

    def response(self) -> HttpResponse:
        return error(self.status, self.reason, self.message)


def invalid(field: str, rule: str) -> Refused:
    """A ``VALIDATOR_PARAM`` that names the field by its spec path."""
    return Refused("VALIDATOR_PARAM", f"invalid field {field}: {rule}")


ERRORS = VendorErrors(
    unauthorized=lambda: error(401, "UNAUTHORIZED", "invalid API key: check the Authorization header (Bearer <key>)"),
    # §4 names only UNKNOWN (500) for server faults; the outage fault keeps its promised 503.
    unavailable=lambda: error(503, "UNKNOWN", "service temporarily unavailable, please retry later"),
    rate_limited=lambda seconds: error(
        429, "RATE_LIMIT_EXCEEDED", "too many requests, please slow down", headers={"Retry-After": str(seconds)}
    ),
    bad_json=lambda detail: error(400, "REQUEST", f"request body is not valid JSON: {detail}"),
)
_endpoint = endpoint(VENDOR, key=bearer_key, errors=ERRORS)


def api(method: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """A keyed API view answering one method; :class:`Refused` becomes its error body."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def checked(request: HttpRequest, *args: Any, account: str, faults: Faults, **kwargs: Any) -> HttpResponse:
            if request.method != method:
                return error(405, "METHOD_NOT_ALLOWED", f"{request.method} is not allowed on {request.path}")
            try:
                return view(request, *args, account=account, faults=faults, **kwargs)
            except Refused as refused:
                return refused.response()

        return _endpoint(checked)

    return decorator


# --- reading requests --------------------------------------------------------------------------------


def _body(request: HttpRequest) -> dict[str, Any]:
    body = json_body(request)
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise Refused("REQUEST", "request body must be a JSON object")
    return body


def _int(value: Any, field: str) -> int:
    # Strict, unlike providers.coerce.whole: the vendor's JSON decoder refuses "1" or 1.5 for an int [I].
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(field, "must be an integer")
    return value


def _opt_int(body: dict[str, Any], key: str, field: str | None = None, default: int = 0) -> int:
    value = body.get(key)
    return default if value is None else _int(value, field or key)


def _text(body: dict[str, Any], key: str, *, field: str | None = None, max_len: int, min_len: int = 0) -> str:
    """A string field; missing or null reads as ``""`` (Go's zero value). Strict, unlike
    ``providers.coerce.text``: another type is the vendor's 400, not an empty string."""
    field = field or key
    value = body.get(key)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise invalid(field, "must be a string")
    if len(value) < min_len:
        raise invalid(field, "is required" if min_len == 1 else f"must be at least {min_len} characters")
    if len(value) > max_len:
        raise invalid(field, f"must be at most {max_len} characters")
    return value


def _list(body: dict[str, Any], key: str, *, max_items: int, field: str | None = None) -> list[Any]:
    field = field or key
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid(field, "must be a list")
    if len(value) > max_items:
        raise invalid(field, f"may hold at most {max_items} items")
    return value


def _item(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(field, "must be an object")
    return value


def _query_int(request: HttpRequest, key: str, *, lo: int = 0, hi: int | None = None) -> int | None:
    raw = request.GET.get(key, "").strip()
    if not raw:
        return None
    if not re.fullmatch(r"-?\d+", raw):
        raise invalid(key, "must be an integer")
    value = int(raw)
    if value < lo or (hi is not None and value > hi):
        raise invalid(key, f"must be inside range [{lo}, {hi}]" if hi is not None else f"must be at least {lo}")
    return value


def _page(request: HttpRequest, items: list[Any], *, page_key: str, first: int = 1) -> tuple[list[Any], int, int]:
    """One page of ``items``, counted from ``first``; size 0 → 10, at most 100 [I]. Counted
    from 1 (templates, network storages [I]), page 0 is read as 1."""
    number = max(_query_int(request, page_key) or 0, first)
    size = min(_query_int(request, "pageSize") or PAGE_DEFAULT, PAGE_MAX)
    start = (number - first) * size
    return items[start : start + size], number, size


def _check_port(port: int, field: str) -> None:
    if not 1 <= port <= 65535:
        raise invalid(field, f"port {port} must be inside range [1, 65535]")
    if port in RESERVED_PORTS:
        raise invalid(field, f"port {port} is reserved (2222, 2223 and 2224 are for internal use)")


def _parse_ports(value: Any) -> list[dict[str, Any]]:
    """The create body's port string, ``"80/http, 3306/tcp"`` [V], as port objects."""
    if value is None:
        return []
    if not isinstance(value, str):
        raise invalid("ports", 'must be a string such as "80/http, 3306/tcp"')
    if not value.strip():
        return []
    ports: list[dict[str, Any]] = []
    for raw in value.split(","):
        part = raw.strip()
        match = PORT_ITEM_RE.match(part)
        if match is None:
            raise invalid("ports", f"{part!r} is not port/type, e.g. 80/http")
        port, kind = int(match[1]), match[2]
        _check_port(port, "ports")
        if kind not in ("tcp", "http"):
            raise invalid("ports", f"type {kind!r} of {part} is not supported; use tcp or http")
        if any(p["port"] == port for p in ports):
            raise invalid("ports", f"port {port} is listed twice")
        ports.append({"port": port, "type": kind})
    return ports


def _check_envs(body: dict[str, Any], *, kind: str, field: str = "envs") -> list[dict[str, str]]:
    """At most 100 variables on a GPU instance, 30 on a CPU one [V: Novita's docs, "Create
    CPU Instance", as the contract's corrections quote it]; an upgrade keeps the limit [I]."""
    envs: list[dict[str, str]] = []
    limit = MAX_ENVS_CPU if kind == "cpu" else MAX_ENVS
    for i, raw in enumerate(_list(body, "envs", max_items=limit, field=field)):
        item = _item(raw, f"{field}.{i}")
        key = _text(item, "key", field=f"{field}.{i}.key", max_len=511, min_len=1)
        value = _text(item, "value", field=f"{field}.{i}.value", max_len=4095)
        if any(e["key"] == key for e in envs):
            raise invalid(f"{field}.{i}.key", f"{key} is set twice")
        envs.append({"key": key, "value": value})
    return envs


# --- accounts, money -----------------------------------------------------------------------------------


def _objects(account: str, kind: str):
    return SandboxObject.objects.filter(vendor=VENDOR, account=account, kind=kind)


def _account(account: str) -> SandboxObject:
    """The key's account record, made (with its starting balance, storages and registry
    credential) on first use."""
    obj = _objects(account, "account").select_for_update().first()
    if obj is not None:
        return obj
    try:
        with transaction.atomic():
            obj = SandboxObject.objects.create(
                vendor=VENDOR,
                account=account,
                kind="account",
                object_id="account",
                data={
                    "credit": START_BALANCE_USD * UNITS_PER_USD,
                    "purchases": [],
                    "settled": "0",
                    "next_auth": 1002,
                    "created_at": _iso(_now()),
                },
            )
    except IntegrityError:  # a concurrent first request made it: use theirs
        return _objects(account, "account").select_for_update().get()
    for storage_id, name, size, cluster_id in SEED_STORAGES:
        _save_storage(account, storage_id, name=name, size=size, cluster_id=cluster_id)
    SandboxObject.objects.create(
        vendor=VENDOR,
        account=account,
        kind="auth",
        object_id="1001",
        name="ghcr.io",
        data={"id": "1001", "name": "ghcr.io", "username": "sandbox-bot", "password": secrets.token_urlsafe(18)},
    )
    return obj


def _save_storage(account: str, storage_id: str, *, name: str, size: int, cluster_id: str) -> SandboxObject:
    cluster = CLUSTER_BY_ID[cluster_id]
    data = {
        "storageId": storage_id,
        "storageName": name,
        "storageSize": size,
        "clusterId": cluster_id,
        "clusterName": cluster["name"],
        "price": str(size * STORAGE_PRICE_PER_GB_MONTH),
    }
    obj, _ = SandboxObject.objects.update_or_create(
        vendor=VENDOR, account=account, kind="storage", object_id=storage_id, defaults={"name": name, "data": data}
    )
    return obj


def _steps(data: dict[str, Any]) -> list[tuple[dt.datetime, dict[str, Any]]]:
    return [(_time(step["at"]), step) for step in data["steps"]]


def _state(data: dict[str, Any], at: dt.datetime) -> dict[str, Any]:
    """What the instance looks like at ``at``: its steps up to then, folded."""
    state: dict[str, Any] = {"status": "toCreate", "spot": "", "error": NO_ERROR, "reclaim": None}
    for moment, step in _steps(data):
        if moment > at:
            break
        state.update({k: v for k, v in step.items() if k != "at"})
    return state


def _usage(data: dict[str, Any], until: dt.datetime) -> Decimal:
    """Units spent by per-second billing up to ``until``: billed statuses × the rate then."""
    rates = [(_time(at), Decimal(rate)) for at, rate in data["rates"]]
    moments = sorted({m for m, _ in _steps(data) if m < until} | {m for m, _ in rates if m < until})
    total = Decimal(0)
    for i, start in enumerate(moments):
        end = moments[i + 1] if i + 1 < len(moments) else until
        if end <= start or _state(data, start)["status"] not in BILLED:
            continue
        rate = next((r for m, r in reversed(rates) if m <= start), Decimal(0))
        total += rate * Decimal((end - start).total_seconds()) / 3600
    return total


def _hour_start(now: dt.datetime) -> dt.datetime:
    return now.replace(minute=0, second=0, microsecond=0)


def _money(acct: SandboxObject, live: Iterable[SandboxObject], now: dt.datetime) -> dict[str, Decimal]:
    """The account in units: cash (settled), pending (this hour's usage), available."""
    data = acct.data
    hour = _hour_start(now)
    usage_before = sum((_usage(o.data, min(hour, now)) for o in live), Decimal(0))
    usage_now = sum((_usage(o.data, now) for o in live), Decimal(0))
    purchases = sum((Decimal(p["units"]) for p in data["purchases"]), Decimal(0))
    cash = Decimal(data["credit"]) - purchases - Decimal(data["settled"]) - usage_before
    pending = usage_now - usage_before
    return {"cash": cash, "pending": pending, "available": cash - pending}


def _charge(acct: SandboxObject, units: int, note: str, at: dt.datetime) -> None:
    acct.data["purchases"].append({"at": _iso(at), "units": units, "note": note})


def _monthly_cost(product: dict[str, Any], month: int, gpus: int) -> int:
    table = {m["month"]: m["price"] for m in product["monthlyPrice"]}
    per_gpu = table.get(month, table.get(1, 0) * month)
    return per_gpu * gpus


def _hourly_rate(product: dict[str, Any], billing: str, gpus: int) -> int:
    if billing == "monthly":
        return 0
    return int(product["spotPrice" if billing == "spot" else "price"]) * max(gpus, 1)


# --- instances: time moves on read -------------------------------------------------------------------


def _plan(data: dict[str, Any], now: dt.datetime, *steps: tuple[float, dict[str, Any]]) -> None:
    """Replace whatever was still to come with ``steps`` (fractions of the provisioning
    time from ``now``). A step reaching ``running`` carries the image's error overlay."""
    seconds = _provision_seconds()
    data["steps"] = [s for s in data["steps"] if _time(s["at"]) <= now]
    for fraction, fields in steps:
        step = {"at": _iso(now + dt.timedelta(seconds=seconds * fraction)), **fields}
        if fields.get("status") == "running":
            step["error"] = CRASH_ERROR if CRASH_IMAGE in data["imageUrl"] else NO_ERROR
            if data["billingMode"] == "spot":
                step.update(spot="running", reclaim=None)
        elif "status" in fields:
            step.setdefault("error", NO_ERROR)
        data["steps"].append(step)


def _schedule_create(data: dict[str, Any], now: dt.datetime) -> None:
    _plan(
        data,
        now,
        (0, {"status": "toCreate"}),
        (0.1, {"status": "creating"}),
        (0.3, {"status": "pulling"}),
        (1, {"status": "running"}),
    )
    if data["billingMode"] == "spot" and RECLAIM_NAME in data["name"]:
        # The sandbox's spot switch: one reclaim, a provisioning time after it first runs.
        seconds = _provision_seconds()
        notified = now + dt.timedelta(seconds=2 * seconds)
        gone = notified + dt.timedelta(seconds=seconds)
        data["steps"] += [
            {"at": _iso(notified), "spot": "notified", "reclaim": _iso(gone)},
            {"at": _iso(notified + dt.timedelta(seconds=seconds / 2)), "spot": "reclaiming", "status": "stopping"},
            {"at": _iso(gone), "spot": "terminated", "status": "exited"},
        ]


def _status(obj: SandboxObject, now: dt.datetime) -> str:
    return _state(obj.data, now)["status"]


def _end_time(data: dict[str, Any]) -> dt.datetime | None:
    return _time(data["endTime"]) if data.get("endTime") else None


def _advance(acct: SandboxObject, objs: list[SandboxObject], now: dt.datetime) -> list[SandboxObject]:
    """Bring the account's instances up to ``now``: subscriptions that reached their
    ``endTime`` renew or stop, removed records go. Returns the instances still there."""
    live: list[SandboxObject] = []
    changed_acct = False
    due = sorted((o for o in objs if _end_time(o.data) is not None), key=lambda o: _end_time(o.data))
    for obj in due:
        data = obj.data
        while (end := _end_time(data)) is not None and end <= now and not data.get("expired"):
            if _state(data, end)["status"] in BEING_REMOVED:
                break
            product = _product_of(data)
            cost = _monthly_cost(product, data["autoRenewMonth"], data["gpuNum"]) if data["autoRenew"] else 0
            if data["autoRenew"] and _money(acct, objs, end)["available"] >= cost:
                _charge(acct, cost, f"auto-renew {data['id']} for {data['autoRenewMonth']} month(s)", end)
                data["endTime"] = _iso(end + MONTH * data["autoRenewMonth"])
                changed_acct = True
            else:
                data["expired"] = True
                if _state(data, end)["status"] not in ("exited", "toStop", "stopping"):
                    data["steps"] = [s for s in data["steps"] if _time(s["at"]) <= end]
                    _plan(
                        data, end, (0, {"status": "toStop"}), (0.1, {"status": "stopping"}), (0.5, {"status": "exited"})
                    )
            obj.save(update_fields=["data", "updated_at"])
    for obj in objs:
        state = _state(obj.data, now)
        removed_at = next((m for m, s in reversed(_steps(obj.data)) if s.get("status") == "removed"), None)
        gone = removed_at is not None and now >= removed_at + dt.timedelta(seconds=_provision_seconds())
        if state["status"] == "removed" and gone:
            # Its usage is settled into the account as its record goes.
            acct.data["settled"] = str(Decimal(acct.data["settled"]) + _usage(obj.data, now))
            changed_acct = True
            obj.delete()
        else:
            live.append(obj)
    if changed_acct:
        acct.save(update_fields=["data", "updated_at"])
    return live


def _world(account: str, now: dt.datetime, *, only: str | None = None) -> tuple[SandboxObject, list[SandboxObject]]:
    """The account and its instances as of ``now`` (call inside a transaction). With
    ``only``, just that instance: a poll reads every instance one by one, and bringing the
    whole account up to date on each read made one poll cost the square of the fleet."""
    acct = _account(account)
    objs = _objects(account, "instance").select_for_update().order_by("created_at", "pk")
    if only is not None:
        one = list(objs.filter(object_id=only))
        # A subscription due for renewal is paid against every instance's usage: then
        # the whole account moves, as it would without ``only``.
        if not any((end := _end_time(o.data)) is not None and end <= now and not o.data.get("expired") for o in one):
            return acct, _advance(acct, one, now)
    return acct, _advance(acct, list(objs), now)


def _find(live: list[SandboxObject], instance_id: Any) -> SandboxObject:
    if not isinstance(instance_id, str) or not instance_id:
        raise invalid("instanceId", "is required")
    found = next((o for o in live if o.object_id == instance_id), None)
    if found is None:
        raise Refused("RESOURCE_NOT_FOUND", f"instance {instance_id} not found")
    return found


def _product_of(data: dict[str, Any]) -> dict[str, Any]:
    return (CPU_PRODUCT_BY_ID if data["kind"] == "cpu" else PRODUCT_BY_ID)[data["productId"]]


def _conflict(status: str, action: str, needs: str) -> Refused:
    return Refused("CONFLICT", f"cannot {action} an instance that is {status}; it must be {needs}")


# --- create --------------------------------------------------------------------------------------------


def _check_tools(body: dict[str, Any], ports: list[dict[str, Any]]) -> list[dict[str, str]]:
    tools: list[dict[str, str]] = []
    for i, raw in enumerate(_list(body, "tools", max_items=MAX_PORTS)):
        item = _item(raw, f"tools.{i}")
        if item.get("name") != "Jupyter":
            raise invalid(f"tools.{i}.name", "must be Jupyter, the only tool offered")
        if any(t["name"] == "Jupyter" for t in tools):
            raise invalid(f"tools.{i}.name", "Jupyter is listed twice")
        port_text = item.get("port")
        if not isinstance(port_text, str) or plain_int(port_text) is None:
            raise invalid(f"tools.{i}.port", 'must be a port number as a string, e.g. "8888"')
        port = int(port_text)
        _check_port(port, f"tools.{i}.port")
        if any(p["port"] == port for p in ports):
            raise invalid(f"tools.{i}.port", f"port {port} is already used in ports")
        kind = item.get("type")
        if kind not in ("tcp", "http"):
            raise invalid(f"tools.{i}.type", "must be tcp or http")
        tools.append({"name": "Jupyter", "port": port_text, "type": kind})
    return tools


def _check_storages(
    account: str, body: dict[str, Any], key: str, *, id_key: str, mount_key: str, field: str
) -> list[tuple[SandboxObject, str]]:
    """Network storage mounts: each exists in this account, mount points unique."""
    mounts: list[tuple[SandboxObject, str]] = []
    items = _list(body, key, max_items=30, field=field)
    for i, raw in enumerate(items):
        item = _item(raw, f"{field}.{i}")
        storage_id = _text(item, id_key, field=f"{field}.{i}.{id_key}", max_len=255, min_len=1)
        mount = _text(item, mount_key, field=f"{field}.{i}.{mount_key}", max_len=4095) or "/network"
        if not mount.startswith("/"):
            raise invalid(f"{field}.{i}.{mount_key}", "must be an absolute path")
        storage = _objects(account, "storage").filter(object_id=storage_id).first()
        if storage is None:
            raise Refused("NETWORK_STORAGE_NOT_FOUND", f"network storage {storage_id} ({field}.{i}.{id_key}) not found")
        if any(s.object_id == storage_id for s, _ in mounts):
            raise invalid(f"{field}.{i}.{id_key}", f"network storage {storage_id} is mounted twice")
        if any(m == mount for _, m in mounts):
            raise invalid(f"{field}.{i}.{mount_key}", f"{mount} is used by two mounts")
        mounts.append((storage, mount))
    return mounts


def _check_cuda(body: dict[str, Any]) -> str:
    version = _text(body, "minCudaVersion", max_len=255)
    if not version:
        return ""
    match = CUDA_RE.match(version)
    if match is None:
        raise invalid("minCudaVersion", "must look like 11.8 or 12.4")
    if (int(match[1]), int(match[2])) > MAX_CUDA:
        raise Refused("INSUFFICIENT_RESOURCE", f"no machine offers CUDA {version} or newer (at most 12.8)")
    return version


def _check_image(account: str, body: dict[str, Any]) -> tuple[str, str, str]:
    image = _text(body, "imageUrl", max_len=500, min_len=1)
    image_auth = _text(body, "imageAuth", max_len=10239)
    auth_id = _text(body, "imageAuthId", max_len=255)
    if image_auth:
        user, sep, password = image_auth.partition(":")
        if not sep or not user or not password:
            raise invalid("imageAuth", "must be username:password")
        if auth_id:
            raise invalid("imageAuth", "give either imageAuth or imageAuthId, not both")
    if auth_id and not _objects(account, "auth").filter(object_id=auth_id).exists():
        raise invalid("imageAuthId", f"registry credential {auth_id} does not exist")
    if NOT_FOUND_IMAGE in image:
        raise Refused("IMAGE_NOT_FOUND", f"image {image} not found or not accessible")
    return image, image_auth, auth_id


def _pick_cluster(
    body: dict[str, Any], candidates: list[dict[str, Any]], mounts: list[tuple[SandboxObject, str]]
) -> dict[str, Any]:
    cluster_id = _text(body, "clusterId", max_len=255)
    if cluster_id and cluster_id not in CLUSTER_BY_ID:
        raise invalid("clusterId", f"cluster {cluster_id} does not exist")
    if cluster_id and all(c["id"] != cluster_id for c in candidates):
        raise invalid("clusterId", f"the product is not sold in cluster {CLUSTER_BY_ID[cluster_id]['name']}")
    storage_clusters = {s.data["clusterId"] for s, _ in mounts}
    if len(storage_clusters) > 1:
        raise Refused(
            "NETWORK_STORAGE_UNAVAILABLE", "network storages in different clusters cannot be mounted together"
        )
    if storage_clusters:
        (wanted,) = storage_clusters
        if cluster_id and cluster_id != wanted:
            raise Refused(
                "NETWORK_STORAGE_UNAVAILABLE",
                f"network storage is in cluster {CLUSTER_BY_ID[wanted]['name']}, not in the instance's",
            )
        if all(c["id"] != wanted for c in candidates):
            raise Refused(
                "NETWORK_STORAGE_UNAVAILABLE",
                f"the product is not sold in cluster {CLUSTER_BY_ID[wanted]['name']}, where the storage is",
            )
        cluster_id = wanted
    return CLUSTER_BY_ID[cluster_id] if cluster_id else candidates[0]


def _check_billing(body: dict[str, Any], product: dict[str, Any]) -> tuple[str, int, bool, int]:
    month = _opt_int(body, "month")
    if month < 0:
        raise invalid("month", "must be greater than or equal to 0")
    billing = _text(body, "billingMode", max_len=32) or "onDemand"
    if billing not in BILLING_MODES:
        raise invalid("billingMode", "must be one of onDemand, monthly, spot")
    if month > 0:
        billing = "monthly"  # "If month > 0 is set, monthly billing mode will be enforced" [V]
    if billing not in product.get("billingMethods", ["onDemand"]):
        raise Refused("UNSUPPORTED_BILLING_MODE", f"product {product['id']} cannot be billed {billing}")
    if billing == "monthly" and month < 1:
        raise invalid("month", "a monthly instance needs month of at least 1")
    auto_renew = body.get("autoRenew") or False
    if not isinstance(auto_renew, bool):
        raise invalid("autoRenew", "must be a boolean")
    renew_months = _opt_int(body, "autoRenewMonth")
    if billing == "monthly" and auto_renew and not 1 <= renew_months <= 12:
        raise invalid("autoRenewMonth", "must be inside range [1, 12] when autoRenew is on")
    if billing != "monthly":
        auto_renew, renew_months = False, 0  # "only effective when monthly billing is enabled" [V]
    return billing, month, auto_renew, renew_months if auto_renew else 0


def _create_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The create body's own rules, checked before any stored state is read."""
    kind = body.get("kind")
    if kind not in ("gpu", "cpu"):
        raise invalid("kind", "must be gpu or cpu")
    name = _text(body, "name", max_len=255)
    if not NAME_RE.match(name):
        raise invalid("name", "may contain only letters, digits and hyphens")
    fields: dict[str, Any] = {"kind": kind, "name": name, "productId": _text(body, "productId", max_len=255, min_len=1)}
    if kind == "gpu":
        gpus = _opt_int(body, "gpuNum")
        if not 1 <= gpus <= 8:
            raise invalid("gpuNum", "must be inside range [1, 8]")
        rootfs = _opt_int(body, "rootfsSize")
        if rootfs < 0 or rootfs > MAX_ROOTFS:
            raise invalid("rootfsSize", f"must be inside range [10, {MAX_ROOTFS}]")
        fields.update(gpuNum=gpus, rootfsSize=max(rootfs, 10))  # "less than 10 GB … will default to 10 GB" [V]
    ports = _parse_ports(body.get("ports"))
    tools = _check_tools(body, ports)
    if len(ports) + len(tools) > MAX_PORTS:
        raise invalid("ports", f"ports and tools together may use at most {MAX_PORTS} ports")
    fields.update(ports=ports, tools=tools, envs=_check_envs(body, kind=kind))
    fields["command"] = _text(body, "command", max_len=2047)
    fields["entrypoint"] = _text(body, "entrypoint", max_len=2047)
    fields["networkId"] = _text(body, "networkId", max_len=255)
    fields["minCudaVersion"] = _check_cuda(body)
    return fields


def _create_product(body: dict[str, Any], fields: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The product asked for, its billing and root disk (set in ``fields``), and the
    clusters it can be placed in."""
    product_id = fields["productId"]
    if fields["kind"] == "gpu":
        product = PRODUCT_BY_ID.get(product_id)
        if product is None:
            raise invalid("productId", f"GPU product {product_id} does not exist")
        billing = _check_billing(body, product)
        rootfs = fields["rootfsSize"]
        if rootfs < product["minRootFS"] or rootfs > product["maxRootFS"]:
            raise invalid(
                "rootfsSize",
                f"must be inside range [{max(10, product['minRootFS'])}, "
                f"{min(MAX_ROOTFS, product['maxRootFS'])}] for {product['name']}",
            )
        candidates = _sold_in(product)
    else:
        product = CPU_PRODUCT_BY_ID.get(product_id)
        if product is None:
            raise invalid("productId", f"CPU product {product_id} does not exist")
        billing = _check_billing(body, product)
        fields.update(gpuNum=0, rootfsSize=product["rootfsSize"])
        fields["localStorageMountPoint"] = _text(body, "localStorageMountPoint", max_len=4095) or "/workspace"
        candidates = list(CLUSTERS)
    fields.update(zip(("billingMode", "month", "autoRenew", "autoRenewMonth"), billing, strict=True))
    return product, candidates


def _check_funds(
    acct: SandboxObject, live: list[SandboxObject], now: dt.datetime, product: dict[str, Any], fields: dict[str, Any]
) -> int:
    """What creating it charges at once (a subscription), refused if the balance does not
    cover it (or an hour of the rent), or the account holds too many instances."""
    billing, month, gpus = fields["billingMode"], fields["month"], fields["gpuNum"]
    available = _money(acct, live, now)["available"]
    cost = 0
    if billing == "monthly":
        cost = _monthly_cost(product, month, gpus)
        if available < cost:
            raise Refused("BALANCE_NOT_ENOUGH", f"balance does not cover {month} month(s) of {product['name']}")
    elif available < _hourly_rate(product, billing, gpus):
        raise Refused("BALANCE_NOT_ENOUGH", f"balance does not cover an hour of {product['name']}")
    if sum(1 for o in live if _status(o, now) not in BEING_REMOVED) >= INSTANCE_LIMIT:
        raise Refused(
            "CREATE_INSTANCE_LIMIT",
            f"at most {INSTANCE_LIMIT} instances per account: recharge or delete other instances",
        )
    return cost


@api("POST")
def create(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    body = _body(request)
    fields = _create_fields(body)
    with transaction.atomic():
        now = _now()
        acct, live = _world(account, now)
        mounts = _check_storages(
            account, body, "networkStorages", id_key="Id", mount_key="mountPoint", field="networkStorages"
        )
        product, candidates = _create_product(body, fields)
        if faults.no_capacity or not product["availableDeploy"]:
            raise Refused("INSUFFICIENT_RESOURCE", f"no {product['name']} is available right now")
        image = _check_image(account, body)
        if fields["networkId"]:
            raise Refused("NETWORK_NOT_FOUND", f"network {fields['networkId']} not found")
        cluster = _pick_cluster(body, candidates, mounts)
        cost = _check_funds(acct, live, now, product, fields)
        data = _instance_data(fields, product, cluster, image, mounts, now)
        _new_node(data)
        if fields["billingMode"] == "monthly":
            month, gpus = fields["month"], fields["gpuNum"]
            _charge(acct, cost, f"{data['id']}: {month} month(s) of {gpus} × {product['name']}", now)
            data["endTime"] = _iso(now + MONTH * month)
            acct.save(update_fields=["data", "updated_at"])
        _schedule_create(data, now)
        SandboxObject.objects.create(
            vendor=VENDOR, account=account, kind="instance", object_id=data["id"], name=data["name"], data=data
        )
    return json_response({"id": data["id"]})


def _instance_data(
    fields: dict[str, Any],
    product: dict[str, Any],
    cluster: dict[str, Any],
    image: tuple[str, str, str],
    mounts: list[tuple[SandboxObject, str]],
    now: dt.datetime,
) -> dict[str, Any]:
    """The stored record of a new instance (its node and schedule are added after)."""
    kind, gpus = fields["kind"], fields["gpuNum"]
    data: dict[str, Any] = {
        "id": secrets.token_hex(8),
        "name": fields["name"],
        "kind": kind,
        "productId": product["id"],
        "productName": product["name"],
        "clusterId": cluster["id"],
        "clusterName": cluster["name"],
        "gpuNum": gpus,
        "cpuNum": product["cpuPerGpu"] * gpus if kind == "gpu" else product["cpuNum"],
        "memory": product["memoryPerGpu"] * gpus if kind == "gpu" else product["memorySize"],
        "rootfsSize": fields["rootfsSize"],
        "imageUrl": image[0],
        "imageAuth": image[1],
        "imageAuthId": image[2],
        **{key: fields[key] for key in ("command", "entrypoint", "ports", "tools", "envs")},
        "mounts": [{"id": s.object_id, "mountPath": m} for s, m in mounts],
        **{key: fields[key] for key in ("networkId", "billingMode", "month", "autoRenew", "autoRenewMonth")},
        "minCudaVersion": fields["minCudaVersion"],
        "createdAt": _iso(now),
        "endTime": None,
        "expired": False,
        "password": secrets.token_urlsafe(12),
        "steps": [],
        "rates": [[_iso(now), str(_hourly_rate(product, fields["billingMode"], gpus))]],
    }
    if kind == "cpu":
        data["localStorage"] = {"size": product["localVolumeSize"], "mountPath": fields["localStorageMountPoint"]}
    return data


def _new_node(data: dict[str, Any]) -> None:
    """Place the instance on a (new) node: its IP and the public port of each tcp port."""
    seed = secrets.token_bytes(4)
    data["nodeIp"] = f"203.0.113.{seed[0] % 250 + 2}"
    data["portMap"] = {}
    _map_ports(data)


def _map_ports(data: dict[str, Any]) -> None:
    used = set(data["portMap"].values())
    for item in [*data["ports"], *({"port": int(t["port"])} for t in data["tools"]), {"port": 22}]:
        key = str(item["port"])
        if key not in data["portMap"]:
            public = 30000 + int(hashlib.sha256(f"{data['id']}:{key}".encode()).hexdigest(), 16) % 20000
            while public in used:
                public += 1
            used.add(public)
            data["portMap"][key] = public


# --- reading instances -------------------------------------------------------------------------------------


def _times(data: dict[str, Any], now: dt.datetime) -> dict[str, str]:
    runs = [m for m, s in _steps(data) if m <= now and s.get("status") == "running"]
    stops = [m for m, s in _steps(data) if m <= now and s.get("status") == "exited"]
    return {
        "createdAt": _unix(_time(data["createdAt"])),
        "startedAt": _unix(runs[0] if runs else None),
        "lastStartedAt": _unix(runs[-1] if runs else None),
        "stoppedAt": _unix(stops[0] if stops else None),
        "lastStoppedAt": _unix(stops[-1] if stops else None),
    }


def _storage_sizes(account: str) -> dict[str, int]:
    return {s.object_id: s.data["storageSize"] for s in _objects(account, "storage")}


def _volume_mounts(data: dict[str, Any], sizes: dict[str, int]) -> list[dict[str, Any]]:
    mounts = [
        {"type": "network", "size": sizes.get(m["id"], 0), "id": m["id"], "mountPath": m["mountPath"]}
        for m in data["mounts"]
    ]
    if data.get("localStorage"):
        mounts.append(
            {
                "type": "local",
                "size": data["localStorage"]["size"],
                "id": "",
                "mountPath": data["localStorage"]["mountPath"],
            }
        )
    return mounts


def _listed(obj: SandboxObject, now: dt.datetime, sizes: dict[str, int]) -> dict[str, Any]:
    """An instance as ``/gpu/instances`` lists it (§2.4): ports without endpoints."""
    data = obj.data
    state = _state(data, now)
    end = _end_time(data)
    return {
        "id": data["id"],
        "name": data["name"],
        "clusterId": data["clusterId"],
        "clusterName": data["clusterName"],
        "status": state["status"],
        "imageUrl": data["imageUrl"],
        "imageAuthId": data["imageAuthId"],
        "command": data["command"],
        "entrypoint": data["entrypoint"],
        "cpuNum": str(data["cpuNum"]),
        "memory": str(data["memory"]),
        "gpuNum": str(data["gpuNum"]),
        "portMappings": [{"port": p["port"], "type": p["type"]} for p in data["ports"]],
        "productId": data["productId"],
        "productName": data["productName"],
        "rootfsSize": data["rootfsSize"],
        "volumeMounts": _volume_mounts(data, sizes),
        "statusError": dict(state["error"]),
        "envs": [dict(e) for e in data["envs"]],
        "kind": data["kind"],
        "billingMode": data["billingMode"],
        "endTime": _unix(end) if end is not None else "-1",
        "spotStatus": state["spot"],
        "spotReclaimTime": _unix(_time(state["reclaim"])) if state["reclaim"] else "0",
        **_times(data, now),
    }


def _proxy_url(request: HttpRequest, data: dict[str, Any], port: str) -> str:
    return request.build_absolute_uri(reverse("sandbox:novita-proxy", args=[f"{data['id']}-{port}"]))


def log_token(account: str, instance_id: str, which: str) -> str:
    return salted_hmac("sandbox.novita.logs", f"{account}:{instance_id}:{which}").hexdigest()[:32]


def _detail(request: HttpRequest, obj: SandboxObject, now: dt.datetime) -> dict[str, Any]:
    """An instance as ``/gpu/instance`` answers it (§2.5): the list fields plus
    connection details, with the real (generated) password as the vendor sends it."""
    data = obj.data
    out = _listed(obj, now, _storage_sizes(obj.account))
    status = out["status"]
    up = status == "running"
    mappings = []
    for p in data["ports"]:
        public = data["portMap"][str(p["port"])]
        address = _proxy_url(request, data, str(p["port"])) if p["type"] == "http" else f"{data['nodeIp']}:{public}"
        mappings.append({"port": p["port"], "endpoint": address, "type": p["type"]})
    jupyter = next((t for t in data["tools"] if t["name"] == "Jupyter"), None)
    logs = {
        which: request.build_absolute_uri(
            reverse("sandbox:novita-logs", args=[data["id"], which, log_token(obj.account, data["id"], which)])
        )
        for which in ("system", "instance")
    }
    product = _product_of(data)
    out.update(
        {
            "portMappings": mappings,
            "network": {"id": data["networkId"], "ip": ""},
            "node": {"maxRootfsSize": product.get("maxRootFS", data["rootfsSize"])},
            "jobs": [],
            "freeStorageSize": max(data["rootfsSize"] - 12, 0),  # an image's worth used [invented]
            "keepDataDay": 7,  # [invented]
            "connectComponentSSH": {
                "sshCommand": f"ssh root@{data['nodeIp']} -p {data['portMap']['22']}",
                "password": data["password"],
                "isRunning": up,
            },
            "connectComponentWebTerminal": {
                "address": _proxy_url(request, data, "terminal"),
                "username": "root",
                "password": data["password"],
                "isRunning": up,
            },
            "connectComponentJupyter": {
                "port": int(jupyter["port"]) if jupyter else 0,
                "address": _proxy_url(request, data, jupyter["port"]) if jupyter else "",
                "isRunning": up and jupyter is not None,
            },
            "connectComponentLog": {
                "systemLogAddress": logs["system"],
                "instanceLogAddress": logs["instance"],
                "isRunning": status not in ("toCreate", "creating", *BEING_REMOVED),
            },
        }
    )
    return out


@api("GET")
def instances(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    status = request.GET.get("status", "").strip()
    if status and status not in STATUSES:
        raise invalid("status", f"must be one of {', '.join(STATUSES)}")
    name = request.GET.get("name", "").strip().lower()
    product_name = request.GET.get("productName", "").strip().lower()
    for key, value in (("name", name), ("productName", product_name)):
        if len(value) > 255:
            raise invalid(key, "must be at most 255 characters")
    with transaction.atomic():
        now = _now()
        _, live = _world(account, now)
        sizes = _storage_sizes(account)
        rows = [_listed(o, now, sizes) for o in reversed(live)]  # newest first [I]
    rows = [
        r
        for r in rows
        if (not status or r["status"] == status)
        and name in r["name"].lower()
        and product_name in r["productName"].lower()
    ]
    # Pages count from 0: ``pageNum`` is ">= 0" [V: Novita's docs, "List Instances"], and the
    # cnovita client's first page is 0 [C: cnovita 0.3.0, cnovita/core/client.py]. Novita's
    # MCP server asks from 1 [C: per the contract's corrections]; SANDBOX_NOVITA_PAGE_BASE=1
    # serves a server counting that way (page 0 read as 1), so paging is proven both ways.
    first = 1 if settings.SANDBOX_NOVITA_PAGE_BASE == 1 else 0
    page, _, _ = _page(request, rows, page_key="pageNum", first=first)
    return json_response({"instances": page, "total": len(rows)})


@api("GET")
def instance(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    with transaction.atomic():
        now = _now()
        instance_id = request.GET.get("instanceId", "").strip()
        _, live = _world(account, now, only=instance_id or None)
        obj = _find(live, instance_id)
        return json_response(_detail(request, obj, now))


# --- lifecycle actions -----------------------------------------------------------------------------------


Act = Callable[[SandboxObject, SandboxObject, list[SandboxObject], dt.datetime, dict[str, Any]], None]


def _action(request: HttpRequest, account: str, act: Act) -> HttpResponse:
    """An instance action: ``act(instance, account record, live instances, now, body)``
    checks and changes the instance, raising :class:`Refused` to answer an error."""
    body = _body(request)
    with transaction.atomic():
        now = _now()
        acct, live = _world(account, now)
        obj = _find(live, body.get("instanceId"))
        act(obj, acct, live, now, body)
        obj.save(update_fields=["data", "name", "updated_at"])
    return json_response({})


def _start(obj: SandboxObject, acct: SandboxObject, live: list, now: dt.datetime, body: dict, faults: Faults) -> None:
    data, status = obj.data, _status(obj, now)
    if status != "exited":
        raise _conflict(status, "start", "exited")
    if data["billingMode"] == "monthly" and (_end_time(data) or now) <= now:
        raise Refused("EXPIRED_OR_BALANCE_NOT_ENOUGH", "the subscription has expired: renew it before starting")
    product = _product_of(data)
    if _money(acct, live, now)["available"] < _hourly_rate(product, data["billingMode"], data["gpuNum"]):
        raise Refused("EXPIRED_OR_BALANCE_NOT_ENOUGH", "balance does not cover an hour of this instance")
    if faults.no_capacity:
        raise Refused("INSUFFICIENT_RESOURCE", f"no {data['productName']} is free on the node right now")
    _plan(data, now, (0, {"status": "toStart"}), (0.1, {"status": "starting"}), (0.5, {"status": "running"}))


@api("POST")
def start(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    return _action(request, account, lambda *a: _start(*a, faults))


@api("POST")
def stop(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    def act(obj: SandboxObject, acct: SandboxObject, live: list, now: dt.datetime, body: dict) -> None:
        status = _status(obj, now)
        if status != "running":
            raise _conflict(status, "stop", "running")
        _plan(obj.data, now, (0, {"status": "toStop"}), (0.1, {"status": "stopping"}), (0.5, {"status": "exited"}))

    return _action(request, account, act)


@api("POST")
def restart(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    def act(obj: SandboxObject, acct: SandboxObject, live: list, now: dt.datetime, body: dict) -> None:
        status = _status(obj, now)
        if status != "running":
            raise _conflict(status, "restart", "running")
        _plan(
            obj.data, now, (0, {"status": "toRestart"}), (0.1, {"status": "restarting"}), (0.5, {"status": "running"})
        )

    return _action(request, account, act)


@api("POST")
def delete(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    def act(obj: SandboxObject, acct: SandboxObject, live: list, now: dt.datetime, body: dict) -> None:
        data, status = obj.data, _status(obj, now)
        if status in BEING_REMOVED:
            raise _conflict(status, "delete", "not already being removed")
        end = _end_time(data)
        if data["billingMode"] == "monthly" and end is not None and end > now:
            raise Refused(
                "PREPAID_INSTANCE_NOT_SUPPORT_RELEASE",
                f"a subscription instance cannot be released before it expires at "
                f"{end.strftime('%Y-%m-%d %H:%M:%S')} UTC (endTime {_unix(end)})",
            )
        _plan(data, now, (0, {"status": "toRemove"}), (0.1, {"status": "removing"}), (0.5, {"status": "removed"}))

    return _action(request, account, act)


def _settled_states(obj: SandboxObject, now: dt.datetime, action: str) -> str:
    status = _status(obj, now)
    if status not in ("running", "exited"):
        raise _conflict(status, action, "running or exited")
    return status


@api("POST")
def edit(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    def act(obj: SandboxObject, acct: SandboxObject, live: list, now: dt.datetime, body: dict) -> None:
        data = obj.data
        ports: list[dict[str, Any]] = []
        for i, raw in enumerate(_list(body, "ports", max_items=MAX_PORTS)):
            item = _item(raw, f"ports.{i}")
            port = _int(item.get("port"), f"ports.{i}.port")
            _check_port(port, f"ports.{i}.port")
            if item.get("type") not in ("tcp", "http"):
                raise invalid(f"ports.{i}.type", "must be tcp or http")
            if any(p["port"] == port for p in ports):
                raise invalid(f"ports.{i}.port", f"port {port} is listed twice")
            tool = next((t for t in data["tools"] if t["port"] == str(port)), None)
            if tool is not None:
                # A tool's own port may be listed again [I: whether the edit list covers
                # the tools' ports is not documented]; it stays the tool's.
                if tool["type"] != item["type"]:
                    raise invalid(f"ports.{i}.type", f"port {port} is {tool['name']}'s, which is {tool['type']}")
                continue
            ports.append({"port": port, "type": item["type"]})
        if len(ports) + len(data["tools"]) > MAX_PORTS:
            raise invalid("ports", f"ports and tools together may use at most {MAX_PORTS} ports")
        grow = _opt_int(body, "expandRootDisk")
        if grow < 0:
            raise invalid("expandRootDisk", "must be greater than or equal to 0 (the disk can only grow)")
        ceiling = min(MAX_ROOTFS, _product_of(data).get("maxRootFS", MAX_ROOTFS))
        if data["rootfsSize"] + grow > ceiling:
            raise invalid(
                "expandRootDisk", f"the root disk may grow to at most {ceiling} GB (it is {data['rootfsSize']} GB)"
            )
        _settled_states(obj, now, "edit")
        data["ports"] = ports
        data["rootfsSize"] += grow
        _map_ports(data)

    return _action(request, account, act)


@api("POST")
def upgrade(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    def act(obj: SandboxObject, acct: SandboxObject, live: list, now: dt.datetime, body: dict) -> None:
        data = obj.data
        for key in ("imageUrl", "envs", "command", "entrypoint", "save", "networkVolume"):
            if key not in body:
                raise invalid(key, "is required: upgrade replaces the whole configuration")
        image = _text(body, "imageUrl", max_len=500, min_len=1)
        auth_id = _text(body, "imageAuthId", max_len=255)
        if auth_id and not _objects(account, "auth").filter(object_id=auth_id).exists():
            raise invalid("imageAuthId", f"registry credential {auth_id} does not exist")
        envs = _check_envs(body, kind=data.get("kind") or "gpu")
        command = _text(body, "command", max_len=2047)
        entrypoint = _text(body, "entrypoint", max_len=2047)
        if not isinstance(body["save"], bool):
            raise invalid("save", "must be a boolean")
        volume = _item(body["networkVolume"], "networkVolume")
        if "volumeMounts" not in volume:
            raise invalid("networkVolume.volumeMounts", "is required ([] removes every mount)")
        for i, raw in enumerate(_list(volume, "volumeMounts", max_items=30, field="networkVolume.volumeMounts")):
            if _item(raw, f"networkVolume.volumeMounts.{i}").get("type") != "network":
                raise invalid(f"networkVolume.volumeMounts.{i}.type", "must be network")
        mounts = _check_storages(
            account, volume, "volumeMounts", id_key="id", mount_key="mountPath", field="networkVolume.volumeMounts"
        )
        elsewhere = [s for s, _ in mounts if s.data["clusterId"] != data["clusterId"]]
        if elsewhere:
            raise Refused(
                "NETWORK_STORAGE_UNAVAILABLE",
                f"network storage {elsewhere[0].object_id} is in cluster "
                f"{elsewhere[0].data['clusterName']}, not the instance's",
            )
        if NOT_FOUND_IMAGE in image:
            raise Refused("IMAGE_NOT_FOUND", f"image {image} not found or not accessible")
        _settled_states(obj, now, "upgrade")
        data.update(
            imageUrl=image,
            imageAuthId=auth_id,
            imageAuth="" if auth_id else data["imageAuth"],
            envs=envs,
            command=command,
            entrypoint=entrypoint,
            mounts=[{"id": s.object_id, "mountPath": m} for s, m in mounts],
        )
        _plan(data, now, (0, {"status": "toReset"}), (0.1, {"status": "resetting"}), (1, {"status": "running"}))

    return _action(request, account, act)


@api("POST")
def migrate(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    def act(obj: SandboxObject, acct: SandboxObject, live: list, now: dt.datetime, body: dict) -> None:
        was = _settled_states(obj, now, "migrate")
        if faults.no_capacity:
            raise Refused("MIGRATE_INSUFFICIENT_RESOURCE", f"no other node has a free {obj.data['productName']}")
        _new_node(obj.data)
        _plan(obj.data, now, (0, {"status": "migrating"}), (1, {"status": was}))

    return _action(request, account, act)


def _months_in(body: dict[str, Any]) -> int:
    month = _opt_int(body, "month")
    if month < 1:
        raise invalid("month", "must be at least 1")
    return month


@api("POST")
def renew(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    def act(obj: SandboxObject, acct: SandboxObject, live: list, now: dt.datetime, body: dict) -> None:
        data, status = obj.data, _status(obj, now)
        month = _months_in(body)
        if data["billingMode"] != "monthly":
            raise Refused("UNSUPPORTED_BILLING_MODE", "only a subscription (monthly) instance can be renewed")
        if status in ("toCreate", "creating", "pulling"):
            raise Refused("CREATING_INSTANCE_NOT_SUPPORT_RENEWAL", "the instance is still being created")
        if status in BEING_REMOVED:
            raise _conflict(status, "renew", "not being removed")
        cost = _monthly_cost(_product_of(data), month, data["gpuNum"])
        if _money(acct, live, now)["available"] < cost:
            raise Refused("BALANCE_NOT_ENOUGH", f"balance does not cover {month} more month(s)")
        _charge(acct, cost, f"renew {data['id']} for {month} month(s)", now)
        acct.save(update_fields=["data", "updated_at"])
        data["endTime"] = _iso(max(_end_time(data) or now, now) + MONTH * month)
        data["expired"] = False

    return _action(request, account, act)


@api("POST")
def to_monthly(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    def act(obj: SandboxObject, acct: SandboxObject, live: list, now: dt.datetime, body: dict) -> None:
        data, status = obj.data, _status(obj, now)
        month = _months_in(body)
        if status in ("toCreate", "creating", "pulling"):
            raise Refused("CREATING_INSTANCE_NOT_SUPPORT_RENEWAL", "the instance is still being created")
        if data["billingMode"] != "onDemand":
            raise Refused("UNSUPPORTED_BILLING_MODE", f"a {data['billingMode']} instance cannot become monthly")
        product = _product_of(data)
        if "monthly" not in product.get("billingMethods", []):
            raise Refused("UNSUPPORTED_BILLING_MODE", f"product {product['id']} is not sold monthly")
        _settled_states(obj, now, "convert")
        cost = _monthly_cost(product, month, data["gpuNum"])
        if _money(acct, live, now)["available"] < cost:
            raise Refused("BALANCE_NOT_ENOUGH", f"balance does not cover {month} month(s)")
        _charge(acct, cost, f"convert {data['id']} to {month} month(s)", now)
        acct.save(update_fields=["data", "updated_at"])
        data.update(billingMode="monthly", month=month, endTime=_iso(now + MONTH * month), expired=False)
        data["rates"].append([_iso(now), "0"])

    return _action(request, account, act)


# --- catalog -----------------------------------------------------------------------------------------------


@api("GET")
def clusters(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    return json_response({"data": [_cluster_json(c) for c in CLUSTERS]})


def _product_json(product: dict[str, Any], faults: Faults) -> dict[str, Any]:
    out = dict(product)
    out["regions"] = list(product["regions"])
    out["monthlyPrice"] = [dict(m) for m in product["monthlyPrice"]]
    if faults.no_capacity:
        out.update(availableDeploy=False, inventoryState="none")
    return out


@api("GET")
def products(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    cluster_id = _query_int(request, "clusterId", hi=255)
    _query_int(request, "gpuNum", hi=8)  # every product comes with 1–8 GPUs: nothing to filter [I]
    name = request.GET.get("productName", "").strip().lower()
    min_cpu = _query_int(request, "minCpuPerGpu") or 0
    min_memory = _query_int(request, "minMemoryPerGpu") or 0
    min_rootfs = _query_int(request, "minRootFSSize") or 0
    billing = request.GET.get("billingMethod", "").strip()
    if billing and billing not in BILLING_MODES:
        raise invalid("billingMethod", "must be one of onDemand, monthly, spot")
    items = []
    for product in PRODUCTS:
        if cluster_id is not None and all(c["id"] != str(cluster_id) for c in _sold_in(product)):
            continue
        if name not in product["name"].lower() or product["cpuPerGpu"] < min_cpu:
            continue
        if product["memoryPerGpu"] < min_memory or product["maxRootFS"] < min_rootfs:
            continue
        if billing and billing not in product["billingMethods"]:
            continue
        items.append(_product_json(product, faults))
    return json_response({"data": items})


@api("GET")
def cpu_products(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    cluster_id = _query_int(request, "clusterId", hi=255)
    if cluster_id is not None and str(cluster_id) not in CLUSTER_BY_ID:
        return json_response({"data": []})
    name = request.GET.get("productName", "").strip().lower()
    items = [dict(p) for p in CPU_PRODUCTS if name in p["name"].lower()]
    if faults.no_capacity:
        for item in items:
            item["availableDeploy"] = False
    return json_response({"data": items})


@api("GET")
def balance(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    with transaction.atomic():
        now = _now()
        acct, live = _world(account, now)
        money = _money(acct, live, now)

    def units(value: Decimal, rounding: str) -> str:
        return str(int((value / 10).to_integral_value(rounding=rounding)))  # 1/100 000 → 1/10 000 USD

    return json_response(
        {
            "availableBalance": units(money["available"], ROUND_FLOOR),
            "cashBalance": units(money["cash"], ROUND_FLOOR),
            "creditLimit": "0",
            "pendingCharges": units(money["pending"], ROUND_CEILING),
            "outstandingInvoices": "0",
        }
    )


# --- network storage ------------------------------------------------------------------------------------------


def _storage_size(body: dict[str, Any]) -> int:
    size = _int(body.get("storageSize"), "storageSize")
    lo, hi = STORAGE_SIZES
    if size > hi:
        raise Refused("NETWORK_STORAGE_TOO_LARGE", f"a network storage may hold at most {hi} GB")
    if size < lo:
        raise invalid("storageSize", f"must be at least {lo} GB")
    return size


@api("GET")
def storages(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    with transaction.atomic():
        _account(account)
        rows = [o.data for o in _objects(account, "storage").order_by("-created_at", "-pk")]
    name = request.GET.get("storageName", "").strip().lower()
    storage_id = request.GET.get("storageId", "").strip()
    rows = [r for r in rows if name in r["storageName"].lower() and (not storage_id or r["storageId"] == storage_id)]
    page, _, _ = _page(request, rows, page_key="pageNo")
    return json_response({"data": page, "total": len(rows)})


@api("POST")
def storage_create(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    body = _body(request)
    cluster_id = _text(body, "clusterId", max_len=255, min_len=1)
    name = _text(body, "storageName", max_len=255, min_len=1)
    size = _storage_size(body)
    cluster = CLUSTER_BY_ID.get(cluster_id)
    if cluster is None:
        raise invalid("clusterId", f"cluster {cluster_id} does not exist")
    if not cluster["supportNetworkStorage"]:
        raise Refused("CUR_CLUSTER_NETWORK_STORAGE_NOT_SUPPORT", f"cluster {cluster['name']} has no network storage")
    with transaction.atomic():
        _account(account)
        storage_id = str(uuid.uuid4())
        _save_storage(account, storage_id, name=name, size=size, cluster_id=cluster_id)
    return json_response(storage_id)  # a bare string [V]


def _storage(account: str, body: dict[str, Any]) -> SandboxObject:
    storage_id = _text(body, "storageId", max_len=255, min_len=1)
    obj = _objects(account, "storage").select_for_update().filter(object_id=storage_id).first()
    if obj is None:
        raise Refused("NETWORK_STORAGE_NOT_FOUND", f"network storage {storage_id} not found")
    return obj


@api("POST")
def storage_update(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    body = _body(request)
    with transaction.atomic():
        _account(account)
        obj = _storage(account, body)
        name = _text(body, "storageName", max_len=255, min_len=1)
        size = _storage_size(body)
        if size < obj.data["storageSize"]:
            raise invalid("storageSize", f"can only grow (it is {obj.data['storageSize']} GB)")
        _save_storage(account, obj.object_id, name=name, size=size, cluster_id=obj.data["clusterId"])
    return json_response({})


@api("POST")
def storage_delete(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    body = _body(request)
    with transaction.atomic():
        now = _now()
        _, live = _world(account, now)
        obj = _storage(account, body)
        users = [
            o.object_id
            for o in live
            if _status(o, now) not in BEING_REMOVED and any(m["id"] == obj.object_id for m in o.data["mounts"])
        ]
        if users:
            raise Refused("NETWORK_STORAGE_IN_USE", f"network storage is mounted by instance {', '.join(users)}")
        obj.delete()
    return json_response({})


# --- templates, registry credentials -------------------------------------------------------------------------


@api("GET")
def templates(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    channels = {c.strip() for raw in request.GET.getlist("channel") for c in raw.split(",") if c.strip()}
    unknown = channels - {"official", "community", "private"}
    if unknown:
        raise invalid("channel", f"must be official, community or private, not {', '.join(sorted(unknown))}")
    kind = request.GET.get("type", "").strip()
    name = request.GET.get("name", "").strip().lower()
    mine = request.GET.get("isMyCommunity", "").strip().lower() == "true"
    rows = [
        t
        for t in TEMPLATES
        if (not channels or t["channel"] in channels)
        and (not kind or t["type"] == kind)
        and name in t["name"].lower()
        and not (mine and t["channel"] == "community")  # this account has published none
    ]
    page, number, size = _page(request, rows, page_key="pageNum")
    return json_response({"template": page, "pageSize": size, "pageNum": number, "total": len(rows)})


@api("GET")
def template(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    template_id = request.GET.get("templateId", "").strip()
    if not template_id:
        raise invalid("templateId", "is required")
    if template_id == OTHERS_PRIVATE_TEMPLATE:
        raise Refused("TEMPLATE_IS_PRIVATE", f"template {template_id} is private")
    found = TEMPLATE_BY_ID.get(template_id)
    if found is None:
        raise Refused("TEMPLATE_NOT_FOUND", f"template {template_id} not found")
    return json_response({"template": found})


@api("GET")
def auths(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    with transaction.atomic():
        _account(account)
        rows = [o.data for o in _objects(account, "auth").order_by("created_at", "pk")]
    return json_response({"data": rows})


@api("POST")
def auth_save(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    body = _body(request)
    values = {key: _text(body, key, max_len=500, min_len=1) for key in ("name", "username", "password")}
    with transaction.atomic():
        acct = _account(account)
        auth_id = str(acct.data["next_auth"])
        acct.data["next_auth"] += 1
        acct.save(update_fields=["data", "updated_at"])
        SandboxObject.objects.create(
            vendor=VENDOR,
            account=account,
            kind="auth",
            object_id=auth_id,
            name=values["name"],
            data={"id": auth_id, **values},
        )
    return json_response({})


@api("POST")
def auth_delete(request: HttpRequest, *, account: str, faults: Faults) -> HttpResponse:
    body = _body(request)
    auth_id = _text(body, "id", max_len=255, min_len=1)
    with transaction.atomic():
        now = _now()
        _, live = _world(account, now)
        obj = _objects(account, "auth").filter(object_id=auth_id).first()
        if obj is None:
            raise Refused("RESOURCE_NOT_FOUND", f"registry credential {auth_id} not found")
        users = [o.object_id for o in live if o.data["imageAuthId"] == auth_id and _status(o, now) not in BEING_REMOVED]
        if users:
            raise Refused("IMAGE_AUTH_IN_USE", f"registry credential is used by instance {', '.join(users)}")
        obj.delete()
    return json_response({})


# --- what instances serve: logs and ports --------------------------------------------------------------------

LOG_LINES = {
    "toCreate": "instance {id} queued on cluster {clusterName}",
    "creating": "allocating {gpuNum} x {productName}",
    "pulling": "pulling image {imageUrl}",
    "running": "container started",
    "toStop": "stop requested",
    "stopping": "stopping container",
    "exited": "container stopped",
    "toStart": "start requested",
    "starting": "starting container",
    "toRestart": "restart requested",
    "restarting": "restarting container",
    "toReset": "upgrade requested",
    "resetting": "recreating container with image {imageUrl}",
    "migrating": "migrating to another node",
    "toRemove": "release requested",
    "removing": "releasing resources",
    "removed": "instance released",
}


def _log_text(data: dict[str, Any], which: str, now: dt.datetime) -> str:
    lines = []
    for moment, step in _steps(data):
        if moment > now:
            break
        stamp = moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        status = step.get("status")
        if which == "system":
            if status in LOG_LINES:
                lines.append(f"{stamp} {LOG_LINES[status].format(**data)}")
            if step.get("spot") in ("notified", "reclaiming", "terminated"):
                lines.append(f"{stamp} spot instance {step['spot']}")
        elif status == "running":
            # The container's own output: what it runs, never the env values.
            run = " ".join(x for x in (data["entrypoint"], data["command"]) if x) or "the image's default command"
            lines.append(f"{stamp} starting {data['imageUrl']}: {run}")
            if data["envs"]:
                lines.append(f"{stamp} environment: {', '.join(e['key'] for e in data['envs'])}")
            for p in data["ports"]:
                lines.append(f"{stamp} listening on {p['port']}/{p['type']}")
            if step.get("error", NO_ERROR)["state"]:
                lines.append(f"{stamp} error: {step['error']['message']}")
    return "".join(f"{line}\n" for line in lines)


def instance_logs(request: HttpRequest, instance_id: str, which: str, token: str) -> HttpResponse:
    """A log address from ``connectComponentLog``: public, authorised by its token."""
    if request.method != "GET":
        return HttpResponse("method not allowed\n", status=405, content_type="text/plain")
    if "Authorization" in request.headers:
        # Not the vendor API: a client must never send its key to a host an answer named.
        return HttpResponse(
            "refused: this log address takes no Authorization header\n", status=400, content_type="text/plain"
        )
    obj = SandboxObject.objects.filter(vendor=VENDOR, kind="instance", object_id=instance_id).first()
    if obj is None or which not in ("system", "instance"):
        return HttpResponse("404 page not found\n", status=404, content_type="text/plain")
    if not constant_time_compare(token, log_token(obj.account, instance_id, which)):
        return HttpResponse("403 forbidden\n", status=403, content_type="text/plain")
    return HttpResponse(_log_text(obj.data, which, _now()), content_type="text/plain; charset=utf-8")


instance_logs.vendor_public = True  # type: ignore[attr-defined]  # the token in the path is the auth


@csrf_exempt
def proxy(request: HttpRequest, ref: str, rest: str = "") -> HttpResponse:
    """An instance's http port, web terminal or Jupyter: answers while it runs."""
    instance_id, _, port = ref.partition("-")
    obj = SandboxObject.objects.filter(vendor=VENDOR, kind="instance", object_id=instance_id).first()
    if obj is None:
        return HttpResponse("404 page not found\n", status=404, content_type="text/plain")
    data = obj.data
    served = {str(p["port"]) for p in data["ports"] if p["type"] == "http"} | {t["port"] for t in data["tools"]}
    if port not in served | {"terminal"}:
        return HttpResponse("404 page not found\n", status=404, content_type="text/plain")
    if _status(obj, _now()) != "running":
        return HttpResponse("502 Bad Gateway\n", status=502, content_type="text/plain")
    return json_response({"instance": instance_id, "port": port, "path": "/" + rest, "method": request.method})


proxy.vendor_public = True  # type: ignore[attr-defined]  # public on the internet, like the real endpoint

urlpatterns = [
    path(API + "clusters", clusters, name="novita-clusters"),
    path(API + "products", products, name="novita-products"),
    path(API + "cpu/products", cpu_products, name="novita-cpu-products"),
    path(API + "gpu/instance/create", create, name="novita-create"),
    path(API + "gpu/instances", instances, name="novita-instances"),
    path(API + "gpu/instance", instance, name="novita-instance"),
    path(API + "gpu/instance/start", start, name="novita-start"),
    path(API + "gpu/instance/stop", stop, name="novita-stop"),
    path(API + "gpu/instance/restart", restart, name="novita-restart"),
    path(API + "gpu/instance/delete", delete, name="novita-delete"),
    path(API + "gpu/instance/edit", edit, name="novita-edit"),
    path(API + "gpu/instance/upgrade", upgrade, name="novita-upgrade"),
    path(API + "gpu/instance/migrate", migrate, name="novita-migrate"),
    path(API + "gpu/instance/renewInstance", renew, name="novita-renew"),
    path(API + "gpu/instance/transToMonthlyInstance", to_monthly, name="novita-to-monthly"),
    path(API + "networkstorages/list", storages, name="novita-storages"),
    path(API + "networkstorage/create", storage_create, name="novita-storage-create"),
    path(API + "networkstorage/update", storage_update, name="novita-storage-update"),
    path(API + "networkstorage/delete", storage_delete, name="novita-storage-delete"),
    path(API + "templates", templates, name="novita-templates"),
    path(API + "template", template, name="novita-template"),
    path(API + "repository/auths", auths, name="novita-auths"),
    path(API + "repository/auth/save", auth_save, name="novita-auth-save"),
    path(API + "repository/auth/delete", auth_delete, name="novita-auth-delete"),
    path("openapi/v1/billing/balance/detail", balance, name="novita-balance"),
    path("instance-logs/<str:instance_id>/<str:which>/<str:token>", instance_logs, name="novita-logs"),
    path("proxy/<str:ref>/", proxy, name="novita-proxy"),
    path("proxy/<str:ref>/<path:rest>", proxy),
]
