"""Together's JSON and the panel's data, both ways: ``DeploymentResponseItem`` to a
:class:`Remote`, ``/hardware`` items to :class:`Offer` s, a spec to a PATCH body.

Shapes: the seed's OpenAPI excerpt (``openapi.json`` beside this module) [V] and the
notes (``shared/vendor-apis/together.md``) [I].
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from providers.base import Endpoint, Offer, Remote, parse_time
from providers.together.prices import ESTIMATED_GPU_HOURLY_USD, hourly_rate
from providers.together.rules import GPU_LABELS, GPU_TYPES
from providers.together.statuses import remote_state, replica_message

# Fields PATCH accepts (UpdateDeploymentRequest: the create fields, all optional).
UPDATABLE_FIELDS = (
    "name",
    "description",
    "image",
    "gpu_type",
    "gpu_count",
    "cpu",
    "memory",
    "storage",
    "min_replicas",
    "max_replicas",
    "port",
    "health_check_path",
    "termination_grace_period_seconds",
    "command",
    "args",
    "environment_variables",
    "volumes",
    "autoscaling",
    "capacity_type",  # the SDK's, not the seed's (together 3.1.1, types/beta/jig_update_params.py)
    "model_mounts",  # the SDK's too (the same file, ModelMount)
)
# /hardware ids look like "1x_nvidia_h100_80gb_sxm"; this is how they meet gpu_type.
HARDWARE_GPU = {"h100_80gb": "h100-80gb", "b200_192gb": "b200-192gb", "h100_40gb": "h100-40gb-mig"}


def remote_from(item: dict[str, Any], *, base_url: str) -> Remote:
    """A deployment as the panel sees it. Only ready replicas are billed, so the price is
    the replica rate times the ready count."""
    name = item.get("name") or ""
    ready, desired = item.get("ready_replicas"), item.get("desired_replicas")
    rate = hourly_rate(item.get("gpu_type"), item.get("gpu_count"))
    running = ready if isinstance(ready, int) else 0
    endpoint = Endpoint(url=f"{base_url}/deployment-request/{quote(name)}", protocol="https", label="HTTP")
    return Remote(
        external_id=item.get("id") or name,
        name=name,
        state=remote_state(item),
        vendor_state=item.get("status") or "",
        message=replica_message(item),
        replicas_ready=ready,
        replicas_desired=desired,
        endpoints=[endpoint] if name else [],
        price_per_hour=rate * running if rate is not None else None,
        created_at=parse_time(item.get("created_at")),
        raw=item,
    )


def patch_body(spec: dict[str, Any]) -> dict[str, Any]:
    """The new spec in full, for PATCH. PATCH replaces env vars and volumes wholesale, so
    both always go as complete lists; no autoscaling means ``{}`` (off) and no health
    check path ``""`` (off) [V]."""
    body = {key: spec[key] for key in UPDATABLE_FIELDS if key in spec}
    # None too: a list left out of the PATCH would keep the vendor's old one.
    body["environment_variables"] = spec.get("environment_variables") or []
    body["volumes"] = spec.get("volumes") or []
    if "model_mounts" in spec:  # the form always says (an empty list removes a mount)
        body["model_mounts"] = spec["model_mounts"] or []
    body["autoscaling"] = spec.get("autoscaling") or {}
    body.setdefault("health_check_path", "")
    return body


def catalog_offers(hardware: Iterable[dict[str, Any]]) -> list[Offer]:
    """One offer per GPU type: the live single-GPU ``/hardware`` item where there is one,
    else the estimate. Multi-GPU and unknown hardware are left out."""
    live: dict[str, Offer] = {}
    for item in hardware:
        offer = _hardware_offer(item)
        if offer is not None:
            live[offer.sku] = offer
    return [live.get(gpu) or _estimated_offer(gpu) for gpu in GPU_TYPES]


def _hardware_offer(item: dict[str, Any]) -> Offer | None:
    specs = item.get("specs") or {}
    count = int(specs.get("gpu_count") or 1)
    gpu = next((g for key, g in HARDWARE_GPU.items() if key in (item.get("id") or "")), None)
    cents = (item.get("pricing") or {}).get("cents_per_minute")
    if gpu is None or count != 1 or cents is None:
        return None
    availability = (item.get("availability") or {}).get("status", "available")
    label = GPU_LABELS.get(gpu, gpu)
    return Offer(
        sku=gpu,
        name=label,
        gpu_model=label,
        gpu_count=1,
        gpu_memory_gb=specs.get("gpu_memory"),
        price_per_hour=Decimal(str(cents)) * 60 / 100,
        available=availability == "available",
        raw=item,
    )


def _estimated_offer(gpu: str) -> Offer:
    return Offer(sku=gpu, name=GPU_LABELS[gpu], gpu_model=GPU_LABELS[gpu], price_per_hour=ESTIMATED_GPU_HOURLY_USD[gpu])


def names(items: Iterable[dict[str, Any]]) -> list[str]:
    """The sorted names of a list answer's items (secrets, volumes), nameless ones left out."""
    return sorted(i.get("name", "") for i in items if i.get("name"))


def spec_from_detail(item: dict[str, Any]) -> dict[str, Any]:
    """A deployment's detail answer (``DeploymentResponseItem``) as the spec the form builds:
    the create fields it echoes, as it echoes them [V]. Env vars come back as the request
    had them (a secret's value stays a secret reference); what the answer leaves out or
    sends empty is left for Together's defaults."""
    spec = {key: item[key] for key in UPDATABLE_FIELDS if item.get(key) not in (None, "", [], {})}
    if item.get("name"):
        spec["name"] = item["name"]
    return spec


# What a rollback answers (the Deployment) puts back in the spec: the revision's configuration.
ROLLED_BACK_FIELDS = tuple(
    f for f in UPDATABLE_FIELDS if f not in ("name", "description", "min_replicas", "max_replicas")
)


def spec_after_rollback(spec: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """The spec the row keeps once Together re-applied an older revision: its configuration
    from the answer, the name, description and replica bounds as they were."""
    out = {k: v for k, v in spec.items() if k not in ROLLED_BACK_FIELDS}
    out.update({k: item[k] for k in ROLLED_BACK_FIELDS if item.get(k) not in (None, [], {})})
    return out


def revision_event(item: dict[str, Any]) -> dict[str, Any] | None:
    """A ``DeploymentRevisionEvent`` (together 3.1.1, types/beta/deployment_revision_event.py)
    as the page lists it; ``None`` for a row without its number."""
    number = item.get("revision_number")
    if not isinstance(number, int) or isinstance(number, bool):
        return None
    return {
        "event_number": item.get("event_number"),
        "action": str(item.get("action") or ""),
        "activated_at": str(item.get("activated_at") or ""),
        "image": str(item.get("image") or ""),
        "revision_id": str(item.get("revision_id") or ""),
        "revision_number": number,
    }
