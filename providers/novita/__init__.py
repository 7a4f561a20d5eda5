"""Novita AI GPU instances: a package from now on; the adapter moved to ``provider``
unchanged, and is split by role in the next commit."""

from __future__ import annotations

from providers.novita.provider import *  # noqa: F403
from providers.novita.provider import NovitaProvider

__all__ = ["NovitaProvider"]
