"""The one HTTP client every adapter uses.

It owns what is the same for every vendor: explicit timeouts, the mapping from HTTP
to the error types in ``providers.base``, and retries. Only safe methods (GET, HEAD)
are retried here, a few times with jittered exponential backoff that honours
``Retry-After``; a wait longer than ``max_inline_wait`` is not slept but raised as
``RateLimited`` so the Celery task can reschedule itself instead of blocking a worker.
Writes are never retried here: whether a retried create is safe is the caller's call.

Given a ``Limiter`` (``providers.ratelimit``), every try first takes a token from the
account's bucket, and a 429 penalizes the whole account for the vendor's
``Retry-After``; a retry after a 429 then waits in the limiter with everyone else
instead of sleeping on its own on top of it.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from providers.base import (
    AuthError,
    ErrorDetail,
    NotFound,
    ProviderError,
    RateLimited,
    Rejected,
    SpecError,
    Transient,
)

if TYPE_CHECKING:
    from providers.ratelimit import Limiter

logger = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD"})
MAX_MESSAGE = 2000  # vendor messages are stored and shown; keep them bounded
REDACTED = "[redacted]"
MIN_SECRET = 8  # shorter header values are not worth hiding and would mangle messages
# A 429 without Retry-After pauses the account this long, doubling per try (capped):
# long enough to matter to a vendor's per-second window, short enough to retry inline.
DEFAULT_PENALTY = 1.0
MAX_DEFAULT_PENALTY = 30.0


def _secrets_in(headers: dict[str, str]) -> tuple[str, ...]:
    """The credentials in an adapter's auth headers: each whole value and the token
    after its scheme ("Bearer <key>"), longest first so a prefix never wins."""
    found = {part.strip() for value in headers.values() for part in (value, value.partition(" ")[2])}
    return tuple(sorted((s for s in found if len(s) >= MIN_SECRET), key=len, reverse=True))


def _scrub(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, dict):
        return {k: _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, secrets) for v in value]
    return value


def backoff_seconds(attempt: int, retry_after: float | None = None, *, base: float = 0.5, cap: float = 30.0) -> float:
    """Full-jitter exponential backoff, never shorter than the vendor's Retry-After."""
    delay = random.uniform(0, min(cap, base * (2**attempt)))
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def response_text(response: httpx.Response) -> str:
    try:
        text = response.text
    except (UnicodeDecodeError, httpx.ResponseNotRead):
        text = ""
    return text.strip()[:MAX_MESSAGE]


def json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class VendorHTTP:
    def __init__(
        self,
        *,
        base_url: str,
        headers: dict[str, str],
        error_detail: Callable[[httpx.Response], ErrorDetail | None] | None = None,
        client: httpx.Client | None = None,
        timeout: float = 30.0,
        max_retries: int = 2,
        max_inline_wait: float = 5.0,
        limiter: Limiter | None = None,
        limit_key: str = "",
    ) -> None:
        self.base_url = base_url
        self._headers = {"Accept": "application/json", **headers}
        self._secrets = _secrets_in(headers)
        self._error_detail = error_detail
        self._owns_client = client is None
        self._client = client or httpx.Client(timeout=httpx.Timeout(timeout, connect=min(5.0, timeout)))
        self.max_retries = max_retries
        self.max_inline_wait = max_inline_wait
        self._limiter = limiter
        self._limit_key = limit_key or base_url

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path  # e.g. Replicate's full "next" page URLs
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        retry: bool | None = None,
    ) -> httpx.Response:
        """Send one request and return a 2xx response, or raise a typed error."""
        method = method.upper()
        retry = method in SAFE_METHODS if retry is None else retry
        attempt = 0
        while True:
            if self._limiter is not None:
                self._limiter.acquire(self._limit_key)  # outside the try: its Transient is final
            try:
                return self._send_once(method, path, json=json, params=params)
            except Transient as exc:
                pause = self._penalize(exc, attempt) if isinstance(exc, RateLimited) else None
                if not retry or attempt >= self.max_retries:
                    raise
                if pause is not None:  # the limiter's next acquire waits it out, for every caller
                    if pause > self.max_inline_wait:
                        raise
                    logger.info("retrying %s %s after the account's %.1fs pause: %s", method, path, pause, exc.message)
                else:
                    delay = backoff_seconds(attempt, exc.retry_after)
                    if delay > self.max_inline_wait:
                        raise
                    logger.info("retrying %s %s in %.1fs after: %s", method, path, delay, exc.message)
                    time.sleep(delay)
                attempt += 1

    def _penalize(self, exc: RateLimited, attempt: int) -> float | None:
        """Pause the whole account after a 429: the vendor's ``Retry-After``, or a default
        that doubles per try. ``None`` without a limiter (the caller then sleeps itself)."""
        if self._limiter is None:
            return None
        seconds = exc.retry_after
        if seconds is None:
            seconds = min(MAX_DEFAULT_PENALTY, DEFAULT_PENALTY * (2**attempt))
        self._limiter.penalize(self._limit_key, seconds)
        return seconds

    def _send_once(self, method: str, path: str, *, json: Any, params: dict[str, Any] | None) -> httpx.Response:
        headers = dict(self._headers)
        if json is not None:
            headers["Content-Type"] = "application/json"
        try:
            response = self._client.request(method, self.url(path), json=json, params=params, headers=headers)
        except httpx.TimeoutException as exc:
            raise Transient(f"the vendor did not answer in time ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise Transient(f"could not reach the vendor ({type(exc).__name__})") from None
        if response.is_success:
            return response
        raise self.redact(self.error_for(response))

    def redact(self, exc: ProviderError) -> ProviderError:
        """Some vendors echo the key they refused; error text is stored and shown, so
        the key comes out of the message, the field messages and the body."""
        if not self._secrets:
            return exc
        exc.message = _scrub(exc.message, self._secrets)
        exc.args = tuple(_scrub(arg, self._secrets) for arg in exc.args)
        exc.body = _scrub(exc.body, self._secrets)
        if isinstance(exc, SpecError):
            exc.fields = _scrub(exc.fields, self._secrets)
        return exc

    def error_for(self, response: httpx.Response) -> ProviderError:
        """Map a non-2xx response onto the error types. This is the one place HTTP
        statuses become error types; the adapter's ``error_detail`` hook says what the
        body means (its message, the fields it names, the rare override)."""
        status = response.status_code
        body = json_or_none(response)
        detail = (self._error_detail(response) if self._error_detail else None) or ErrorDetail()
        message = (detail.message or _message(response, body) or f"HTTP {status}")[:MAX_MESSAGE]
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        kind = detail.error or error_type_for(status, names_fields=bool(detail.fields))
        if kind is SpecError:
            return SpecError(detail.fields or {"": [message]}, status_code=status, body=body)
        if issubclass(kind, Transient):
            if kind is Transient and status >= 500:
                message = f"vendor error {status}: {message}"[:MAX_MESSAGE]
            return kind(message, retry_after=retry_after, status_code=status, body=body)
        return kind(message, status_code=status, body=body)

    # Shorthands.
    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)


def error_type_for(status: int, *, names_fields: bool = False) -> type[ProviderError]:
    """The error type an HTTP status means, for every vendor. A 4xx body that names
    fields is a SpecError whatever its status (short of auth, absence and rate limits)."""
    if status == 429:
        return RateLimited
    if status >= 500 or status == 408:
        return Transient
    if status in (401, 403):
        return AuthError
    if status == 404:
        return NotFound
    if status in (400, 422) or names_fields:
        return SpecError
    return Rejected


def _message(response: httpx.Response, body: Any) -> str:
    """The most human part of an error body, whatever its shape."""
    if isinstance(body, dict):
        for key in ("message", "detail", "error", "title"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value[:MAX_MESSAGE]
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                return value["message"][:MAX_MESSAGE]
    if isinstance(body, str) and body:
        return body[:MAX_MESSAGE]
    return response_text(response)
