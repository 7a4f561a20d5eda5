"""Novita's log streams: the system log (scheduling, image pull) and the container's own
log, from the stream URLs in ``connectComponentLog`` [V].

Those URLs belong to whatever host Novita names, so they are fetched with no
Authorization header: the key is never sent to a host the vendor's answer chose. They
are capability URLs, masked in ``Remote.raw``; the adapter reads them fresh each time.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from providers.base import LogLines, ProviderError, Rejected, Transient
from providers.coerce import text
from providers.novita.mapping import none_if_empty

LOG_LINES = 1000  # kept per source (the panel keeps its own last N)
LOG_LINE_MAX = 4000
LOG_MAX_BYTES = 4_000_000
LOG_READ_SECONDS = 10.0
LOG_IDLE_SECONDS = 3.0


def read_logs(item: Mapping[str, Any], *, which: str, client: httpx.Client | None, timeout: float) -> LogLines:
    """The system log (scheduling, image pull) then the container's own log of the
    instance ``item`` (a get answer, unmasked), the last ``LOG_LINES`` of them."""
    block = item.get("connectComponentLog")
    block = block if isinstance(block, Mapping) else {}
    sources = [
        (label, text(block.get(key)))
        for label, key in (("system", "systemLogAddress"), ("instance", "instanceLogAddress"))
        if which in ("both", label)
    ]
    sources = [(label, url) for label, url in sources if url]
    if not sources:
        status = none_if_empty(item.get("status")) or "unknown"
        return LogLines(lines=[f"Novita offers no log stream for this instance now (it is {status})."], source="")
    lines: list[str] = []
    failures: list[ProviderError] = []
    for label, url in sources:
        try:
            got = read_stream(url, client=client, timeout=timeout)
        except ProviderError as exc:
            failures.append(exc)
            lines.append(f"── {label} log unavailable: {exc.message} ──")
            continue
        if len(sources) > 1:
            lines.append(f"── {label} log ──")
        lines.extend(got or [f"(the {label} log is empty)"])
    if len(failures) == len(sources):
        raise failures[-1]
    return LogLines(lines=lines[-LOG_LINES:], source=" and ".join(f"{label} log" for label, _ in sources))


def read_stream(url: str, *, client: httpx.Client | None, timeout: float) -> list[str]:
    """The last ``LOG_LINES`` lines of a text stream. A stream that stays open (it
    follows the log [I]) is read until it falls quiet or the time budget is spent."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Rejected("Novita named a log address that is not an http(s) URL.")
    limits = httpx.Timeout(timeout, connect=5.0, read=LOG_IDLE_SECONDS)
    shared = client is not None
    client = client or httpx.Client(timeout=limits)
    request = client.build_request("GET", url, headers={"Accept": "text/plain"}, timeout=limits)
    request.headers.pop("Authorization", None)  # even if a shared client carried one
    lines: deque[str] = deque(maxlen=LOG_LINES)
    deadline = time.monotonic() + LOG_READ_SECONDS
    try:
        response = client.send(request, stream=True)
    except httpx.TimeoutException:
        raise Transient("the log stream did not answer in time") from None
    except httpx.TransportError as exc:
        raise Transient(f"could not reach the log stream ({type(exc).__name__})") from None
    try:
        if not response.is_success:
            status = response.status_code
            # Not providers.http's mapping: no key goes to this host, so a 401/403 says
            # nothing about the account, and a 404 is an expired stream, not a lost instance.
            kind = Transient if status >= 500 or status == 429 else Rejected
            raise kind(f"the log stream answered HTTP {status}", status_code=status)
        read = 0
        try:
            for line in response.iter_lines():
                lines.append(line[:LOG_LINE_MAX])
                read += len(line)
                if read > LOG_MAX_BYTES or time.monotonic() > deadline:
                    break
        except httpx.ReadTimeout:
            pass  # a following stream with nothing new: what came so far is the log
        except httpx.TransportError as exc:
            if not lines:
                raise Transient(f"the log stream broke off ({type(exc).__name__})") from None
    finally:
        response.close()
        if not shared:
            client.close()
    return list(lines)
