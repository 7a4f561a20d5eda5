"""Together AI dedicated container deployments, as a package split by role.

- ``provider``: :class:`TogetherProvider`, every HTTP call and the lifecycle;
- ``rules``: the ``CreateDeploymentRequest`` checks, composed of small section checks;
- ``statuses``: the status table (one dict) and what the replica bounds add to it;
- ``prices``: the estimated rates and a replica's hourly price;
- ``mapping``: vendor JSON to ``Remote``/``Offer`` and a spec to a PATCH body;
- ``errors``: the ``error_detail`` hook that reads Together's error bodies;
- ``openapi.json``: the seed's schema excerpt (the twin and the tests read it by path).

``__all__`` is the public surface: the Django side (the form, the twin) imports these
names and nothing else from the package.
"""

from __future__ import annotations

from providers.together.provider import TogetherProvider
from providers.together.rules import (
    AUTOSCALING_METRICS,
    CAPACITY_TYPES,
    CPU_MIN,
    CUSTOM_METRIC,
    GPU_LABELS,
    GPU_TYPES,
    HTTP_METRICS,
    MAX_GPU_COUNT,
    MEMORY_MAX,
    NAME_MAX,
    QUEUE_METRIC,
    STORAGE_MAX,
)

__all__ = [
    "AUTOSCALING_METRICS",
    "CAPACITY_TYPES",
    "CPU_MIN",
    "CUSTOM_METRIC",
    "GPU_LABELS",
    "GPU_TYPES",
    "HTTP_METRICS",
    "MAX_GPU_COUNT",
    "MEMORY_MAX",
    "NAME_MAX",
    "QUEUE_METRIC",
    "STORAGE_MAX",
    "TogetherProvider",
]
