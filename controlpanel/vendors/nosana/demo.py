"""The deployment ``make run``'s demo team starts with on Nosana: shared/vendor-apis/nosana.md and the seed's job definition,
so the sandbox takes it exactly as the vendor would. Benchmarks and tests reuse it."""

from __future__ import annotations

from typing import Any

DEMO_SPEC: dict[str, Any] = {
    "name": "demo-llama",
    "market": "97G9NnvBDQ2WpKu6fasoMsAKmfj63C9rhysJnkeWodAf",
    "replicas": 1,
    "timeout": 60,
    "strategy": "INFINITE",
    "job_definition": {
        "version": "0.1",
        "type": "container",
        "meta": {"trigger": "api"},
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

# The demo deployment is INFINITE with a 60-minute timeout, which the twin runs at
# SANDBOX_NOSANA_SECONDS_PER_MINUTE (a minute a second): a benchmark fleet's jobs would
# rotate every few seconds. A week-long timeout keeps the fleet still (bench_refresh).
BENCH_SPEC_CHANGES: dict[str, Any] = {"timeout": 7 * 24 * 60}
