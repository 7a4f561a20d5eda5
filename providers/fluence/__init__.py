"""Fluence GPU Cloud: GPU containers, VMs and bare metal rented by the hour from plans.

Contract: ``shared/vendor-apis/fluence.md`` and the seed
``shared/seeds/003_e6650c0f53784ee2.txt``. [V] = in the vendor docs, [I] = inferred,
[?] = open; where the notes leave a fact open the safest reading is taken and named
in a comment.

The spec this adapter takes is Fluence's create body exactly as documented, plus one
key of ours, ``kind`` (``container`` | ``vm`` | ``baremetal``): it picks the path
(``/gpu/instances/``, ``/gpu/instances/vms``, ``/gpu/instances/baremetal``) and is
removed before sending. Error paths (:class:`SpecError` keys) are spec paths, e.g.
``container_settings.expose.0.port``: the same paths as Fluence's 422 ``detail[].loc``
without its leading ``"body"``, so the vendor's own words land on the form's field.

The two families answer in different shapes (``instance_status`` vs ``status``) and
their ids share no namespace, so ``external_id`` carries the family: the bare instance
id for a container, ``vms/<id>`` and ``baremetal/<id>`` for the others; get, update
and delete know the path from the id alone.

Choices where the contract is silent:

- Lifecycle: Fluence has no start, stop or scale [V]. Restart of a container is a PUT
  of its current configuration (Fluence's "Redeploy"); VMs and bare metal cannot be
  restarted through the API, and have no logs or events.
- ``ACTIVE`` with the container not started (or no network yet) is ``UPDATING``: the
  panel reads that as provisioning during the first start and as updating after a
  redeploy, which is what it is (contract §3's "provisioning" row, refined).
- ``list()`` reads the three collections, plus one detail call per ACTIVE instance:
  only the details carry ``container_status``, the forwarded SSH port and billing.
  Ended and failed instances (which Fluence keeps listing for ever) cost nothing.
- Terminate works on ACTIVE instances only [V]; ``action_blocked`` says so while one
  provisions. A FAILED instance (refunded, kept in Fluence's lists) has nothing to
  terminate: ``delete`` reports it gone, so the panel can let it go.
- Creates are never retried here (no idempotency key, a second 3-hour charge [I]);
  ``find_by_name`` finds the newest live instance with the name for the panel's
  reconciliation.
- ``raw`` keeps the vendor's JSON with the injected ``SSH_PUBKEY``, registry
  passwords and secret-looking environment values masked.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar
from urllib.parse import quote

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
    Rejected,
    Remote,
    RemoteState,
    SpecError,
    Transient,
    Unsupported,
    VendorEvent,
    parse_time,
)
from providers.http import json_or_none

logger = logging.getLogger(__name__)

# --- the vendor's rules (the form reads these too) -----------------------------------------
CONTAINER, VM, BAREMETAL = "container", "vm", "baremetal"
KINDS: tuple[str, ...] = (CONTAINER, VM, BAREMETAL)
KIND_LABELS = {CONTAINER: "GPU container", VM: "Virtual machine", BAREMETAL: "Bare metal"}
# Where each kind lives [V]: containers at the collection root (with its trailing slash),
# the others under a path segment (without one).
COLLECTIONS = {CONTAINER: "/gpu/instances/", VM: "/gpu/instances/vms", BAREMETAL: "/gpu/instances/baremetal"}
PLAN_PATHS = {CONTAINER: "/gpu/plans/", VM: "/gpu/plans/vms", BAREMETAL: "/gpu/plans/baremetal"}
DEFAULT_IMAGES_PATH = "/gpu/default-images/"
BALANCES_PATH = "/v2/users/balances"
ME_PATH = "/v1/users/me"

# 1–25 lowercase letters, digits or hyphens, no hyphen at either end [V rule; the regex is ours].
NAME_MAX = 25
NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,23}[a-z0-9])?$")
NAME_RULE = "1–25 lowercase letters, digits or hyphens, not starting or ending with a hyphen."
IMAGE_MAX = 255  # [V]
# Lower case [V]; the character set of a reference (registry/path:tag@digest) is ours [I].
IMAGE_RE = re.compile(r"^[a-z0-9][a-z0-9._\-/:@]*$")
PROTOCOLS: tuple[str, ...] = ("tcp", "udp", "http")  # [V]
DEFAULT_PROTOCOL = "tcp"  # [V]
HTTP_PORT = 80  # the only port that may use http [V]
PORT_MIN, PORT_MAX = 1, 65535  # [V: the 422's message]
EXPOSE_MIN, EXPOSE_MAX = 1, 10  # [V]
# "5000-5005": the console takes ranges, the API's shape for them is unknown [?]; they
# are expanded here into single ports and count against the cap (notes §5) [I].
PORT_RANGE_RE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")
ENV_MAX = 64  # the number of variables [V]; no length cap is published [?]
ENV_NAME_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")  # [V]
RESERVED_ENV = "SSH_PUBKEY"  # the platform injects the SSH key through it [V]
STARTUP_COMMAND_MAX = 2048  # [V]
REGISTRY_HOSTS: tuple[str, ...] = ("docker.io", "ghcr.io")  # [V]
LOCATION_RE = re.compile(r"^[A-Z]{2}$")  # a two-letter country code [V]
# One public key line [V]. Only its type is checked: the docs' own examples abbreviate
# the key ("AAAAC3NzaC1lZDI1NTE5AAAAI...") and must be accepted as written.
SSH_KEY_RE = re.compile(
    r"^(?:ssh-(?:ed25519|rsa|dss)|ecdsa-sha2-nistp(?:256|384|521)|sk-(?:ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)"
    r"\s+\S+(?:\s+\S.*)?$"
)
OS_IMAGE_MAX = 200  # ours: Fluence's names are short ("Ubuntu Server 22.04") [I]
PLAN_ID_MAX = 200  # ours: plan ids are UUIDs [V], but the check is Fluence's own 400 [I]

# Log lines and events read per fetch [I]: the panel keeps the last 500 lines, 200 events.
LOG_LAST = 500
EVENTS_LAST = 200

# Money [V]: on create, upfront_hours (3) of rent move from the account to the instance.
UPFRONT_HOURS = 3
CURRENCY = "USDC"  # 1 USDC = 1 USD [V]

# Fields a container PUT takes [V]; ``expose`` is fixed at deploy and not sent.
CONTAINER_UPDATE_SETTINGS = ("image", "credentials", "environment", "startup_command")
# What cannot change after deploy, per kind, and why the panel says so.
FIXED_AFTER_DEPLOY = {
    CONTAINER: ("plan_id", "container_settings.expose", "constraints.location"),
    VM: ("plan_id", "ssh_key", "os_image"),
    BAREMETAL: ("plan_id", "ssh_key", "os_image"),
}

# --- status: one table, one test per row ------------------------------------------------------
# The API's enum per "Manage GPU instances" [V]; the concept pages say "Initiated" [V], so
# both spellings are accepted, in any case (notes §3 [?]).
STATUS_TABLE: dict[str, RemoteState] = {
    "INITIALIZED": RemoteState.PROVISIONING,  # being provisioned, usually 2–3 minutes
    "INITIATED": RemoteState.PROVISIONING,  # the console's word for the same state
    "ACTIVE": RemoteState.RUNNING,  # refined in ``remote_state``: container started and reachable
    "FAILED": RemoteState.FAILED,  # provisioning failed; the deploy amount was refunded in full
    "ENDED": RemoteState.DELETED,  # terminated by the user, or by Fluence when the balance ran out
}
STATUS_MESSAGES = {
    "INITIALIZED": "Fluence is provisioning the instance (usually 2–3 minutes).",
    "INITIATED": "Fluence is provisioning the instance (usually 2–3 minutes).",
    "FAILED": "Provisioning failed at Fluence; the 3 hours paid upfront were refunded in full.",
    "ENDED": "Ended at Fluence: terminated, or stopped by Fluence when the balance could not pay the next hour.",
}
# [I] notes §3: ACTIVE with the container never starting may mean it failed to start;
# the state stays as it is (a redeploy looks the same), the message points at the events.
START_PATIENCE = dt.timedelta(minutes=10)


def normalise_status(value: Any) -> str:
    return str(value or "").strip().upper()


def kind_of(external_id: str) -> tuple[str, str]:
    """``"vms/<id>"`` → ``("vm", "<id>")``; a bare id is a container's."""
    prefix, sep, rest = (external_id or "").partition("/")
    if sep:
        kind = {"vms": VM, "baremetal": BAREMETAL}.get(prefix)
        if kind is None or not rest or "/" in rest:
            raise NotFound(f"not a Fluence instance id: {external_id!r}")
        return kind, rest
    if not external_id:
        raise NotFound("no Fluence instance id")
    return CONTAINER, external_id


def external_id_for(kind: str, instance_id: str) -> str:
    return instance_id if kind == CONTAINER else f"{'vms' if kind == VM else 'baremetal'}/{instance_id}"


def instance_path(external_id: str, suffix: str = "") -> str:
    kind, instance_id = kind_of(external_id)
    base = COLLECTIONS[kind].rstrip("/")
    return f"{base}/{quote(instance_id, safe='')}{suffix}"


def _vendor_status(item: Mapping[str, Any]) -> str:
    # Containers say ``instance_status``, VMs and bare metal ``status`` [V].
    return normalise_status(item.get("instance_status") or item.get("status"))


def _kind_from(spec: Mapping[str, Any] | None, raw: Mapping[str, Any] | None) -> str:
    """The kind of a deployment from its spec, else from what Fluence said about it."""
    kind = (spec or {}).get("kind")
    if kind in KINDS:
        return kind
    raw = raw or {}
    if raw.get("kind") in KINDS:
        return raw["kind"]
    availability = str(raw.get("availability") or "").lower()
    if availability in (VM, BAREMETAL):
        return availability
    return VM if "status" in raw and "instance_status" not in raw else CONTAINER


def _reachable(item: Mapping[str, Any], kind: str) -> bool:
    network = item.get("network")
    domain = (network or {}).get("domain") if isinstance(network, dict) else None
    if kind == CONTAINER:
        return bool(domain or item.get("domain"))
    return bool(item.get("ssh_connection") or domain or item.get("domain"))


def remote_state(
    item: Mapping[str, Any], kind: str, *, now: dt.datetime | None = None, detailed: bool = True
) -> tuple[RemoteState, str]:
    """The table, then what a detail answer adds, with a message for people.

    ``detailed`` says whether ``item`` is a detail answer (container_status, network)
    or a list item, which carries neither.
    """
    status = _vendor_status(item)
    state = STATUS_TABLE.get(status)
    if state is None:
        logger.warning("fluence: unknown instance status %r for %s", status, item.get("id"))
        return RemoteState.UNKNOWN, f"Fluence reports an unknown status {status!r}."
    if status != "ACTIVE" or not detailed:
        return state, STATUS_MESSAGES.get(status, "")
    container_status = normalise_status(item.get("container_status"))
    if kind == CONTAINER and container_status == "NOT_STARTED":
        message = "Active at Fluence; the container is starting (after a deploy or a redeploy)."
        since = parse_time(item.get("updated_at"))
        if since is not None and (now or dt.datetime.now(dt.UTC)) - since > START_PATIENCE:
            minutes = int(START_PATIENCE.total_seconds() // 60)
            message = (
                f"Active at Fluence, but the container has not started in over {minutes} minutes: "
                "it may have failed to start; the events say why."
            )
        return RemoteState.UPDATING, message
    if not _reachable(item, kind):
        return RemoteState.UPDATING, "Active at Fluence; its network address is not assigned yet."
    return RemoteState.RUNNING, ""


# --- validation ---------------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    """A string as given, ``""`` for nothing, ``None`` for a value that is not text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return None


def _port(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _expand_expose(items: list[Any], err: Any) -> list[tuple[int, dict[str, Any]]]:
    """Each exposed port as ``(index in the spec, {port, protocol})``; a range becomes
    one entry per port, all reported at the range's own index."""
    out: list[tuple[int, dict[str, Any]]] = []
    for i, item in enumerate(items):
        path = f"container_settings.expose.{i}"
        if not isinstance(item, dict):
            err(path, "A port and a protocol.")
            continue
        protocol = item.get("protocol")
        protocol = DEFAULT_PROTOCOL if protocol in (None, "") else protocol
        if not isinstance(protocol, str) or protocol.lower() not in PROTOCOLS:
            err(f"{path}.protocol", f"Choose one of: {', '.join(PROTOCOLS)}.")
            continue
        protocol = protocol.lower()
        raw_port = item.get("port")
        ranged = PORT_RANGE_RE.match(raw_port) if isinstance(raw_port, str) else None
        if ranged:
            low, high = int(ranged.group(1)), int(ranged.group(2))
            if not (PORT_MIN <= low <= high <= PORT_MAX):
                err(f"{path}.port", f"A range of ports between {PORT_MIN} and {PORT_MAX}, low to high.")
                continue
            if protocol == "http":
                err(f"{path}.protocol", f"Only port {HTTP_PORT} may use http; use tcp or udp.")
                continue
            out += [(i, {"port": str(p), "protocol": protocol}) for p in range(low, high + 1)]
            continue
        if raw_port in (None, ""):
            err(f"{path}.port", "A port is required.")
            continue
        port = _port(raw_port)
        if port is None or not PORT_MIN <= port <= PORT_MAX:
            err(f"{path}.port", f"Port must be between {PORT_MIN} and {PORT_MAX}.")
            continue
        if protocol == "http" and port != HTTP_PORT:
            err(f"{path}.protocol", f"Only port {HTTP_PORT} may use http; use tcp or udp.")
            continue
        out.append((i, {"port": str(port), "protocol": protocol}))
    return out


def _check_expose(value: Any, err: Any) -> list[dict[str, str]]:
    if value in (None, ""):
        value = []
    if not isinstance(value, list):
        err("container_settings.expose", "A list of ports.")
        return []
    expanded = _expand_expose(value, err)
    if not value:
        err("container_settings.expose", f"Expose at least {EXPOSE_MIN} port.")
    elif len(expanded) > EXPOSE_MAX:
        err("container_settings.expose", f"At most {EXPOSE_MAX} ports (a range counts each of its ports).")
    seen: set[tuple[str, str]] = set()
    out = []
    for index, entry in expanded:
        key = (entry["port"], entry["protocol"])
        if key in seen:  # [I] a duplicate can only be a mistake
            err(f"container_settings.expose.{index}.port", f"Port {entry['port']}/{entry['protocol']} is listed twice.")
            continue
        seen.add(key)
        out.append(entry)
    return out


def _check_environment(value: Any, err: Any) -> list[dict[str, str]]:
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        err("container_settings.environment", "A list of variables.")
        return []
    if len(value) > ENV_MAX:
        err("container_settings.environment", f"At most {ENV_MAX} variables.")
    out, seen = [], set()
    for i, item in enumerate(value):
        path = f"container_settings.environment.{i}"
        if not isinstance(item, dict):
            err(path, "A name and a value.")
            continue
        name, val = item.get("name"), _text(item.get("value"))
        if not isinstance(name, str) or not name:
            err(f"{path}.name", "A name is required.")
        elif name == RESERVED_ENV:
            err(
                f"{path}.name",
                f"{RESERVED_ENV} is reserved: Fluence injects the SSH key through it. "
                "Put the key in the SSH key field.",
            )
        elif not ENV_NAME_RE.match(name):
            err(f"{path}.name", "Upper-case letters, digits and underscores, starting with a letter.")
        elif name in seen:  # [I] the container would get only one of them
            err(f"{path}.name", f"{name} is defined twice.")
        if val is None:
            err(f"{path}.value", "The value must be text.")
        if isinstance(name, str):
            seen.add(name)
        out.append({"name": name, "value": val or ""})
    return out


def _check_credentials(value: Any, err: Any) -> dict[str, str] | None:
    if value in (None, "", {}):
        return None
    if not isinstance(value, dict):
        err("container_settings.credentials", "A registry host, username and password.")
        return None
    parts = {k: _text(value.get(k)) for k in ("host", "username", "password")}
    if not any(parts.values()):
        return None  # every field left empty: no private registry
    for key, text in parts.items():
        if text is None:
            err(f"container_settings.credentials.{key}", "Must be text.")
        elif not text.strip():
            # [I] notes §5: a private registry needs all three together.
            err(f"container_settings.credentials.{key}", "Required with the other registry credentials.")
    host = parts["host"]
    if host and host not in REGISTRY_HOSTS:
        err(
            "container_settings.credentials.host",
            f"Fluence pulls private images only from {' or '.join(REGISTRY_HOSTS)}.",
        )
    return {k: v or "" for k, v in parts.items()}


def _check_ssh_key(value: Any, err: Any, *, required: bool) -> str:
    text = _text(value)
    if text is None:
        err("ssh_key", "A public key line, e.g. ssh-ed25519 AAAA… you@host.")
        return ""
    text = text.strip()
    if not text:
        if required:
            err("ssh_key", "An SSH public key is required: it is the only way in.")
        return ""
    if "\n" in text or "\r" in text:
        err("ssh_key", "One public key, on one line.")
    elif not SSH_KEY_RE.match(text):
        err("ssh_key", "A public key line, e.g. ssh-ed25519 AAAA… you@host (not a private key).")
    return text


def _find_offer(plan_id: str, kind: str, offers: Iterable[Any]) -> Any | None:
    return next((o for o in offers if o.sku == plan_id and (not o.kind or o.kind == kind)), None)


def check_spec(
    spec: Mapping[str, Any],
    *,
    offers: Iterable[Any] = (),
    images: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """Check a spec and return it normalised: ports as strings, protocols lower case,
    port ranges expanded, empty optional keys left out, keys of the other kinds dropped.

    ``offers`` (this vendor's catalog, ``Offer``-like) adds the checks that need it: the
    plan still offered for this kind, the location among the plan's, the OS image among
    the option's. ``images`` (``account_metadata()["default_images"]``) makes the SSH key
    required for a default image that says ``requires_ssh``. Raises :class:`SpecError`.
    """
    errors: dict[str, list[str]] = {}

    def err(path: str, message: str) -> None:
        errors.setdefault(path, []).append(message)

    if not isinstance(spec, Mapping):
        raise SpecError({"": ["A Fluence spec is an object."]})
    kind = spec.get("kind")
    if kind not in KINDS:
        err("kind", f"Choose one of: {', '.join(KINDS)}.")
        raise SpecError(errors)
    out: dict[str, Any] = {"kind": kind}

    name = spec.get("name")
    if name in (None, ""):
        err("name", "A name is required.")
    elif not isinstance(name, str) or not NAME_RE.match(name):
        err("name", NAME_RULE)
    out["name"] = name

    plan_id = _text(spec.get("plan_id"))
    if not plan_id or not plan_id.strip():
        err("plan_id", "Choose a plan.")
    elif len(plan_id) > PLAN_ID_MAX or any(c.isspace() for c in plan_id):
        err("plan_id", "Not a Fluence plan id.")
    out["plan_id"] = plan_id

    offers = [o for o in offers if getattr(o, "kind", "") in ("", kind)]
    offer = _find_offer(plan_id, kind, offers) if plan_id and offers else None
    if plan_id and offers and offer is None:
        err("plan_id", "This plan is no longer offered; choose another.")

    if kind == CONTAINER:
        _check_container(spec, out, err, offer=offer, images=images)
    else:
        out["ssh_key"] = _check_ssh_key(spec.get("ssh_key"), err, required=True)
        os_image = _text(spec.get("os_image"))
        if not os_image or not os_image.strip():
            err("os_image", "Choose an OS image.")
        elif len(os_image) > OS_IMAGE_MAX:
            err("os_image", f"At most {OS_IMAGE_MAX} characters.")
        elif offer is not None and (offer.extra or {}).get("os_options") is not None:
            options = list(offer.extra["os_options"])
            if os_image not in options:
                err("os_image", f"This option offers: {', '.join(options) or 'no OS image'}.")
        out["os_image"] = os_image
    if errors:
        raise SpecError(errors)
    return out


def _check_container(
    spec: Mapping[str, Any], out: dict[str, Any], err: Any, *, offer: Any | None, images: Iterable[Mapping[str, Any]]
) -> None:
    settings = spec.get("container_settings")
    if not isinstance(settings, Mapping):
        err("container_settings", "The container settings are required.")
        settings = {}
    image = settings.get("image")
    if image in (None, ""):
        err("container_settings.image", "An image is required.")
    elif not isinstance(image, str) or len(image) > IMAGE_MAX:
        err("container_settings.image", f"An image reference of at most {IMAGE_MAX} characters.")
    elif image != image.lower():
        err("container_settings.image", "Fluence takes image references in lower case only.")
    elif not IMAGE_RE.match(image):
        err("container_settings.image", "An image reference has no spaces, e.g. docker.io/library/ubuntu:22.04.")
    container: dict[str, Any] = {"image": image, "expose": _check_expose(settings.get("expose"), err)}
    environment = _check_environment(settings.get("environment"), err)
    if environment:
        container["environment"] = environment
    command = _text(settings.get("startup_command"))
    if command is None:
        err("container_settings.startup_command", "The startup command must be text.")
    elif len(command) > STARTUP_COMMAND_MAX:
        err("container_settings.startup_command", f"At most {STARTUP_COMMAND_MAX} characters.")
    elif command.strip():
        container["startup_command"] = command
    credentials = _check_credentials(settings.get("credentials"), err)
    if credentials:
        container["credentials"] = credentials
    out["container_settings"] = container

    constraints = spec.get("constraints")
    location = (constraints or {}).get("location") if isinstance(constraints, Mapping) else constraints
    location = _text(location)
    if location is None:
        err("constraints.location", "A two-letter country code, e.g. US.")
    elif location.strip():
        location = location.strip().upper()
        if not LOCATION_RE.match(location):
            err("constraints.location", "A two-letter country code, e.g. US.")
        elif offer is not None and (offer.extra or {}).get("locations"):
            allowed = [str(x).upper() for x in offer.extra["locations"]]
            if location not in allowed:
                err("constraints.location", f"This plan runs in: {', '.join(allowed)}.")
        out["constraints"] = {"location": location}

    wanted = any(
        image and i.get("image") == image and i.get("requires_ssh") for i in images if isinstance(i, Mapping)
    )  # [I] notes §2.3: a default image that requires SSH needs the key
    key = _check_ssh_key(spec.get("ssh_key"), err, required=wanted)
    if key:
        out["ssh_key"] = key


def create_body(spec: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The checked spec as ``(kind, Fluence's create body)``: ``kind`` is ours, not sent."""
    checked = check_spec(spec)
    kind = checked.pop("kind")
    return kind, checked


def container_update_body(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A container PUT [V]: name, the settings it takes (a full replacement, so the
    environment goes even when empty) and the SSH key; ``expose`` stays as deployed."""
    checked = check_spec(spec)
    settings = checked["container_settings"]
    body: dict[str, Any] = {
        "name": checked["name"],
        "container_settings": {
            **{k: settings[k] for k in CONTAINER_UPDATE_SETTINGS if k in settings},
            "environment": settings.get("environment", []),
        },
    }
    if checked.get("ssh_key"):
        body["ssh_key"] = checked["ssh_key"]
    return body


def _at(spec: Mapping[str, Any], path: str) -> Any:
    value: Any = spec
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _ignore(*_: Any) -> None:
    """An ``err`` for re-reading a spec that was checked when it was saved."""


def fixed_changes(new: Mapping[str, Any], previous: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """What an update tries to change that Fluence cannot change after deploy."""
    if not previous:
        return {}
    errors: dict[str, list[str]] = {}
    kind = new.get("kind")
    if previous.get("kind") and previous.get("kind") != kind:
        errors["kind"] = ["Fluence cannot turn one kind of instance into another: deploy a new one."]
        return errors
    for path in FIXED_AFTER_DEPLOY.get(kind, ()):
        before, after = _at(previous, path), _at(new, path)
        if path == "container_settings.expose":
            # Compared as Fluence holds them: single string ports, lower-case protocols, any order.
            before, after = (
                sorted((e["port"], e["protocol"]) for _, e in _expand_expose(v if isinstance(v, list) else [], _ignore))
                for v in (before, after)
            )
        elif path == "constraints.location":
            before, after = (str(v).upper() if v else None for v in (before, after))
        if (before or None) != (after or None):
            what = "the exposed ports" if path.endswith("expose") else None
            if kind == CONTAINER:
                errors[path] = [f"Fluence keeps {what or 'this'} as deployed: deploy a new container to change it."]
            else:
                errors[path] = ["Fluence can only rename a VM or bare-metal instance: deploy a new one to change this."]
    return errors


# --- prices -----------------------------------------------------------------------------------------


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _plan_offer(spec: Mapping[str, Any], offers: Iterable[Any]) -> Any | None:
    plan_id, kind = spec.get("plan_id"), spec.get("kind")
    if not plan_id:
        return None
    return next(
        (o for o in offers if o.sku == plan_id and (not kind or not o.kind or o.kind == kind)),
        None,
    )


def _price_text(value: Decimal) -> str:
    """``Decimal("1.2200")`` (as a database keeps it) → ``"1.22"``; finer prices stay whole."""
    value = Decimal(value)
    cents = value.quantize(Decimal("0.01"))
    return str(cents) if cents == value else format(value.normalize(), "f")


def upfront_hours(offer: Any | None) -> int:
    hours = (getattr(offer, "extra", None) or {}).get("upfront_hours")
    return hours if isinstance(hours, int) and not isinstance(hours, bool) and hours > 0 else UPFRONT_HOURS


# --- errors -----------------------------------------------------------------------------------------

VALUE_ERROR = "Value error, "  # pydantic's prefix on a validator's message: not the vendor's words
# A 400's ``detail`` that is about one field [V: the documented messages; the patterns are ours].
MESSAGE_FIELDS: tuple[tuple[re.Pattern[str], str], ...] = (
    # The most specific first: "Location X is not available for the selected plan" is the location's.
    (re.compile(r"\bOS image\b", re.IGNORECASE), "os_image"),
    (re.compile(r"\blocation\b", re.IGNORECASE), "constraints.location"),
    (re.compile(r"\bSSH_PUBKEY\b"), "container_settings.environment"),
    (re.compile(r"\bssh[ _-]?key\b", re.IGNORECASE), "ssh_key"),
    (re.compile(r"\bplan\b", re.IGNORECASE), "plan_id"),
    (re.compile(r"\bimage\b", re.IGNORECASE), "container_settings.image"),
    (re.compile(r"\bname\b", re.IGNORECASE), "name"),
)
# Refusals of the moment (money, state), not of a field, even when they name one.
REFUSAL_RE = re.compile(
    r"balance|insufficient|fund|already|in progress|being (?:updated|applied)|only active|status", re.IGNORECASE
)
# A 400 that is about the key (notes §1: some endpoints answer a missing key with 400).
AUTH_RE = re.compile(
    r"api[ _-]?key|not authenticated|unauthori[sz]ed|authentication|invalid token|access token|forbidden|permission",
    re.IGNORECASE,
)


def _field_for_message(message: str, request_body: Any) -> str:
    """The spec path a 400's words are about, or ``""``: the ``SSH_PUBKEY`` rule lands on
    the very environment row that defined it when the request shows which one."""
    for pattern, path in MESSAGE_FIELDS:
        if not pattern.search(message):
            continue
        if path == "container_settings.environment" and isinstance(request_body, dict):
            rows = (request_body.get("container_settings") or {}).get("environment") or []
            for i, row in enumerate(rows):
                if isinstance(row, dict) and row.get("name") == RESERVED_ENV:
                    return f"{path}.{i}.name"
        return path
    return ""


def loc_path(loc: Any) -> str:
    """``["body", "container_settings", "expose", 0, "port"]`` → ``container_settings.expose.0.port``."""
    parts = [str(p) for p in loc] if isinstance(loc, (list, tuple)) else ([str(loc)] if loc else [])
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts)


def detail_fields(detail: list[Any]) -> dict[str, list[str]]:
    """A FastAPI/pydantic ``detail`` array as spec paths and the vendor's messages."""
    fields: dict[str, list[str]] = {}
    for item in detail:
        if not isinstance(item, dict):
            fields.setdefault("", []).append(str(item))
            continue
        message = str(item.get("msg") or item.get("type") or "invalid")
        message = message.removeprefix(VALUE_ERROR)
        fields.setdefault(loc_path(item.get("loc")), []).append(message)
    return fields


# --- what Fluence says about an instance, for people -------------------------------------------------

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
    out = {}
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


def _whole(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _http_url(uri: str) -> str:
    # [?] whether ``network.uri`` carries a scheme is not shown; without one it is http (port 80).
    return uri if "://" in uri else f"http://{uri}"


def connection_details(item: Mapping[str, Any], kind: str) -> tuple[list[Endpoint], dict[str, str]]:
    """Endpoints and the ready-made commands: containers SSH through the external port
    forwarded to their port 22 as root (notes §2.7); VMs give their own ``ssh_connection``."""
    network = item.get("network") if isinstance(item.get("network"), dict) else {}
    domain = str(network.get("domain") or item.get("domain") or "")
    endpoints: list[Endpoint] = []
    connection: dict[str, str] = {}
    for forwarded in network.get("forwarded_ports") or []:
        if not isinstance(forwarded, dict):
            continue
        port, external = _whole(forwarded.get("port")), _whole(forwarded.get("external_port"))
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


def _instances(data: Any) -> list[dict[str, Any]]:
    # A bare array [V]; an object wrapping one is read too, in case the API grows paging.
    if isinstance(data, dict):
        data = data.get("data") or data.get("instances") or data.get("items") or []
    return [i for i in data if isinstance(i, dict) and i.get("id")] if isinstance(data, list) else []


# --- the catalog ---------------------------------------------------------------------------------------

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
    return _whole((block or {}).get("count")) if isinstance(block, dict) else None


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
    plan = entry.get("plan") if isinstance(entry.get("plan"), dict) else {}
    if not plan.get("id"):
        return None
    supply = plan.get("supply") or {}
    gpu = plan.get("gpu_model") or {}
    pricing = plan.get("pricing") or {}
    count = _whole(supply.get("gpu_count")) or 1
    locations = [str(x) for x in ((entry.get("attributes") or {}).get("location") or [])]
    resources = _resources(supply.get("vcpu"), supply.get("memory"), supply.get("storage"))
    hours = _whole(pricing.get("upfront_hours"))
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
        price_per_hour=_decimal(pricing.get("hour")),
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
            count = _whole((by_number or {}).get("gpu_count")) or 1
            for option in (by_number or {}).get("options") or []:
                if not isinstance(option, dict) or not option.get("id"):
                    continue
                pricing = option.get("pricing") or {}
                hours = _whole(pricing.get("upfront_hours"))
                location, provider = str(option.get("location") or ""), str(option.get("provider") or "")
                resources = _resources(option.get("vcpu"), option.get("memory"), option.get("storage"))
                label = [_gpu_label(gpu, count), f"{resources['vcpu']} vCPU", f"{resources['memory_gb']} GiB RAM"]
                offers.append(
                    Offer(
                        sku=str(option["id"]),
                        name=" · ".join(x for x in (*label, provider, location) if x),
                        kind=kind,
                        gpu_model=normalise_gpu(gpu.get("model")),
                        gpu_count=count,
                        gpu_memory_gb=_gib(gpu.get("vram")),
                        price_per_hour=_decimal(pricing.get("hour")),
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
                )
    return offers


def parse_balance(data: Any) -> tuple[Decimal | None, str]:
    """The account's spendable balance from ``GET /v2/users/balances``, whose shape is not
    documented [?]: a number, ``{balance|available|amount: n, currency}``, a list of
    per-currency entries (USDC, then USD, first) or of entitlements (``featureKey``: GPU
    Cloud's first), or ``{"USDC": n}``."""
    if isinstance(data, (int, float, str)) and not isinstance(data, bool):
        return _decimal(data), CURRENCY
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
        number = _decimal(value)
        if number is not None:
            return number, currency
    for key in ("balances", "data", "items"):
        if key in data:
            return parse_balance(data[key])
    for wanted in (CURRENCY, "USD"):
        if wanted in data or wanted.lower() in data:
            return _decimal(data.get(wanted, data.get(wanted.lower()))), wanted
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


# --- the adapter ------------------------------------------------------------------------------------


class FluenceProvider(Provider):
    name: ClassVar[str] = "fluence"
    # Every GPU path starts with /gpu, the account paths with /v1 or /v2 [V].
    default_base_url: ClassVar[str] = "https://api.fluence.dev"
    sandbox_path: ClassVar[str] = "/fluence"
    # No start, stop or scale [V]; restart is a redeploy of a container (a PUT).
    actions: ClassVar[frozenset[Action]] = frozenset(
        {Action.UPDATE, Action.RESTART, Action.DELETE, Action.LOGS, Action.EVENTS}
    )
    unique_names: ClassVar[bool] = False  # uniqueness is not documented [?]: key on ids

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"X-API-KEY": api_key}  # [V]

    # --- rules, prices and gates: class methods, for the form ---------------------------------
    @classmethod
    def validate_spec(cls, spec: dict[str, Any]) -> dict[str, Any]:
        return check_spec(spec)

    @classmethod
    def estimate_price(cls, spec: dict[str, Any], offers: Iterable[Offer] = ()) -> Decimal | None:
        """The plan's price per hour (the whole plan: all its GPUs), from the catalog."""
        offer = _plan_offer(spec, list(offers))
        return offer.price_per_hour if offer is not None else None

    @classmethod
    def upfront_charges(cls, spec: dict[str, Any], offers: Iterable[Offer] = ()) -> list[Charge]:
        """Fluence moves ``upfront_hours`` (3) of rent from the balance on create [V]."""
        offer = _plan_offer(spec, list(offers))
        if offer is None or offer.price_per_hour is None:
            return []
        hours = upfront_hours(offer)
        currency = str((offer.extra or {}).get("currency") or CURRENCY)
        reserve = hours - 1
        held = f", {reserve} h held as reserve; the unused reserve is refunded on terminate" if reserve else ""
        return [
            Charge(
                amount=Decimal(offer.price_per_hour) * hours,
                description=(
                    f"{hours} hours of rent at {_price_text(offer.price_per_hour)} {currency}/hour move to the instance: "
                    f"1 h charged now{held}. A failed deploy is refunded in full."
                ),
                currency=currency,
            )
        ]

    @classmethod
    def action_blocked(
        cls, action: Action, *, spec: dict[str, Any], raw: dict[str, Any], since: dt.datetime | None
    ) -> str:
        """Fluence's preconditions (notes §2.8–2.10), said before the user tries."""
        kind = _kind_from(spec, raw)
        label = KIND_LABELS[kind].lower() if kind != CONTAINER else "container"
        if action in (Action.START, Action.STOP, Action.SCALE, Action.ARCHIVE):
            return f"Fluence has no {action.value}: an instance runs until it is terminated."
        if kind != CONTAINER:
            if action is Action.RESTART:
                return f"Fluence cannot restart a {label} through its API: reboot it from inside, over SSH."
            if action in (Action.LOGS, Action.EVENTS):
                return f"Fluence offers logs and events for containers only, not for a {label}."
        elif action in (Action.LOGS, Action.EVENTS):
            return ""
        status = _vendor_status(raw or {})
        if not status:
            return ""  # not read yet: let Fluence decide
        if status == "FAILED" and action is Action.DELETE:
            return ""  # nothing to terminate: ``delete`` says so and the panel lets it go
        if status in ("FAILED", "ENDED"):
            return f"The instance is {status} at Fluence: nothing runs or bills, and nothing can change it any more."
        if status != "ACTIVE":
            verb = {Action.DELETE: "terminates", Action.UPDATE: "changes", Action.RESTART: "redeploys"}.get(
                action, "acts on"
            )
            return (
                f"Fluence {verb} only ACTIVE instances; this one is {status} (being provisioned). "
                "Wait until it is active."
            )
        if (
            kind == CONTAINER
            and action in (Action.UPDATE, Action.RESTART)
            and normalise_status(raw.get("container_status")) == "NOT_STARTED"
        ):
            return (
                "The container is still starting (or a previous update is applying): "
                "Fluence refuses a second one until it has."
            )
        return ""

    # --- errors -----------------------------------------------------------------------------
    def parse_error(self, response: httpx.Response) -> ProviderError | None:
        """FastAPI's shapes [V]: 422 ``{"detail": [{loc, msg, ...}]}`` onto spec paths;
        400 ``{"detail": "..."}`` onto the field it names (OS image, plan...), else a
        refusal; 401/403 (and a 400 about the key) are the key's fault."""
        body = json_or_none(response)
        status = response.status_code
        detail = body.get("detail") if isinstance(body, dict) else body
        text = detail if isinstance(detail, str) else ""
        if not text and isinstance(body, dict):
            # The account routes (/v1, /v2) answer ``{"code", "error"}`` rather than FastAPI's shape [I].
            text = next((body[k] for k in ("error", "message") if isinstance(body.get(k), str)), "")
        if status in (401, 403):
            return AuthError(text or "Fluence refused the API key", status_code=status, body=body)
        if status in (400, 422) and isinstance(detail, list):
            return SpecError(detail_fields(detail) or {"": ["invalid request"]}, status_code=status, body=body)
        if status == 422:
            return SpecError({"": [text or "invalid request"]}, status_code=status, body=body)
        if status == 400:
            if not text:
                return None
            if AUTH_RE.search(text):
                return AuthError(text, status_code=status, body=body)
            if REFUSAL_RE.search(text):
                return Rejected(text, status_code=status, body=body)
            field = _field_for_message(text, _sent_json(response))
            if field:
                return SpecError({field: [text]}, status_code=status, body=body)
            return Rejected(text, status_code=status, body=body)
        if status == 404:
            return NotFound(text or "Instance not found", status_code=status, body=body)
        if status in (402, 405, 409):
            return Rejected(text or f"Fluence refused it (HTTP {status})", status_code=status, body=body)
        return None  # 429 and 5xx: the shared mapping

    # --- mapping ----------------------------------------------------------------------------
    def to_remote(
        self, item: Mapping[str, Any], kind: str, *, detailed: bool = True, now: dt.datetime | None = None
    ) -> Remote:
        state, message = remote_state(item, kind, now=now, detailed=detailed)
        endpoints, connection = connection_details(item, kind)
        return Remote(
            external_id=external_id_for(kind, str(item.get("id") or "")),
            name=str(item.get("name") or ""),
            state=state,
            vendor_state=str(item.get("instance_status") or item.get("status") or ""),
            message=message,
            endpoints=endpoints,
            price_per_hour=self._price(item, state),
            created_at=parse_time(item.get("created_at")),
            connection=connection,
            # The vendor's JSON, secrets masked, plus (ours) the kind: the gates read it.
            raw={**masked(dict(item)), "kind": kind},
        )

    @staticmethod
    def _price(item: Mapping[str, Any], state: RemoteState) -> Decimal | None:
        """What the instance costs per hour now: ``billing.hourly_usage`` [V]; nothing
        once it failed (refunded) or ended; unknown (``None``) without billing."""
        if state in (RemoteState.FAILED, RemoteState.DELETED):
            return Decimal("0")
        billing = item.get("billing")
        return _decimal(billing.get("hourly_usage")) if isinstance(billing, dict) else None

    # --- lifecycle -------------------------------------------------------------------------
    def create(self, spec: dict[str, Any]) -> Remote:
        """POST once: a retried POST could deploy (and charge) twice [I], so a lost answer
        is the panel's to reconcile through ``find_by_name``."""
        kind, body = create_body(spec)
        data = self._http.post(COLLECTIONS[kind], json=body, retry=False).json()  # 2xx, code not stated [?]
        instance_id = str((data or {}).get("instance_id") or "") if isinstance(data, dict) else ""
        if not instance_id:
            # Accepted but unnamed: an instance may exist; the retry reconciles by name.
            raise Transient("Fluence accepted the deploy but sent no instance id")
        return Remote(
            external_id=external_id_for(kind, instance_id),
            name=body["name"],
            state=RemoteState.PROVISIONING,
            vendor_state="",
            message=f"Submitted to Fluence: {UPFRONT_HOURS} hours of rent moved to the instance while it provisions.",
            raw={**data, "kind": kind},
        )

    def get(self, external_id: str) -> Remote:
        kind, _ = kind_of(external_id)
        return self.to_remote(self._http.get(instance_path(external_id)).json(), kind)

    def _listed(self) -> list[tuple[str, dict[str, Any]]]:
        """Every instance of the account: three collections, unpaged [V]."""
        return [(kind, item) for kind in KINDS for item in _instances(self._http.get(COLLECTIONS[kind]).json())]

    def list_remotes(self) -> list[Remote]:
        now = dt.datetime.now(dt.UTC)
        out = []
        for kind, item in self._listed():
            if _vendor_status(item) != "ACTIVE":
                out.append(self.to_remote(item, kind, detailed=False, now=now))
                continue
            external_id = external_id_for(kind, str(item["id"]))
            try:
                detail = self._http.get(instance_path(external_id)).json()
            except NotFound:  # terminated between the two calls: the list item says enough
                out.append(self.to_remote(item, kind, detailed=False, now=now))
                continue
            out.append(self.to_remote(detail if isinstance(detail, dict) else item, kind, now=now))
        return out

    def find_by_name(self, name: str) -> Remote | None:
        """Names are not unique [?]: the newest instance with this name that has not ended."""
        matches = [
            (kind, item)
            for kind, item in self._listed()
            if item.get("name") == name and _vendor_status(item) != "ENDED"
        ]
        if not matches:
            return None
        kind, newest = max(matches, key=lambda m: str(m[1].get("created_at") or ""))
        return self.get(external_id_for(kind, str(newest["id"])))

    def _after_write(self, external_id: str) -> Remote | None:
        """The instance after a PUT that Fluence took (204); if reading it fails, the next
        poll will: sending the PUT again would be refused while it applies."""
        try:
            return self.get(external_id)
        except Transient as exc:
            logger.info("fluence: %s changed, not read back: %s", external_id, exc.message)
            return None

    def update(self, external_id: str, spec: dict[str, Any], previous: dict[str, Any] | None = None) -> Remote | None:
        """Containers: a full replacement of name, image, environment, startup command,
        credentials and SSH key, which redeploys [V]. VMs and bare metal: rename only [V]."""
        kind, _ = kind_of(external_id)
        new = check_spec(spec)
        errors = {} if new["kind"] == kind else {"kind": [f"This instance is a {KIND_LABELS[kind].lower()}."]}
        errors.update(fixed_changes(new, previous))
        if errors:
            raise SpecError(errors)
        body = container_update_body(new) if kind == CONTAINER else {"name": new["name"]}
        self._http.put(instance_path(external_id), json=body)  # 204, no body [V]
        return self._after_write(external_id)

    def restart(self, external_id: str, spec: dict[str, Any]) -> Remote | None:
        """Fluence's "Redeploy": PUT the container's current configuration again [I]."""
        kind, _ = kind_of(external_id)
        if kind != CONTAINER:
            raise Unsupported(f"Fluence cannot restart a {KIND_LABELS[kind].lower()} through its API.")
        self._http.put(instance_path(external_id), json=container_update_body(spec))
        return self._after_write(external_id)

    def delete(self, external_id: str) -> None:
        """Terminate: 204, the unused reserve refunded [V]. Only ACTIVE instances can be
        terminated (a 400 otherwise [V]); a FAILED or ENDED one, which Fluence keeps
        listing, runs and bills nothing: it is reported gone (``NotFound``), so the panel
        lets it go rather than keep a deployment it can never delete."""
        path = instance_path(external_id)
        try:
            self._http.delete(path)
        except Rejected:
            item = self._http.get(path).json()
            status = _vendor_status(item if isinstance(item, dict) else {})
            if status in ("FAILED", "ENDED"):
                raise NotFound(
                    f"Nothing to terminate: the instance is {status} at Fluence and runs or bills nothing."
                ) from None
            raise

    def _container_only(self, external_id: str, what: str) -> str:
        kind, _ = kind_of(external_id)
        if kind != CONTAINER:
            raise Unsupported(f"Fluence offers {what} for containers only, not for a {KIND_LABELS[kind].lower()}.")
        return instance_path(external_id, f"/{what}")

    def logs(self, external_id: str, *, last: int | None = LOG_LAST, **_: Any) -> LogLines:
        """The container's stdout and stderr, newest ``last`` lines [V]."""
        path = self._container_only(external_id, "logs")
        data = self._http.get(path, params={"last": last} if last else None).json()
        return LogLines(lines=[str(line) for line in data] if isinstance(data, list) else [], source="container")

    def events(self, external_id: str, *, last: int | None = EVENTS_LAST) -> list[VendorEvent]:
        """Cluster events (scheduling, pulls, starts), oldest first as Fluence sends them [V]."""
        path = self._container_only(external_id, "events")
        data = self._http.get(path, params={"last": last} if last else None).json()
        return [parse_event(line) for line in data] if isinstance(data, list) else []

    # --- account and catalog ----------------------------------------------------------------
    def balance(self) -> tuple[Decimal | None, str]:
        return parse_balance(self._http.get(BALANCES_PATH).json())

    def me(self) -> dict[str, Any]:
        data = self._http.get(ME_PATH).json()
        return data if isinstance(data, dict) else {}

    def verify(self) -> AccountInfo:
        """The balance (``/v2/users/balances``) and who the key belongs to (``/v1/users/me``).
        A key whose scopes do not cover one of them (403 [V]) is still good for GPU
        Cloud if the instance list answers; a 401 is the key's fault everywhere."""
        balance, currency, notes = None, CURRENCY, []
        try:
            balance, currency = self.balance()
        except AuthError as exc:
            if exc.status_code != 403:
                raise
            self._http.get(COLLECTIONS[CONTAINER])  # proves the key for GPU Cloud, or raises
            notes.append("this key may not read the balance")
        except NotFound:
            self._http.get(COLLECTIONS[CONTAINER])
            notes.append("no balance reported")
        try:
            me = self.me()
        except AuthError as exc:
            if exc.status_code != 403:
                raise
            me = {}
        except ProviderError as exc:  # who the key belongs to is a nicety, not the check
            logger.info("fluence: account details unavailable: %s", exc.message)
            me = {}
        user = me.get("user") if isinstance(me.get("user"), dict) else me
        who = next((str(user[k]) for k in ("email", "username", "name", "wallet_address", "address", "id")
                    if user.get(k)), "")  # fmt: skip
        parts = [f"Key accepted{' for ' + who if who else ''}"]
        if balance is not None:
            parts.append(f"balance {balance:.2f} {currency}")
        permissions = me.get("permissions")
        if isinstance(permissions, list) and permissions:
            shown = ", ".join(str(p) for p in permissions[:6])
            parts.append(f"permissions: {shown}{'…' if len(permissions) > 6 else ''}")
        parts += notes
        return AccountInfo(summary="; ".join(parts) + ".", username=who, balance=balance, currency=currency)

    def default_images(self) -> list[dict[str, Any]]:
        data = self._http.get(DEFAULT_IMAGES_PATH).json()
        return [i for i in data if isinstance(i, dict) and i.get("image")] if isinstance(data, list) else []

    def account_metadata(self) -> dict[str, Any]:
        """Fluence's default container images [V], for the form's picker: environment
        names only, no values (names, never values, in account metadata)."""
        images = []
        for item in self.default_images():
            expose = [
                {"port": str(e.get("port")), "protocol": str(e.get("protocol") or DEFAULT_PROTOCOL).lower()}
                for e in item.get("expose") or []
                if isinstance(e, dict) and e.get("port") not in (None, "")
            ]
            environment = [
                str(e.get("name")) for e in item.get("environment") or [] if isinstance(e, dict) and e.get("name")
            ]
            images.append(
                {
                    "slug": str(item.get("slug") or ""),
                    "name": str(item.get("name") or item.get("slug") or item["image"]),
                    "description": str(item.get("description") or ""),
                    "image": str(item["image"]),
                    "expose": expose,
                    "environment": environment,
                    "startup_command": str(item.get("startup_command") or ""),
                    "requires_ssh": bool(item.get("requires_ssh")),
                }
            )
        return {"default_images": images}

    def catalog(self) -> list[Offer]:
        """Container plans (one offer per plan, its locations in ``extra``), then every VM
        and bare-metal option (one offer each: an option is what ``plan_id`` names) [V]."""
        plans = self._http.get(PLAN_PATHS[CONTAINER]).json()
        offers = (
            [o for o in (container_offer(p) for p in plans if isinstance(p, dict)) if o is not None]
            if isinstance(plans, list)
            else []
        )
        for kind in (VM, BAREMETAL):
            offers += machine_offers(self._http.get(PLAN_PATHS[kind]).json(), kind)
        return offers


def _sent_json(response: httpx.Response) -> Any:
    try:
        request = response.request
    except RuntimeError:  # a response built without a request
        return None
    try:
        return json.loads(request.content or b"null")
    except ValueError:
        return None
