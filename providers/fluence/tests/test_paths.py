"""Fluence's ``external_id``: the family read back from the id.

Fixture JSON follows the contract's examples (notes §2) and the seed."""

from __future__ import annotations

import pytest

from providers.base import (
    NotFound,
)
from providers.fluence.paths import kind_of
from providers.fluence.tests.helpers import BM_ID, CONTAINER_ID, VM_ID


@pytest.mark.parametrize(
    ("external_id", "expected"),
    [
        (CONTAINER_ID, ("container", CONTAINER_ID)),
        (f"vms/{VM_ID}", ("vm", VM_ID)),
        (f"baremetal/{BM_ID}", ("baremetal", BM_ID)),
    ],
)
def test_kind_of_reads_the_family_from_the_external_id(external_id, expected):
    assert kind_of(external_id) == expected


@pytest.mark.parametrize("external_id", ["", "vms/", "disks/abc", "vms/a/b"])
def test_kind_of_refuses_ids_that_are_not_fluence_ones(external_id):
    with pytest.raises(NotFound):
        kind_of(external_id)
