"""The Nosana adapter for each test, closed after it (``sleeps`` and the rest come from
``providers/conftest.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from providers.nosana import NosanaProvider
from providers.nosana.tests.samples import KEY


@pytest.fixture
def nosana() -> Iterator[NosanaProvider]:
    provider = NosanaProvider(api_key=KEY)
    yield provider
    provider.close()
