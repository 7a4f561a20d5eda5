"""The request a service runs under, for audit entries (the client IP).

Set by ``RequestContextMiddleware`` for web requests; unset in workers, where the
actor is the system and there is no IP to record.
"""

from __future__ import annotations

import contextvars

current_ip: contextvars.ContextVar[str | None] = contextvars.ContextVar("current_ip", default=None)
