"""Helpers every vendor's tests share: fixture JSON and a ``time.sleep`` that only records.

Plain Python like the adapters (tests/test_layering.py). A vendor's fixtures live in
``providers/<vendor>/tests/fixtures/<name>.json``, each built from the vendor's own
documented example or SDK type (its source named in the test that uses it), never
recorded from the panel's twins.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent


def fixture_path(vendor: str, name: str) -> Path:
    return ROOT / vendor / "tests" / "fixtures" / f"{name}.json"


def load_fixture(vendor: str, name: str) -> Any:
    """A fresh copy of the fixture each call, so tests may edit it."""
    return json.loads(fixture_path(vendor, name).read_text())
