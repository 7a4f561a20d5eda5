"""Novita AI GPU instances (API v1): one container on 1–8 GPUs of a product, with
start, stop, restart, edit (ports, disk) and upgrade (image, env, command, volumes).

Contract: ``shared/vendor-apis/novita.md`` and the seed
``shared/seeds/004_fec64cfa50edafd2.txt``. The spec this adapter takes *is* the create
body of contract §2.3, camelCase as Novita spells it (``productId``, ``gpuNum``, ``ports``
as the string ``"8000/http, 22/tcp"``, ``networkStorages[{Id, mountPoint}]``...);
``validate_spec`` returns it normalised, optional keys left out when empty (``None``,
``""``, ``[]``). [V] = vendor page, [C] = public client code, [I] = inferred; where the
notes leave a fact open the safest reading is taken and named in a comment.

Choices where the contract is silent:
- Money: product prices are strings in 1/100 000 USD per GPU-hour [C], balances in
  1/10 000 USD [V]. ``Offer.price_per_hour`` is the on-demand USD price of *one* GPU
  (``gpu_count`` 1); ``Offer.extra`` carries ``spotPrice`` and ``monthlyPrice`` already in
  USD (strings, per GPU), the vendor's own numbers stay in ``Offer.raw``.
- A monthly subscription's hourly figure is its price spread over 720 hours a month [I]
  (the panel's forms use 720 too); its whole price is an upfront charge.
- The list answer has no connection details (§6), so ``list()`` reads ``get`` for each
  *running* instance, like Nosana's jobs call per RUNNING deployment.
- Passwords in answers (SSH, web terminal) become ``"******"`` before they reach
  ``Remote.raw``; the log-stream URLs are capability URLs and are masked there too —
  ``logs()`` reads them fresh and fetches them without the Authorization header.
- No POST is retried, and a POST whose answer was lost is checked by a GET (start, stop,
  restart, delete answer CONFLICT when repeated: the reached state counts as done).
- The account metadata's templates (private and official, one page of ``PAGE_SIZE`` each)
  keep what the form's template picker fills in: image, ports, start command, root disk,
  tools and the *names* of the env variables. Never their values, never ``imageAuth``.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

from providers.base import (
    AccountInfo,
    Action,
    AuthError,
    Charge,
    Endpoint,
    LogLines,
    NotFound,
    Offer,
    Provider,
    ProviderError,
    RateLimited,
    Rejected,
    Remote,
    RemoteState,
    SpecError,
    Transient,
)
from providers.http import MAX_MESSAGE, json_or_none, parse_retry_after, response_text

logger = logging.getLogger(__name__)

# --- the vendor's rules (the form reads these too) -----------------------------------------
GPU_API = "/gpu-instance/openapi/v1"  # under https://api.novita.ai [V]
BALANCE_PATH = "/openapi/v1/billing/balance/detail"  # outside the GPU API [V]

KINDS: tuple[str, ...] = ("gpu", "cpu")  # [V]
BILLING_MODES: tuple[str, ...] = ("onDemand", "monthly", "spot")  # [V]
BILLING_LABELS = {
    "onDemand": "On demand: billed per second from image pull, settled hourly",
    "monthly": "Monthly: prepaid subscription, charged at creation",
    "spot": "Spot: cheaper, but Novita can reclaim it",
}
PORT_TYPES: tuple[str, ...] = ("tcp", "http")  # no udp [V]
TOOL_NAMES: tuple[str, ...] = ("Jupyter",)  # [V]
RESERVED_PORTS = frozenset({2222, 2223, 2224})  # internal use [V]
PORT_RANGE = (1, 65535)
MAX_PORTS_AND_TOOLS = 15  # ports + tools [V]
GPU_NUM = (1, 8)  # [V]
ROOTFS = (10, 6144)  # GB; the product's minRootFS/maxRootFS narrow it [V]
NAME_MAX = 255
NAME_RE = re.compile(r"^[A-Za-z0-9-]+$")  # [C] the official MCP tool: letters, digits, hyphens
PRODUCT_ID_MAX = 255
IMAGE_URL_MAX = 500
IMAGE_AUTH_MAX = 10239
ENVS_MAX = 100
ENV_KEY_MAX = 511
ENV_VALUE_MAX = 4095
COMMAND_MAX = 2047  # command and entrypoint each [V]
NETWORK_STORAGES_MAX = 30
MOUNT_POINT_MAX = 4095
DEFAULT_MOUNT_POINT = "/network"  # [V]
DEFAULT_LOCAL_MOUNT_POINT = "/workspace"  # CPU instances [V]
AUTO_RENEW_MONTHS = (1, 12)  # [V]
CUDA_RE = re.compile(r"^\d+\.\d+$")  # "11.8", "12.4" [V format]
CUDA_MAX = 255
PORT_ENTRY_RE = re.compile(r"^\s*(\d{1,5})\s*/\s*([A-Za-z]+)\s*$")

# The create body, in the vendor page's order [V]; CPU instances add localStorageMountPoint.
CREATE_FIELDS: tuple[str, ...] = (
    "name", "productId", "gpuNum", "rootfsSize", "imageUrl", "imageAuth", "imageAuthId", "ports", "envs",
    "tools", "command", "entrypoint", "clusterId", "networkStorages", "networkId", "kind", "month",
    "billingMode", "autoRenew", "autoRenewMonth", "minCudaVersion", "localStorageMountPoint",
)  # fmt: skip
GPU_ONLY_FIELDS = ("gpuNum", "rootfsSize", "month", "billingMode", "autoRenew", "autoRenewMonth")
# What an existing instance can change, and through which call [V: §2.7].
EDIT_FIELDS = ("ports", "rootfsSize")  # POST /gpu/instance/edit
UPGRADE_FIELDS = ("imageUrl", "imageAuthId", "envs", "command", "entrypoint", "networkStorages")  # /upgrade
# Everything else is fixed once created (no rename in v1 [V]; migrate/renew are separate).
FIXED_FIELDS = tuple(f for f in CREATE_FIELDS if f not in EDIT_FIELDS + UPGRADE_FIELDS)
UPGRADE_NEEDS_SAVED_AUTH = (
    "Novita's upgrade takes a saved registry credential (imageAuthId), not username:password: "
    "save it under Registry credentials in Novita's console and choose it."
)

# --- paging, logs ---------------------------------------------------------------------------
PAGE_SIZE = 100  # [I] pageSize has no documented maximum
MAX_PAGES = 200  # a loop guard: 20,000 instances is far past any real account
LOG_LINES = 1000  # kept per source (the panel keeps its own last N)
LOG_LINE_MAX = 4000
LOG_MAX_BYTES = 4_000_000
LOG_READ_SECONDS = 10.0
LOG_IDLE_SECONDS = 3.0
MASK = "******"

# --- money ------------------------------------------------------------------------------------
PRICE_UNIT = Decimal(100_000)  # product prices: 1/100 000 USD [C]
BALANCE_UNIT = Decimal(10_000)  # balances: 1/10 000 USD [V]
HOURS_PER_MONTH = 720  # [I] a 30-day month, as the panel's estimates use
USD_PLACES = Decimal("0.00001")  # the vendor's own precision
# The panel keeps prices to 4 places: a figure with more would look changed on every poll.
PANEL_PLACES = Decimal("0.0001")

# --- status: one table, one test per row (contract §3) ---------------------------------------
STATUS_TABLE: dict[str, RemoteState] = {
    "toCreate": RemoteState.PROVISIONING,
    "creating": RemoteState.PROVISIONING,
    "pending": RemoteState.PROVISIONING,  # undocumented, seen in practice [C]
    "pulling": RemoteState.PROVISIONING,  # billing has started [V]
    "running": RemoteState.RUNNING,
    "toStart": RemoteState.PROVISIONING,
    "starting": RemoteState.PROVISIONING,
    "toStop": RemoteState.STOPPING,
    "stopping": RemoteState.STOPPING,
    "exited": RemoteState.STOPPED,
    # A restart interrupts a running instance: "updating", because the panel's state
    # machine has no running -> provisioning move (and it comes back to running).
    "toRestart": RemoteState.UPDATING,
    "restarting": RemoteState.UPDATING,
    "toReset": RemoteState.UPDATING,  # upgrade in progress [V]
    "resetting": RemoteState.UPDATING,
    "migrating": RemoteState.UPDATING,
    # [?] "freezing" is not explained; safest: not running, needs a look (perhaps balance).
    "freezing": RemoteState.FAILED,
    "toRemove": RemoteState.DELETING,
    "removing": RemoteState.DELETING,
    "removed": RemoteState.DELETED,
}
STATUS_MESSAGES: dict[str, str] = {
    "toCreate": "Queued for creation.",
    "creating": "Creating the instance.",
    "pending": "Waiting for resources.",
    "pulling": "Pulling the image (billing has started).",
    "running": "Running.",
    "toStart": "Queued to start.",
    "starting": "Starting.",
    "toStop": "Queued to stop.",
    "stopping": "Stopping.",
    "exited": "Stopped: the GPU is not billed; the disk is kept.",
    "toRestart": "Queued to restart.",
    "restarting": "Restarting.",
    "toReset": "Queued for the upgrade (new image, environment or command).",
    "resetting": "Upgrading: recreating the container.",
    "migrating": "Migrating to other hardware.",
    "freezing": "Novita reports “freezing” (not documented; often a low balance). Check the account.",
    "toRemove": "Queued for release.",
    "removing": "Releasing the instance.",
    "removed": "Released.",
}
# Overlay for spot instances (spotStatus [V enum, I mapping]); "" and "running" change nothing.
SPOT_STATUS: dict[str, str] = {
    "running": "",
    "notified": "Novita has announced it will reclaim this spot instance.",
    "reclaiming": "Novita is reclaiming this spot instance.",
    "terminated": "Novita reclaimed this spot instance.",
}
# Statuses in which the GPU is billed [V: from pulling on; not while stopped] — the
# transitions of a live container are billed too [I].
BILLED_STATUSES = frozenset(
    {"pulling", "running", "toStop", "stopping", "toStart", "starting", "toRestart", "restarting", "toReset",
     "resetting", "migrating"}
)  # fmt: skip
# Where an existing instance accepts edit/upgrade [I: wrong states answer CONFLICT].
SETTLED_STATUSES = frozenset({"running", "exited"})


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _int(value: Any) -> int | None:
    """An integer from an int, an integral float or a digit string (Novita sends
    ``"1"`` for gpuNum in answers); ``None`` otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def usd_from_price(value: Any) -> Decimal | None:
    """A product price (1/100 000 USD, string or number) in USD."""
    number = _decimal(value)
    return None if number is None else (number / PRICE_UNIT).quantize(USD_PLACES, rounding=ROUND_HALF_UP)


def usd_from_balance(value: Any) -> Decimal | None:
    """A balance figure (1/10 000 USD) in USD."""
    number = _decimal(value)
    return None if number is None else number / BALANCE_UNIT


def parse_ports(value: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """``"8000/http, 22/tcp"`` -> ``[{port: 8000, type: "http"}, ...]`` and the problems,
    one message per bad entry."""
    if value is None or value == "":
        return [], []
    if not isinstance(value, str):
        return [], ['Ports are text like "8000/http, 22/tcp".']
    rows, problems = [], []
    for entry in value.split(","):
        if not entry.strip():
            problems.append("An empty entry: separate ports with single commas.")
            continue
        match = PORT_ENTRY_RE.match(entry)
        if not match:
            problems.append(f"“{entry.strip()}” is not port/type, e.g. 8000/http.")
            continue
        port, kind = int(match.group(1)), match.group(2).lower()
        problem = port_problem(port)
        if problem:
            problems.append(f"{port}: {problem}")
        if kind not in PORT_TYPES:
            problems.append(f"{port}/{match.group(2)}: the type is tcp or http (no udp).")
        rows.append({"port": port, "type": kind})
    return rows, problems


def format_ports(rows: Iterable[Mapping[str, Any]]) -> str:
    """The create body's string from port rows: ``"8000/http, 22/tcp"``."""
    return ", ".join(f"{row['port']}/{row['type']}" for row in rows)


def port_problem(port: Any) -> str:
    """Why ``port`` cannot be exposed, or ``""``."""
    number = _int(port)
    if number is None:
        return "A port is a whole number."
    if not PORT_RANGE[0] <= number <= PORT_RANGE[1]:
        return f"Ports run from {PORT_RANGE[0]} to {PORT_RANGE[1]}."
    if number in RESERVED_PORTS:
        return "2222, 2223 and 2224 are reserved by Novita."
    return ""


def billing_mode(spec: Mapping[str, Any]) -> str:
    """The mode Novita will bill: ``billingMode``, else monthly when ``month`` > 0 [V]."""
    mode = spec.get("billingMode")
    if mode:
        return str(mode)
    return "monthly" if (_int(spec.get("month")) or 0) > 0 else "onDemand"


def cluster_in_regions(cluster_id: str, regions: Iterable[str], clusters: Iterable[Mapping[str, Any]] = ()) -> bool:
    """Whether a cluster is among a product's regions. Regions are cluster *names* like
    ``"US-CA-06 (California)"`` [C] while create takes a cluster id: the id is matched
    through ``/clusters`` (``{id, name}``) on the name before any parenthesis [I]. An
    empty region list means every cluster [V]; an id that cannot be named is let through
    (Novita decides)."""
    regions = [str(r) for r in regions if r]
    if not regions or not cluster_id:
        return True
    names = {cluster_id}
    known = False
    for cluster in clusters:
        if str(cluster.get("id")) == cluster_id:
            known = True
            if cluster.get("name"):
                names.add(str(cluster["name"]))
    stems = {n.split(" (")[0].strip().lower() for n in names}
    if any(r.split(" (")[0].strip().lower() in stems for r in regions):
        return True
    return not known


def _offer_for(spec: Mapping[str, Any], offers: Iterable[Offer]) -> Offer | None:
    product = spec.get("productId")
    return next((o for o in offers if o.sku == product), None) if product else None


def check_product(
    spec: Mapping[str, Any],
    offer: Offer,
    *,
    metadata: Mapping[str, Any] | None = None,
    existing: bool = False,
) -> dict[str, list[str]]:
    """The rules that depend on the chosen product (contract §5): capacity (new instances
    only), the rootfs window, the billing modes it is sold in, its regions. ``metadata``
    is ``account_metadata()``: its clusters name the regions, its network storages give
    each volume's cluster."""
    errors: dict[str, list[str]] = {}
    extra = offer.extra or {}
    if not existing and not offer.available:
        errors.setdefault("productId", []).append(f"{offer.name} has no capacity now: choose another product.")
    rootfs = _int(spec.get("rootfsSize"))
    low = max(ROOTFS[0], _int(extra.get("minRootFS")) or 0)
    high = min(ROOTFS[1], _int(extra.get("maxRootFS")) or ROOTFS[1])
    if rootfs is not None and spec.get("kind", "gpu") == "gpu" and not low <= rootfs <= high:
        errors.setdefault("rootfsSize", []).append(f"{offer.name} takes a root disk of {low}–{high} GB.")
    methods = [str(m) for m in extra.get("billingMethods") or []]
    mode = billing_mode(spec)
    if methods and spec.get("kind", "gpu") == "gpu" and mode not in methods:
        sold = ", ".join(BILLING_LABELS.get(m, m).split(":")[0].lower() for m in methods)
        errors.setdefault("billingMode", []).append(f"{offer.name} is sold {sold} only.")
    clusters = list((metadata or {}).get("clusters") or [])
    cluster = _text(spec.get("clusterId")) if not isinstance(spec.get("clusterId"), int) else str(spec["clusterId"])
    if cluster and not cluster_in_regions(cluster, extra.get("regions") or [], clusters):
        errors.setdefault("clusterId", []).append(
            f"{offer.name} is not sold in this cluster; it is in: {', '.join(extra.get('regions') or [])}."
        )
    storages = {str(s.get("id")): s for s in (metadata or {}).get("network_storages") or [] if s.get("id")}
    for i, volume in enumerate(spec.get("networkStorages") or []):
        known = storages.get(str(volume.get("Id"))) if isinstance(volume, Mapping) else None
        if known and cluster and known.get("cluster_id") not in (None, "") and str(known["cluster_id"]) != cluster:
            errors.setdefault(f"networkStorages.{i}.Id", []).append(
                f"The volume {known.get('name') or volume.get('Id')} is in another cluster "
                f"({known.get('cluster_name') or known['cluster_id']}): Novita mounts volumes of the instance's cluster only."
            )
    return errors


def check_spec(
    spec: Mapping[str, Any],
    *,
    offers: Iterable[Offer] = (),
    metadata: Mapping[str, Any] | None = None,
    existing: bool = False,
) -> dict[str, Any]:
    """Check a create body and return it normalised. Raises :class:`SpecError` keyed by
    spec path (``gpuNum``, ``ports``, ``envs.0.key``, ``tools.0.port``,
    ``networkStorages.0.mountPoint``...). With ``offers`` (and ``metadata``) the chosen
    product's rules apply too (:func:`check_product`)."""
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}

    def err(path: str, message: str) -> None:
        errors.setdefault(path, []).append(message)

    if not isinstance(spec, Mapping):
        raise SpecError({"": ["A Novita spec is a JSON object (the create request)."]})
    for key in spec:
        if key not in CREATE_FIELDS:
            err(key, f"Novita's create request has no field “{key}”.")

    def string(key: str, *, limit: int, required: bool = False) -> str:
        value = spec.get(key)
        if value is None or value == "":
            if required:
                err(key, "This field is required.")
            return ""
        if isinstance(value, int) and not isinstance(value, bool) and key in ("clusterId", "imageAuthId"):
            value = str(value)  # ids sent as numbers by hand-written specs
        if not isinstance(value, str):
            err(key, "Must be text.")
            return ""
        if len(value) > limit:
            err(key, f"At most {limit} characters.")
        return value

    kind = spec.get("kind") or "gpu"  # required [V]; the panel's forms build GPU instances
    if kind not in KINDS:
        err("kind", "Choose gpu or cpu.")

    name = string("name", limit=NAME_MAX)
    if name and not NAME_RE.match(name):
        err("name", "Use letters, digits and hyphens only.")  # [C] safest reading
    product = string("productId", limit=PRODUCT_ID_MAX, required=True).strip()
    image = string("imageUrl", limit=IMAGE_URL_MAX, required=True).strip()
    if image and any(c.isspace() for c in image):
        err("imageUrl", "An image reference has no spaces.")
    image_auth = string("imageAuth", limit=IMAGE_AUTH_MAX)
    image_auth_id = string("imageAuthId", limit=255).strip()
    if image_auth:
        user, sep, password = image_auth.partition(":")
        if not sep or not user or not password:
            err("imageAuth", "Registry credentials are username:password.")
        if image_auth_id:
            err("imageAuth", "Give a saved registry credential or username:password, not both.")
    command = string("command", limit=COMMAND_MAX)
    entrypoint = string("entrypoint", limit=COMMAND_MAX)
    cluster = string("clusterId", limit=255).strip()
    network = string("networkId", limit=255).strip()
    cuda = string("minCudaVersion", limit=CUDA_MAX).strip()
    if cuda and not CUDA_RE.match(cuda):
        err("minCudaVersion", "A CUDA version like 12.4.")

    # Ports (a string on create [V]) and tools share the 15-port budget and the port rules.
    port_rows, problems = parse_ports(spec.get("ports"))
    for problem in problems:
        err("ports", problem)
    seen_ports: dict[int, str] = {}
    for row in port_rows:
        if row["port"] in seen_ports:
            err("ports", f"{row['port']} is listed twice.")  # [I]
        seen_ports[row["port"]] = "ports"
    tools_out: list[dict[str, str]] = []
    tools = spec.get("tools")
    if not _empty(tools) and not isinstance(tools, list):
        err("tools", "A list of {name, port, type}.")
        tools = []
    for i, tool in enumerate(tools or []):
        if not isinstance(tool, Mapping):
            err(f"tools.{i}", "A tool is {name, port, type}.")
            continue
        tool_name = tool.get("name")
        if tool_name not in TOOL_NAMES:
            err(f"tools.{i}.name", f"Novita's tools: {', '.join(TOOL_NAMES)}.")
        port = _int(tool.get("port"))
        problem = port_problem(tool.get("port")) if tool.get("port") not in (None, "") else "This field is required."
        if problem:
            err(f"tools.{i}.port", problem)
        elif port in seen_ports:
            err(f"tools.{i}.port", f"{port} is already exposed as a port.")
        else:
            seen_ports[port] = "tools"
        tool_type = tool.get("type")
        if tool_type not in PORT_TYPES:
            err(f"tools.{i}.type", "tcp or http.")
        tools_out.append({"name": str(tool_name or ""), "port": str(port if port is not None else ""),
                          "type": str(tool_type or "")})  # fmt: skip
    if len(port_rows) + len(tools_out) > MAX_PORTS_AND_TOOLS:
        err("ports", f"At most {MAX_PORTS_AND_TOOLS} ports, Jupyter included.")

    envs_out: list[dict[str, str]] = []
    envs = spec.get("envs")
    if not _empty(envs) and not isinstance(envs, list):
        err("envs", "A list of {key, value}.")
        envs = []
    if len(envs or []) > ENVS_MAX:
        err("envs", f"At most {ENVS_MAX} environment variables.")
    keys: set[str] = set()
    for i, env in enumerate(envs or []):
        if not isinstance(env, Mapping):
            err(f"envs.{i}", "A variable is {key, value}.")
            continue
        key, value = env.get("key"), env.get("value", "")
        if value is None:
            value = ""
        if not isinstance(key, str) or not key.strip():
            err(f"envs.{i}.key", "A variable needs a name.")  # [I] the page allows 0 characters
        elif len(key) > ENV_KEY_MAX:
            err(f"envs.{i}.key", f"At most {ENV_KEY_MAX} characters.")
        elif "=" in key or any(c.isspace() for c in key):
            err(f"envs.{i}.key", "A name has no spaces and no “=”.")  # [I] what a container can take
        elif key in keys:
            err(f"envs.{i}.key", f"{key} is set twice.")  # [I]
        else:
            keys.add(key)
        if not isinstance(value, str):
            err(f"envs.{i}.value", "Must be text.")
        elif len(value) > ENV_VALUE_MAX:
            err(f"envs.{i}.value", f"At most {ENV_VALUE_MAX} characters.")
        envs_out.append({"key": key if isinstance(key, str) else "", "value": value if isinstance(value, str) else ""})

    storages_out: list[dict[str, str]] = []
    storages = spec.get("networkStorages")
    if not _empty(storages) and not isinstance(storages, list):
        err("networkStorages", "A list of {Id, mountPoint}.")
        storages = []
    if len(storages or []) > NETWORK_STORAGES_MAX:
        err("networkStorages", f"At most {NETWORK_STORAGES_MAX} network volumes.")
    ids: set[str] = set()
    mounts: set[str] = set()
    for i, volume in enumerate(storages or []):
        if not isinstance(volume, Mapping):
            err(f"networkStorages.{i}", "A volume is {Id, mountPoint}.")
            continue
        volume_id = _text(volume.get("Id"))  # capital I [V]
        mount = volume.get("mountPoint")
        mount = DEFAULT_MOUNT_POINT if mount in (None, "") else mount
        if not volume_id:
            err(f"networkStorages.{i}.Id", "Choose a network volume.")
        elif volume_id in ids:
            err(f"networkStorages.{i}.Id", "This volume is mounted twice.")  # [I]
        ids.add(volume_id)
        if not isinstance(mount, str) or not mount.startswith("/"):
            err(f"networkStorages.{i}.mountPoint", "An absolute path, e.g. /network.")  # [I]
        elif len(mount) > MOUNT_POINT_MAX:
            err(f"networkStorages.{i}.mountPoint", f"At most {MOUNT_POINT_MAX} characters.")
        elif mount in mounts:
            err(f"networkStorages.{i}.mountPoint", "Another volume is mounted here.")  # [I]
        else:
            mounts.add(mount)
        storages_out.append({"Id": volume_id, "mountPoint": mount if isinstance(mount, str) else ""})
    # With no clusterId Novita picks a cluster at random, perhaps not the volumes' one; the
    # notes' own example does exactly that, so it is left to Novita to refuse [C].

    gpu_num = rootfs = month = auto_renew_month = local_mount = None
    auto_renew = spec.get("autoRenew")
    mode = spec.get("billingMode")
    if kind == "gpu":
        gpu_num = _int(spec.get("gpuNum"))
        if spec.get("gpuNum") in (None, ""):
            err("gpuNum", "This field is required.")
        elif gpu_num is None or not GPU_NUM[0] <= gpu_num <= GPU_NUM[1]:
            err("gpuNum", f"{GPU_NUM[0]} to {GPU_NUM[1]} GPUs.")
        rootfs = _int(spec.get("rootfsSize"))
        if spec.get("rootfsSize") in (None, ""):
            err("rootfsSize", "This field is required.")
        elif rootfs is None or not ROOTFS[0] <= rootfs <= ROOTFS[1]:
            # Novita raises less than 10 to 10 [V]; said here rather than changed silently.
            err("rootfsSize", f"{ROOTFS[0]} to {ROOTFS[1]} GB.")
        if mode not in (None, "") and mode not in BILLING_MODES:
            err("billingMode", "onDemand, monthly or spot.")
            mode = None
        if spec.get("month") not in (None, ""):
            month = _int(spec.get("month"))
            if month is None or month < 0:
                err("month", "Whole months, 0 or more.")
                month = None
        effective = billing_mode({"billingMode": mode, "month": month})
        if effective == "monthly" and not month:
            err("month", "Monthly billing needs at least 1 month.")  # [I] month 0 means pay-as-you-go
        elif month and mode in ("onDemand", "spot"):
            # Novita would switch to monthly [V]; said here rather than done behind the user's back.
            err("month", "Months apply to monthly billing only: set 0, or choose monthly.")
        if auto_renew not in (None, ""):
            if not isinstance(auto_renew, bool):
                err("autoRenew", "Yes or no.")
            elif auto_renew and effective != "monthly":
                err("autoRenew", "Auto-renew applies to monthly billing only.")
        if spec.get("autoRenewMonth") not in (None, ""):
            auto_renew_month = _int(spec.get("autoRenewMonth"))
            if auto_renew is not True:
                err("autoRenewMonth", "Only with auto-renew.")
            elif auto_renew_month is None or not AUTO_RENEW_MONTHS[0] <= auto_renew_month <= AUTO_RENEW_MONTHS[1]:
                err("autoRenewMonth", f"{AUTO_RENEW_MONTHS[0]} to {AUTO_RENEW_MONTHS[1]} months.")
        elif auto_renew is True and effective == "monthly":
            # [I] the page gives no default; renewing for an unstated term is not safe.
            err("autoRenewMonth", "Say for how many months it renews (1 to 12).")
        if spec.get("localStorageMountPoint") not in (None, ""):
            err("localStorageMountPoint", "Only CPU instances have a local storage mount point.")
    elif kind == "cpu":
        for key in GPU_ONLY_FIELDS:
            if not _empty(spec.get(key)):
                err(key, "CPU instances have no such setting.")
        local_mount = spec.get("localStorageMountPoint")
        if local_mount not in (None, "") and (
            not isinstance(local_mount, str) or not local_mount.startswith("/") or len(local_mount) > MOUNT_POINT_MAX
        ):
            err("localStorageMountPoint", "An absolute path of at most 4095 characters, e.g. /workspace.")

    if not errors:
        offer = _offer_for({"productId": product}, offers)
        if offer is not None:
            candidate = {**spec, "kind": kind, "clusterId": cluster, "networkStorages": storages_out}
            errors.update(check_product(candidate, offer, metadata=metadata, existing=existing))
    if errors:
        raise SpecError(errors)

    values: dict[str, Any] = {
        "name": name.strip(),
        "productId": product,
        "gpuNum": gpu_num,
        "rootfsSize": rootfs,
        "imageUrl": image,
        "imageAuth": image_auth,
        "imageAuthId": image_auth_id,
        "ports": format_ports(port_rows),
        "envs": envs_out,
        "tools": tools_out,
        "command": command,
        "entrypoint": entrypoint,
        "clusterId": cluster,
        "networkStorages": storages_out,
        "networkId": network,
        "kind": kind,
        "month": month,
        "billingMode": mode or None,
        "autoRenew": auto_renew if isinstance(auto_renew, bool) else None,
        "autoRenewMonth": auto_renew_month,
        "minCudaVersion": cuda,
        "localStorageMountPoint": local_mount,
    }
    for key in CREATE_FIELDS:
        if not _empty(values.get(key)):
            out[key] = values[key]
    return out


# --- prices -------------------------------------------------------------------------------------


def monthly_price(offer: Offer, month: int) -> tuple[Decimal, bool] | None:
    """USD per GPU for ``month`` months and whether Novita lists that term itself: the
    product's ``monthlyPrice`` entry for the term, else its 1-month price × months [I]."""
    terms = {}
    for entry in (offer.extra or {}).get("monthlyPrice") or []:
        term, price = _int(entry.get("month")), _decimal(entry.get("price"))
        if term and price is not None:
            terms[term] = price
    if month in terms:
        return terms[month], True
    if 1 in terms and month > 0:
        return terms[1] * month, False
    return None


def unit_price(offer: Offer, mode: str, month: int = 0) -> Decimal | None:
    """USD per GPU-hour of ``offer`` billed ``mode``; a subscription spread over its hours."""
    if mode == "spot":
        return _decimal((offer.extra or {}).get("spotPrice"))
    if mode == "monthly":
        term = max(month, 1)
        total = monthly_price(offer, term)
        return None if total is None else total[0] / (term * HOURS_PER_MONTH)
    return offer.price_per_hour


def gpu_count(spec: Mapping[str, Any]) -> int:
    number = _int(spec.get("gpuNum"))
    return number if number and number > 0 else 1


def estimate(spec: Mapping[str, Any], offers: Iterable[Offer]) -> Decimal | None:
    offer = _offer_for(spec, offers)
    if offer is None:
        return None
    price = unit_price(offer, billing_mode(spec), _int(spec.get("month")) or 0)
    return None if price is None else price * gpu_count(spec)


def charges(spec: Mapping[str, Any], offers: Iterable[Offer]) -> list[Charge]:
    """What creating ``spec`` takes at once: a subscription's whole term × GPUs.
    On demand takes nothing upfront; spot neither, but says it can be reclaimed."""
    mode = billing_mode(spec)
    offer = _offer_for(spec, offers)
    gpus = gpu_count(spec)
    if mode == "spot":
        return [
            Charge(
                amount=Decimal("0"),
                description=(
                    "Nothing at creation: billed per second at the spot price from the image pull on. "
                    "Novita can reclaim a spot instance at short notice."
                ),
            )
        ]
    if mode != "monthly" or offer is None:
        return []
    month = _int(spec.get("month")) or 0
    total = monthly_price(offer, month)
    if total is None:
        return []
    price, listed = total
    months = f"{month} month{'s' if month != 1 else ''}"
    description = f"Charged at creation: {months} of {offer.name} × {gpus} GPU{'s' if gpus != 1 else ''}, prepaid"
    if not listed:
        description += " (estimated from the 1-month price: Novita lists no price for this term)"
    if spec.get("autoRenew"):
        again = _int(spec.get("autoRenewMonth")) or 0
        description += f"; it renews automatically for {again} month{'s' if again != 1 else ''} at expiry"
    return [
        Charge(amount=(price * gpus).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP), description=description + ".")
    ]


# --- status ------------------------------------------------------------------------------------


def _none_if_empty(value: Any) -> str:
    return "" if value in (None, "", "null") else str(value)


def remote_state(item: Mapping[str, Any]) -> tuple[RemoteState, str]:
    """The table, then the overlays: ``statusError`` (an error whatever the status,
    unless it is being released) and ``spotStatus`` (reclaim notices; reclaimed =
    stopped if exited, else failed) [V fields, I rules]. Unknown statuses are logged
    and ``unknown``."""
    status = _none_if_empty(item.get("status"))
    state = STATUS_TABLE.get(status)
    if state is None:
        logger.warning("novita: unknown instance status %r for %s", status, item.get("id"))
        return RemoteState.UNKNOWN, f"Novita reports an unknown status {status!r}."
    message = STATUS_MESSAGES[status]
    if state in (RemoteState.DELETING, RemoteState.DELETED):
        return state, message
    error = item.get("statusError") if isinstance(item.get("statusError"), Mapping) else {}
    error_state, error_message = _none_if_empty(error.get("state")), _none_if_empty(error.get("message"))
    if error_state or error_message:
        words = error_message or error_state
        return RemoteState.FAILED, f"Novita reports an error ({error_state or status}): {words}"
    spot = _none_if_empty(item.get("spotStatus"))
    if spot and billing_mode_of(item) == "spot":
        note = SPOT_STATUS.get(spot)
        if note is None:
            logger.warning("novita: unknown spotStatus %r for %s", spot, item.get("id"))
            return state, f"{message} Spot status {spot!r} is unknown."
        if spot == "terminated":
            # Reclaimed: stopped when Novita says exited (it can be started again [I]), and
            # failed while the status still claims anything else.
            if state == RemoteState.STOPPED:
                return state, f"{note} It can be started again."
            return RemoteState.FAILED, note
        if note:
            when = _epoch(item.get("spotReclaimTime"))
            at = f" Reclaim at {when:%Y-%m-%d %H:%M} UTC." if when else ""
            return state, f"{message} {note}{at}"
    return state, message


def billing_mode_of(item: Mapping[str, Any]) -> str:
    """An instance's billing mode; ``""`` comes back for on demand [C]."""
    return _none_if_empty(item.get("billingMode")) or "onDemand"


def _epoch(value: Any) -> dt.datetime | None:
    """Unix seconds (Novita sends them as strings [C]); ``None`` for 0, -1 or junk."""
    number = _int(value)
    if number is None:
        parsed = _decimal(value)
        number = int(parsed) if parsed is not None else None
    if number is None or number <= 0:
        return None
    if number > 10**11:  # milliseconds
        number //= 1000
    return dt.datetime.fromtimestamp(number, tz=dt.UTC)


def end_time(item: Mapping[str, Any]) -> dt.datetime | None:
    """When a subscription ends: ``endTime`` as Unix seconds or ISO 8601 [I]; -1 = none [V]."""
    value = item.get("endTime")
    moment = _epoch(value)
    if moment is None and isinstance(value, str) and not re.fullmatch(r"\s*-?\d+\s*", value):
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return moment


def blocked(action: Action, *, raw: Mapping[str, Any], now: dt.datetime | None = None) -> str:
    """Novita's preconditions for ``action`` on the instance ``raw``, in plain words."""
    status = _none_if_empty((raw or {}).get("status"))
    if not status:
        return ""
    if status in ("removed", "toRemove", "removing"):
        return "Novita is releasing this instance: nothing can change it any more."
    if action is Action.START and status != "exited":
        return f"Novita starts an instance only when it is stopped (exited); it is {status}."
    if action in (Action.STOP, Action.RESTART) and status != "running":
        verb = "stops" if action is Action.STOP else "restarts"
        return f"Novita {verb} an instance only while it is running; it is {status}."
    if action is Action.UPDATE and status not in SETTLED_STATUSES:
        return f"Novita changes an instance only when it is running or stopped; it is {status}."
    if action is Action.DELETE and billing_mode_of(raw) == "monthly":
        ends = end_time(raw)
        now = now or dt.datetime.now(dt.UTC)
        if ends is None or ends > now:
            when = f" on {ends:%Y-%m-%d %H:%M} UTC" if ends else ""
            return (
                "Novita does not release a monthly (prepaid) instance before its subscription ends"
                f"{when}: it can be deleted from then on."
            )
    return ""


# --- the adapter ------------------------------------------------------------------------------------


class NovitaProvider(Provider):
    name: ClassVar[str] = "novita"
    default_base_url: ClassVar[str] = "https://api.novita.ai"
    sandbox_path: ClassVar[str] = "/novita"
    actions: ClassVar[frozenset[Action]] = frozenset(
        {Action.START, Action.STOP, Action.RESTART, Action.UPDATE, Action.DELETE, Action.LOGS}
    )
    # Names are free text, not unique [I]: never dedupe by name alone (notes §4).
    unique_names: ClassVar[bool] = False
    redeploys: ClassVar[bool] = True  # /upgrade with the same fields recreates the container
    redeploy_effect: ClassVar[str] = (
        "the container is recreated from its image (a newer one behind the same tag is pulled) and the instance's data is kept"
    )

    # --- rules, prices and gates: class methods, so forms use them without a key ----------
    @classmethod
    def validate_spec(
        cls,
        spec: dict[str, Any],
        *,
        offers: Iterable[Offer] = (),
        metadata: Mapping[str, Any] | None = None,
        existing: bool = False,
    ) -> dict[str, Any]:
        """The create body normalised, or :class:`SpecError`. ``offers`` (the account's
        catalog) and ``metadata`` (``account_metadata()``) add the product's rules;
        ``existing`` skips the capacity check when editing an instance that exists."""
        return check_spec(spec, offers=list(offers), metadata=metadata, existing=existing)

    @classmethod
    def estimate_price(cls, spec: dict[str, Any], offers: Iterable[Offer] = ()) -> Decimal | None:
        """USD per hour: the product's per-GPU price for the billing mode × ``gpuNum``."""
        return estimate(spec, list(offers))

    @classmethod
    def upfront_charges(cls, spec: dict[str, Any], offers: Iterable[Offer] = ()) -> list[Charge]:
        return charges(spec, list(offers))

    @classmethod
    def action_blocked(
        cls, action: Action, *, spec: dict[str, Any], raw: dict[str, Any], since: dt.datetime | None
    ) -> str:
        return blocked(action, raw=raw)

    # --- set-up and errors ------------------------------------------------------------
    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        client: httpx.Client | None = None,
        timeout: float = 30.0,
    ) -> None:
        super().__init__(api_key, base_url=base_url, client=client, timeout=timeout)
        # Log streams go through the same transport, but never with the key (see logs()).
        self._client = client
        self._timeout = timeout
        self._products: dict[str, dict[str, dict[str, Any]]] = {}  # billing method -> id -> product

    def parse_error(self, response: httpx.Response) -> ProviderError | None:
        """``{code, reason, message, metadata}`` [I: Novita's other APIs], read
        defensively (notes §4): the error name from ``reason`` (or a string ``code``),
        the text from ``message``, else the raw text."""
        body = json_or_none(response)
        status = response.status_code
        name = error_name(body)
        message = error_message(body) or ("" if isinstance(body, dict) else response_text(response))
        if not name and not message:
            return None
        text = message or name
        if name and name not in text:
            text = f"{text} ({name})"
        text = text[:MAX_MESSAGE]
        kind = ERRORS.get(name)
        if kind is None:
            kind = _BY_STATUS.get(status) or ("transient" if status >= 500 or status == 408 else "rejected")
        if kind == "auth":
            return AuthError(text, status_code=status, body=body)
        if kind == "rate":
            return RateLimited(
                text, retry_after=parse_retry_after(response.headers.get("Retry-After")), status_code=status, body=body
            )
        if kind == "transient":
            if status >= 500:
                return None  # the shared mapping: Transient, with Retry-After if any
            return Transient(text, status_code=status, body=body)  # UNKNOWN on a 4xx: still worth a retry
        if kind == "not_found":
            return NotFound(text, status_code=status, body=body)
        if kind == "spec":
            return SpecError(
                {field_named_in(message, ERROR_FIELDS.get(name, "")): [text]}, status_code=status, body=body
            )
        return Rejected(text, status_code=status, body=body)

    # --- paths ------------------------------------------------------------------------
    @staticmethod
    def _gpu(path: str) -> str:
        return f"{GPU_API}{path}"

    def _item(self, external_id: str) -> dict[str, Any]:
        """``GET /gpu/instance?instanceId=`` as Novita sent it (passwords included)."""
        if not external_id:
            raise NotFound("no Novita instance id")
        data = self._http.get(self._gpu("/gpu/instance"), params={"instanceId": external_id}).json()
        if isinstance(data, dict) and isinstance(data.get("instance"), dict):
            data = data["instance"]  # [I] tolerate a wrapped answer
        if not isinstance(data, dict) or not data.get("id"):
            raise NotFound(f"Novita has no instance {external_id}", body=data)
        return data

    # --- mapping --------------------------------------------------------------------------
    def to_remote(self, item: dict[str, Any]) -> Remote:
        state, message = remote_state(item)
        return Remote(
            external_id=str(item.get("id") or ""),
            name=str(item.get("name") or ""),
            state=state,
            vendor_state=_none_if_empty(item.get("status")),
            message=message,
            endpoints=endpoints_of(item),
            price_per_hour=self._instance_price(item),
            created_at=_epoch(item.get("createdAt")),
            connection=connection_of(item),
            raw=masked(item),
        )

    def _instance_price(self, item: Mapping[str, Any]) -> Decimal | None:
        """USD per hour now: the GPU price for the instance's billing mode × its GPUs while
        the GPU is billed (from ``pulling``; not while stopped) [V]; a subscription's hourly
        share for as long as it exists. ``None`` when not known (keep what the panel had)."""
        status = _none_if_empty(item.get("status"))
        if status not in STATUS_TABLE or status == "freezing":
            return None  # [?] not known whether a frozen instance bills
        if status == "removed":
            return Decimal("0")
        mode = billing_mode_of(item)
        if mode != "monthly" and status not in BILLED_STATUSES:
            return Decimal("0")
        if _none_if_empty(item.get("kind")) == "cpu":
            return None  # CPU products are priced on another list, not read here
        product = self._product(str(item.get("productId") or ""), mode)
        if product is None:
            return None
        # The term of a running subscription is not in the answer: its 1-month rate [I].
        unit = unit_price(product_offer(product), mode, 1)
        gpus = _int(item.get("gpuNum")) or 1
        return None if unit is None else (unit * gpus).quantize(PANEL_PLACES, rounding=ROUND_HALF_UP)

    # --- products ---------------------------------------------------------------------------
    def _product_index(self, method: str) -> dict[str, dict[str, Any]]:
        """``GET /products?billingMethod=`` once per adapter (one task) and method: the
        list is filtered by billing method, on demand by default [V]."""
        if method not in self._products:
            try:
                data = self._http.get(self._gpu("/products"), params={"billingMethod": method}).json()
            except AuthError:
                raise
            except ProviderError as exc:  # no prices this time, not no instances
                logger.info("novita: no %s product prices this time: %s", method, exc.message)
                data = {}
            items = data.get("data") if isinstance(data, dict) else data
            self._products[method] = {
                str(p["id"]): p for p in items or [] if isinstance(p, dict) and p.get("id") not in (None, "")
            }
        return self._products[method]

    def _product(self, product_id: str, mode: str) -> dict[str, Any] | None:
        for method in (mode, *(m for m in BILLING_MODES if m != mode)):
            found = self._product_index(method).get(product_id)
            if found is not None:
                return found
        return None

    def products(self) -> list[dict[str, Any]]:
        """Every GPU product, sold in any billing mode (three filtered lists, merged)."""
        merged: dict[str, dict[str, Any]] = {}
        for method in BILLING_MODES:
            for product_id, product in self._product_index(method).items():
                merged.setdefault(product_id, product)
        return list(merged.values())

    # --- lifecycle ----------------------------------------------------------------------
    def create(self, spec: dict[str, Any]) -> Remote:
        """``POST /gpu/instance/create`` → ``{"id"}`` [V], then one GET for the rest. The
        POST is never retried (no idempotency [V]); a failed GET after it is not an error."""
        body = check_spec(spec)
        data = self._http.post(self._gpu("/gpu/instance/create"), json=body).json()
        external_id = str((data or {}).get("id") or "") if isinstance(data, dict) else ""
        if not external_id:
            raise Rejected("Novita accepted the request but answered no instance id.", body=data)
        return self._after(external_id) or Remote(
            external_id=external_id,
            name=body.get("name", ""),
            state=RemoteState.PROVISIONING,
            vendor_state="",
            message="Created; Novita has not reported its status yet.",
            raw={"id": external_id, "name": body.get("name", "")},
        )

    def _after(self, external_id: str) -> Remote | None:
        """The instance after a POST that went through; ``None`` if the GET fails, so a
        retry cannot repeat the POST (the next poll reads it)."""
        try:
            return self.get(external_id)
        except ProviderError as exc:
            logger.info("novita: %s changed, but reading it back failed: %s", external_id, exc.message)
            return None

    def get(self, external_id: str) -> Remote:
        return self.to_remote(self._item(external_id))

    def _pages(self, **filters: Any) -> list[dict[str, Any]]:
        """Every instance: ``pageNum`` from 1 [I: the MCP server's default], until as many
        distinct ids as ``total`` or an empty page; a page that brings nothing new ends it
        (a server that ignores ``pageNum`` would repeat page 1 for ever)."""
        seen: dict[str, dict[str, Any]] = {}
        for page in range(1, MAX_PAGES + 1):
            params = {"pageSize": PAGE_SIZE, "pageNum": page, **filters}
            data = self._http.get(self._gpu("/gpu/instances"), params=params).json()
            items = [i for i in (data.get("instances") or []) if isinstance(i, dict)] if isinstance(data, dict) else []
            total = _int(data.get("total")) if isinstance(data, dict) else None
            fresh = 0
            for item in items:
                key = str(item.get("id") or "")
                if key and key not in seen:
                    seen[key] = item
                    fresh += 1
            if not items or not fresh or (total is not None and len(seen) >= total):
                break
        else:
            logger.warning("novita: stopped paging instances after %s pages", MAX_PAGES)
        return list(seen.values())

    def _detailed(self, item: dict[str, Any]) -> Remote:
        """A listed instance; a running one is read again for its connection details
        (the list has none [V]), keeping the listed answer if that read fails."""
        if item.get("status") == "running":
            try:
                item = self._item(str(item["id"]))
            except AuthError:
                raise
            except ProviderError as exc:
                logger.info("novita: no details for %s this time: %s", item.get("id"), exc.message)
        return self.to_remote(item)

    def list_remotes(self) -> list[Remote]:
        return [self._detailed(item) for item in self._pages()]

    def find_by_name(self, name: str) -> Remote | None:
        """Names are not unique and the ``name`` filter is fuzzy [V/I]: exact matches only,
        the newest live one (notes §4: list by name and recent createdAt)."""
        if not name:
            return None
        live = [
            item
            for item in self._pages(name=name)
            if item.get("name") == name
            and _none_if_empty(item.get("status")) not in ("removed", "toRemove", "removing")
        ]
        if not live:
            return None
        newest = max(live, key=lambda item: _int(item.get("createdAt")) or 0)
        return self._detailed(newest)

    def _action(self, external_id: str, verb: str, reached: tuple[str, ...]) -> dict[str, Any] | None:
        """POST ``{instanceId}`` [V]. A CONFLICT (wrong state) whose target is already
        reached — a repeat after a lost answer — counts as done; the instance is returned."""
        if not external_id:
            raise NotFound("no Novita instance id")
        try:
            self._http.post(self._gpu(f"/gpu/instance/{verb}"), json={"instanceId": external_id})
        except Rejected as exc:
            if error_name(exc.body) != "CONFLICT":
                raise
            current = self._item(external_id)
            if _none_if_empty(current.get("status")) in reached:
                return current
            raise
        return None

    def start(self, external_id: str, spec: dict[str, Any]) -> Remote | None:
        done = self._action(external_id, "start", ("toStart", "starting", "running"))
        return self.to_remote(done) if done else self._after(external_id)

    def stop(self, external_id: str, spec: dict[str, Any]) -> Remote | None:
        done = self._action(external_id, "stop", ("toStop", "stopping", "exited"))
        return self.to_remote(done) if done else self._after(external_id)

    def restart(self, external_id: str, spec: dict[str, Any]) -> Remote | None:
        done = self._action(external_id, "restart", ("toRestart", "restarting"))
        return self.to_remote(done) if done else self._after(external_id)

    def delete(self, external_id: str) -> None:
        """Release [V]; refused for a subscription before ``endTime``
        (PREPAID_INSTANCE_NOT_SUPPORT_RELEASE → Rejected); an unknown id → NotFound."""
        self._action(external_id, "delete", ("toRemove", "removing", "removed"))

    def update(self, external_id: str, spec: dict[str, Any], previous: dict[str, Any] | None = None) -> Remote | None:
        """Take the instance from ``previous`` to ``spec`` with the calls that changed:
        ``/edit`` for ports and root-disk growth (``expandRootDisk`` = new − old; it cannot
        shrink), ``/upgrade`` (a full replacement) for the image, its credential, env,
        command, entrypoint or volumes [V]. Everything else is fixed once created."""
        new = check_spec(spec, existing=True)
        old = _lenient(previous) if previous is not None else spec_from_instance(self._item(external_id))
        edit, upgrade, grow = plan_update(old, new)
        if not edit and not upgrade:
            return self.get(external_id)
        if edit:
            self._http.post(self._gpu("/gpu/instance/edit"), json=edit_body(external_id, new, grow))
        if upgrade:
            self._http.post(self._gpu("/gpu/instance/upgrade"), json=upgrade_body(external_id, new))
        return self._after(external_id)

    def redeploy(self, external_id: str, spec: dict[str, Any]) -> Remote | None:
        """An upgrade with the fields the instance has: Novita recreates the container from
        its image (pulling a newer one behind the same tag), keeping its data (``save``)."""
        new = check_spec(spec, existing=True)
        if new.get("imageAuth"):
            # [I] as for an update: /upgrade recreates the container with no way to pass user:pass.
            raise SpecError({"imageAuth": [UPGRADE_NEEDS_SAVED_AUTH]})
        self._http.post(self._gpu("/gpu/instance/upgrade"), json=upgrade_body(external_id, new))
        return self._after(external_id)

    # --- logs -----------------------------------------------------------------------------
    def logs(self, external_id: str, *, which: str = "both", **_: Any) -> LogLines:
        """The system log (scheduling, image pull) then the container's own log, from the
        stream URLs in ``connectComponentLog`` [V]. Those URLs belong to whatever host
        Novita names, so they are fetched with no Authorization header: the key is never
        sent to a host the vendor's answer chose."""
        item = self._item(external_id)
        block = item.get("connectComponentLog") if isinstance(item.get("connectComponentLog"), dict) else {}
        sources = [
            (label, _text(block.get(key)))
            for label, key in (("system", "systemLogAddress"), ("instance", "instanceLogAddress"))
            if which in ("both", label)
        ]
        sources = [(label, url) for label, url in sources if url]
        if not sources:
            status = _none_if_empty(item.get("status")) or "unknown"
            return LogLines(lines=[f"Novita offers no log stream for this instance now (it is {status})."], source="")
        lines: list[str] = []
        failures: list[ProviderError] = []
        for label, url in sources:
            try:
                got = self._read_log(url)
            except ProviderError as exc:
                failures.append(exc)
                lines.append(f"── {label} log unavailable: {exc.message} ──")
                continue
            if len(sources) > 1:
                lines.append(f"── {label} log ──")
            lines.extend(got or [f"(the {label} log is empty)"])
        if len(failures) == len(sources):
            raise failures[-1]
        return LogLines(lines=lines[-LOG_LINES:], source=" and ".join(f"{label} log" for label, _ in sources))

    def _read_log(self, url: str) -> list[str]:
        """The last ``LOG_LINES`` lines of a text stream. A stream that stays open (it
        follows the log [I]) is read until it falls quiet or the time budget is spent."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise Rejected("Novita named a log address that is not an http(s) URL.")
        timeout = httpx.Timeout(self._timeout, connect=5.0, read=LOG_IDLE_SECONDS)
        client = self._client or httpx.Client(timeout=timeout)
        request = client.build_request("GET", url, headers={"Accept": "text/plain"}, timeout=timeout)
        request.headers.pop("Authorization", None)  # even if a shared client carried one
        lines: deque[str] = deque(maxlen=LOG_LINES)
        deadline = time.monotonic() + LOG_READ_SECONDS
        try:
            response = client.send(request, stream=True)
        except httpx.TimeoutException:
            raise Transient("the log stream did not answer in time") from None
        except httpx.TransportError as exc:
            raise Transient(f"could not reach the log stream ({type(exc).__name__})") from None
        try:
            if not response.is_success:
                status = response.status_code
                kind = Transient if status >= 500 or status == 429 else Rejected
                raise kind(f"the log stream answered HTTP {status}", status_code=status)
            read = 0
            try:
                for line in response.iter_lines():
                    lines.append(line[:LOG_LINE_MAX])
                    read += len(line)
                    if read > LOG_MAX_BYTES or time.monotonic() > deadline:
                        break
            except httpx.ReadTimeout:
                pass  # a following stream with nothing new: what came so far is the log
            except httpx.TransportError as exc:
                if not lines:
                    raise Transient(f"the log stream broke off ({type(exc).__name__})") from None
        finally:
            response.close()
            if self._client is None:
                client.close()
        return list(lines)

    # --- account and catalog ------------------------------------------------------------
    def balance(self) -> dict[str, Decimal | None]:
        """``GET /openapi/v1/billing/balance/detail``, in USD [V: 1/10 000 USD strings]."""
        data = self._http.get(BALANCE_PATH).json()
        if isinstance(data, dict) and isinstance(data.get("data"), dict):
            data = data["data"]  # [I] tolerate a wrapped answer
        data = data if isinstance(data, dict) else {}
        keys = ("availableBalance", "cashBalance", "creditLimit", "pendingCharges", "outstandingInvoices")
        return {key: usd_from_balance(data.get(key)) for key in keys}

    def verify(self) -> AccountInfo:
        figures = self.balance()
        available = figures["availableBalance"]
        labels = (("cashBalance", "cash"), ("creditLimit", "credit limit"), ("pendingCharges", "pending charges"),
                  ("outstandingInvoices", "outstanding invoices"))  # fmt: skip
        details = ", ".join(f"{label} ${figures[key]:.2f}" for key, label in labels if figures[key] is not None)
        head = f"${available:.2f} available" if available is not None else "balance not reported"
        return AccountInfo(
            summary=f"Key accepted: {head}{f' ({details})' if details else ''}.",
            balance=available,
        )

    def catalog(self) -> list[Offer]:
        """One offer per GPU product: the on-demand price of one GPU, the product's
        windows, regions and other prices in ``extra`` (USD)."""
        return [product_offer(p) for p in self.products()]

    def _optional(self, what: str, read: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
        try:
            return read()
        except AuthError:
            raise
        except ProviderError as exc:  # one list missing should not cost the others
            logger.info("novita: %s unavailable: %s", what, exc.message)
            return []

    def clusters(self) -> list[dict[str, Any]]:
        data = self._http.get(self._gpu("/clusters")).json()
        items = data.get("data") if isinstance(data, dict) else data
        return [
            {
                "id": str(c.get("id")),
                "name": str(c.get("name") or c.get("id")),
                "gpu_types": [str(g) for g in c.get("availableGpuType") or []],
                "network_storage": bool(c.get("supportNetworkStorage")),
                "instance_network": bool(c.get("supportInstanceNetwork")),
            }
            for c in items or []
            if isinstance(c, dict) and c.get("id") not in (None, "")
        ]

    def registry_auths(self) -> list[dict[str, Any]]:
        """Saved registry credentials: ids and names only, never usernames' passwords."""
        data = self._http.get(self._gpu("/repository/auths")).json()
        items = data.get("data") if isinstance(data, dict) else data
        return [
            {"id": str(a.get("id")), "name": str(a.get("name") or a.get("id"))}
            for a in items or []
            if isinstance(a, dict) and a.get("id") not in (None, "")
        ]

    def network_storages(self) -> list[dict[str, Any]]:
        """Every network volume (``pageNo`` from 1 [I]), with its cluster."""
        seen: dict[str, dict[str, Any]] = {}
        for page in range(1, MAX_PAGES + 1):
            data = self._http.get(
                self._gpu("/networkstorages/list"), params={"pageNo": page, "pageSize": PAGE_SIZE}
            ).json()
            items = [s for s in (data.get("data") or []) if isinstance(s, dict)] if isinstance(data, dict) else []
            total = _int(data.get("total")) if isinstance(data, dict) else None
            fresh = 0
            for s in items:
                key = str(s.get("storageId") or "")
                if key and key not in seen:
                    seen[key] = {
                        "id": key,
                        "name": str(s.get("storageName") or key),
                        "cluster_id": str(s.get("clusterId") or ""),
                        "cluster_name": str(s.get("clusterName") or ""),
                        "size_gb": _int(s.get("storageSize")),
                    }
                    fresh += 1
            if not items or not fresh or (total is not None and len(seen) >= total):
                break
        return list(seen.values())

    def templates(self) -> list[dict[str, Any]]:
        """The account's own templates and Novita's official ones, as the form's template
        picker needs them (:func:`template_entry`): never an env value, never ``imageAuth``."""
        out: list[dict[str, Any]] = []
        for channel in ("private", "official"):
            # One page of PAGE_SIZE: the page index's base is not documented (the list
            # page's example answers pageNum 0), so no second page is guessed at [I].
            params = {"channel": channel, "isMyCommunity": "false", "pageSize": PAGE_SIZE}
            data = self._http.get(self._gpu("/templates"), params=params).json()
            items = (data.get("template") or data.get("data") or []) if isinstance(data, dict) else []
            entries = [e for e in (template_entry(t, channel) for t in items) if e is not None]
            total = _int(data.get("total")) if isinstance(data, dict) else None
            if total is not None and total > len(items):
                logger.info("novita: %s of %s %s templates listed", len(items), total, channel)
            out += entries
        return out

    def account_metadata(self) -> dict[str, Any]:
        """What the form offers: clusters, saved registry credentials (id, name), network
        volumes (id, name, cluster) and templates (image, ports, env names, start command,
        root disk, tools). Never a password, never an env value."""
        return {
            "clusters": self._optional("clusters", self.clusters),
            "registry_auths": self._optional("registry credentials", self.registry_auths),
            "network_storages": self._optional("network storages", self.network_storages),
            "templates": self._optional("templates", self.templates),
        }


# --- module helpers the adapter and its tests use ----------------------------------------------------


# Error names of contract §4 → how the panel acts on them; the field for spec errors.
ERRORS: dict[str, str] = {
    "UNAUTHORIZED": "auth",
    "FORBIDDEN": "auth",
    "RATE_LIMIT_EXCEEDED": "rate",
    "UNKNOWN": "transient",
    "VALIDATOR_PARAM": "spec",
    "REQUEST": "spec",
    "INVALID_COMMAND_PARAM": "spec",
    "UNSUPPORTED_BILLING_MODE": "spec",
    "IMAGE_NOT_FOUND": "spec",
    "NETWORK_STORAGE_NOT_FOUND": "spec",
    "NETWORK_STORAGE_UNAVAILABLE": "spec",
    "CUR_CLUSTER_NETWORK_STORAGE_NOT_SUPPORT": "spec",
    "NETWORK_NOT_FOUND": "spec",
    "RESOURCE_NOT_FOUND": "not_found",  # a 400, not a 404 [V]
    "CONFLICT": "rejected",
    "OPERATION_LIMIT": "rejected",
    "INSUFFICIENT_RESOURCE": "rejected",
    "CLUSTER_STATUS": "rejected",
    "NODE_STATUS": "rejected",
    "DEPENDENT_RESOURCE_STATE": "rejected",
    "PREPAID_INSTANCE_NOT_SUPPORT_RELEASE": "rejected",
    "CREATING_INSTANCE_NOT_SUPPORT_RENEWAL": "rejected",
    "GPU_SPEC_USED": "rejected",
    "MIGRATE_INSUFFICIENT_RESOURCE": "rejected",
    "BALANCE_NOT_ENOUGH": "rejected",
    "EXPIRED_OR_BALANCE_NOT_ENOUGH": "rejected",
    "CREATE_INSTANCE_LIMIT": "rejected",
    "NETWORK_STORAGE_TOO_LARGE": "rejected",
    "NETWORK_STORAGE_IN_USE": "rejected",
    "IMAGE_AUTH_IN_USE": "rejected",
    "NETWORK_IN_USE": "rejected",
    "NETWORK_MAX_LIMIT": "rejected",
    "JOB_NOT_FOUND": "rejected",
    "TEMPLATE_NOT_FOUND": "rejected",
    "TEMPLATE_IS_PRIVATE": "rejected",
}
ERROR_FIELDS: dict[str, str] = {
    "INVALID_COMMAND_PARAM": "command",
    "UNSUPPORTED_BILLING_MODE": "billingMode",
    "IMAGE_NOT_FOUND": "imageUrl",
    "NETWORK_STORAGE_NOT_FOUND": "networkStorages",
    "NETWORK_STORAGE_UNAVAILABLE": "networkStorages",
    "CUR_CLUSTER_NETWORK_STORAGE_NOT_SUPPORT": "clusterId",
    "NETWORK_NOT_FOUND": "networkId",
}
_BY_STATUS: dict[int, str] = {401: "auth", 403: "auth", 404: "not_found", 400: "spec", 422: "spec", 429: "rate"}
_NAME_RE = re.compile(r"^[A-Z][A-Z0-9_]+$")


def error_name(body: Any) -> str:
    """``reason``, or ``code`` when it is a name rather than a number [I]."""
    if not isinstance(body, dict):
        return ""
    for key in ("reason", "code", "error"):
        value = body.get(key)
        if isinstance(value, str) and _NAME_RE.match(value.strip()):
            return value.strip()
    return ""


def error_message(body: Any) -> str:
    if isinstance(body, dict):
        for key in ("message", "msg", "detail", "error"):
            value = body.get(key)
            if isinstance(value, str) and value.strip() and not _NAME_RE.match(value.strip()):
                return value.strip()[:MAX_MESSAGE]
    if isinstance(body, str):
        return body.strip()[:MAX_MESSAGE]
    return ""


# Fields a message may name, with the edit/upgrade spellings read as the spec's.
_FIELD_ALIASES = {
    "expandRootDisk": "rootfsSize",
    "networkVolume": "networkStorages",
    "volumeMounts": "networkStorages",
    "mountPath": "networkStorages",
}
_INDEXED_RE = re.compile(r"\b(envs|tools|networkStorages)\s*(?:\[\s*(\d+)\s*\]|\.(\d+))\s*\.?\s*(\w+)?")
_FIELD_RE = re.compile(
    r"\b("
    + "|".join(sorted({*CREATE_FIELDS, *_FIELD_ALIASES, "port", "mountPoint"} - {"name"}, key=len, reverse=True))
    + r")\b"
)
_NAME_FIELD_RE = re.compile(r"\bname\b")


def field_named_in(message: str, default: str = "") -> str:
    """The spec path a VALIDATOR_PARAM message is about: ``envs[0].key`` → ``envs.0.key``,
    a top-level field name, else ``default``. ``name`` only when nothing else is named
    (it is also a word in "tool name")."""
    message = message or ""
    indexed = _INDEXED_RE.search(message)
    if indexed:
        index = indexed.group(2) or indexed.group(3)
        leaf = indexed.group(4) or ""
        return f"{indexed.group(1)}.{index}" + (f".{leaf}" if leaf else "")
    found = _FIELD_RE.search(message)
    if found:
        word = found.group(1)
        if word == "port":
            return "ports"
        if word == "mountPoint":
            return "networkStorages"
        return _FIELD_ALIASES.get(word, word)
    if _NAME_FIELD_RE.search(message):
        return "name"
    return default


def masked(item: Any) -> Any:
    """A copy of an answer fit to keep: every password (SSH, web terminal, any
    ``*password`` key) and the log-stream capability URLs become ``"******"``."""
    if isinstance(item, dict):
        out = {}
        for key, value in item.items():
            secret = str(key).lower().endswith("password") or key in ("systemLogAddress", "instanceLogAddress")
            out[key] = MASK if secret and value not in (None, "") else masked(value)
        return out
    if isinstance(item, list):
        return [masked(v) for v in item]
    return item


def endpoints_of(item: Mapping[str, Any]) -> list[Endpoint]:
    """``portMappings[{port, endpoint?, type}]`` [V]: an http(s) endpoint is a URL, a
    ``host:port`` one an address (its format is not documented [?]); without an
    endpoint (the list) only the exposed port."""
    out = []
    for mapping in item.get("portMappings") or []:
        if not isinstance(mapping, dict):
            continue
        port, kind = _int(mapping.get("port")), _text(mapping.get("type")).lower()
        label = f"{port}/{kind}" if kind else str(port)
        target = _text(mapping.get("endpoint"))
        if target.startswith(("http://", "https://")):
            out.append(Endpoint(url=target, port=port, protocol=kind, label=label))
            continue
        host, sep, outer = target.rpartition(":")
        if sep and host and outer.isdigit():
            out.append(Endpoint(host=host, port=int(outer), protocol=kind, label=label))
        elif target:
            out.append(Endpoint(host=target, port=port, protocol=kind, label=label))
        else:
            out.append(Endpoint(port=port, protocol=kind, label=label))
    return out


def connection_of(item: Mapping[str, Any]) -> dict[str, str]:
    """How people reach it (get answers only [V]): SSH command, web terminal, Jupyter.
    Passwords are left out; Novita's console shows them."""

    def block(key: str) -> Mapping[str, Any]:
        value = item.get(key)
        return value if isinstance(value, Mapping) else {}

    out: dict[str, str] = {}
    ssh, terminal, jupyter = (
        block("connectComponentSSH"),
        block("connectComponentWebTerminal"),
        block("connectComponentJupyter"),
    )
    if _text(ssh.get("sshCommand")):
        out["SSH"] = _text(ssh.get("sshCommand"))
    if _text(terminal.get("address")):
        user = _text(terminal.get("username"))
        out["Web terminal"] = _text(terminal.get("address")) + (f" (user {user})" if user else "")
    if _text(jupyter.get("address")):
        out["Jupyter"] = _text(jupyter.get("address"))
    network = block("network")
    if _text(network.get("ip")):
        out["VPC address"] = _text(network.get("ip"))
    return out


_GPU_RE = re.compile(
    r"\b(B200|H200|H100|H20|GH200|A100|A800|A40|A30|A10G?|A6000|L40S?|L20|L4|V100|T4)\b", re.IGNORECASE
)


def gpu_model_of(name: str) -> str:
    """``"RTX 4090 24GB"`` → ``"RTX 4090"``; ``"A100 SXM 80GB"`` → ``"A100"`` [I]."""
    text = re.sub(r"\b(NVIDIA|GeForce)\b", "", name or "", flags=re.IGNORECASE)
    text = re.sub(r"\b\d+\s*GB\b", "", text, flags=re.IGNORECASE).strip()
    consumer = re.search(r"\bRTX\s*(\d{4})(\s*Ti)?\b", text, re.IGNORECASE)
    if consumer:
        return f"RTX {consumer.group(1)}{' Ti' if consumer.group(2) else ''}"
    workstation = re.search(r"\bRTX\s*A(\d{4})\b", text, re.IGNORECASE)
    if workstation:
        return f"RTX A{workstation.group(1)}"
    found = _GPU_RE.search(text)
    if found:
        return found.group(1).upper()
    return " ".join(text.split())


def product_offer(product: Mapping[str, Any]) -> Offer:
    """A product as an :class:`Offer` of one GPU: on-demand USD per GPU-hour as the price
    (per GPU [C/?]), ``available`` = capacity now and stock not ``none`` [V]."""
    name = str(product.get("name") or product.get("id") or "")
    memory = re.search(r"(\d+)\s*GB\b", name, re.IGNORECASE)
    monthly = [
        {"month": _int(entry.get("month")), "price": str(usd_from_price(entry.get("price")))}
        for entry in product.get("monthlyPrice") or []
        if isinstance(entry, Mapping) and _int(entry.get("month")) and usd_from_price(entry.get("price")) is not None
    ]
    spot = usd_from_price(product.get("spotPrice"))
    inventory = _none_if_empty(product.get("inventoryState"))
    return Offer(
        sku=str(product.get("id") or ""),
        name=name,
        kind="gpu",
        gpu_model=gpu_model_of(name),
        gpu_count=1,
        gpu_memory_gb=int(memory.group(1)) if memory else None,
        price_per_hour=usd_from_price(product.get("price")),
        available=bool(product.get("availableDeploy")) and inventory != "none",
        extra={
            "regions": [str(r) for r in product.get("regions") or []],
            "minRootFS": _int(product.get("minRootFS")),
            "maxRootFS": _int(product.get("maxRootFS")),
            "billingMethods": [str(m) for m in product.get("billingMethods") or []],
            "spotPrice": str(spot) if spot is not None else None,
            "monthlyPrice": monthly,
            "inventoryState": inventory,
            "cpuPerGpu": _int(product.get("cpuPerGpu")),
            "memoryPerGpu": _int(product.get("memoryPerGpu")),
            "diskPerGpu": _int(product.get("diskPerGpu")),
        },
        raw=dict(product),
    )


def template_entry(template: Any, channel: str) -> dict[str, Any] | None:
    """A template of the list/get-template answers [V] as the account metadata keeps it:
    ``{id, name, channel, image, ports: [{port, type}], env_keys, start_command, rootfs_gb,
    tools}``. Env *names* only (a template's values may be secrets) and never ``imageAuth``.
    ``None`` for an entry without an id (spelt ``Id`` [V]; ``id`` read too [I])."""
    if not isinstance(template, Mapping):
        return None
    ident = template.get("Id") or template.get("id")
    if ident in (None, ""):
        return None
    ports: list[dict[str, Any]] = []
    for group in template.get("ports") or []:
        if not isinstance(group, Mapping):
            continue
        numbers = group.get("ports")
        if isinstance(numbers, str):
            numbers = numbers.split(",")  # [I] the schema leaves the list's type open
        elif not isinstance(numbers, list):
            numbers = [numbers]
        for number in numbers:
            port = _int(number)
            if port is not None and PORT_RANGE[0] <= port <= PORT_RANGE[1] and all(p["port"] != port for p in ports):
                ports.append({"port": port, "type": _text(group.get("type")).lower()})
    env_keys: list[str] = []
    for env in template.get("envs") or []:
        key = _text(env.get("key")) if isinstance(env, Mapping) else ""
        if key and key not in env_keys:
            env_keys.append(key)
    tools = []
    for tool in template.get("tools") or []:  # names [V]; an object's name [I]
        name = _text(tool.get("name") if isinstance(tool, Mapping) else tool)
        if name:
            tools.append(name)
    return {
        "id": str(ident),
        "name": str(template.get("name") or ident),
        "channel": channel,
        "image": _text(template.get("image")),
        "ports": ports,
        "env_keys": env_keys,
        "start_command": _text(template.get("startCommand")),
        "rootfs_gb": _int(template.get("rootfsSize")),
        "tools": tools,
    }


def spec_from_instance(item: Mapping[str, Any]) -> dict[str, Any]:
    """What an instance has now, as a spec (for an update that came without the previous
    spec): the fields get answers [V]."""
    ports = [
        {"port": _int(m.get("port")), "type": _text(m.get("type")).lower()}
        for m in item.get("portMappings") or []
        if isinstance(m, Mapping) and _int(m.get("port")) is not None
    ]
    volumes = [
        {"Id": str(v.get("id")), "mountPoint": str(v.get("mountPath") or DEFAULT_MOUNT_POINT)}
        for v in item.get("volumeMounts") or []
        if isinstance(v, Mapping) and v.get("type") == "network" and v.get("id")
    ]
    spec = {
        "name": item.get("name"),
        "productId": item.get("productId"),
        "gpuNum": _int(item.get("gpuNum")),
        "rootfsSize": _int(item.get("rootfsSize")),
        "imageUrl": item.get("imageUrl"),
        "imageAuthId": item.get("imageAuthId"),
        "ports": format_ports(ports),
        "envs": [
            {"key": str(e.get("key") or ""), "value": str(e.get("value") or "")}
            for e in item.get("envs") or []
            if isinstance(e, Mapping)
        ],
        "command": item.get("command"),
        "entrypoint": item.get("entrypoint"),
        "clusterId": _none_if_empty(item.get("clusterId")),
        "networkStorages": volumes,
        "networkId": _none_if_empty((item.get("network") or {}).get("id"))
        if isinstance(item.get("network"), Mapping)
        else "",
        "kind": _none_if_empty(item.get("kind")) or "gpu",
        "billingMode": billing_mode_of(item),
    }
    return {k: v for k, v in spec.items() if not _empty(v)}


def plan_update(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[bool, bool, int]:
    """Which calls take an instance from ``old`` to ``new`` (both normalised specs):
    ``(edit, upgrade, grow)`` where ``grow`` is the root-disk growth in GB, or
    :class:`SpecError` on the fields Novita cannot change that way. The form calls it
    too, so a refusal shows on the field before anything is queued."""
    errors: dict[str, list[str]] = {}
    for key in FIXED_FIELDS:
        if not _same(key, new, old):
            if key == "imageAuth":
                errors.setdefault(key, []).append(
                    "Novita's upgrade takes a saved registry credential (imageAuthId), not username:password."
                )
            else:
                errors.setdefault(key, []).append(
                    "Novita cannot change this on an existing instance: create a new one instead."
                )
    edit = not _same("ports", new, old) or not _same("rootfsSize", new, old)
    grow = (_int(new.get("rootfsSize")) or 0) - (_int(old.get("rootfsSize")) or 0)
    if grow < 0:
        errors.setdefault("rootfsSize", []).append(
            f"Novita can only grow the root disk: it has {old.get('rootfsSize')} GB now."
        )
    upgrade = any(not _same(key, new, old) for key in UPGRADE_FIELDS)
    if upgrade and new.get("imageAuth"):
        # [I] the upgrade recreates the container from the image, with no way to pass user:pass.
        errors.setdefault("imageAuth", []).append(UPGRADE_NEEDS_SAVED_AUTH)
    if errors:
        raise SpecError(errors)
    return edit, upgrade, grow


def _lenient(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The previous spec normalised if it still passes today's rules, else as stored."""
    try:
        return check_spec(spec, existing=True)
    except SpecError:
        return dict(spec)


def _same(key: str, new: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    """Whether ``key`` is unchanged, reading defaults as Novita does (no month = 0, no
    billing mode = on demand, no autoRenew = false) and ports as a set."""
    if key == "billingMode":
        return billing_mode(new) == billing_mode(old)
    if key in ("month", "autoRenewMonth"):
        return (_int(new.get(key)) or 0) == (_int(old.get(key)) or 0)
    if key == "autoRenew":
        return bool(new.get(key)) == bool(old.get(key))
    if key == "kind":
        return (new.get(key) or "gpu") == (old.get(key) or "gpu")
    if key == "ports":
        return _port_set(new.get(key)) == _port_set(old.get(key))
    if key in ("gpuNum", "rootfsSize"):
        return _int(new.get(key)) == _int(old.get(key))
    a, b = new.get(key), old.get(key)
    if _empty(a) and _empty(b):
        return True
    if key in ("clusterId", "imageAuthId") and a is not None and b is not None:
        return str(a) == str(b)
    return a == b


def _port_set(value: Any) -> frozenset[tuple[int, str]]:
    rows, _ = parse_ports(value)
    return frozenset((row["port"], row["type"]) for row in rows)


def edit_body(external_id: str, spec: Mapping[str, Any], grow: int) -> dict[str, Any]:
    """``/gpu/instance/edit``: ports as objects here (a string on create) [V]. The
    tools' ports are sent too, so the edit cannot close Jupyter [I: the list may
    replace every exposed port]."""
    rows, _ = parse_ports(spec.get("ports"))
    taken = {row["port"] for row in rows}
    for tool in spec.get("tools") or []:
        port = _int(tool.get("port"))
        if port is not None and port not in taken:
            rows.append({"port": port, "type": tool.get("type") or "http"})
            taken.add(port)
    return {"instanceId": external_id, "ports": rows, "expandRootDisk": max(grow, 0)}


def upgrade_body(external_id: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    """``/gpu/instance/upgrade``: every field, a full replacement [V]; ``save`` keeps the
    instance's data [I: the safe choice; the panel has no "discard data" option]."""
    return {
        "instanceId": external_id,
        "imageUrl": spec.get("imageUrl", ""),
        "imageAuthId": spec.get("imageAuthId", ""),
        "envs": [dict(e) for e in spec.get("envs") or []],
        "command": spec.get("command", ""),
        "entrypoint": spec.get("entrypoint", ""),
        "save": True,
        "networkVolume": {
            "volumeMounts": [
                {"type": "network", "id": v["Id"], "mountPath": v.get("mountPoint") or DEFAULT_MOUNT_POINT}
                for v in spec.get("networkStorages") or []
            ]
        },
    }
