"""Fixtures for the adapter tests: fixture JSON, a provider on the vendor's real base
URL (respx intercepts every call) and a ``time.sleep`` that only records.

Plain Python like the adapters: nothing here imports Django (tests/test_layering.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from providers.together import TogetherProvider

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SCHEMA_FILE = Path(__file__).resolve().parents[1] / "together" / "openapi.json"
TOGETHER_BASE = "https://api.together.ai/v1"
TOGETHER_KEY = "tg-unit-test-key-0001"


def load_fixture(vendor: str, name: str) -> Any:
    """A fresh copy of ``fixtures/<vendor>/<name>.json`` each call, so tests may edit it."""
    return json.loads((FIXTURES / vendor / f"{name}.json").read_text())


def load_together_schema() -> dict[str, Any]:
    """The seed's OpenAPI excerpt, as the sandbox serves it (read by path: no Django)."""
    return json.loads(SCHEMA_FILE.read_text())


@pytest.fixture
def together_fixture() -> Callable[[str], Any]:
    return lambda name: load_fixture("together", name)


@pytest.fixture
def together() -> Iterator[TogetherProvider]:
    provider = TogetherProvider(api_key=TOGETHER_KEY)
    yield provider
    provider.close()


@pytest.fixture(autouse=True)
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every adapter test runs without real waiting; the waits asked for are recorded."""
    recorded: list[float] = []
    monkeypatch.setattr("providers.http.time.sleep", recorded.append)
    return recorded
