"""A process that calls a vendor through ``provider_for``, as a worker does, for the
shared rate-limit tests: ``python -m tests.integration.ratelimit_caller``.

It sets Django up from the environment it is given (the test database, the live
sandbox, the bucket store), prints ``ready``, then takes commands on stdin, one a line,
and answers each with one JSON line:

- ``hammer <account id> <seconds>``: list the account's deployments again and again;
- ``once <account id>``: list them once.

Each answer holds when the command started and the time every HTTP request left this
process (an httpx event hook: what the vendor would see), and the error, if any.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any


def run(command: str, account_id: int, seconds: float) -> dict[str, Any]:
    from controlpanel.credentials.models import ProviderAccount
    from controlpanel.credentials.services import provider_for
    from providers.base import ProviderError

    account = ProviderAccount.objects.get(pk=account_id)
    sent: list[float] = []
    answer: dict[str, Any] = {"started": time.time(), "requests": sent, "calls": 0, "errors": []}
    with provider_for(account) as provider:
        provider._http._client.event_hooks["request"] = [lambda request: sent.append(time.time())]
        deadline = time.monotonic() + seconds
        while True:
            try:
                provider.list_remotes()
                answer["calls"] += 1
            except ProviderError as exc:
                answer["errors"].append(f"{type(exc).__name__}: {exc.message}")
            if command == "once" or time.monotonic() >= deadline:
                return answer


def main() -> None:
    import django

    django.setup()
    print("ready", flush=True)
    for line in sys.stdin:
        command, account_id, *rest = line.split()
        answer = run(command, int(account_id), float(rest[0]) if rest else 0.0)
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
