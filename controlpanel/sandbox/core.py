"""What every vendor twin in the sandbox shares: keys, accounts, faults, JSON.

A twin is a set of Django views under ``/sandbox/<vendor>/`` followed by the
vendor's real path. Each view is wrapped by :func:`endpoint`, which checks the
vendor's auth header (any key starting with ``sandbox`` is good, and is its own
account), applies the switchable faults, and hands the view the account id.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from controlpanel.sandbox.models import SandboxFault, SandboxFull

KEY_PREFIX = "sandbox"


def account_for_key(key: str | None) -> str | None:
    """A stable, non-reversible account id for a sandbox key; ``None`` if it is not one."""
    if not key or not key.startswith(KEY_PREFIX):
        return None
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def bearer_key(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@dataclass(frozen=True)
class Faults:
    latency_ms: int = 0
    error_rate: float = 0.0
    rate_limit_rate: float = 0.0
    retry_after_seconds: int = 2
    timeout_rate: float = 0.0
    timeout_seconds: float = 35.0
    lost_response_rate: float = 0.0
    no_capacity: bool = False


def current_faults(vendor: str) -> Faults:
    rows = {f.vendor: f for f in SandboxFault.objects.filter(vendor__in=[vendor, "*"])}
    row = rows.get(vendor) or rows.get("*")
    if row is None:
        return Faults()
    return Faults(
        latency_ms=row.latency_ms,
        error_rate=row.error_rate,
        rate_limit_rate=row.rate_limit_rate,
        retry_after_seconds=row.retry_after_seconds,
        timeout_rate=row.timeout_rate,
        timeout_seconds=row.timeout_seconds,
        lost_response_rate=row.lost_response_rate,
        no_capacity=row.no_capacity,
    )


class JSONBodyError(Exception):
    pass


def json_body(request: HttpRequest) -> Any:
    if not request.body:
        return None
    try:
        return json.loads(request.body)
    except ValueError as exc:
        raise JSONBodyError(str(exc)) from None
    except RecursionError:  # "[[[[…" nested past what the parser follows
        raise JSONBodyError("nested too deeply") from None


def body_too_big(request: HttpRequest) -> bool:
    """Whether the request carries more than ``SANDBOX_MAX_BODY_BYTES``, judged from its
    Content-Length (a missing or garbled one counts as empty, as Django reads it)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    return length > settings.SANDBOX_MAX_BODY_BYTES


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> JsonResponse:
    return JsonResponse(data, status=status, safe=False, headers=headers, json_dumps_params={"separators": (",", ":")})


@dataclass(frozen=True)
class VendorErrors:
    """How a vendor words the errors the sandbox core produces itself."""

    unauthorized: Callable[[], HttpResponse]
    unavailable: Callable[[], HttpResponse]
    rate_limited: Callable[[int], HttpResponse]
    bad_json: Callable[[str], HttpResponse]


def endpoint(
    vendor: str,
    *,
    key: Callable[[HttpRequest], str | None],
    errors: VendorErrors,
    public: bool = False,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Wrap a twin view: auth, faults, JSON errors. The view gets ``account`` (or
    ``None`` on a public route) and ``faults`` as keyword arguments."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            account = account_for_key(key(request))
            if account is None and not public:
                return errors.unauthorized()
            if body_too_big(request):  # before the body is read or anything is written
                return json_response(
                    {"message": f"request body over {settings.SANDBOX_MAX_BODY_BYTES} bytes"}, status=413
                )
            faults = current_faults(vendor)
            if faults.latency_ms:
                time.sleep(faults.latency_ms / 1000)
            if faults.timeout_rate and random.random() < faults.timeout_rate:
                time.sleep(faults.timeout_seconds)
                return errors.unavailable()
            if faults.rate_limit_rate and random.random() < faults.rate_limit_rate:
                return errors.rate_limited(faults.retry_after_seconds)
            if faults.error_rate and random.random() < faults.error_rate:
                return errors.unavailable()
            try:
                response = view(request, *args, account=account, faults=faults, **kwargs)
            except JSONBodyError as exc:
                return errors.bad_json(str(exc))
            except SandboxFull as exc:  # a 409 is a refusal no retry changes (Rejected)
                return json_response({"message": str(exc)}, status=409)
            if faults.lost_response_rate and random.random() < faults.lost_response_rate:
                # The work is done, the answer never arrives: the case that tempts a
                # client into creating (and paying for) the same thing twice.
                return HttpResponse("Bad Gateway", status=502, content_type="text/plain")
            return response

        wrapped.vendor_public = public  # type: ignore[attr-defined]  # read by the URL-walking test
        return wrapped

    return decorator
