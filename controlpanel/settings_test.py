"""Settings for the test suite: the production settings, isolated from a running panel.

Tests get their own ``var/test`` folder (SQLite file, filesystem broker, throwaway
secrets) and, when ``REDIS_URL`` is set, their own Redis key prefix, so a ``make run``
on the same machine never consumes a test's tasks or the other way round.
"""

from __future__ import annotations

import os
from pathlib import Path

_BASE = Path(__file__).resolve().parent.parent
# Each xdist process (gw0, gw1, …) gets its own folder, broker keys, queue and cache
# prefix: `make test` runs the unit layer (under xdist) beside the real-worker tests, and
# that layer's Celery worker must never take a task a unit test queued against its own
# database.
_XDIST = os.environ.get("PYTEST_XDIST_WORKER", "")
os.environ.setdefault("PANEL_VAR_DIR", str(_BASE / "var" / (f"test-{_XDIST}" if _XDIST else "test")))
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("CELERY_KEY_PREFIX", f"paneltest{_XDIST}:")
os.environ.setdefault("CELERY_QUEUE", f"controlpanel-test{_XDIST}")
os.environ.setdefault("CACHE_KEY_PREFIX", f"paneltest{_XDIST}")
os.environ.setdefault("SANDBOX_PROVISION_SECONDS", "2")
os.environ.setdefault("PANEL_SANDBOX", "true")
# No rate limit unless a test asks for one: the suite's accounts share ids across test
# runs and xdist workers, and a unit test must never wait for another's bucket.
os.environ.setdefault("PANEL_RATE_LIMITS", "*=0")
# Every test reads the heartbeats afresh: a cached "worker down" must not leak into the next test.
os.environ.setdefault("PANEL_PARTS_CACHE_SECONDS", "0")

from controlpanel.settings import *  # noqa: E402,F403
from controlpanel.settings import DATABASES, VAR_DIR  # noqa: E402

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so the Celery worker started by integration tests sees it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
