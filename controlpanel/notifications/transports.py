"""How one message reaches one channel: a signed webhook, Slack, or email.

Each transport raises :class:`TransportError` with ``permanent`` set when no retry can
help (healthchecks' TransportError): a 4xx other than 408/429, a malformed target.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings
from django.core.mail import send_mail

SIGNATURE_HEADER = "X-Panel-Signature"
TIMESTAMP_HEADER = "X-Panel-Timestamp"
# 408 and 429 are the receiver asking for later; every other 4xx is a refusal.
RETRYABLE_4XX = {408, 425, 429}


@dataclass(frozen=True)
class Answer:
    status_code: int | None = None
    text: str = ""


class TransportError(Exception):
    def __init__(self, message: str, *, permanent: bool = False, answer: Answer | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.answer = answer or Answer()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256 over ``"<timestamp>.<body>"``: the timestamp is
    signed too, so a receiver can refuse an old message replayed with its signature."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def webhook_body(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str).encode()


def _post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
    try:
        response = httpx.post(
            url,
            content=body,
            headers={"Content-Type": "application/json", "User-Agent": "gpu-control-panel", **headers},
            timeout=settings.PANEL_NOTIFY_TIMEOUT_SECONDS,
            follow_redirects=False,  # a redirect could carry the signed body somewhere else
        )
    except httpx.TimeoutException as exc:
        raise TransportError(f"Timed out after {settings.PANEL_NOTIFY_TIMEOUT_SECONDS:g} s") from exc
    except httpx.InvalidURL as exc:
        raise TransportError(f"Not a usable URL: {exc}", permanent=True) from exc
    except httpx.HTTPError as exc:
        raise TransportError(f"Could not connect: {exc.__class__.__name__}") from exc
    answer = Answer(response.status_code, response.text[:500])
    if response.is_success:
        return answer
    permanent = 300 <= response.status_code < 500 and response.status_code not in RETRYABLE_4XX
    raise TransportError(f"The receiver answered {response.status_code}", permanent=permanent, answer=answer)


def send_webhook(*, url: str, secret: str, payload: Mapping[str, Any], delivery_id: int) -> Answer:
    body = webhook_body(payload)
    timestamp = str(int(time.time()))
    headers = {
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        "X-Panel-Event": str(payload.get("kind", "")),
        # The same delivery retried carries the same id: a receiver can drop repeats.
        "X-Panel-Delivery": str(delivery_id),
    }
    return _post(url, body, headers)


def send_slack(*, url: str, subject: str, body: str) -> Answer:
    # Slack's incoming webhooks take {"text": ...} with mrkdwn; they answer 200 "ok"
    # (https://api.slack.com/messaging/webhooks).
    text = f"*{_slack_escape(subject)}*\n{_slack_escape(body)}" if body else f"*{_slack_escape(subject)}*"
    return _post(url, webhook_body({"text": text}), {})


def _slack_escape(text: str) -> str:
    # The three characters Slack asks to escape in message text
    # (https://api.slack.com/reference/surfaces/formatting#escaping).
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def send_email(*, addresses: list[str], subject: str, body: str) -> Answer:
    try:
        sent = send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, addresses, fail_silently=False)
    except Exception as exc:  # SMTP errors come in many classes; all are worth a retry
        raise TransportError(f"The mail server refused it: {exc.__class__.__name__}") from exc
    return Answer(None, f"sent to {sent} recipient list" if sent else "")
