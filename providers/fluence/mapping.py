"""Fluence's JSON in the panel's terms: an instance's connection details and masked
``raw``, its kind, the account's balance and the events' lines.

``raw`` keeps the vendor's JSON with the injected ``SSH_PUBKEY``, registry passwords and
secret-looking environment values masked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from providers.base import Endpoint, VendorEvent, parse_time
from providers.coerce import decimal, whole
from providers.fluence.paths import BAREMETAL, CONTAINER, KINDS, VM
from providers.fluence.prices import CURRENCY
from providers.fluence.rules import DEFAULT_PROTOCOL, HTTP_PORT

MASK = "******"
# Environment values whose names say they are secret [I] (the injected SSH_PUBKEY among
# them): the panel keeps ``raw`` in its database and shows it.
SECRET_NAME_RE = re.compile(r"PASS|SECRET|TOKEN|KEY|CREDENTIAL|AUTH|PRIVATE", re.IGNORECASE)


def masked(value: Any) -> Any:
    """A copy of ``value`` with passwords and secret-looking environment values masked."""
    if isinstance(value, list):
        return [masked(v) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key == "password" and item:
            out[key] = MASK
        elif key == "environment" and isinstance(item, list):
            out[key] = [
                {**e, "value": MASK}
                if isinstance(e, dict) and e.get("value") and SECRET_NAME_RE.search(str(e.get("name") or ""))
                else masked(e)
                for e in item
            ]
        else:
            out[key] = masked(item)
    return out


def _http_url(uri: str) -> str:
    # [?] whether ``network.uri`` carries a scheme is not shown; without one it is http (port 80).
    return uri if "://" in uri else f"http://{uri}"


def connection_details(item: Mapping[str, Any], kind: str) -> tuple[list[Endpoint], dict[str, str]]:
    """Endpoints and the ready-made commands: containers SSH through the external port
    forwarded to their port 22 as root (notes §2.7); VMs give their own ``ssh_connection``."""
    network = item.get("network")
    if not isinstance(network, dict):
        network = {}
    domain = str(network.get("domain") or item.get("domain") or "")
    endpoints: list[Endpoint] = []
    connection: dict[str, str] = {}
    for forwarded in network.get("forwarded_ports") or []:
        if not isinstance(forwarded, dict):
            continue
        port, external = whole(forwarded.get("port")), whole(forwarded.get("external_port"))
        protocol = str(forwarded.get("protocol") or DEFAULT_PROTOCOL).lower()
        if external is None or not domain:
            continue
        endpoints.append(Endpoint(host=domain, port=external, protocol=protocol, label=f"port {port}/{protocol}"))
        if port == 22 and kind == CONTAINER:
            connection["SSH"] = f"ssh -p {external} root@{domain}"
    uri = str(network.get("uri") or "")
    if uri:
        endpoints.insert(0, Endpoint(url=_http_url(uri), protocol="http", label=f"HTTP (port {HTTP_PORT})"))
        connection["HTTP"] = _http_url(uri)
    ssh = str(item.get("ssh_connection") or "")
    if ssh and kind != CONTAINER:
        connection["SSH"] = ssh
        host = ssh.rsplit("@", 1)[-1].split()[0] if "@" in ssh else ""
        if host:
            endpoints.append(Endpoint(host=host, port=22, protocol="tcp", label="SSH"))
    elif domain and kind != CONTAINER:
        connection["Address"] = domain
    return endpoints, connection


def instances(data: Any) -> list[dict[str, Any]]:
    # A bare array [V]; an object wrapping one is read too, in case the API grows paging.
    if isinstance(data, dict):
        data = data.get("data") or data.get("instances") or data.get("items") or []
    return [i for i in data if isinstance(i, dict) and i.get("id")] if isinstance(data, list) else []


def kind_from(spec: Mapping[str, Any] | None, raw: Mapping[str, Any] | None) -> str:
    """The kind of a deployment from its spec, else from what Fluence said about it."""
    kind = (spec or {}).get("kind")
    if kind in KINDS:
        return str(kind)
    raw = raw or {}
    if raw.get("kind") in KINDS:
        return str(raw["kind"])
    availability = str(raw.get("availability") or "").lower()
    if availability in (VM, BAREMETAL):
        return availability
    return VM if "status" in raw and "instance_status" not in raw else CONTAINER


def parse_balance(data: Any) -> tuple[Decimal | None, str]:
    """The account's spendable balance from ``GET /v2/users/balances``, whose shape is not
    documented [?]: a number, ``{balance|available|amount: n, currency}``, a list of
    per-currency entries (USDC, then USD, first) or of entitlements (``featureKey``: GPU
    Cloud's first), or ``{"USDC": n}``."""
    if isinstance(data, (int, float, str)) and not isinstance(data, bool):
        return decimal(data), CURRENCY
    if isinstance(data, list):
        entries = [e for e in data if isinstance(e, dict)]
        # A list of entitlements ``{balance, featureKey, ...}``: GPU Cloud's first [I].
        entries.sort(key=lambda e: "gpu" not in str(e.get("featureKey") or e.get("feature") or "").lower())
        for wanted in (CURRENCY, "USD"):
            for entry in entries:
                if str(entry.get("currency") or entry.get("asset") or "").upper() == wanted:
                    return parse_balance(entry)
        return parse_balance(entries[0]) if entries else (None, CURRENCY)
    if not isinstance(data, dict):
        return None, CURRENCY
    currency = str(data.get("currency") or data.get("asset") or CURRENCY).upper()
    for key in ("available", "available_balance", "balance", "amount", "total", "value"):
        value = data.get(key)
        if isinstance(value, (dict, list)):
            return parse_balance(value)
        number = decimal(value)
        if number is not None:
            return number, currency
    for key in ("balances", "data", "items"):
        if key in data:
            return parse_balance(data[key])
    for wanted in (CURRENCY, "USD"):
        if wanted in data or wanted.lower() in data:
            return decimal(data.get(wanted, data.get(wanted.lower()))), wanted
    return None, CURRENCY


_EVENT_RE = re.compile(r"^\[(?P<source>[^\]]+)\]:?\s*\[(?P<type>[^\]]+)\]\s*\[(?P<reason>[^\]]+)\]\s*(?P<text>.*)$")
_STAMP_RE = re.compile(
    r"^(?P<at>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)\s+(?P<rest>.*)$"
)


def parse_event(line: Any) -> VendorEvent:
    """``"[pod]: [Normal] [Pulled] Container image … already present"`` [V]: the reason
    becomes the kind (``warning`` for a Warning); a leading timestamp, if any, the time."""
    text = str(line).rstrip("\n")
    at = None
    stamped = _STAMP_RE.match(text)
    if stamped:
        at = parse_time(stamped.group("at").replace(" ", "T"))
        if at is not None:
            text = stamped.group("rest")
    match = _EVENT_RE.match(text)
    kind = ""
    if match:
        kind = "warning" if match.group("type").strip().lower() == "warning" else match.group("reason").strip().lower()
    return VendorEvent(message=text, at=at, kind=kind)


def spec_from_detail(item: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """An instance's detail answer as the deploy body, as far as it goes. A container's
    ``container_info`` carries its image, exposed ports, env and startup command, and
    ``location`` the country it was placed in [V]; a VM's or bare-metal server's the OS
    image and SSH key. The plan it was rented from is not in any instance answer [?], so ``plan_id``
    stays unset (Edit asks for it before a container's settings can be replaced)."""
    spec: dict[str, Any] = {"kind": kind, "name": item.get("name") or ""}
    if kind == CONTAINER:
        info = item.get("container_info") or {}
        settings: dict[str, Any] = {}
        for key in ("image", "expose", "environment"):
            if info.get(key):
                settings[key] = masked(info[key])
        if info.get("startup_command"):
            settings["startup_command"] = info["startup_command"]
        spec["container_settings"] = settings
        if item.get("location"):
            spec["constraints"] = {"location": item["location"]}
    else:
        for key in ("os_image", "ssh_key"):  # a public key, as the deploy body took it
            if item.get(key):
                spec[key] = item[key]
    return spec
