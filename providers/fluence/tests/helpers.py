"""What the Fluence tests share: the seed's requests (verbatim, plus our ``kind``), the
fixtures' catalog and small helpers. Plain Python like the adapter; the ``fluence``
fixture is in ``conftest.py``, the vendor-wide ones in ``providers/conftest.py``."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest

from providers.base import Offer, ProviderError, SpecError
from providers.fluence.catalog import container_offer, machine_offers
from providers.fluence.rules import check_spec
from providers.http import VendorHTTP
from providers.testing import load_fixture

BASE = "https://api.fluence.dev"
KEY = "fl-unit-test-key-0001"
CONTAINERS = f"{BASE}/gpu/instances/"
VMS = f"{BASE}/gpu/instances/vms"
BAREMETAL = f"{BASE}/gpu/instances/baremetal"
CONTAINER_ID = "b54672e2-0a8b-490f-81ee-7d5a868471fc"
NEW_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
VM_ID = "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b"
BM_ID = "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e"
SSH = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI... user@host"

# The seed's requests, verbatim, plus our "kind".
SEED_CONTAINER: dict[str, Any] = {
    "kind": "container",
    "plan_id": "075e40d4-2766-4347-833b-205245fe3629",
    "name": "my-gpu-container",
    "container_settings": {
        "image": "docker.io/fluencelabs/debian-ssh-root:11",
        "expose": [
            {"port": "22", "protocol": "tcp"},
            {"port": "80", "protocol": "http"},
            {"port": "443", "protocol": "tcp"},
            {"port": "8000", "protocol": "tcp"},
        ],
        "environment": [{"name": "MODEL_PATH", "value": "/models/llama"}],
        "startup_command": "python3 serve.py --port 8000",
    },
    "constraints": {"location": "US"},
    "ssh_key": SSH,
}
SEED_CURL: dict[str, Any] = {
    "kind": "container",
    "plan_id": "075e40d4-2766-4347-833b-205245fe3629",
    "name": "my-gpu-container",
    "container_settings": {
        "image": "docker.io/fluencelabs/debian-ssh-root:11",
        "expose": [{"port": "22", "protocol": "tcp"}, {"port": "80", "protocol": "http"}],
    },
    "ssh_key": SSH,
}
SEED_PRIVATE: dict[str, Any] = {
    "kind": "container",
    "plan_id": "075e40d4-2766-4347-833b-205245fe3629",
    "name": "private-model",
    "container_settings": {
        "image": "ghcr.io/myorg/private-model:v1",
        "expose": [{"port": "22", "protocol": "tcp"}, {"port": "8080", "protocol": "tcp"}],
        "credentials": {"host": "ghcr.io", "username": "myuser", "password": "ghp_xxxxxxxxxxxx"},
    },
}
SEED_VM: dict[str, Any] = {
    "kind": "vm",
    "plan_id": "e5f00ba8-268e-4279-9672-eabca860f19e",
    "name": "my-gpu-vm",
    "ssh_key": SSH,
    "os_image": "Ubuntu Server 22.04",
}


def fixture(name: str) -> Any:
    return load_fixture("fluence", name)


def spec(base: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    """A deep copy of ``base`` (the seed's container) with dotted-path changes."""
    out = copy.deepcopy(base or SEED_CONTAINER)
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = out
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return out


def errors_of(value: dict[str, Any], **kwargs: Any) -> dict[str, list[str]]:
    with pytest.raises(SpecError) as caught:
        check_spec(value, **kwargs)
    return caught.value.fields


def sent_json(route) -> Any:
    return json.loads(route.calls.last.request.content)


def assert_sent(route, method: str, path: str) -> httpx.Request:
    request = route.calls.last.request
    assert request.method == method
    assert request.url.path == path
    assert request.headers["X-API-KEY"] == KEY
    assert "Authorization" not in request.headers
    return request


def offers() -> list[Offer]:
    """The fixtures' catalog, as ``catalog()`` makes it."""
    out = [container_offer(p) for p in fixture("plans_containers")]
    out += machine_offers(fixture("plans_vms"), "vm") + machine_offers(fixture("plans_baremetal"), "baremetal")
    return [o for o in out if o is not None]


def error_for(provider: Any, response: httpx.Response) -> ProviderError:
    """What ``provider`` raises for ``response``: its ``error_detail`` through the shared
    mapping of ``providers.http``, for answers no route of the adapter would get."""
    return VendorHTTP(base_url=BASE, headers={}, error_detail=provider.error_detail).error_for(response)
