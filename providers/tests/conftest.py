"""Together's adapter fixtures (the shared ones are in ``providers/conftest.py`` and
``providers/testing.py``).

Plain Python like the adapters: nothing here imports Django (tests/test_layering.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from providers.testing import load_fixture
from providers.together import TogetherProvider

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "together" / "openapi.json"
TOGETHER_BASE = "https://api.together.ai/v1"
TOGETHER_KEY = "tg-unit-test-key-0001"


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
