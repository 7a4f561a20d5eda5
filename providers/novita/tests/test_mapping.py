"""Novita's JSON read as the panel's shapes: offers, GPU models, templates, specs."""

from __future__ import annotations

from decimal import Decimal

import pytest

from providers.novita.mapping import gpu_model_of, product_offer, spec_from_instance, template_entry
from providers.novita.tests.helpers import fixture, offers

# --- prices and upfront charges ----------------------------------------------------------------------------


def test_novita_offer_from_a_product():
    a100 = next(o for o in offers() if o.sku == "A100-80GB.14c240g")
    assert (a100.name, a100.kind, a100.gpu_model, a100.gpu_count, a100.gpu_memory_gb) == (
        "A100 SXM 80GB",
        "gpu",
        "A100",
        1,
        80,
    )
    assert a100.price_per_hour == Decimal("1.6")  # "160000" in 1/100 000 USD
    assert a100.available is True
    assert a100.extra == {
        "regions": ["US-CA-06 (California)"],
        "minRootFS": 10,
        "maxRootFS": 1024,
        "billingMethods": ["onDemand", "spot", "monthly"],
        "spotPrice": "0.80000",
        "monthlyPrice": [{"month": 1, "price": "950.00000"}, {"month": 3, "price": "2700.00000"}],
        "inventoryState": "high",
        "cpuPerGpu": 14,
        "memoryPerGpu": 240,
        "diskPerGpu": 1024,
    }
    assert a100.raw == fixture("products")["data"][0]


def test_novita_offer_availability_needs_capacity_and_stock():
    by_sku = {o.sku: o for o in offers()}
    assert by_sku["4090.16c62g"].available is True  # low stock is still stock
    assert by_sku["H100-80GB.16c200g"].available is False
    no_stock = {**fixture("products")["data"][0], "inventoryState": "none"}
    assert product_offer(no_stock).available is False


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("RTX 4090 24GB", "RTX 4090"),
        ("A100 SXM 80GB", "A100"),
        ("NVIDIA H100 80GB HBM3", "H100"),
        ("RTX A6000 48GB", "RTX A6000"),
        ("L40S 48GB", "L40S"),
        ("RTX 3090 Ti", "RTX 3090 Ti"),
    ],
)
def test_novita_gpu_model_names(name, model):
    assert gpu_model_of(name) == model


def test_novita_spec_from_instance():
    spec = spec_from_instance(fixture("instance_running"))
    assert spec == {
        "name": "llama-serve-01",
        "productId": "A100-80GB.14c240g",
        "gpuNum": 1,
        "rootfsSize": 100,
        "imageUrl": "docker.io/vllm/vllm-openai:latest",
        "ports": "8000/http, 22/tcp, 8888/http",
        "envs": [{"key": "HF_TOKEN", "value": "hf_xxx"}],
        "clusterId": "5",
        "networkStorages": [{"Id": "d4e82677-3f80-4020-a731-d15b1c589aa8", "mountPoint": "/network"}],
        "kind": "gpu",
        "billingMode": "onDemand",
    }


def test_novita_template_entry_reads_what_the_schema_leaves_open():
    entry = template_entry(
        {
            "id": 9,
            "ports": [{"type": "http", "ports": "8080, 8090"}, {"type": "tcp", "ports": 0}, "22/tcp"],
            "envs": [{"key": "A", "value": "secret"}, {"key": ""}, "B=1"],
            "tools": [{"name": "Jupyter", "port": 8888}],
            "rootfsSize": "40",
        },
        "private",
    )
    assert entry == {
        "id": "9",
        "name": "9",
        "channel": "private",
        "image": "",
        "start_command": "",
        "rootfs_gb": 40,
        "ports": [{"port": 8080, "type": "http"}, {"port": 8090, "type": "http"}],
        "env_keys": ["A"],
        "tools": ["Jupyter"],
    }
    assert template_entry({"name": "no id"}, "official") is None
    assert template_entry("tpl-1", "official") is None
