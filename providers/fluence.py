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
- Creates are never retried here (no idempotency key, a second 3-hour charge [I]);
  ``find_by_name`` finds the newest live instance with the name for the panel's
  reconciliation.
- ``raw`` keeps the vendor's JSON with the injected ``SSH_PUBKEY``, registry
  passwords and secret-looking environment values masked.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar
from urllib.parse import quote

from providers.base import (
    Action,
    Charge,
    NotFound,
    Offer,
    Provider,
    RemoteState,
    SpecError,
    parse_time,
)

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
                f"{RESERVED_ENV} is reserved: Fluence injects the SSH key through it. Put the key in the SSH key field.",
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
            "image": settings["image"],
            "environment": settings.get("environment", []),
            **{k: settings[k] for k in ("startup_command", "credentials") if k in settings},
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
            before = [(str(e.get("port")), str(e.get("protocol") or DEFAULT_PROTOCOL).lower()) for e in before or []]
            after = [(e["port"], e["protocol"]) for e in after or []]
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


def upfront_hours(offer: Any | None) -> int:
    hours = (getattr(offer, "extra", None) or {}).get("upfront_hours")
    return hours if isinstance(hours, int) and not isinstance(hours, bool) and hours > 0 else UPFRONT_HOURS


# --- errors -----------------------------------------------------------------------------------------

VALUE_ERROR = "Value error, "  # pydantic's prefix on a validator's message: not the vendor's words
# A 400's ``detail`` that is about one field [V: the documented messages; the patterns are ours].
MESSAGE_FIELDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bOS image\b", re.IGNORECASE), "os_image"),
    (re.compile(r"\bplan\b", re.IGNORECASE), "plan_id"),
    (re.compile(r"\blocation\b", re.IGNORECASE), "constraints.location"),
    (re.compile(r"\bSSH_PUBKEY\b"), "container_settings.environment"),
    (re.compile(r"\bssh[ _-]?key\b", re.IGNORECASE), "ssh_key"),
    (re.compile(r"\bimage\b", re.IGNORECASE), "container_settings.image"),
    (re.compile(r"\bname\b", re.IGNORECASE), "name"),
)
# Refusals of the moment (money, state), not of a field, even when they name one.
REFUSAL_RE = re.compile(r"balance|insufficient|fund|already|in progress|being (?:updated|applied)|only active|status",
                        re.IGNORECASE)  # fmt: skip
# A 400 that is about the key (notes §1: some endpoints answer a missing key with 400).
AUTH_RE = re.compile(
    r"api[ _-]?key|not authenticated|unauthori[sz]ed|authentication|invalid token|access token|forbidden|permission",
    re.IGNORECASE,
)


# --- the adapter ------------------------------------------------------------------------------------


class FluenceProvider(Provider):
    name: ClassVar[str] = "fluence"
    display_name: ClassVar[str] = "Fluence"
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
                    f"{hours} hours of rent at {offer.price_per_hour} {currency}/hour move to the instance: "
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
        if status in ("FAILED", "ENDED"):
            return f"The instance is {status} at Fluence: nothing runs or bills, and nothing can change it any more."
        if status != "ACTIVE":
            verb = {Action.DELETE: "terminates", Action.UPDATE: "changes", Action.RESTART: "redeploys"}.get(
                action, "acts on"
            )
            return f"Fluence {verb} only ACTIVE instances; this one is {status} (being provisioned). Wait until it is active."
        if (
            kind == CONTAINER
            and action in (Action.UPDATE, Action.RESTART)
            and normalise_status(raw.get("container_status")) == "NOT_STARTED"
        ):
            return "The container is still starting (or a previous update is applying): Fluence refuses a second one until it has."
        return ""
