"""The Fluence adapter's fixture (the shared ones are in ``providers/conftest.py``).

Plain Python like the adapters: nothing here imports Django (tests/test_layering.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from providers.fluence import FluenceProvider
from providers.fluence.tests.helpers import KEY


@pytest.fixture
def fluence() -> Iterator[FluenceProvider]:
    provider = FluenceProvider(api_key=KEY)
    yield provider
    provider.close()
