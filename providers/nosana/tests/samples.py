"""What the Nosana tests share: ids, the seed's and the notes' create requests, fixture
JSON (through ``providers.testing``) and checks on the request sent."""

from __future__ import annotations

import json
from typing import Any

import httpx

from providers.testing import load_fixture

BASE = "https://dashboard.k8s.prd.nos.ci"

KEY = "nos_unit_test_key_0001"

DEPLOYMENTS = f"{BASE}/api/deployments"

DEP_ID = "5Fz1mJr2wQh8oV4yXkTq9cBd3NeLuA7sRpW6gHxYzK1M"

DRAFT_ID = "9Hq3xV7kLm2PnR4tWz8yBc5dFg6jKs1uNe3aQw7rTy2E"

ONE = f"{DEPLOYMENTS}/{DEP_ID}"

M4090 = "97G9NnvBDQ2WpKu6fasoMsAKmfj63C9rhysJnkeWodAf"

M3060 = "7AtiXMSH6R1jjBxrcYjehCkkSF7zvYWte63gwEDBcGHq"

# The seed's create request, exactly as written (shared/seeds/000_…).
SEED = {
    "name": "Hello World",
    "market": M3060,
    "timeout": 60,
    "replicas": 1,
    "strategy": "SIMPLE",
    "job_definition": {
        "version": "0.1",
        "type": "container",
        "meta": {"trigger": "api"},
        "ops": [
            {"type": "container/run", "id": "hello-world", "args": {"cmd": ["echo hello world"], "image": "ubuntu"}}
        ],
    },
}

# The notes' create request (§6).
NOTES = {
    "name": "llama-demo",
    "market": M4090,
    "replicas": 1,
    "timeout": 60,
    "strategy": "SIMPLE",
    "job_definition": {
        "version": "0.1",
        "type": "container",
        "meta": {"trigger": "api", "system_requirements": {"required_vram": 16}},
        "ops": [
            {
                "type": "container/run",
                "id": "vllm",
                "args": {
                    "image": "docker.io/vllm/vllm-openai:v0.5.4",
                    "cmd": ["--model", "Qwen/Qwen2.5-1.5B-Instruct"],
                    "gpu": True,
                    "expose": 8000,
                },
            }
        ],
    },
}


def fixture(name: str) -> Any:
    return load_fixture("nosana", name)


def sent_json(route) -> Any:
    return json.loads(route.calls.last.request.content)


def assert_sent(route, method: str, path: str) -> httpx.Request:
    request = route.calls.last.request
    assert request.method == method
    assert request.url.path == path
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    return request


def mock_markets(respx_mock):
    return respx_mock.get(f"{BASE}/api/markets/").respond(200, json=fixture("markets"))
