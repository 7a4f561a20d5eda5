from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_GET

from controlpanel.celery import app
from controlpanel.core.models import Heartbeat
from controlpanel.core.parts import beat_max_age, parts_status, worker_max_age
from providers.registry import VENDORS


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:  # any failure is the answer here
        return f"unreachable ({type(exc).__name__})"


def _broker() -> str:
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return "ok"
    except Exception as exc:
        return f"unreachable ({type(exc).__name__})"


def _heartbeat(kind: str, max_age: int) -> str:
    try:
        latest = Heartbeat.objects.filter(kind=kind).order_by("-seen_at").values_list("seen_at", flat=True).first()
    except Exception as exc:
        return f"unknown ({type(exc).__name__})"
    if latest is None:
        return f"no {kind} has reported yet"
    age = (timezone.now() - latest).total_seconds()
    if age > max_age:
        return f"last seen {int(age)}s ago"
    return "ok"


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness of each part, for load balancers and compose. No login, no secrets."""
    checks = {
        "database": _database(),
        "broker": _broker(),
        # The same limits as every page's banner (controlpanel.core.parts).
        "worker": _heartbeat("worker", worker_max_age()),
        "beat": _heartbeat("beat", beat_max_age()),
    }
    healthy = all(value == "ok" for value in checks.values())
    body = {"status": "ok" if healthy else "degraded", "checks": checks, "time": timezone.now().isoformat()}
    return JsonResponse(body, status=200 if healthy else 503)


@require_GET
@cache_control(max_age=3600, public=True)
def vendor_css(request: HttpRequest) -> HttpResponse:
    """Each vendor's colour, from the registry: the dashboard's dots and badges. A
    stylesheet of its own rather than inline styles, which a Content-Security-Policy
    would refuse."""
    rules = "".join(f".vendor-dot.v-{v.slug} {{ background: {v.colour}; }}\n" for v in VENDORS)
    return HttpResponse(rules, content_type="text/css; charset=utf-8")


@never_cache
@login_required
@require_GET
def parts_banner(request: HttpRequest) -> HttpResponse:
    """Every page's worker/beat banner, polled: ``204`` while what it says about is unchanged
    (``?k=``), so a page left open learns that the worker stopped or came back."""
    if request.htmx and request.GET.get("k") == parts_status().kind:
        return HttpResponse(status=204)
    return render(request, "components/_parts_banner.html")
