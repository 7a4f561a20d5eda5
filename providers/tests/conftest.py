"""Fixtures for the adapter tests still under ``providers/tests/``.

Together's moved to ``providers/together/tests/conftest.py`` with its tests; the ones
every vendor shares are in ``providers/conftest.py`` and ``providers/testing.py``.
Plain Python like the adapters: nothing here imports Django (tests/test_layering.py).
"""

from __future__ import annotations
