"""Together AI dedicated container deployments ("jig"): the adapter, every HTTP call.

Contract: ``shared/vendor-apis/together.md`` and the OpenAPI excerpt in
``shared/seeds/001_0c9ef9f7f55b23e7.txt`` (``CreateDeploymentRequest``,
``DeploymentResponseItem``), kept as ``openapi.json`` beside this module. What the
calls send and read is in ``mapping``, the rules in ``rules``, the status table in
``statuses``, prices in ``prices`` and error bodies in ``errors``.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from providers.base import (
    AccountInfo,
    Action,
    AuthError,
    ErrorDetail,
    LogLines,
    NotFound,
    Offer,
    Provider,
    Rejected,
    Remote,
    ValidationContext,
)
from providers.together import errors, mapping
from providers.together.prices import hourly_rate, rates_from
from providers.together.rules import check_scale, check_spec
from providers.together.statuses import STATUS_TABLE

REVISIONS_SHOWN = 20  # of the 50 Together keeps the configuration of (jig.py retrieve_revision)


class TogetherProvider(Provider):
    name: ClassVar[str] = "together"
    default_base_url: ClassVar[str] = "https://api.together.ai/v1"
    sandbox_path: ClassVar[str] = "/together/v1"
    # No start/stop routes: both are PATCHes of the replica bounds [V].
    status_table = STATUS_TABLE
    actions: ClassVar[frozenset[Action]] = frozenset(
        {Action.START, Action.STOP, Action.SCALE, Action.UPDATE, Action.DELETE, Action.LOGS}
    )
    unique_names: ClassVar[bool] = True  # name is "the unique identifier" and works in paths [V]
    provision_deadline: ClassVar[int] = 30 * 60  # dedicated GPUs, image pull and model load: the default
    redeploys: ClassVar[bool] = True  # a PATCH of the same spec rolls the replicas anew
    rolls_back: ClassVar[bool] = True  # /deployments/{id}/revisions and /rollback (together 3.1.1)

    def error_detail(self, response: httpx.Response) -> ErrorDetail | None:
        return errors.error_detail(response)

    def to_remote(self, item: dict[str, Any]) -> Remote:
        return mapping.remote_from(item, base_url=self._http.base_url)

    # --- rules and prices -----------------------------------------------------------------
    @classmethod
    def validate(cls, spec: dict[str, Any], context: ValidationContext | None = None) -> dict[str, Any]:
        """The whole ``CreateDeploymentRequest``. Together's rules need nothing beyond the
        spec: an update sends the same full request, so ``context`` changes nothing."""
        return check_spec(spec)

    @classmethod
    def validate_scale(cls, changes: dict[str, Any]) -> dict[str, Any]:
        return check_scale(changes)

    @classmethod
    def estimate_price(cls, spec: dict[str, Any], offers: Iterable[Offer] = ()) -> Decimal | None:
        return hourly_rate(spec.get("gpu_type"), spec.get("gpu_count"), rates_from(offers))

    # --- lifecycle ----------------------------------------------------------------------
    def create(self, spec: dict[str, Any]) -> Remote:
        body = check_spec(spec)
        return self.to_remote(self._http.post("/deployments", json=body).json())

    def get(self, external_id: str) -> Remote:
        return self.to_remote(self._http.get(_path(external_id)).json())

    def list_remotes(self) -> list[Remote]:
        # One call for the whole project: the route has no pagination [V].
        data = self._http.get("/deployments").json()
        return [self.to_remote(item) for item in (data.get("data") or [])]

    def spec_for_adoption(self, remote: Remote) -> dict[str, Any]:
        return mapping.spec_from_detail(remote.raw)

    def find_by_name(self, name: str) -> Remote | None:
        try:
            return self.get(name)  # {id} accepts the name [V]
        except NotFound:
            return None

    def _patch(self, external_id: str, body: dict[str, Any]) -> Remote:
        return self.to_remote(self._http.patch(_path(external_id), json=body).json())

    def update(self, external_id: str, spec: dict[str, Any], previous: dict[str, Any] | None = None) -> Remote:
        """Send the new spec in full (``mapping.patch_body``). One PATCH carries every
        change; ``previous`` only says whether a model mount is being removed."""
        body = mapping.patch_body(spec)
        if (previous or {}).get("model_mounts") and "model_mounts" not in body:
            body["model_mounts"] = []  # removed: an absent list would keep the old mount
        return self._patch(external_id, check_spec(body, partial=True))

    def scale(self, external_id: str, changes: dict[str, Any]) -> Remote:
        return self._patch(external_id, check_scale(changes))

    def stop(self, external_id: str, spec: dict[str, Any]) -> Remote:
        # Hard stop: both bounds to zero, so neither traffic nor autoscaling wakes it.
        # Whether the live API takes max_replicas 0 is unverified (notes §2); if it
        # refuses, its 400 reaches the user in its own words.
        return self._patch(external_id, {"min_replicas": 0, "max_replicas": 0})

    def start(self, external_id: str, spec: dict[str, Any]) -> Remote:
        low = max(int(spec.get("min_replicas") or 1), 1)  # a stopped spec may say 0 or nothing
        high = max(int(spec.get("max_replicas", low) or low), low)
        return self._patch(external_id, {"min_replicas": low, "max_replicas": high})

    def delete(self, external_id: str) -> None:
        self._http.delete(_path(external_id))

    def logs(self, external_id: str, *, replica_id: str | None = None, **_: Any) -> LogLines:
        params = {"replica_id": replica_id} if replica_id else None
        data = self._http.get(f"{_path(external_id)}/logs", params=params).json()
        lines = data.get("lines") if isinstance(data, dict) else None
        return LogLines(lines=[str(line) for line in (lines or [])], source=replica_id or "")

    def revisions(self, external_id: str, *, limit: int = REVISIONS_SHOWN) -> list[dict[str, Any]]:
        """The revision history, newest first: ``GET /deployments/{id}/revisions`` (together
        3.1.1 resources/beta/jig/jig.py ``list_revisions``; ``limit`` at most 100)."""
        data = self._http.get(f"{_path(external_id)}/revisions", params={"limit": limit}).json()
        items = data.get("data") if isinstance(data, dict) else None
        events = (mapping.revision_event(i) for i in (items or []) if isinstance(i, dict))
        return [e for e in events if e is not None]

    def rollback(self, external_id: str, revision: str, spec: dict[str, Any]) -> tuple[Remote, dict[str, Any]]:
        """``POST /deployments/{id}/rollback {"revision_identifier"}`` (jig.py ``rollback``:
        "Re-applies the spec of a previous revision", answering the Deployment); returns it
        and the spec the panel keeps from it."""
        item = self._http.post(f"{_path(external_id)}/rollback", json={"revision_identifier": str(revision)}).json()
        return self.to_remote(item), mapping.spec_after_rollback(spec, item)

    # --- account and catalog ------------------------------------------------------------
    def verify(self) -> AccountInfo:
        count = len(self.list_remotes())
        noun = "deployment" if count == 1 else "deployments"
        return AccountInfo(summary=f"Key accepted: {count} container {noun} in this project.")

    def secrets(self) -> list[dict[str, Any]]:
        return list(self._http.get("/deployments/secrets").json().get("data") or [])

    def volumes(self) -> list[dict[str, Any]]:
        return list(self._http.get("/deployments/storage/volumes").json().get("data") or [])

    def account_metadata(self) -> dict[str, Any]:
        return {"secrets": mapping.names(self.secrets()), "volumes": mapping.names(self.volumes())}

    def catalog(self) -> list[Offer]:
        """GPU types with prices. ``/hardware`` serves dedicated *endpoints*; using its
        rates for containers is the notes' assumption [I], so each offer says so."""
        try:
            items = self._http.get("/hardware").json().get("data") or []
        except (NotFound, Rejected):
            items = []
        except AuthError as exc:
            # /hardware belongs to dedicated endpoints and may be forbidden (403) to a
            # project whose key is fine for containers; a 401 is still the key's fault.
            if exc.status_code != 403:
                raise
            items = []
        return mapping.catalog_offers(items)


def _path(external_id: str) -> str:
    """A deployment's route; ``{id}`` takes the id or the name, escaped whole."""
    return f"/deployments/{quote(external_id, safe='')}"
