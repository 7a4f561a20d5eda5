"""What the Replicate adapter's tests share: the documented create requests, the URLs,
and builders for predictions, pages and deployment configurations. Fixture JSON is
shaped like the notes' §6 examples and the seed's deployment object
(``providers/replicate/tests/fixtures/``, read through ``providers.testing``)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx

from providers.testing import load_fixture

BASE = "https://api.replicate.com/v1"
KEY = "r8_unit_test_token_0001"
DEPLOYMENTS = f"{BASE}/deployments"
ONE = f"{DEPLOYMENTS}/acme/team-sdxl"
PREDICTIONS = f"{BASE}/predictions"
VERSION = "da77bc59ee60423279fd632efb4795ab731d9e3ca9705ef3341091fb989b7eaf"

# The notes' create request (§6) and the seed's, both specs this adapter takes as written.
NOTES_CREATE = {
    "name": "team-sdxl",
    "model": "stability-ai/sdxl",
    "version": VERSION,
    "hardware": "gpu-l40s",
    "min_instances": 0,
    "max_instances": 3,
}
SEED_CREATE = {
    "name": "my-app-image-generator",
    "model": "some-org/some-model",
    "version": VERSION,
    "hardware": "gpu-t4",
    "min_instances": 1,
    "max_instances": 5,
}


def fixture(name: str) -> Any:
    return load_fixture("replicate", name)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def prediction(status: str, *, ago: float, deployment: str | None = "acme/team-sdxl", **extra: Any) -> dict[str, Any]:
    """A prediction created ``ago`` seconds before now, finished a second later if terminal."""
    created = now() - dt.timedelta(seconds=ago)
    item = fixture("prediction_starting")
    item.update(id=f"p{abs(hash((status, ago, deployment))) % 10**8}", status=status, created_at=iso(created))
    if status != "starting":
        item["started_at"] = iso(created + dt.timedelta(seconds=0.5))
    if status in ("succeeded", "failed", "canceled", "aborted"):
        item["completed_at"] = iso(created + dt.timedelta(seconds=1))
    if deployment is None:
        item.pop("deployment")
    else:
        item["deployment"] = deployment
    item.update(extra)
    return item


def page(*results: dict[str, Any], next_url: str | None = None) -> dict[str, Any]:
    return {"next": next_url, "previous": None, "results": list(results)}


def sent_json(route) -> Any:
    return json.loads(route.calls.last.request.content)


def assert_sent(route, method: str, path: str) -> httpx.Request:
    request = route.calls.last.request
    assert request.method == method
    assert request.url.path == path
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    return request


def with_config(**config: Any) -> dict[str, Any]:
    item = fixture("deployment")
    item["current_release"]["configuration"].update(config)
    return item


def raw_with(min_instances: int, *predictions: dict[str, Any]) -> dict[str, Any]:
    return {**with_config(min_instances=min_instances), "recent_predictions": list(predictions)}
