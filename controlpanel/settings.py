"""Settings for the GPU deployment control panel.

Everything comes from the environment (see ``.env.example``). The defaults run the
panel on one machine with nothing installed: SQLite and a filesystem Celery broker
under ``var/``, and, with ``DEBUG`` on, secrets generated once into ``var/``.
With ``DEBUG`` off every secret must be given, or start-up fails loudly.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from controlpanel.env import env_bool, env_float, env_int, env_list, env_rate_limits, env_secret, env_str
from providers.registry import SLUGS

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("PANEL_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)
# With DEBUG on, still answer a missing page or a crash with the panel's own 404/500
# pages rather than Django's technical ones (``make run`` turns it on; see core/errors.py).
PANEL_FRIENDLY_ERRORS = env_bool("PANEL_FRIENDLY_ERRORS", False)


def _generated_secret(name: str, make: callable) -> str:
    """A secret kept in ``var/`` with mode 0600: the embedded default, never production."""
    if not DEBUG:
        raise ImproperlyConfigured(f"{name} must be set when DEBUG is off (see .env.example)")
    path = VAR_DIR / name.lower()
    if not path.exists():
        # Written whole under a temporary name, then linked in: two processes starting at
        # once (make test runs two pytest sessions) both read one complete secret.
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(make())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # the other process was first: use its secret
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text().strip()


SECRET_KEY = env_secret("SECRET_KEY") or _generated_secret("SECRET_KEY", lambda: secrets.token_urlsafe(50))

# Fernet keys that encrypt vendor API keys at rest. The first encrypts; all decrypt,
# so a new key can be put in front and old rows re-encrypted with `manage.py rotate_fernet`.
FERNET_KEYS = env_list("FERNET_KEYS") or [_generated_secret("FERNET_KEYS", lambda: Fernet.generate_key().decode())]

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "ninja",  # only for its bundled Swagger UI assets (static/ninja/): the docs page needs no CDN
    "controlpanel.core",
    "controlpanel.teams",
    "controlpanel.audit",
    "controlpanel.credentials",
    "controlpanel.deployments",
    "controlpanel.catalog",
    "controlpanel.sandbox",
    "controlpanel.notifications",
    "controlpanel.limits",
    "controlpanel.unmanaged",
    "controlpanel.blueprints",
    "controlpanel.api",
    "controlpanel.costs",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "controlpanel.api.middleware.ApiErrorShapeMiddleware",  # /api/ errors are JSON, whoever answered
    "controlpanel.core.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "controlpanel.audit.middleware.RequestContextMiddleware",
    "controlpanel.teams.middleware.CurrentTeamMiddleware",
    "controlpanel.core.errors.FriendlyErrorsMiddleware",
]

ROOT_URLCONF = "controlpanel.urls"
WSGI_APPLICATION = "controlpanel.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "controlpanel.teams.context_processors.team",
                "controlpanel.core.context_processors.parts",
                "controlpanel.costs.context_processors.cost_alerts",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'panel.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share the file: WAL lets readers run beside the writer, and
    # IMMEDIATE transactions queue writers instead of failing with "database is locked".
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth and sessions ---------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "deployments:dashboard"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 60 * 60 * 12)
# On shared machines: end the session when the browser closes, not only after SESSION_COOKIE_AGE.
SESSION_EXPIRE_AT_BROWSER_CLOSE = env_bool("SESSION_EXPIRE_AT_BROWSER_CLOSE", False)
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
# Log-in throttling: this many failures for one username from one IP locks that pair out
# for the window (counted in the cache below, so every gunicorn process sees the same count).
PANEL_LOGIN_MAX_FAILURES = env_int("PANEL_LOGIN_MAX_FAILURES", 5)
PANEL_LOGIN_LOCKOUT_SECONDS = env_int("PANEL_LOGIN_LOCKOUT_SECONDS", 15 * 60)
# Password-reset mails per address and per client address in an hour.
PANEL_RESET_MAX_PER_HOUR = env_int("PANEL_RESET_MAX_PER_HOUR", 5)
# How long an invitation link stays valid.
PANEL_INVITE_DAYS = env_int("PANEL_INVITE_DAYS", 7)
# Reset links (Django's own tokens) expire after this long.
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 60 * 60 * 3)

# The REST API (/api/v1/): requests a token may make per minute (counted in the cache
# below, per token), and how long a token's last use is left alone before it is rewritten.
PANEL_API_RATE_PER_MINUTE = env_int("PANEL_API_RATE_PER_MINUTE", 120)
PANEL_API_PAGE_SIZE = env_int("PANEL_API_PAGE_SIZE", 50)

# --- Production hardening (all on unless DEBUG; each can be set explicitly) ----------
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Asking browsers to preload HSTS binds the whole domain for months: the operator's call
# (SECURE_HSTS_PRELOAD=true), so `check --deploy` does not nag about it being off.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (controlpanel/core/csp.py): the panel's own files only. No inline
# script or style and no eval anywhere.
PANEL_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Behind a reverse proxy, record the client's address (from X-Forwarded-For) in the audit log.
USE_X_FORWARDED_FOR = env_bool("USE_X_FORWARDED_FOR", False)
# /healthz is probed over plain HTTP by load balancers and compose.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Tracebacks shown or mailed with DEBUG on must not carry vendor keys.
DEFAULT_EXCEPTION_REPORTER_FILTER = "controlpanel.core.security.PanelExceptionReporterFilter"

# --- i18n, static --------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Email (invitations, password resets) -------------------------------------------
EMAIL_HOST = env_str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD") or ""
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "GPU Control Panel <panel@localhost>")

# --- Cache (log-in throttling) -------------------------------------------------------
# Shared by every web process: Redis when there is one, else files under var/ (the
# per-process memory cache would let each gunicorn worker count failures on its own).
REDIS_URL = env_str("REDIS_URL")
_CACHE_PREFIX = env_str("CACHE_KEY_PREFIX", "panel")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": _CACHE_PREFIX,
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
            "KEY_PREFIX": _CACHE_PREFIX,
        }
    }

# --- Celery --------------------------------------------------------------------------
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    # How long an unacked message waits before Redis hands it out again (a killed worker's
    # task comes back after this). Longer than the longest retry countdown (120 s) plus the
    # hard time limit (90 s), so a scheduled retry is not normally delivered twice; should
    # one be, or should an acks_late task outlive it, the row's claim turns the copy away.
    # The beat sweep re-sends lost work after PANEL_STALE_WORK_SECONDS anyway.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 300)}
    _prefix = env_str("CELERY_KEY_PREFIX")
    if _prefix:
        CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = _prefix
else:
    # The embedded default: messages are files under var/broker, no server needed.
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://localhost/"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),  # fanout (remote control); default is ./control
        "store_processed": False,
    }
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_TASK_IGNORE_RESULT = True
# A task is told to stop at the soft limit and killed at the hard one; a row's claim older
# than the hard limit belongs to a killed worker (services.sweeps). The chaos suite shortens
# both so a killed worker's rows are taken over within its run.
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 60)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 90)
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "controlpanel")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TASK_ALWAYS_EAGER = False

PANEL_SWEEP_SECONDS = env_float("PANEL_SWEEP_SECONDS", 2.0)
# Work (a submission or an action) whose next attempt is this overdue, with no attempt in
# flight, has lost its message: the beat sweep sends it again from the database.
PANEL_STALE_WORK_SECONDS = env_int("PANEL_STALE_WORK_SECONDS", 90)
# A submission's or action's retry waits a full-jitter backoff from this base, never longer
# than the cap (nor shorter than a vendor's Retry-After).
PANEL_RETRY_BASE_SECONDS = env_float("PANEL_RETRY_BASE_SECONDS", 2.0)
PANEL_RETRY_MAX_SECONDS = env_float("PANEL_RETRY_MAX_SECONDS", 120.0)
# How old an account's catalog (markets, plans, products, prices) may get; the sweep resyncs it.
PANEL_CATALOG_SYNC_SECONDS = env_int("PANEL_CATALOG_SYNC_SECONDS", 15 * 60)
# Notifications: how often new timeline lines become notifications, and how deliveries retry.
PANEL_NOTIFY_SWEEP_SECONDS = env_float("PANEL_NOTIFY_SWEEP_SECONDS", 5.0)
PANEL_NOTIFY_TIMEOUT_SECONDS = env_float("PANEL_NOTIFY_TIMEOUT_SECONDS", 5.0)
PANEL_NOTIFY_RETRY_BASE_SECONDS = env_float("PANEL_NOTIFY_RETRY_BASE_SECONDS", 10.0)
PANEL_NOTIFY_MAX_ATTEMPTS = env_int("PANEL_NOTIFY_MAX_ATTEMPTS", 6)
# A channel whose tries failed this many times in a row is marked failing and not retried.
PANEL_NOTIFY_FAILING_AFTER = env_int("PANEL_NOTIFY_FAILING_AFTER", 10)
# The panel's address as people reach it, for links in notifications sent by workers.
PANEL_BASE_URL = env_str("PANEL_BASE_URL", f"http://127.0.0.1:{env_int('PORT', 8000)}").rstrip("/")
# Time limits: a warning this many minutes before one acts; PANEL_TIME_SCALE makes panel
# hours pass faster (3600: an hour a second), for tests and demos only.
PANEL_TTL_WARN_MINUTES = env_int("PANEL_TTL_WARN_MINUTES", 15)
PANEL_TIME_SCALE = env_float("PANEL_TIME_SCALE", 1.0)
# Money (controlpanel.costs): how often budgets and balances are checked, how often a key's
# prepaid balance is read from its vendor, and how many hours of burn left warn.
PANEL_COSTS_SWEEP_SECONDS = env_int("PANEL_COSTS_SWEEP_SECONDS", 60)
PANEL_BALANCE_REFRESH_SECONDS = env_int("PANEL_BALANCE_REFRESH_SECONDS", 600)
PANEL_BALANCE_WARN_HOURS = env_int("PANEL_BALANCE_WARN_HOURS", 24)
CELERY_BEAT_SCHEDULE = {
    "refresh-accounts": {
        "task": "controlpanel.deployments.tasks.refresh_accounts_task",
        "schedule": PANEL_SWEEP_SECONDS,
    },
    "notifications": {
        "task": "controlpanel.notifications.tasks.notifications_sweep_task",
        "schedule": PANEL_NOTIFY_SWEEP_SECONDS,
    },
    "limits": {
        "task": "controlpanel.limits.tasks.limits_sweep_task",
        "schedule": PANEL_SWEEP_SECONDS,
    },
    "costs": {
        "task": "controlpanel.costs.tasks.costs_sweep_task",
        "schedule": PANEL_COSTS_SWEEP_SECONDS,
    },
}
# Beat's scheduler also watches the worker's heartbeat: "worker down" is sent from beat,
# since no worker can send it (controlpanel/notifications/watch.py).
CELERY_BEAT_SCHEDULER = "controlpanel.notifications.watch.WatchingScheduler"

# --- The panel -----------------------------------------------------------------------
PORT = env_int("PORT", 8000)
# The built-in vendor sandbox (/sandbox/...): anyone who can reach the panel can write to it,
# so it is off unless this turns it on, whatever DEBUG says. `make run`, the tests, the demo
# and the benchmarks turn it on.
PANEL_SANDBOX = env_bool("PANEL_SANDBOX", False)
# A sandbox account (one per key) holds at most this many objects; past it, creates are refused.
SANDBOX_MAX_OBJECTS_PER_ACCOUNT = env_int("SANDBOX_MAX_OBJECTS_PER_ACCOUNT", 20000)
# Any key starting with "sandbox" is its own account: past this many accounts, a new key's
# first create is refused, so a stranger cannot fill the database by inventing keys.
SANDBOX_MAX_ACCOUNTS = env_int("SANDBOX_MAX_ACCOUNTS", 1000)
# The largest request body a sandbox endpoint reads (bytes); a larger one is answered 413.
SANDBOX_MAX_BODY_BYTES = env_int("SANDBOX_MAX_BODY_BYTES", 256 * 1024)
# Where workers reach the built-in vendor sandbox (sandbox accounts resolve against it).
PANEL_SANDBOX_URL = env_str("PANEL_SANDBOX_URL", f"http://127.0.0.1:{PORT}/sandbox").rstrip("/")
# How often an account with deployments in motion, or all steady, is polled.
PANEL_REFRESH_FAST_SECONDS = env_float("PANEL_REFRESH_FAST_SECONDS", 3.0)
PANEL_REFRESH_SLOW_SECONDS = env_float("PANEL_REFRESH_SLOW_SECONDS", 30.0)
# A working key with none of our deployments is still listed, this often, for its
# resources not managed by the panel (controlpanel/unmanaged).
PANEL_REFRESH_IDLE_SECONDS = env_float("PANEL_REFRESH_IDLE_SECONDS", 300.0)
# A refresh lease not released by then (worker crashed) may be claimed again.
PANEL_REFRESH_LEASE_SECONDS = env_int("PANEL_REFRESH_LEASE_SECONDS", 120)
# List-first polling (controlpanel/deployments/services/refresh.py): for vendors whose list
# says less than a read by id (Novita, Fluence, Nosana), a detail read goes to rows that are
# new, changed in the list or in motion, plus steady rows in rotation so that every row's
# detail is re-read at least once a PERIOD; at most BUDGET detail reads per poll of one
# account, CONCURRENCY at a time (each through the account's rate limiter).
PANEL_REFRESH_DETAIL_PERIOD_SECONDS = env_float("PANEL_REFRESH_DETAIL_PERIOD_SECONDS", 3600.0)
PANEL_REFRESH_DETAIL_BUDGET = env_int("PANEL_REFRESH_DETAIL_BUDGET", 200)
PANEL_REFRESH_DETAIL_CONCURRENCY = env_int("PANEL_REFRESH_DETAIL_CONCURRENCY", 4)
# A refresh that has run this long stops between rows and continues in a follow-up task,
# well before the task's soft time limit (CELERY_TASK_SOFT_TIME_LIMIT) could kill it.
PANEL_REFRESH_TIME_BUDGET_SECONDS = env_float("PANEL_REFRESH_TIME_BUDGET_SECONDS", 30.0)
# A list missing more than this share (percent) of an account's listed rows, and more than
# SUSPECT_MIN rows, at once is suspect: logged, shown on the key's row, and no row is lost.
PANEL_REFRESH_SUSPECT_SHARE = env_int("PANEL_REFRESH_SUSPECT_SHARE", 20)
PANEL_REFRESH_SUSPECT_MIN = env_int("PANEL_REFRESH_SUSPECT_MIN", 5)
# A worker whose last heartbeat is older than this is reported down by /healthz.
PANEL_HEARTBEAT_MAX_AGE = env_int("PANEL_HEARTBEAT_MAX_AGE", 60)
# Every page's "the worker is down" banner reads the heartbeats at most this often (0: always).
PANEL_PARTS_CACHE_SECONDS = env_int("PANEL_PARTS_CACHE_SECONDS", 5)
PANEL_HTTP_TIMEOUT = env_float("PANEL_HTTP_TIMEOUT", 30.0)
# Every vendor call passes its account's token bucket, shared by every worker: in Redis
# with REDIS_URL, else in this SQLite file (one machine). The pace per vendor is its
# documented limit (Provider.rate_limit_per_minute); this overrides it, e.g.
# "replicate=3000/50,novita=120": requests a minute, "/burst" optional, "*" every vendor,
# 0 no limit.
PANEL_RATE_LIMITS = env_rate_limits("PANEL_RATE_LIMITS", vendors=SLUGS)
PANEL_RATE_LIMIT_FILE = Path(env_str("PANEL_RATE_LIMIT_FILE", str(VAR_DIR / "ratelimit.sqlite3")))
# The longest a call waits for its account's turn; past it the call fails as transient
# ("rate limited by the panel") and its task retries later, so no worker hangs on a busy key.
PANEL_RATE_LIMIT_MAX_WAIT = env_float("PANEL_RATE_LIMIT_MAX_WAIT", 10.0)
PANEL_RATE_LIMIT_KEY_PREFIX = f"{_CACHE_PREFIX}:ratelimit:"
# The sandbox's simulated provisioning time for new deployments.
# Where the Novita twin counts its instance pages from: 0, as Novita's docs (pageNum ">= 0")
# and the cnovita client read it, or 1, as Novita's MCP server does (page 0 then reads as 1).
SANDBOX_NOVITA_PAGE_BASE = env_int("SANDBOX_NOVITA_PAGE_BASE", 0)
SANDBOX_PROVISION_SECONDS = env_float("SANDBOX_PROVISION_SECONDS", 6.0)
# Nosana's jobs run for the deployment's timeout in minutes; the sandbox runs each
# "minute" for this many seconds (1.0: a 60-minute job ends after a minute).
SANDBOX_NOSANA_SECONDS_PER_MINUTE = env_float("SANDBOX_NOSANA_SECONDS_PER_MINUTE", 1.0)

# --- Logging: never headers, bodies or keys (see STYLE.md) --------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "django.db.backends": {"level": "WARNING"},
        # One line per task every couple of seconds drowns what matters; services log that.
        "celery.app.trace": {"level": "WARNING"},
        "celery.worker.strategy": {"level": "WARNING"},
        "celery.beat": {"level": "WARNING"},
    },
}
