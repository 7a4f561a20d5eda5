"""The Novita adapter's fixtures (the shared ones are in ``providers/conftest.py``).

Plain Python like the adapters: nothing here imports Django (tests/test_layering.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from providers.novita import NovitaProvider
from providers.novita.tests.helpers import KEY, PRODUCTS, fixture


@pytest.fixture
def novita() -> Iterator[NovitaProvider]:
    provider = NovitaProvider(api_key=KEY)
    yield provider
    provider.close()


@pytest.fixture
def products(respx_mock):
    """The product list, whatever billing method is asked for."""
    return respx_mock.get(PRODUCTS).respond(200, json=fixture("products"))
