"""The deployment ``make run``'s demo team starts with on Fluence: the Fluence seed's container deploy example (shared/seeds),
so the sandbox takes it exactly as the vendor would. Benchmarks and tests reuse it."""

from __future__ import annotations

from typing import Any

DEMO_SPEC: dict[str, Any] = {
    "kind": "container",
    "plan_id": "075e40d4-2766-4347-833b-205245fe3629",
    "name": "demo-gpu-container",
    "container_settings": {
        "image": "docker.io/fluencelabs/debian-ssh-root:11",
        "expose": [{"port": "22", "protocol": "tcp"}, {"port": "80", "protocol": "http"}],
        "environment": [{"name": "MODEL_PATH", "value": "/models/llama"}],
    },
    "constraints": {"location": "US"},
}
