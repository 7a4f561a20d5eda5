"""Novita's JSON read into the panel's shapes: instances (endpoints, connection details,
masked answers, the spec an instance has), products as offers, templates as the form's
picker keeps them.

- The list answer has no connection details (§6); the get answer has them.
- Passwords in answers (SSH, web terminal) become ``"******"`` before they reach
  ``Remote.raw``; the log-stream URLs are capability URLs and are masked there too.
- The account metadata's templates keep what the form's template picker fills in:
  image, ports, start command, root disk, tools and the *names* of the env variables.
  Never their values, never ``imageAuth``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from providers.base import Endpoint, Offer
from providers.coerce import decimal, is_empty, text, whole
from providers.novita.fields import DEFAULT_MOUNT_POINT, PORT_RANGE, format_ports
from providers.novita.prices import usd_from_price

MASK = "******"


def none_if_empty(value: Any) -> str:
    """A field as text, ``""`` when absent. Unlike ``coerce.text`` it keeps numbers (ids)
    and reads Novita's ``"null"`` string as absent [C]."""
    return "" if value in (None, "", "null") else str(value)


def epoch(value: Any) -> dt.datetime | None:
    """Unix seconds (Novita sends them as strings [C]); ``None`` for 0, -1 or junk."""
    number = whole(value)
    if number is None:
        parsed = decimal(value)
        number = int(parsed) if parsed is not None else None
    if number is None or number <= 0:
        return None
    if number > 10**11:  # milliseconds
        number //= 1000
    return dt.datetime.fromtimestamp(number, tz=dt.UTC)


def billing_mode_of(item: Mapping[str, Any]) -> str:
    """An instance's billing mode; ``""`` comes back for on demand [C]."""
    return none_if_empty(item.get("billingMode")) or "onDemand"


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
        port, kind = whole(mapping.get("port")), text(mapping.get("type")).lower()
        label = f"{port}/{kind}" if kind else str(port)
        target = text(mapping.get("endpoint"))
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
    if text(ssh.get("sshCommand")):
        out["SSH"] = text(ssh.get("sshCommand"))
    if text(terminal.get("address")):
        user = text(terminal.get("username"))
        out["Web terminal"] = text(terminal.get("address")) + (f" (user {user})" if user else "")
    if text(jupyter.get("address")):
        out["Jupyter"] = text(jupyter.get("address"))
    network = block("network")
    if text(network.get("ip")):
        out["VPC address"] = text(network.get("ip"))
    return out


_GPU_RE = re.compile(
    r"\b(B200|H200|H100|H20|GH200|A100|A800|A40|A30|A10G?|A6000|L40S?|L20|L4|V100|T4)\b", re.IGNORECASE
)


def gpu_model_of(name: str) -> str:
    """``"RTX 4090 24GB"`` → ``"RTX 4090"``; ``"A100 SXM 80GB"`` → ``"A100"`` [I]."""
    rest = re.sub(r"\b(NVIDIA|GeForce)\b", "", name or "", flags=re.IGNORECASE)
    rest = re.sub(r"\b\d+\s*GB\b", "", rest, flags=re.IGNORECASE).strip()
    consumer = re.search(r"\bRTX\s*(\d{4})(\s*Ti)?\b", rest, re.IGNORECASE)
    if consumer:
        return f"RTX {consumer.group(1)}{' Ti' if consumer.group(2) else ''}"
    workstation = re.search(r"\bRTX\s*A(\d{4})\b", rest, re.IGNORECASE)
    if workstation:
        return f"RTX A{workstation.group(1)}"
    found = _GPU_RE.search(rest)
    if found:
        return found.group(1).upper()
    return " ".join(rest.split())


def product_offer(product: Mapping[str, Any]) -> Offer:
    """A product as an :class:`Offer` of one GPU: on-demand USD per GPU-hour as the price
    (per GPU [C/?]), ``available`` = capacity now and stock not ``none`` [V]."""
    name = str(product.get("name") or product.get("id") or "")
    memory = re.search(r"(\d+)\s*GB\b", name, re.IGNORECASE)
    monthly = [
        {"month": whole(entry.get("month")), "price": str(usd_from_price(entry.get("price")))}
        for entry in product.get("monthlyPrice") or []
        if isinstance(entry, Mapping) and whole(entry.get("month")) and usd_from_price(entry.get("price")) is not None
    ]
    spot = usd_from_price(product.get("spotPrice"))
    inventory = none_if_empty(product.get("inventoryState"))
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
            "minRootFS": whole(product.get("minRootFS")),
            "maxRootFS": whole(product.get("maxRootFS")),
            "billingMethods": [str(m) for m in product.get("billingMethods") or []],
            "spotPrice": str(spot) if spot is not None else None,
            "monthlyPrice": monthly,
            "inventoryState": inventory,
            "cpuPerGpu": whole(product.get("cpuPerGpu")),
            "memoryPerGpu": whole(product.get("memoryPerGpu")),
            "diskPerGpu": whole(product.get("diskPerGpu")),
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
            port = whole(number)
            if port is not None and PORT_RANGE[0] <= port <= PORT_RANGE[1] and all(p["port"] != port for p in ports):
                ports.append({"port": port, "type": text(group.get("type")).lower()})
    env_keys: list[str] = []
    for env in template.get("envs") or []:
        key = text(env.get("key")) if isinstance(env, Mapping) else ""
        if key and key not in env_keys:
            env_keys.append(key)
    tools = []
    for tool in template.get("tools") or []:  # names [V]; an object's name [I]
        name = text(tool.get("name") if isinstance(tool, Mapping) else tool)
        if name:
            tools.append(name)
    return {
        "id": str(ident),
        "name": str(template.get("name") or ident),
        "channel": channel,
        "image": text(template.get("image")),
        "ports": ports,
        "env_keys": env_keys,
        "start_command": text(template.get("startCommand")),
        "rootfs_gb": whole(template.get("rootfsSize")),
        "tools": tools,
    }


def spec_from_instance(item: Mapping[str, Any]) -> dict[str, Any]:
    """What an instance has now, as a spec (for an update that came without the previous
    spec): the fields get answers [V]."""
    ports = [
        {"port": whole(m.get("port")), "type": text(m.get("type")).lower()}
        for m in item.get("portMappings") or []
        if isinstance(m, Mapping) and whole(m.get("port")) is not None
    ]
    volumes = [
        {"Id": str(v.get("id")), "mountPoint": str(v.get("mountPath") or DEFAULT_MOUNT_POINT)}
        for v in item.get("volumeMounts") or []
        if isinstance(v, Mapping) and v.get("type") == "network" and v.get("id")
    ]
    spec = {
        "name": item.get("name"),
        "productId": item.get("productId"),
        "gpuNum": whole(item.get("gpuNum")),
        "rootfsSize": whole(item.get("rootfsSize")),
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
        "clusterId": none_if_empty(item.get("clusterId")),
        "networkStorages": volumes,
        "networkId": none_if_empty((item.get("network") or {}).get("id"))
        if isinstance(item.get("network"), Mapping)
        else "",
        "kind": none_if_empty(item.get("kind")) or "gpu",
        "billingMode": billing_mode_of(item),
    }
    return {k: v for k, v in spec.items() if not is_empty(v)}
