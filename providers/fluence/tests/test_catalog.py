"""Fluence's marketplace as offers.

Fixture JSON follows the contract's examples (notes §2) and the seed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from providers.fluence.catalog import normalise_gpu
from providers.fluence.tests.helpers import BASE, fixture


def mock_catalog(respx_mock) -> list[Any]:
    return [
        respx_mock.get(f"{BASE}/gpu/plans/").respond(200, json=fixture("plans_containers")),
        respx_mock.get(f"{BASE}/gpu/plans/vms").respond(200, json=fixture("plans_vms")),
        respx_mock.get(f"{BASE}/gpu/plans/baremetal").respond(200, json=fixture("plans_baremetal")),
    ]


def test_catalog_has_one_offer_per_container_plan(respx_mock, fluence):
    routes = mock_catalog(respx_mock)
    catalog = fluence.catalog()
    assert all(route.call_count == 1 for route in routes)
    containers = [o for o in catalog if o.kind == "container"]
    assert [o.sku for o in containers] == [
        "36cdb646-1246-42d8-b2d1-9480ca546536",
        "075e40d4-2766-4347-833b-205245fe3629",
        "b1f7a0d2-9c41-4e3f-8a55-0c2d6e7f8a90",
    ]
    a100 = containers[1]
    assert a100.name == "2× A100 80 GB PCIe · 32 vCPU · 256 GiB RAM · 500 GiB disk"
    assert (a100.gpu_model, a100.gpu_count, a100.gpu_memory_gb) == ("A100", 2, 80)
    assert a100.price_per_hour == Decimal("2.44")
    assert a100.price_per_gpu_hour == Decimal("1.22")
    assert a100.location == "US, DE"
    assert a100.extra == {
        "plan_name": "a100-80gi-pcie-2gpu-32cpu-256gi-500gi",
        "locations": ["US", "DE"],
        "upfront_hours": 3,
        "currency": "USDC",
        "vcpu": 32,
        "memory_gb": 256,
        "storage_gb": 500,
        "interface": "pcie",
    }
    assert containers[2].gpu_model == "RTX 4090"


def test_catalog_has_one_offer_per_vm_and_bare_metal_option(respx_mock, fluence):
    mock_catalog(respx_mock)
    catalog = fluence.catalog()
    vms = [o for o in catalog if o.kind == "vm"]
    metal = [o for o in catalog if o.kind == "baremetal"]
    assert [o.sku for o in vms] == [
        "d8312018-c50c-4278-89db-69e40013414d",
        "e5f00ba8-268e-4279-9672-eabca860f19e",
        "7a1c3e55-0b2d-4f6e-9a8b-1c2d3e4f5a6b",
    ]
    seed = vms[1]
    assert (seed.gpu_model, seed.gpu_count, seed.location, seed.price_per_hour) == (
        "A100",
        1,
        "tokyo-japan-2",
        Decimal("1.25"),
    )
    assert seed.extra["os_options"] == ["Ubuntu Server 22.04", "Ubuntu Server 24.04"]
    assert (seed.extra["provider"], seed.extra["nvlink"], seed.extra["location"]) == (
        "sesterce",
        False,
        "tokyo-japan-2",
    )
    assert (seed.extra["vcpu"], seed.extra["memory_gb"], seed.extra["storage_gb"]) == (16, 120, 700)
    assert vms[2].gpu_count == 8
    assert vms[2].extra["nvlink"] is True
    [bm] = metal
    assert (bm.sku, bm.gpu_model, bm.gpu_count, bm.location) == (
        "c0ffee00-1111-4222-8333-444455556666",
        "H100",
        8,
        "Texas",
    )
    assert bm.extra["deployment_type"] == "baremetal"
    assert "cudo" in bm.name


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("h200", "H200"),
        ("a100", "A100"),
        ("rtx4090", "RTX 4090"),
        ("rtx_4080_super", "RTX 4080 Super"),
        ("rtx-a6000", "RTX A6000"),
        ("rtx6000ada", "RTX 6000 Ada"),
        ("l40s", "L40S"),
    ],
)
def test_normalise_gpu(model, expected):
    assert normalise_gpu(model) == expected
