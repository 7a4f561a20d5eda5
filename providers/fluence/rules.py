"""Fluence's rules for a spec, said before anything is sent: small section checks
(name, plan, container settings, ports, environment, registry, location, machine)
composed by :func:`check_spec`, which reports every problem at once.

Error paths (:class:`SpecError` keys) are spec paths, e.g.
``container_settings.expose.0.port``: the same paths as Fluence's 422 ``detail[].loc``
without its leading ``"body"``, so the vendor's own words land on the form's field.
[V] = in the vendor docs, [I] = inferred, [?] = open; where the notes leave a fact open
the safest reading is taken and named in a comment.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from providers.base import Offer, SpecError
from providers.coerce import whole
from providers.fluence.paths import CONTAINER, KINDS

Err = Callable[[str, str], None]  # err(spec path, message): one more problem to report

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


def _text(value: Any) -> str | None:
    """A string as given, ``""`` for nothing, ``None`` for a value that is not text."""
    # Not coerce.text: a value that is not text must differ from no value, to say so.
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return None


def _port(value: Any) -> int | None:
    # Not coerce.whole alone: a float is no port (Fluence takes ports as strings).
    return None if isinstance(value, float) else whole(value)


def expand_expose(items: list[Any], err: Err) -> list[tuple[int, dict[str, Any]]]:
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


def _check_expose(value: Any, err: Err) -> list[dict[str, str]]:
    if value in (None, ""):
        value = []
    if not isinstance(value, list):
        err("container_settings.expose", "A list of ports.")
        return []
    expanded = expand_expose(value, err)
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


def _check_environment(value: Any, err: Err) -> list[dict[str, Any]]:
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


def _check_credentials(value: Any, err: Err) -> dict[str, str] | None:
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


def _check_ssh_key(value: Any, err: Err, *, required: bool) -> str:
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


def check_spec(
    spec: Mapping[str, Any],
    *,
    offers: Iterable[Offer] = (),
    images: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """Check a spec and return it normalised: ports as strings, protocols lower case,
    port ranges expanded, empty optional keys left out, keys of the other kinds dropped.

    ``offers`` (this vendor's catalog, ``Offer``-like) adds the checks that need it: the
    plan still offered for this kind, the location among the plan's, the OS image among
    the option's. ``images`` (``account_metadata()["default_images"]``) makes the SSH key
    required for a default image that says ``requires_ssh``. Raises :class:`SpecError`
    with every problem at once.
    """
    errors: dict[str, list[str]] = {}

    def err(path: str, message: str) -> None:
        errors.setdefault(path, []).append(message)

    if not isinstance(spec, Mapping):
        raise SpecError({"": ["A Fluence spec is an object."]})
    kind = spec.get("kind")
    if kind not in KINDS:
        raise SpecError({"kind": [f"Choose one of: {', '.join(KINDS)}."]})
    out: dict[str, Any] = {"kind": kind, "name": _check_name(spec.get("name"), err)}
    out["plan_id"] = plan_id = _check_plan_id(spec.get("plan_id"), err)
    offer = _check_offer(plan_id, kind, offers, err)
    if kind == CONTAINER:
        out.update(_check_container(spec, err, offer=offer, images=images))
    else:
        out.update(_check_machine(spec, err, offer=offer))
    if errors:
        raise SpecError(errors)
    return out


def _check_name(name: Any, err: Err) -> Any:
    if name in (None, ""):
        err("name", "A name is required.")
    elif not isinstance(name, str) or not NAME_RE.match(name):
        err("name", NAME_RULE)
    return name


def _check_plan_id(value: Any, err: Err) -> str | None:
    plan_id = _text(value)
    if not plan_id or not plan_id.strip():
        err("plan_id", "Choose a plan.")
    elif len(plan_id) > PLAN_ID_MAX or any(c.isspace() for c in plan_id):
        err("plan_id", "Not a Fluence plan id.")
    return plan_id


def _check_offer(plan_id: str | None, kind: str, offers: Iterable[Offer], err: Err) -> Offer | None:
    """The catalog's offer for the plan, when there is a catalog to ask; the plan must
    still be in it, for this kind."""
    of_kind = [o for o in offers if getattr(o, "kind", "") in ("", kind)]
    if not plan_id or not of_kind:
        return None
    offer = next((o for o in of_kind if o.sku == plan_id and (not o.kind or o.kind == kind)), None)
    if offer is None:
        err("plan_id", "This plan is no longer offered; choose another.")
    return offer


def _check_machine(spec: Mapping[str, Any], err: Err, *, offer: Offer | None) -> dict[str, Any]:
    """A VM or bare-metal server: every key of its body is required [V]."""
    ssh_key = _check_ssh_key(spec.get("ssh_key"), err, required=True)
    os_image = _text(spec.get("os_image"))
    if not os_image or not os_image.strip():
        err("os_image", "Choose an OS image.")
    elif len(os_image) > OS_IMAGE_MAX:
        err("os_image", f"At most {OS_IMAGE_MAX} characters.")
    elif offer is not None and (offer.extra or {}).get("os_options") is not None:
        options = list(offer.extra["os_options"])
        if os_image not in options:
            err("os_image", f"This option offers: {', '.join(options) or 'no OS image'}.")
    return {"ssh_key": ssh_key, "os_image": os_image}


def _check_container(
    spec: Mapping[str, Any], err: Err, *, offer: Offer | None, images: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """A container: its settings, where it runs and (if its image needs one) the SSH key."""
    settings = spec.get("container_settings")
    if not isinstance(settings, Mapping):
        err("container_settings", "The container settings are required.")
        settings = {}
    out: dict[str, Any] = {"container_settings": _check_settings(settings, err)}
    location = _check_location(spec.get("constraints"), err, offer=offer)
    if location is not None:
        out["constraints"] = {"location": location}
    image = settings.get("image")
    wanted = any(
        image and i.get("image") == image and i.get("requires_ssh") for i in images if isinstance(i, Mapping)
    )  # [I] notes §2.3: a default image that requires SSH needs the key
    key = _check_ssh_key(spec.get("ssh_key"), err, required=wanted)
    if key:
        out["ssh_key"] = key
    return out


def _check_settings(settings: Mapping[str, Any], err: Err) -> dict[str, Any]:
    """``container_settings``: the image, ports, environment, startup command, registry."""
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
    return container


def _check_location(constraints: Any, err: Err, *, offer: Offer | None) -> str | None:
    """``constraints.location``, upper-cased; ``None`` when not given (Fluence chooses)."""
    location = (constraints or {}).get("location") if isinstance(constraints, Mapping) else constraints
    location = _text(location)
    if location is None:
        err("constraints.location", "A two-letter country code, e.g. US.")
        return None
    if not location.strip():
        return None
    location = location.strip().upper()
    if not LOCATION_RE.match(location):
        err("constraints.location", "A two-letter country code, e.g. US.")
    elif offer is not None and (offer.extra or {}).get("locations"):
        allowed = [str(x).upper() for x in offer.extra["locations"]]
        if location not in allowed:
            err("constraints.location", f"This plan runs in: {', '.join(allowed)}.")
    return location
