"""The create body of ``POST /gpu/instance/create`` (contract §2.3): its fields, their
limits, what an existing instance can change, and the ``ports`` string.

The form reads these too (choices, widget limits, locked fields), through the package's
public names. [V] = vendor page, [C] = public client code, [I] = inferred.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from providers.base import Offer
from providers.coerce import whole

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
ENVS_MAX = 100  # GPU instances [V]
# CPU instances [V: Novita's docs, "Create CPU Instance", as the contract's corrections quote it].
CPU_ENVS_MAX = 30
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
    "name",
    "productId",
    "gpuNum",
    "rootfsSize",
    "imageUrl",
    "imageAuth",
    "imageAuthId",
    "ports",
    "envs",
    "tools",
    "command",
    "entrypoint",
    "clusterId",
    "networkStorages",
    "networkId",
    "kind",
    "month",
    "billingMode",
    "autoRenew",
    "autoRenewMonth",
    "minCudaVersion",
    "localStorageMountPoint",
)
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


def parse_ports(value: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """``"8000/http, 22/tcp"`` -> ``[{port: 8000, type: "http"}, ...]`` and the problems,
    one message per bad entry."""
    if value is None or value == "":
        return [], []
    if not isinstance(value, str):
        return [], ['Ports are text like "8000/http, 22/tcp".']
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
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
    number = whole(port)
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
    return "monthly" if (whole(spec.get("month")) or 0) > 0 else "onDemand"


def offer_for(spec: Mapping[str, Any], offers: Iterable[Offer]) -> Offer | None:
    """The catalog's offer for the spec's ``productId``, if the catalog has it."""
    product = spec.get("productId")
    return next((o for o in offers if o.sku == product), None) if product else None
