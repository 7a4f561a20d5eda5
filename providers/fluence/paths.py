"""Where things live at Fluence: the three kinds of instance, their collections and
plan lists, the account routes, and the panel's ``external_id`` for an instance.

The two families' ids share no namespace, so ``external_id`` carries the family: the
bare instance id for a container, ``vms/<id>`` and ``baremetal/<id>`` for the others;
get, update and delete know the path from the id alone.
"""

from __future__ import annotations

from urllib.parse import quote

from providers.base import NotFound

# The kinds of instance (the form reads these too); ``kind`` is the spec's one key of ours.
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
