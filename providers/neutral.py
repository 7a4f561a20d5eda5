"""One workload, any vendor: the vendor-neutral spec and its translation to each vendor.

Deploy anywhere, "clone to another vendor" and the built-in templates all read and write
:class:`NeutralSpec` (container image, command, env, exposed port, GPU model and count,
memory and disk, region preference, max price per hour) through the functions here:

- :func:`from_vendor` reads a vendor's stored spec (its request body) as a neutral one;
- :func:`to_form` turns a neutral spec, and optionally the offer chosen, into the vendor
  form's initial values and formset rows (field names of ``controlpanel/vendors/<v>/form.py``);
- :func:`match_offer` says whether an offer can run it, for how much an hour, and what
  will differ on that vendor (what it cannot do);
- :func:`strip_secrets` drops secret values from a vendor spec (templates keep the names).

GPU models are compared through ``providers.gpus`` (one normalisation for every vendor).
Plain Python: no Django.
"""

from __future__ import annotations

import copy
import re
import shlex
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from providers.base import Offer
from providers.gpus import GpuModel, normalise_gpu


@dataclass(frozen=True)
class NeutralSpec:
    name: str = ""
    image: str = ""
    command: str = ""  # the container's command line, replacing the image's own; shell words
    env: tuple[tuple[str, str], ...] = ()
    port: int | None = None  # the one port to expose (HTTP)
    gpu_model: str = ""  # any spelling: "H100", "NVIDIA H100 80GB"
    gpu_count: int = 1
    memory_gb: int | None = None  # per instance / replica
    disk_gb: int | None = None
    region: str = ""  # a preference: "US", "Europe", "DE"
    max_price_per_hour: Decimal | None = None

    @property
    def gpu(self) -> GpuModel | None:
        return normalise_gpu(self.gpu_model) if self.gpu_model else None


@dataclass(frozen=True)
class Capabilities:
    """What a vendor's create request can say of a neutral spec. Each comes from the
    vendor's request body as its form builds it (``controlpanel/vendors/<v>/form.py``)."""

    image: bool = True
    command: bool = True
    env: bool = True
    port: bool = True
    memory: bool = False
    disk: bool = False
    region: bool = False
    max_gpus_per_offer: int | None = None  # None: the offer's own count only; N: 1..N of the offer's GPU
    offer_kinds: tuple[str, ...] = ()  # which catalog kinds run a container ("" any)


CAPABILITIES: dict[str, Capabilities] = {
    # Together: image, command/args, env, port, resources.memory/storage, gpu_count 1-8 (MAX_GPU_COUNT).
    "together": Capabilities(memory=True, disk=True, max_gpus_per_offer=8),
    # Nosana: a job's container/run op (image, cmd, env, expose); one GPU per job; the market decides the rest.
    "nosana": Capabilities(max_gpus_per_offer=1),
    # Replicate: a deployment runs a model version on hardware, never an image.
    "replicate": Capabilities(image=False, command=False, env=False, port=False),
    # Fluence: a container plan (its GPUs, memory and disk), its countries, image, startup command, env, ports.
    "fluence": Capabilities(region=True, offer_kinds=("container",)),
    # Novita: a product per GPU (gpuNum 1-8), rootfsSize, imageUrl, command, envs, ports, clusters by region.
    "novita": Capabilities(disk=True, region=True, max_gpus_per_offer=8),
}

WHAT_INSTEAD = {
    "replicate": "Replicate runs a model, not an image: choose a model and version on its form.",
}


def capabilities(vendor: str) -> Capabilities:
    return CAPABILITIES.get(vendor, Capabilities())


# --- vendor spec -> neutral ------------------------------------------------------------------------


def _env_pairs(items: Any, key: str = "name") -> tuple[tuple[str, str], ...]:
    """Plain values, and names whose value is to be filled in; a reference to a secret
    stored at the vendor (Together's ``value_from_secret``) does not travel."""
    pairs = []
    for item in items or []:
        if isinstance(item, dict) and item.get(key) and not item.get("value_from_secret"):
            value = item.get("value")
            pairs.append((str(item[key]), "" if value is None else str(value)))
    return tuple(pairs)


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _first_port(value: Any) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        found = re.match(r"\s*(\d+)", value)
        return int(found.group(1)) if found else None
    if isinstance(value, list) and value:
        first = value[0]
        return _first_port(first.get("port") if isinstance(first, dict) else first)
    return None


def from_vendor(vendor: str, spec: dict[str, Any], offers: list[Offer] | tuple[Offer, ...] = ()) -> NeutralSpec:
    """What of ``spec`` (a vendor's stored request body) any vendor could run; ``offers``
    (the vendor's catalog) names the GPU of a market, plan, product or hardware sku."""
    spec = spec or {}
    reader = _READERS.get(vendor)
    neutral = reader(spec) if reader else NeutralSpec(name=str(spec.get("name") or ""))
    if vendor in _GPU_BY_SKU and neutral.gpu_model:
        offer = next((o for o in offers if o.sku == neutral.gpu_model), None)
        gpu = normalise_gpu(offer.gpu_model, offer.gpu_memory_gb) if offer else None
        neutral = replace(neutral, gpu_model=gpu.display_name if gpu else "")
        if offer is not None and capabilities(vendor).max_gpus_per_offer is None:
            neutral = replace(neutral, gpu_count=offer.gpu_count or 1)
    return neutral


# Vendors whose spec names an offer (market, hardware, plan, product) rather than a GPU.
_GPU_BY_SKU = frozenset({"nosana", "replicate", "fluence", "novita"})


def _from_together(spec: dict[str, Any]) -> NeutralSpec:
    words = [*(spec.get("command") or []), *(spec.get("args") or [])]
    from providers.together import GPU_LABELS

    gpu = spec.get("gpu_type") or ""
    return NeutralSpec(
        name=str(spec.get("name") or ""),
        image=str(spec.get("image") or ""),
        command=shlex.join(words) if words else "",
        env=_env_pairs(spec.get("environment_variables")),
        port=_int(spec.get("port")),
        gpu_model=GPU_LABELS.get(gpu, gpu),
        gpu_count=_int(spec.get("gpu_count")) or 1,
        memory_gb=_int(spec.get("memory")),
        disk_gb=_int(spec.get("storage")),
    )


def _from_nosana(spec: dict[str, Any]) -> NeutralSpec:
    job = spec.get("job_definition") or {}
    ops = job.get("ops") if isinstance(job, dict) else None
    args = (ops[0].get("args") or {}) if isinstance(ops, list) and ops and isinstance(ops[0], dict) else {}
    cmd = args.get("cmd")
    command = cmd if isinstance(cmd, str) else (cmd[0] if isinstance(cmd, list) and len(cmd) == 1 else "")
    if isinstance(cmd, list) and len(cmd) > 1:
        command = shlex.join(str(c) for c in cmd)
    raw_env = args.get("env")
    env: dict[str, Any] = raw_env if isinstance(raw_env, dict) else {}
    return NeutralSpec(
        name=str(spec.get("name") or ""),
        image=str(args.get("image") or ""),
        command=str(command or ""),
        env=tuple((str(k), "" if v is None else str(v)) for k, v in env.items()),
        port=_first_port(args.get("expose")),
        gpu_model=str(spec.get("market") or ""),  # a market address: named through the catalog
    )


def _from_replicate(spec: dict[str, Any]) -> NeutralSpec:
    return NeutralSpec(name=str(spec.get("name") or ""), gpu_model=str(spec.get("hardware") or ""))


def _from_fluence(spec: dict[str, Any]) -> NeutralSpec:
    settings = spec.get("container_settings") or {}
    expose = settings.get("expose") or []
    http = next((p for p in expose if isinstance(p, dict) and p.get("protocol") == "http"), None)
    return NeutralSpec(
        name=str(spec.get("name") or ""),
        image=str(settings.get("image") or ""),
        command=str(settings.get("startup_command") or ""),
        env=_env_pairs(settings.get("environment")),
        port=_first_port([http] if http else expose),
        gpu_model=str(spec.get("plan_id") or ""),
        region=str((spec.get("constraints") or {}).get("location") or ""),
    )


def _from_novita(spec: dict[str, Any]) -> NeutralSpec:
    return NeutralSpec(
        name=str(spec.get("name") or ""),
        image=str(spec.get("imageUrl") or ""),
        command=str(spec.get("command") or ""),
        env=_env_pairs(spec.get("envs"), key="key"),
        port=_first_port(spec.get("ports")),
        gpu_model=str(spec.get("productId") or ""),
        gpu_count=_int(spec.get("gpuNum")) or 1,
        disk_gb=_int(spec.get("rootfsSize")),
    )


_READERS = {
    "together": _from_together,
    "nosana": _from_nosana,
    "replicate": _from_replicate,
    "fluence": _from_fluence,
    "novita": _from_novita,
}


# --- neutral -> a vendor's form ---------------------------------------------------------------------

Rows = dict[str, list[dict[str, Any]]]


def to_form(vendor: str, neutral: NeutralSpec, offer: Offer | None = None) -> tuple[dict[str, Any], Rows]:
    """The vendor form's initial values and formset rows for ``neutral`` (on ``offer``,
    when one was chosen): what the vendor cannot take is left out (see :func:`differences`)."""
    writer = _WRITERS.get(vendor)
    if writer is None:
        return {"name": neutral.name}, {}
    return writer(neutral, offer)


def _together_gpu(neutral: NeutralSpec, offer: Offer | None) -> str:
    from providers.together import GPU_LABELS, GPU_TYPES

    if offer is not None:
        return offer.sku
    want = neutral.gpu
    for sku in GPU_TYPES:
        if want and _same_gpu(normalise_gpu(GPU_LABELS[sku]), want):
            return sku
    return ""


def _to_together(neutral: NeutralSpec, offer: Offer | None) -> tuple[dict[str, Any], Rows]:
    initial: dict[str, Any] = {"name": neutral.name, "image": neutral.image, "gpu_count": neutral.gpu_count}
    gpu = _together_gpu(neutral, offer)
    if gpu:
        initial["gpu_type"] = gpu
    if neutral.command:
        initial["args"] = _split(neutral.command)  # the image's CMD; its ENTRYPOINT stays
    if neutral.port:
        initial["port"] = neutral.port
    if neutral.memory_gb:
        initial["memory"] = neutral.memory_gb
    if neutral.disk_gb:
        initial["storage"] = neutral.disk_gb
    env = [{"name": k, "source": "value", "value": v} for k, v in neutral.env]
    return initial, {"env": env} if env else {}


def _to_nosana(neutral: NeutralSpec, offer: Offer | None) -> tuple[dict[str, Any], Rows]:
    initial: dict[str, Any] = {"name": neutral.name, "image": neutral.image, "gpu": True}
    if offer is not None:
        initial["market"] = offer.sku
    if neutral.command:
        initial.update(cmd_mode="words", cmd=neutral.command)  # words go to the image's entrypoint, as CMD
    gpu = neutral.gpu
    if gpu and gpu.memory_gb:
        initial["required_vram"] = gpu.memory_gb
    rows: Rows = {}
    if neutral.port:
        rows["ports"] = [{"port": neutral.port, "type": ""}]
    if neutral.env:
        rows["env"] = [{"name": k, "value": v} for k, v in neutral.env]
    return initial, rows


def _to_replicate(neutral: NeutralSpec, offer: Offer | None) -> tuple[dict[str, Any], Rows]:
    initial: dict[str, Any] = {"name": _replicate_name(neutral.name)}
    if offer is not None:
        initial["hardware"] = offer.sku
    return initial, {}


def _replicate_name(name: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-")


def _fluence_name(name: str) -> str:
    from providers.fluence import NAME_MAX

    return re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:NAME_MAX].strip("-")


def _to_fluence(neutral: NeutralSpec, offer: Offer | None) -> tuple[dict[str, Any], Rows]:
    from providers.fluence import HTTP_PORT

    initial: dict[str, Any] = {"kind": "container", "name": _fluence_name(neutral.name), "image": neutral.image}
    if offer is not None:
        initial["plan_id"] = offer.sku
        region = _region_in(neutral.region, (offer.extra or {}).get("locations") or [])
        if region:
            initial["location"] = region
    if neutral.command:
        initial["startup_command"] = neutral.command
    rows: Rows = {}
    if neutral.port:
        # Only port 80 may be http at Fluence (it gets the URL); any other is forwarded as tcp.
        protocol = "http" if neutral.port == HTTP_PORT else "tcp"
        rows["ports"] = [{"port": str(neutral.port), "protocol": protocol}]
    if neutral.env:
        rows["env"] = [{"name": k, "value": v} for k, v in neutral.env]
    return initial, rows


def _to_novita(neutral: NeutralSpec, offer: Offer | None) -> tuple[dict[str, Any], Rows]:
    initial: dict[str, Any] = {"name": neutral.name, "imageUrl": neutral.image, "gpuNum": neutral.gpu_count}
    if offer is not None:
        initial["productId"] = offer.sku
    if neutral.command:
        initial["command"] = neutral.command
    if neutral.disk_gb:
        initial["rootfsSize"] = neutral.disk_gb
    rows: Rows = {}
    if neutral.port:
        rows["ports"] = [{"port": neutral.port, "type": "http"}]
    if neutral.env:
        rows["env"] = [{"key": k, "value": v} for k, v in neutral.env]
    return initial, rows


_WRITERS = {
    "together": _to_together,
    "nosana": _to_nosana,
    "replicate": _to_replicate,
    "fluence": _to_fluence,
    "novita": _to_novita,
}


def _split(command: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError:
        return command.split()


# --- offers ----------------------------------------------------------------------------------------


@dataclass
class Match:
    """One offer that can run the spec: its price an hour for the GPUs asked, and what
    will differ from the spec there."""

    offer: Offer
    gpu: GpuModel | None
    gpu_count: int
    price_per_hour: Decimal | None
    differences: list[str] = field(default_factory=list)
    in_region: bool = True


def _same_gpu(have: GpuModel | None, want: GpuModel) -> bool:
    if have is None:
        return False
    if want.memory_gb is None and not want.variant:
        return have.family == want.family
    return have == want


def _region_in(wanted: str, places: list[str] | tuple[str, ...]) -> str:
    wanted = wanted.strip().lower()
    if not wanted:
        return ""
    return next((p for p in places if wanted in str(p).lower()), "")


def _offer_places(vendor: str, offer: Offer) -> list[str]:
    extra = offer.extra or {}
    places = [*(extra.get("locations") or []), *(extra.get("regions") or [])]
    if offer.location:
        places += [p.strip() for p in offer.location.split(",")]
    return [str(p) for p in places if p]


def match_offer(vendor: str, offer: Offer, neutral: NeutralSpec) -> Match | None:
    """``None`` when ``offer`` cannot run ``neutral`` (another GPU, another count, a kind
    that runs no container, over the price); else the :class:`Match`."""
    caps = capabilities(vendor)
    if caps.offer_kinds and offer.kind not in caps.offer_kinds:
        return None
    gpu = normalise_gpu(offer.gpu_model, offer.gpu_memory_gb)
    want = neutral.gpu
    if want is not None and not _same_gpu(gpu, want):
        return None
    if not offer.gpu_count and neutral.gpu_count:
        return None  # a CPU-only offer
    count = max(neutral.gpu_count, 1)
    if caps.max_gpus_per_offer is None:
        if offer.gpu_count != count:
            return None
        price = offer.price_per_hour
    else:
        if count > caps.max_gpus_per_offer or offer.gpu_count != 1:
            return None
        price = offer.price_per_hour * count if offer.price_per_hour is not None else None
    if neutral.max_price_per_hour is not None and (price is None or price > neutral.max_price_per_hour):
        return None
    places = _offer_places(vendor, offer)
    in_region = not neutral.region or bool(_region_in(neutral.region, places))
    return Match(
        offer=offer,
        gpu=gpu,
        gpu_count=count,
        price_per_hour=price,
        differences=differences(vendor, neutral, offer, in_region=in_region),
        in_region=in_region,
    )


def differences(vendor: str, neutral: NeutralSpec, offer: Offer | None = None, *, in_region: bool = True) -> list[str]:
    """What ``vendor`` will not do as ``neutral`` says, in words for the offers table."""
    caps = capabilities(vendor)
    out: list[str] = []
    if vendor in WHAT_INSTEAD and neutral.image:
        out.append(WHAT_INSTEAD[vendor])
    if not caps.command and neutral.command:
        out.append("No command: the model decides what runs.")
    if not caps.env and neutral.env:
        out.append("No environment variables.")
    if not caps.port and neutral.port:
        out.append("No ports: it is reached through the vendor's prediction API.")
    extra = (offer.extra if offer else None) or {}
    if neutral.memory_gb and not caps.memory:
        have = extra.get("memory_gb") or (
            extra["memoryPerGpu"] * max(neutral.gpu_count, 1) if extra.get("memoryPerGpu") else None
        )
        if have:
            out.append(f"Memory comes with the offer: {have} GB.")
        else:
            out.append("Memory is not chosen: the host decides.")
    if neutral.disk_gb and not caps.disk:
        have = extra.get("storage_gb")
        out.append(f"Disk comes with the offer: {have} GB." if have else "Disk is not chosen: the host decides.")
    if vendor == "novita" and neutral.disk_gb and extra.get("minRootFS") is not None:
        low, high = extra.get("minRootFS"), extra.get("maxRootFS")
        if (low is not None and neutral.disk_gb < low) or (high is not None and neutral.disk_gb > high):
            out.append(f"Disk must be {low}–{high} GB on this product.")
    if neutral.region and not caps.region:
        out.append("No region choice: the vendor places it.")
    elif neutral.region and not in_region:
        out.append(f"Not in {neutral.region}.")
    if vendor == "fluence" and neutral.port:
        from providers.fluence import HTTP_PORT

        if neutral.port != HTTP_PORT:
            out.append(f"Port {neutral.port} is forwarded as tcp: only port {HTTP_PORT} gets an HTTPS URL.")
    if vendor == "nosana":
        out.append("Runs as jobs with a timeout (60 minutes unless changed), paid from credits.")
    if vendor == "fluence":
        out.append("Takes 3 hours of rent from the balance at create.")
    return out


# --- secrets ----------------------------------------------------------------------------------------

SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSW|PASSWD|KEY|AUTH|CREDENTIAL|PRIVATE|SESSION|COOKIE", re.IGNORECASE)


def is_secret_name(name: str) -> bool:
    """Whether an env variable's name says its value is a secret (``HF_TOKEN``, ``API_KEY``)."""
    return bool(SECRET_NAME.search(name or ""))


def strip_secrets(vendor: str, spec: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A copy of ``spec`` without secret values: env values whose names say they are
    secrets are emptied (the names are kept, to be filled in), registry passwords go.
    Returns the copy and the names of what must be filled in when it is used (the emptied
    ones, and variables that had no value to begin with)."""
    spec = copy.deepcopy(spec or {})
    dropped: list[str] = []

    def rows(items: Any, key: str) -> None:
        for item in items or []:
            if not isinstance(item, dict) or not item.get(key) or item.get("value_from_secret"):
                continue
            if is_secret_name(str(item[key])):
                item["value"] = ""
            if not item.get("value"):  # emptied here, or never filled in: asked for when used
                dropped.append(str(item[key]))

    if vendor == "together":
        rows(spec.get("environment_variables"), "name")
    elif vendor == "nosana":
        for op in (spec.get("job_definition") or {}).get("ops") or []:
            env = ((op or {}).get("args") or {}).get("env")
            if isinstance(env, dict):
                for name in env:
                    if is_secret_name(name):
                        env[name] = ""
                    if not env[name]:
                        dropped.append(name)
    elif vendor == "fluence":
        settings = spec.get("container_settings") or {}
        rows(settings.get("environment"), "name")
        credentials = settings.get("credentials")
        if isinstance(credentials, dict) and credentials.get("password"):
            credentials["password"] = ""
            dropped.append("registry password")
    elif vendor == "novita":
        rows(spec.get("envs"), "key")
        if spec.get("imageAuth"):
            spec.pop("imageAuth")
            dropped.append("registry user:password")
    return spec, dropped


# --- capacity ---------------------------------------------------------------------------------------

# How the vendors say they have no GPU for it: Together's rollout "Unschedulable ... Insufficient
# nvidia.com/gpu" (its replica events), Novita's INSUFFICIENT_RESOURCE, Fluence's FailedScheduling
# event. Nosana never refuses for capacity: its jobs wait in the market's queue for a host.
CAPACITY_WORDS = re.compile(
    r"capacity|insufficient|unschedulable|failedscheduling|sold out|out of stock|no (?:gpu|host|node)s?\b.*(?:free|available)"
    r"|not enough (?:gpu|resource)|no idle host|no .* is free",
    re.IGNORECASE,
)


def refused_for_capacity(message: str) -> bool:
    """Whether a vendor's refusal or failure says it had no GPU for the deployment."""
    return bool(message) and bool(CAPACITY_WORDS.search(message))
