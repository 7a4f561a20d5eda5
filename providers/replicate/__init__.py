"""Replicate deployments (being split by role; see provider.py)."""

from __future__ import annotations

from providers.replicate.provider import *  # noqa: F403
