"""The deployment ``make run``'s demo team starts with on Together AI: shared/vendor-apis/together.md (its create example) and the seed,
so the sandbox takes it exactly as the vendor would. Benchmarks and tests reuse it."""

from __future__ import annotations

from typing import Any

DEMO_SPEC: dict[str, Any] = {
    "name": "demo-flux-worker",
    "image": "registry.together.xyz/proj_demo/flux-worker:latest",
    "gpu_type": "h100-80gb",
    "gpu_count": 1,
    "min_replicas": 1,
    "max_replicas": 2,
    "port": 8000,
    "health_check_path": "/health",
    "environment_variables": [{"name": "MODEL_PATH", "value": "/models/weights"}],
}
