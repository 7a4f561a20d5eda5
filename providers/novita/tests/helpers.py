"""Constants and small helpers the Novita adapter's tests share. Fixture JSON follows
contract §2 (the §2.3 create example, the §2.5 instance, the §2.2 product) with invented
values, read through ``providers.testing.load_fixture``."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from providers.base import (
    Offer,
    SpecError,
)
from providers.novita.mapping import product_offer
from providers.novita.rules import check_spec
from providers.testing import load_fixture

BASE = "https://api.novita.ai"


GPU = f"{BASE}/gpu-instance/openapi/v1"


KEY = "sk_unit_test_key_0001"


ID = "8b7f3c2e1a9d4f60"


CREATE = f"{GPU}/gpu/instance/create"


ONE = f"{GPU}/gpu/instance"


LIST = f"{GPU}/gpu/instances"


PRODUCTS = f"{GPU}/products"


BALANCE = f"{BASE}/openapi/v1/billing/balance/detail"


SYSTEM_LOG = "https://logs.novita.example/s/8b7f3c2e1a9d4f60/tok-sys-91f2"


INSTANCE_LOG = "https://logs.novita.example/i/8b7f3c2e1a9d4f60/tok-ins-3c7d"


# The create example of contract §2.3, exactly as written there.
NOTES_CREATE: dict[str, Any] = {
    "name": "llama-serve-01",
    "productId": "A100-80GB.14c240g",
    "kind": "gpu",
    "gpuNum": 1,
    "rootfsSize": 100,
    "imageUrl": "docker.io/vllm/vllm-openai:latest",
    "imageAuthId": "",
    "ports": "8000/http, 22/tcp",
    "envs": [{"key": "HF_TOKEN", "value": "hf_xxx"}],
    "tools": [{"name": "Jupyter", "port": "8888", "type": "http"}],
    "command": "",
    "entrypoint": "",
    "clusterId": "",
    "networkStorages": [{"Id": "d4e82677-3f80-4020-a731-d15b1c589aa8", "mountPoint": "/network"}],
    "billingMode": "onDemand",
    "month": 0,
    "minCudaVersion": "12.4",
}


# What validate makes of it: the empty optional strings left out.
NOTES_BODY = {k: v for k, v in NOTES_CREATE.items() if v != ""}


MINIMAL = {"productId": "4090.16c62g", "kind": "gpu", "gpuNum": 1, "rootfsSize": 60, "imageUrl": "ubuntu:22.04"}


def fixture(name: str) -> Any:
    return load_fixture("novita", name)


def offers() -> list[Offer]:
    return [product_offer(p) for p in fixture("products")["data"]]


def metadata() -> dict[str, Any]:
    return {
        "clusters": [{"id": "5", "name": "US-CA-06"}, {"id": "9", "name": "EU-DE-01"}],
        "network_storages": [
            {"id": "d4e82677-3f80-4020-a731-d15b1c589aa8", "name": "models", "cluster_id": "5"},
            {"id": "0f3b9c1e-2222-4a7b-9c44-1a2b3c4d5e6f", "name": "datasets", "cluster_id": "9"},
        ],
    }


def errors_of(spec: dict[str, Any], **kwargs: Any) -> dict[str, list[str]]:
    with pytest.raises(SpecError) as caught:
        check_spec(spec, **kwargs)
    return caught.value.fields


def sent_json(route) -> Any:
    return json.loads(route.calls.last.request.content)


def assert_sent(route, method: str, path: str) -> httpx.Request:
    request = route.calls.last.request
    assert request.method == method
    assert request.url.path == path
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    return request


def error(name: str) -> tuple[int, dict[str, Any]]:
    body = fixture(name)
    return body["code"], body


def err(name: str) -> dict[str, Any]:
    """``respond()`` arguments for an error fixture: its ``code`` is the HTTP status."""
    status, body = error(name)
    return {"status_code": status, "json": body}
