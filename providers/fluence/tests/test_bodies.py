"""The create body made from a checked spec.

Fixture JSON follows the contract's examples (notes §2) and the seed."""

from __future__ import annotations

from providers.fluence.bodies import create_body
from providers.fluence.tests.helpers import SEED_CONTAINER


def test_create_body_drops_kind_and_nothing_else():
    kind, body = create_body(SEED_CONTAINER)
    assert kind == "container"
    assert body == {k: v for k, v in SEED_CONTAINER.items() if k != "kind"}
