"""The deployment ``make run``'s demo team starts with on Novita AI: shared/vendor-apis/novita.md (Create Instance example),
so the sandbox takes it exactly as the vendor would. Benchmarks and tests reuse it."""

from __future__ import annotations

from typing import Any

DEMO_SPEC: dict[str, Any] = {
    "name": "demo-llama-serve",
    "productId": "A100-80GB.14c240g",
    "kind": "gpu",
    "gpuNum": 1,
    "rootfsSize": 100,
    "imageUrl": "docker.io/vllm/vllm-openai:latest",
    "ports": "8000/http, 22/tcp",
    "billingMode": "onDemand",
}
