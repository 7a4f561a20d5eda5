"""Fixtures for the Replicate adapter's tests (the shared ones, such as ``sleeps``,
are in ``providers/conftest.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from providers.replicate import ReplicateProvider
from providers.replicate.tests.samples import KEY, PREDICTIONS, page


@pytest.fixture
def replicate() -> Iterator[ReplicateProvider]:
    provider = ReplicateProvider(api_key=KEY)
    yield provider
    provider.close()


@pytest.fixture
def no_predictions(respx_mock):
    return respx_mock.get(PREDICTIONS).respond(200, json=page())
