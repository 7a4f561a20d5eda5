"""What the API tests share: a token for a member, and calls that send it."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from controlpanel.api.services import api_token_create


def token_for(user: Any, team: Any, name: str = "test") -> str:
    return api_token_create(user=user, team=team, name=name, actor=user)[1]


def call(method: str, path: str, token: str | None, body: Any = None, **headers: str) -> Any:
    client = Client()
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    if token is not None:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    kwargs: dict[str, Any] = {}
    if body is not None:
        kwargs = {"data": json.dumps(body), "content_type": "application/json"}
    return getattr(client, method.lower())(f"/api/v1{path}", **kwargs, **extra)


def together_fields(account: Any, **overrides: Any) -> dict[str, Any]:
    """Together's form, as JSON: the same values the browser tests post."""
    fields = {
        "account": account.pk,
        "name": "flux-worker",
        "image": "registry.together.ai/p/flux:1",
        "gpu_type": "h100-80gb",
        "gpu_count": 1,
        "min_replicas": 1,
        "max_replicas": 2,
    }
    fields.update(overrides)
    return fields
