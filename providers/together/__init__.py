"""Together AI dedicated container deployments: the package's public surface."""

from __future__ import annotations

from providers.together.provider import *  # noqa: F403  (the split by role follows)
from providers.together.provider import (  # noqa: F401
    _HARDWARE_GPU,
    _number,
    _validate_autoscaling,
    _validate_env,
    _validate_volumes,
)
