"""Fixtures for every adapter test, under ``providers/`` (each vendor's ``tests/`` too).

Plain Python like the adapters: nothing here imports Django (tests/test_layering.py).
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every adapter test runs without real waiting; the waits asked for are recorded."""
    recorded: list[float] = []
    monkeypatch.setattr("providers.http.time.sleep", recorded.append)
    return recorded
