"""The deployment ``make run``'s demo team starts with on Replicate: shared/vendor-apis/replicate.md (deployments.create example),
so the sandbox takes it exactly as the vendor would. Benchmarks and tests reuse it."""

from __future__ import annotations

from typing import Any

DEMO_SPEC: dict[str, Any] = {
    "name": "demo-image-generator",
    "model": "some-org/some-model",
    "version": "da77bc59ee60423279fd632efb4795ab731d9e3ca9705ef3341091fb989b7eaf",
    "hardware": "gpu-t4",
    "min_instances": 1,
    "max_instances": 5,
}
