"""Changing an instance that exists (contract §2.7): ``/gpu/instance/edit`` for ports and
root-disk growth, ``/gpu/instance/upgrade`` (a full replacement) for the image, its
credential, env, command, entrypoint and volumes. Everything else is fixed once created.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from providers.base import SpecError
from providers.coerce import is_empty, whole
from providers.novita.fields import (
    DEFAULT_MOUNT_POINT,
    FIXED_FIELDS,
    UPGRADE_FIELDS,
    UPGRADE_NEEDS_SAVED_AUTH,
    billing_mode,
    parse_ports,
)
from providers.novita.rules import check_spec


def check_changes(spec: Mapping[str, Any], previous: Mapping[str, Any]) -> None:
    """What an update from ``previous`` to ``spec`` would refuse (:func:`plan_update`),
    raised before anything is queued. Specs that fail today's rules are left to them."""
    try:
        old = check_spec(previous, existing=True)
        new = check_spec(spec, existing=True)
    except SpecError:
        return
    plan_update(old, new)


def plan_update(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[bool, bool, int]:
    """Which calls take an instance from ``old`` to ``new`` (both normalised specs):
    ``(edit, upgrade, grow)`` where ``grow`` is the root-disk growth in GB, or
    :class:`SpecError` on the fields Novita cannot change that way. The form calls it
    too, so a refusal shows on the field before anything is queued."""
    errors: dict[str, list[str]] = {}
    for key in FIXED_FIELDS:
        if not _same(key, new, old):
            if key == "imageAuth":
                errors.setdefault(key, []).append(
                    "Novita's upgrade takes a saved registry credential (imageAuthId), not username:password."
                )
            else:
                errors.setdefault(key, []).append(
                    "Novita cannot change this on an existing instance: create a new one instead."
                )
    edit = not _same("ports", new, old) or not _same("rootfsSize", new, old)
    grow = (whole(new.get("rootfsSize")) or 0) - (whole(old.get("rootfsSize")) or 0)
    if grow < 0:
        errors.setdefault("rootfsSize", []).append(
            f"Novita can only grow the root disk: it has {old.get('rootfsSize')} GB now."
        )
    upgrade = any(not _same(key, new, old) for key in UPGRADE_FIELDS)
    if upgrade and new.get("imageAuth"):
        # [I] the upgrade recreates the container from the image, with no way to pass user:pass.
        errors.setdefault("imageAuth", []).append(UPGRADE_NEEDS_SAVED_AUTH)
    if errors:
        raise SpecError(errors)
    return edit, upgrade, grow


def lenient(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The previous spec normalised if it still passes today's rules, else as stored."""
    try:
        return check_spec(spec, existing=True)
    except SpecError:
        return dict(spec)


def _same(key: str, new: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    """Whether ``key`` is unchanged, reading defaults as Novita does (no month = 0, no
    billing mode = on demand, no autoRenew = false) and ports as a set."""
    if key == "billingMode":
        return billing_mode(new) == billing_mode(old)
    if key in ("month", "autoRenewMonth"):
        return (whole(new.get(key)) or 0) == (whole(old.get(key)) or 0)
    if key == "autoRenew":
        return bool(new.get(key)) == bool(old.get(key))
    if key == "kind":
        return (new.get(key) or "gpu") == (old.get(key) or "gpu")
    if key == "ports":
        return _port_set(new.get(key)) == _port_set(old.get(key))
    if key in ("gpuNum", "rootfsSize"):
        return whole(new.get(key)) == whole(old.get(key))
    a, b = new.get(key), old.get(key)
    if is_empty(a) and is_empty(b):
        return True
    if key in ("clusterId", "imageAuthId") and a is not None and b is not None:
        return str(a) == str(b)
    return a == b


def _port_set(value: Any) -> frozenset[tuple[int, str]]:
    rows, _ = parse_ports(value)
    return frozenset((row["port"], row["type"]) for row in rows)


def edit_body(external_id: str, spec: Mapping[str, Any], grow: int) -> dict[str, Any]:
    """``/gpu/instance/edit``: ports as objects here (a string on create) [V]. The
    tools' ports are sent too, so the edit cannot close Jupyter [I: the list may
    replace every exposed port]."""
    rows, _ = parse_ports(spec.get("ports"))
    taken = {row["port"] for row in rows}
    for tool in spec.get("tools") or []:
        port = whole(tool.get("port"))
        if port is not None and port not in taken:
            rows.append({"port": port, "type": tool.get("type") or "http"})
            taken.add(port)
    return {"instanceId": external_id, "ports": rows, "expandRootDisk": max(grow, 0)}


def upgrade_body(external_id: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    """``/gpu/instance/upgrade``: every field, a full replacement [V]; ``save`` keeps the
    instance's data [I: the safe choice; the panel has no "discard data" option]."""
    return {
        "instanceId": external_id,
        "imageUrl": spec.get("imageUrl", ""),
        "imageAuthId": spec.get("imageAuthId", ""),
        "envs": [dict(e) for e in spec.get("envs") or []],
        "command": spec.get("command", ""),
        "entrypoint": spec.get("entrypoint", ""),
        "save": True,
        "networkVolume": {
            "volumeMounts": [
                {"type": "network", "id": v["Id"], "mountPath": v.get("mountPoint") or DEFAULT_MOUNT_POINT}
                for v in spec.get("networkStorages") or []
            ]
        },
    }
