"""Fluence's marketplace as offers: one per container plan (its locations in
``extra``), one per VM or bare-metal option (an option is what ``plan_id`` names) [V].
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from providers.base import Offer
from providers.coerce import decimal, whole
from providers.fluence.paths import CONTAINER
from providers.fluence.prices import CURRENCY, UPFRONT_HOURS

_CONSUMER_GPU = re.compile(r"^(?:rtx|geforce)?[\s_-]*(\d{4})(?:[\s_-]*(ti|super))?$", re.IGNORECASE)
_WORKSTATION_GPU = re.compile(r"^(?:rtx)?[\s_-]*(?:(a\d{4})|(\d{4})[\s_-]*ada)$", re.IGNORECASE)


def normalise_gpu(model: Any) -> str:
    """Fluence's model words (``h200``, ``a100``, ``rtx4090``, ``rtx-a6000``) as the panel writes them."""
    text = str(model or "").strip()
    consumer = _CONSUMER_GPU.match(text)
    if consumer:
        suffix = {"ti": " Ti", "super": " Super"}.get((consumer.group(2) or "").lower(), "")
        return f"RTX {consumer.group(1)}{suffix}"
    workstation = _WORKSTATION_GPU.match(text)
    if workstation:
        return f"RTX {workstation.group(1).upper()}" if workstation.group(1) else f"RTX {workstation.group(2)} Ada"
    return text.upper()


def _gib(value: Any) -> int | None:
    """``"141Gi"`` → 141 (a GiB and a GB are close enough for choosing a plan)."""
    match = re.match(r"^\s*(\d+(?:\.\d+)?)", str(value or ""))
    return int(float(match.group(1))) if match else None


def _amount(block: Any) -> int | None:
    return whole((block or {}).get("count")) if isinstance(block, dict) else None


def _gpu_label(gpu: Mapping[str, Any], count: int) -> str:
    memory = _gib(gpu.get("vram"))
    interface = str(gpu.get("interface") or "")
    words = [f"{count}× {normalise_gpu(gpu.get('model'))}"]
    if memory:
        words.append(f"{memory} GB")
    if interface:
        words.append(interface.upper() if interface.lower() == "sxm" else interface.upper().replace("PCIE", "PCIe"))
    return " ".join(words)


def _resources(vcpu: Any, memory: Any, storage: Any) -> dict[str, int | None]:
    return {"vcpu": _amount(vcpu), "memory_gb": _amount(memory), "storage_gb": _amount(storage)}


def container_offer(entry: Mapping[str, Any]) -> Offer | None:
    """One ``{plan, attributes}`` of ``GET /gpu/plans/`` [V]."""
    plan = entry.get("plan")
    if not isinstance(plan, dict) or not plan.get("id"):
        return None
    supply = plan.get("supply") or {}
    gpu = plan.get("gpu_model") or {}
    pricing = plan.get("pricing") or {}
    count = whole(supply.get("gpu_count")) or 1
    locations = [str(x) for x in ((entry.get("attributes") or {}).get("location") or [])]
    resources = _resources(supply.get("vcpu"), supply.get("memory"), supply.get("storage"))
    hours = whole(pricing.get("upfront_hours"))
    name = (
        f"{_gpu_label(gpu, count)} · {resources['vcpu']} vCPU · {resources['memory_gb']} GiB RAM"
        f" · {resources['storage_gb']} GiB disk"
    )
    return Offer(
        sku=str(plan["id"]),
        name=name,
        kind=CONTAINER,
        gpu_model=normalise_gpu(gpu.get("model")),
        gpu_count=count,
        gpu_memory_gb=_gib(gpu.get("vram")),
        price_per_hour=decimal(pricing.get("hour")),
        location=", ".join(locations),
        extra={
            "plan_name": str(plan.get("name") or ""),
            "locations": locations,
            "upfront_hours": hours if hours and hours > 0 else UPFRONT_HOURS,
            "currency": str(pricing.get("currency") or CURRENCY),
            **resources,
            "interface": str(gpu.get("interface") or "").lower(),  # SXM here, sxm elsewhere [V]
        },
        raw=dict(entry),
    )


def machine_offers(data: Any, kind: str) -> list[Offer]:
    """Every option of ``GET /gpu/plans/vms`` or ``/baremetal`` [V]: GPU model → GPU count → options."""
    groups = data.get("data") if isinstance(data, dict) else data
    offers = []
    for group in groups if isinstance(groups, list) else []:
        if not isinstance(group, dict):
            continue
        gpu = group.get("gpu_model") or {}
        for by_number in group.get("availability_by_number") or []:
            if not isinstance(by_number, dict):
                continue
            count = whole(by_number.get("gpu_count")) or 1
            for option in by_number.get("options") or []:
                if isinstance(option, dict) and option.get("id"):
                    offers.append(option_offer(option, gpu, count, kind))
    return offers


def option_offer(option: dict[str, Any], gpu: Mapping[str, Any], count: int, kind: str) -> Offer:
    """One option of a VM or bare-metal GPU count: a provider's machine in one data centre."""
    pricing = option.get("pricing") or {}
    hours = whole(pricing.get("upfront_hours"))
    location, provider = str(option.get("location") or ""), str(option.get("provider") or "")
    resources = _resources(option.get("vcpu"), option.get("memory"), option.get("storage"))
    label = [_gpu_label(gpu, count), f"{resources['vcpu']} vCPU", f"{resources['memory_gb']} GiB RAM"]
    return Offer(
        sku=str(option["id"]),
        name=" · ".join(x for x in (*label, provider, location) if x),
        kind=kind,
        gpu_model=normalise_gpu(gpu.get("model")),
        gpu_count=count,
        gpu_memory_gb=_gib(gpu.get("vram")),
        price_per_hour=decimal(pricing.get("hour")),
        location=location,
        extra={
            "os_options": [str(x) for x in option.get("os_options") or []],
            "provider": provider,
            "nvlink": bool(option.get("nvlink")),
            "location": location,
            "upfront_hours": hours if hours and hours > 0 else UPFRONT_HOURS,
            "currency": str(pricing.get("currency") or CURRENCY),
            **resources,
            "interface": str(gpu.get("interface") or "").lower(),
            "deployment_type": str(option.get("deployment_type") or "").lower(),
        },
        raw=option,
    )
