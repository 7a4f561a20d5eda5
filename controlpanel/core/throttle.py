"""Log-in throttling: too many failures for one username from one address locks that pair;
and a cap on password-reset mails, so the reset form cannot be used to flood an inbox.

Counts live in Django's cache (Redis, or files under ``var/``), which every gunicorn
process shares. The window is fixed from the first failure, so a lock-out ends at a
time the page can name ("try again in N minutes"). Keys are hashed: no username or
address is written into the cache in the clear.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)


def _now() -> float:
    return time.time()


def _key(username: str, ip: str | None) -> str:
    raw = f"{username.strip().lower()}|{ip or '-'}"
    return "login-failures:" + hashlib.sha256(raw.encode()).hexdigest()


def login_lockout_seconds(*, username: str, ip: str | None) -> int:
    """Seconds until this username may try again from this address; 0 when it may now."""
    state = cache.get(_key(username, ip))
    if not state or state["count"] < settings.PANEL_LOGIN_MAX_FAILURES:
        return 0
    return max(0, math.ceil(state["until"] - _now()))


def login_failure_record(*, username: str, ip: str | None) -> int:
    """Count one failure; returns the lock-out in seconds it caused (0 if none yet)."""
    key, now = _key(username, ip), _now()
    state = cache.get(key)
    if not state or state["until"] <= now:
        state = {"count": 0, "until": now + settings.PANEL_LOGIN_LOCKOUT_SECONDS}
    state["count"] += 1
    # The entry expires with its window: the cache itself forgets old failures.
    cache.set(key, state, timeout=max(1, math.ceil(state["until"] - now)))
    if state["count"] >= settings.PANEL_LOGIN_MAX_FAILURES:
        logger.warning("log-in locked for username=%r ip=%s after %s failures", username, ip, state["count"])
        return max(1, math.ceil(state["until"] - now))
    return 0


def login_failures_clear(*, username: str, ip: str | None) -> None:
    cache.delete(_key(username, ip))


def minutes(seconds: int) -> int:
    return max(1, math.ceil(seconds / 60))


def _reset_key(kind: str, value: str) -> str:
    return f"password-reset:{kind}:" + hashlib.sha256(value.strip().lower().encode()).hexdigest()


def password_reset_allowed(*, email: str, ip: str | None) -> bool:
    """Count one reset request; ``False`` once this address or this client has asked
    ``PANEL_RESET_MAX_PER_HOUR`` times in the hour (fixed window from the first request).
    Both are counted: one client cycling through addresses, or many clients aiming at one."""
    allowed = True
    for key in (_reset_key("email", email), _reset_key("ip", ip or "-")):
        now = _now()
        state = cache.get(key)
        if not state or state["until"] <= now:
            state = {"count": 0, "until": now + 3600}
        state["count"] += 1
        cache.set(key, state, timeout=max(1, math.ceil(state["until"] - now)))
        if state["count"] > settings.PANEL_RESET_MAX_PER_HOUR:
            allowed = False
    if not allowed:
        logger.warning("password reset mail not sent: too many requests (ip=%s)", ip)
    return allowed


def password_reset_counts_clear(*, email: str, ip: str | None) -> None:
    cache.delete_many([_reset_key("email", email), _reset_key("ip", ip or "-")])
