"""The one translation: a neutral spec into each vendor's form, one case per vendor per
field; each vendor's spec back to a neutral one; offers matched; secrets stripped."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from providers.base import Offer
from providers.neutral import (
    NeutralSpec,
    differences,
    from_vendor,
    match_offer,
    refused_for_capacity,
    strip_secrets,
    to_form,
)

SPEC = NeutralSpec(
    name="vllm-h100",
    image="vllm/vllm-openai:latest",
    command="--model Qwen/Qwen2.5-7B-Instruct --port 8000",
    env=(("MODEL_DIR", "/models"), ("HF_TOKEN", "")),
    port=8000,
    gpu_model="H100",
    gpu_count=2,
    memory_gb=64,
    disk_gb=120,
    region="DE",
    max_price_per_hour=Decimal("10"),
)

OFFERS = {
    "together": Offer(sku="h100-80gb", name="NVIDIA H100 80GB", gpu_model="NVIDIA H100 80GB", gpu_count=1),
    "nosana": Offer(sku="market-h100", name="H100", kind="market", gpu_model="H100", gpu_memory_gb=80),
    "replicate": Offer(sku="gpu-h100x2", name="2x Nvidia H100 GPU", gpu_model="H100", gpu_count=2),
    "fluence": Offer(
        sku="plan-h100x2",
        name="2× H100",
        kind="container",
        gpu_model="H100",
        gpu_count=2,
        gpu_memory_gb=80,
        location="DE, US",
        extra={"locations": ["DE", "US"], "memory_gb": 128, "storage_gb": 200},
    ),
    "novita": Offer(sku="1xH100", name="H100 SXM 80GB", kind="gpu", gpu_model="H100 SXM 80GB", gpu_count=1),
}

ABSENT = object()

# (vendor, neutral field, form path, expected value): "main.<field>" or "rows.<prefix>".
CASES: list[tuple[str, str, str, Any]] = [
    # Together: every field has a place but the region
    ("together", "name", "main.name", "vllm-h100"),
    ("together", "image", "main.image", "vllm/vllm-openai:latest"),
    ("together", "command", "main.args", ["--model", "Qwen/Qwen2.5-7B-Instruct", "--port", "8000"]),
    (
        "together",
        "env",
        "rows.env",
        [
            {"name": "MODEL_DIR", "source": "value", "value": "/models"},
            {"name": "HF_TOKEN", "source": "value", "value": ""},
        ],
    ),
    ("together", "port", "main.port", 8000),
    ("together", "gpu_model", "main.gpu_type", "h100-80gb"),
    ("together", "gpu_count", "main.gpu_count", 2),
    ("together", "memory_gb", "main.memory", 64),
    ("together", "disk_gb", "main.storage", 120),
    ("together", "region", "main.region", ABSENT),
    # Nosana: a container/run op on a market
    ("nosana", "name", "main.name", "vllm-h100"),
    ("nosana", "image", "main.image", "vllm/vllm-openai:latest"),
    ("nosana", "command", "main.cmd", "--model Qwen/Qwen2.5-7B-Instruct --port 8000"),
    ("nosana", "env", "rows.env", [{"name": "MODEL_DIR", "value": "/models"}, {"name": "HF_TOKEN", "value": ""}]),
    ("nosana", "port", "rows.ports", [{"port": 8000, "type": ""}]),
    ("nosana", "gpu_model", "main.market", "market-h100"),
    ("nosana", "gpu_count", "main.replicas", ABSENT),  # one GPU per job: replicas are other jobs
    ("nosana", "memory_gb", "main.required_vram", 80),  # the GPU's memory, not the host's
    ("nosana", "disk_gb", "main.disk", ABSENT),
    ("nosana", "region", "main.region", ABSENT),
    # Replicate: a model on hardware; nothing of the container travels
    ("replicate", "name", "main.name", "vllm-h100"),
    ("replicate", "image", "main.model", ABSENT),
    ("replicate", "command", "main.version", ABSENT),
    ("replicate", "env", "rows.env", ABSENT),
    ("replicate", "port", "main.port", ABSENT),
    ("replicate", "gpu_model", "main.hardware", "gpu-h100x2"),
    ("replicate", "gpu_count", "main.min_instances", ABSENT),
    ("replicate", "memory_gb", "main.memory", ABSENT),
    ("replicate", "disk_gb", "main.disk", ABSENT),
    ("replicate", "region", "main.region", ABSENT),
    # Fluence: a container plan
    ("fluence", "name", "main.name", "vllm-h100"),
    ("fluence", "image", "main.image", "vllm/vllm-openai:latest"),
    ("fluence", "command", "main.startup_command", "--model Qwen/Qwen2.5-7B-Instruct --port 8000"),
    ("fluence", "env", "rows.env", [{"name": "MODEL_DIR", "value": "/models"}, {"name": "HF_TOKEN", "value": ""}]),
    ("fluence", "port", "rows.ports", [{"port": "8000", "protocol": "tcp"}]),
    ("fluence", "gpu_model", "main.plan_id", "plan-h100x2"),
    ("fluence", "gpu_count", "main.kind", "container"),
    ("fluence", "memory_gb", "main.memory", ABSENT),
    ("fluence", "disk_gb", "main.disk", ABSENT),
    ("fluence", "region", "main.location", "DE"),
    # Novita: a product per GPU
    ("novita", "name", "main.name", "vllm-h100"),
    ("novita", "image", "main.imageUrl", "vllm/vllm-openai:latest"),
    ("novita", "command", "main.command", "--model Qwen/Qwen2.5-7B-Instruct --port 8000"),
    ("novita", "env", "rows.env", [{"key": "MODEL_DIR", "value": "/models"}, {"key": "HF_TOKEN", "value": ""}]),
    ("novita", "port", "rows.ports", [{"port": 8000, "type": "http"}]),
    ("novita", "gpu_model", "main.productId", "1xH100"),
    ("novita", "gpu_count", "main.gpuNum", 2),
    ("novita", "memory_gb", "main.memory", ABSENT),
    ("novita", "disk_gb", "main.rootfsSize", 120),
    ("novita", "region", "main.clusterId", ABSENT),
]


@pytest.mark.parametrize(("vendor", "field", "path", "expected"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_to_form_puts_each_neutral_field_where_the_vendor_form_reads_it(vendor, field, path, expected):
    initial, rows = to_form(vendor, SPEC, OFFERS[vendor])
    where, _, key = path.partition(".")
    value = (initial if where == "main" else rows).get(key, ABSENT)
    assert value == expected


def test_every_vendor_and_field_has_a_case():
    fields = {"name", "image", "command", "env", "port", "gpu_model", "gpu_count", "memory_gb", "disk_gb", "region"}
    from providers.registry import SLUGS

    for vendor in SLUGS:  # a new vendor in the registry needs its cases here
        assert {f for v, f, _p, _e in CASES if v == vendor} == fields, vendor


@pytest.mark.parametrize(
    ("vendor", "said"),
    [
        ("together", "No region choice: the vendor places it."),
        ("nosana", "Memory is not chosen: the host decides."),
        ("replicate", "Replicate runs a model, not an image: choose a model and version on its form."),
        ("replicate", "No environment variables."),
        ("fluence", "Memory comes with the offer: 128 GB."),
        ("fluence", "Port 8000 is forwarded as tcp: only port 80 gets an HTTPS URL."),
        ("novita", "Memory is not chosen: the host decides."),
    ],
)
def test_differences_name_what_each_vendor_cannot_do(vendor, said):
    assert said in differences(vendor, SPEC, OFFERS[vendor])


def test_replicate_says_nothing_of_a_container_it_was_not_asked_for():
    plain = NeutralSpec(name="x", gpu_model="H100")
    assert differences("replicate", plain, OFFERS["replicate"]) == []


# --- vendor spec -> neutral ---------------------------------------------------------------------------


def test_from_together_reads_command_args_env_and_resources():
    spec = {
        "name": "flux",
        "image": "registry.together.ai/p/flux:1",
        "command": ["/bin/sh", "-c"],
        "args": ["python serve.py"],
        "gpu_type": "h100-80gb",
        "gpu_count": 2,
        "memory": 32,
        "storage": 100,
        "port": 8000,
        "environment_variables": [{"name": "A", "value": "1"}, {"name": "TOKEN", "value_from_secret": "tok"}],
    }
    neutral = from_vendor("together", spec)
    assert neutral.image == "registry.together.ai/p/flux:1"
    assert neutral.command == "/bin/sh -c 'python serve.py'"
    assert neutral.env == (("A", "1"),)  # a reference to a Together secret does not travel
    assert (neutral.gpu.display_name, neutral.gpu_count) == ("H100 80GB", 2)
    assert (neutral.memory_gb, neutral.disk_gb, neutral.port) == (32, 100, 8000)


def test_from_nosana_names_the_market_gpu_through_the_catalog():
    spec = {
        "name": "job",
        "market": "market-h100",
        "job_definition": {
            "ops": [{"type": "container/run", "args": {"image": "ubuntu", "cmd": ["echo hi"], "expose": 8000}}]
        },
    }
    neutral = from_vendor("nosana", spec, [OFFERS["nosana"]])
    assert (neutral.image, neutral.command, neutral.port) == ("ubuntu", "echo hi", 8000)
    assert neutral.gpu.display_name == "H100 80GB"


def test_from_fluence_and_novita_read_the_plan_and_product():
    fluence = from_vendor(
        "fluence",
        {
            "kind": "container",
            "name": "f",
            "plan_id": "plan-h100x2",
            "constraints": {"location": "DE"},
            "container_settings": {"image": "img", "expose": [{"port": "80", "protocol": "http"}]},
        },
        [OFFERS["fluence"]],
    )
    assert (fluence.gpu_count, fluence.port, fluence.region) == (2, 80, "DE")
    novita = from_vendor(
        "novita", {"name": "n", "productId": "1xH100", "gpuNum": 4, "imageUrl": "img", "ports": "8000/http"}
    )
    assert (novita.gpu_count, novita.port, novita.image) == (4, 8000, "img")
    assert novita.gpu_model == ""  # the product is not in the catalog given: no GPU named


# --- offers ----------------------------------------------------------------------------------------


def test_match_offer_prices_per_gpu_vendors_by_the_count_asked():
    offer = Offer(sku="h100-80gb", name="H100", gpu_model="NVIDIA H100 80GB", price_per_hour=Decimal("3.36"))
    match = match_offer("together", offer, NeutralSpec(gpu_model="H100 80GB", gpu_count=2))
    assert match is not None
    assert match.price_per_hour == Decimal("6.72")


def test_match_offer_refuses_another_gpu_count_price_or_kind():
    h100 = NeutralSpec(gpu_model="H100", gpu_count=2)
    assert match_offer("nosana", OFFERS["nosana"], h100) is None  # one GPU per job
    assert match_offer("fluence", OFFERS["fluence"], NeutralSpec(gpu_model="H100", gpu_count=1)) is None
    assert match_offer("together", OFFERS["together"], NeutralSpec(gpu_model="A100")) is None
    vm = Offer(sku="vm-1", name="vm", kind="vm", gpu_model="H100", gpu_count=2)
    assert match_offer("fluence", vm, h100) is None  # a VM runs no container
    cheap = NeutralSpec(gpu_count=1, max_price_per_hour=Decimal("1"))
    pricey = Offer(sku="x", name="x", gpu_model="H100", price_per_hour=Decimal("2"))
    assert match_offer("novita", pricey, cheap) is None
    unpriced = Offer(sku="y", name="y", gpu_model="H100")
    assert match_offer("novita", unpriced, cheap) is None  # an unknown price is not under a limit


def test_match_offer_marks_offers_outside_the_region():
    spec = NeutralSpec(gpu_model="H100", gpu_count=2, region="US")
    assert match_offer("fluence", OFFERS["fluence"], spec).in_region
    spec = NeutralSpec(gpu_model="H100", gpu_count=2, region="JP")
    far = match_offer("fluence", OFFERS["fluence"], spec)
    assert not far.in_region
    assert "Not in JP." in far.differences


# --- secrets and capacity ---------------------------------------------------------------------------


def test_strip_secrets_empties_secret_values_and_keeps_the_rest():
    spec = {
        "name": "x",
        "environment_variables": [
            {"name": "HF_TOKEN", "value": "hf_secret"},
            {"name": "MODEL", "value": "qwen"},
            {"name": "DB", "value_from_secret": "db-password"},
        ],
    }
    kept, dropped = strip_secrets("together", spec)
    assert kept["environment_variables"][0] == {"name": "HF_TOKEN", "value": ""}
    assert kept["environment_variables"][1] == {"name": "MODEL", "value": "qwen"}
    assert kept["environment_variables"][2] == {"name": "DB", "value_from_secret": "db-password"}
    assert dropped == ["HF_TOKEN"]
    assert spec["environment_variables"][0]["value"] == "hf_secret"  # the original is untouched


@pytest.mark.parametrize(
    ("vendor", "spec", "dropped", "gone"),
    [
        (
            "nosana",
            {"job_definition": {"ops": [{"args": {"env": {"API_KEY": "k", "MODE": "fast"}}}]}},
            ["API_KEY"],
            "k",
        ),
        (
            "fluence",
            {
                "container_settings": {
                    "environment": [{"name": "PASSWORD", "value": "p4ss"}],
                    "credentials": {"host": "docker.io", "username": "me", "password": "reg-secret"},
                }
            },
            ["PASSWORD", "registry password"],
            "reg-secret",
        ),
        (
            "novita",
            {"envs": [{"key": "SECRET_X", "value": "s3"}], "imageAuth": "me:pw-secret"},
            ["SECRET_X", "registry user:password"],
            "pw-secret",
        ),
    ],
)
def test_strip_secrets_for_each_vendor(vendor, spec, dropped, gone):
    kept, names = strip_secrets(vendor, spec)
    assert names == dropped
    assert gone not in repr(kept)


@pytest.mark.parametrize(
    ("message", "capacity"),
    [
        ("Unschedulable: 0/12 nodes are available: 12 Insufficient nvidia.com/gpu.", True),
        ("INSUFFICIENT_RESOURCE: no RTX 4090 is free on the node right now", True),
        ("[pod]: [Warning] [FailedScheduling] 0/4 nodes are available", True),
        ("ImagePullBackOff: manifest unknown", False),
        ("", False),
    ],
)
def test_refused_for_capacity_reads_the_vendors_words(message, capacity):
    assert refused_for_capacity(message) is capacity
