"""Nosana: deployments paid from credits with an API key (a package split by role)."""

from __future__ import annotations

from providers.nosana.provider import *  # noqa: F403  (the split follows in the next commit)
from providers.nosana.provider import CRON_RE, JOB_DEFINITION_SCHEMA, STRATEGIES, NosanaProvider  # noqa: F401
