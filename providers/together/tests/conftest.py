"""Together's adapter fixtures and the requests its tests share (the fixtures every
vendor shares are in ``providers/conftest.py`` and ``providers/testing.py``).

Plain Python like the adapters: nothing here imports Django (tests/test_layering.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from providers.testing import load_fixture
from providers.together import TogetherProvider

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "openapi.json"
TOGETHER_BASE = "https://api.together.ai/v1"
TOGETHER_KEY = "tg-unit-test-key-0001"
IMAGE = "registry.together.xyz/proj_abc123/flux-worker@sha256:4f1c9e9"
DEPLOYMENTS = f"{TOGETHER_BASE}/deployments"
ONE = f"{DEPLOYMENTS}/dep_abc123"

# The seed notes' create request (§6), which is also a spec this adapter accepts as is.
SEED_CREATE = {
    "name": "flux-worker",
    "description": "Flux image worker",
    "image": IMAGE,
    "gpu_type": "h100-80gb",
    "gpu_count": 1,
    "cpu": 8,
    "memory": 64,
    "storage": 200,
    "min_replicas": 1,
    "max_replicas": 4,
    "port": 8000,
    "health_check_path": "/health",
    "termination_grace_period_seconds": 300,
    "autoscaling": {"metric": "QueueBacklogPerWorker", "target": 1.01},
    "environment_variables": [
        {"name": "MODEL_PATH", "value": "/models/weights"},
        {"name": "TOGETHER_API_KEY", "value_from_secret": "flux-worker-TOGETHER_API_KEY"},
    ],
    "volumes": [{"name": "flux-weights", "mount_path": "/models"}],
}
MINIMAL = {"name": "flux-worker", "image": IMAGE, "gpu_type": "h100-80gb"}


def load_together_schema() -> dict[str, Any]:
    """The seed's OpenAPI excerpt, as the sandbox serves it (read by path: no Django)."""
    result: dict[str, Any] = json.loads(SCHEMA_FILE.read_text())
    return result


def fixture(name: str) -> Any:
    """``providers/together/tests/fixtures/<name>.json``, a fresh copy each call."""
    return load_fixture("together", name)


def sent_json(route: respx.Route) -> Any:
    return json.loads(route.calls.last.request.content)


def assert_sent(route: respx.Route, method: str, path: str) -> httpx.Request:
    """The last request on ``route`` went where it should, with the key."""
    request = route.calls.last.request
    assert request.method == method
    assert request.url.path == path
    assert request.headers["Authorization"] == f"Bearer {TOGETHER_KEY}"
    return request


@pytest.fixture
def together_fixture() -> Callable[[str], Any]:
    return fixture


@pytest.fixture
def together() -> Iterator[TogetherProvider]:
    provider = TogetherProvider(api_key=TOGETHER_KEY)
    yield provider
    provider.close()
