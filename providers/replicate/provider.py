"""The Replicate adapter: every call to Replicate's HTTP API and the lifecycle on top.

Contract: ``shared/vendor-apis/replicate.md`` and the seed
``shared/seeds/002_0d69ab0831111b63.txt``. Deployments live under the account's
username, ``/deployments/{owner}/{name}`` [V]; there are no start/stop/restart/logs
routes [V], so stop and start are PATCHes of the instance bounds (stop: both 0), scale too,
and the account's recent predictions (read once per ``list_remotes()``) are both the
health record and the event history.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from providers.base import (
    AccountInfo,
    Action,
    Activity,
    AuthError,
    ErrorDetail,
    Listing,
    NotFound,
    Offer,
    Provider,
    ProviderError,
    Rejected,
    Remote,
    SpecError,
    ValidationContext,
    VendorEvent,
)
from providers.replicate import errors, mapping
from providers.replicate.prices import hourly_rate
from providers.replicate.rules import UPDATE_FIELDS, check_scale, check_spec
from providers.replicate.statuses import (
    BUSY,
    STATUS_TABLE,
    TERMINAL,
    configuration,
    created,
    delete_blocked,
    instances,
    prediction_time,
)

logger = logging.getLogger(__name__)

# Predictions read per poll: the last half hour (enough for the 15-minute delete rule),
# at most this many pages of 100, newest first (GET /predictions, cursor paged [V]).
RECENT_WINDOW = dt.timedelta(minutes=30)
MAX_PREDICTION_PAGES = 5
# The panel's refresh reads one page (100, newest first) of the predictions created since
# its last list, less this overlap (a prediction made while that list was read), or since
# the oldest one it remembers still running, whichever is earlier, so that one's end is
# seen too; what it remembers of each deployment's recent ones (``raw``) fills in the rest.
SINCE_OVERLAP = dt.timedelta(seconds=30)
# A guard against a vendor that never says next: null. The list has no page size [V: the
# published OpenAPI, deployments.list]; at the twin's 20 a page (its own guess) 1,000 pages
# reach 20,000 deployments, far past 5,000, so a large account's list is still complete.
MAX_LIST_PAGES = 1000

Predictions = list[dict[str, Any]]


class ReplicateProvider(Provider):
    name: ClassVar[str] = "replicate"
    default_base_url: ClassVar[str] = "https://api.replicate.com/v1"
    sandbox_path: ClassVar[str] = "/replicate/v1"
    # No start/stop/restart/logs routes [V]: stop, start and scale are PATCHes of the
    # instance bounds; recent predictions are the event history.
    status_table = STATUS_TABLE
    # min_instances 0 with room to scale and no traffic: asleep, woken by the next prediction;
    # "stopped" (max_instances 0) is the panel's Stop.
    asleep_statuses: ClassVar[frozenset[str]] = frozenset({"offline"})
    actions: ClassVar[frozenset[Action]] = frozenset(
        {Action.START, Action.STOP, Action.SCALE, Action.UPDATE, Action.DELETE, Action.EVENTS}
    )
    unique_names: ClassVar[bool] = True  # owner/name is the URL [V]
    provision_deadline: ClassVar[int] = 45 * 60  # a cold boot of a large model's instances can take long
    scale_keys: ClassVar[tuple[str, ...]] = ("min_instances", "max_instances")
    scale_unit: ClassVar[str] = "instances"
    # "3000 requests per minute" for every endpoint but creating predictions (600, which
    # the panel never calls), "short bursts above these are allowed" [D]:
    # replicate.com/docs/topics/predictions/rate-limits (vendor-apis/replicate.md §4).
    # The burst is one second's worth.
    rate_limit_per_minute: ClassVar[int] = 3000
    rate_limit_burst: ClassVar[int] = 50

    def __init__(self, api_key: str, **kwargs: Any) -> None:
        super().__init__(api_key, **kwargs)
        self._owner: str | None = None  # GET /account, once per adapter instance

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"}  # [V]; "Token <key>" is the older form

    def error_detail(self, response: httpx.Response) -> ErrorDetail | None:
        return errors.error_detail(response)

    # --- rules and prices: class methods, so forms can use them without a key ----------
    @classmethod
    def validate(cls, spec: dict[str, Any], context: ValidationContext | None = None) -> dict[str, Any]:
        """The create body, normalised; for an update (``context.existing``) also what
        Replicate cannot change from ``context.previous``. The catalog is not needed:
        an unknown sku is Replicate's 422 to give."""
        previous = context.previous if context is not None and context.existing else None
        return check_spec(spec, previous=previous)

    @classmethod
    def validate_scale(cls, changes: dict[str, Any]) -> dict[str, Any]:
        return check_scale(changes)

    @classmethod
    def estimate_price(cls, spec: dict[str, Any], offers: Iterable[Offer] = ()) -> Decimal | None:
        """One instance of the spec's hardware per hour (the live catalog first)."""
        rates = {o.sku: o.price_per_hour for o in offers if o.price_per_hour is not None}
        return hourly_rate(spec.get("hardware"), rates)

    @classmethod
    def action_blocked(
        cls, action: Action, *, spec: dict[str, Any], raw: dict[str, Any], since: dt.datetime | None
    ) -> str:
        if action is not Action.DELETE:
            return ""
        return delete_blocked(spec=spec, raw=raw, since=since, now=dt.datetime.now(dt.UTC))

    @classmethod
    def activity(cls, *, spec: dict[str, Any], raw: dict[str, Any]) -> Activity | None:
        """From the last read: min_instances (instances kept warm, billed with no traffic
        [D: billing docs]) and the recent predictions the poll summarised in ``raw``.
        Scaling to zero keeps the maximum, so the next prediction still wakes an instance."""
        config = configuration(raw) if raw.get("current_release") else dict(spec)
        low, high = instances(config.get("min_instances")), instances(config.get("max_instances"))
        predictions = [p for p in raw.get("recent_predictions") or [] if isinstance(p, dict)]
        moments = [t for t in (prediction_time(p) for p in predictions) if t is not None]
        return Activity(
            kept_warm=low,
            busy=any(p.get("status") in BUSY for p in predictions),
            last_active_at=max(moments, default=None),
            scale_to_zero={"min_instances": 0, "max_instances": max(high, 1)},
        )

    # --- identity ------------------------------------------------------------------------
    def owner(self) -> str:
        """The account's username: every deployment lives under it [V]."""
        if self._owner is None:
            self._owner = str(self._account()["username"])
        return self._owner

    def _account(self) -> dict[str, Any]:
        data: dict[str, Any] = self._http.get("/account").json()
        if isinstance(data, dict) and data.get("username"):
            self._owner = str(data["username"])
        return data

    @staticmethod
    def _split(external_id: str) -> tuple[str, str]:
        owner, _, name = external_id.partition("/")
        if not owner or not name:
            raise NotFound(f"not a Replicate deployment id (owner/name): {external_id!r}")
        return owner, name

    def _path(self, external_id: str) -> str:
        owner, name = self._split(external_id)
        return f"/deployments/{quote(owner, safe='')}/{quote(name, safe='')}"

    # --- paging ----------------------------------------------------------------------------
    def _next(self, url: Any) -> str | None:
        """A ``next`` link is a full URL [V]; follow it with the key only on the API's
        own host (and scheme: the docs' example says http://)."""
        if not url or not isinstance(url, str):
            return None
        base, link = urlsplit(self._http.base_url), urlsplit(url)
        if link.netloc and link.netloc != base.netloc:
            raise Rejected(f"Replicate's next page points at another host ({link.netloc}); not sending the key there")
        return urlunsplit((base.scheme, base.netloc, link.path, link.query, ""))

    def _pages(self, path: str, *, params: dict[str, Any] | None = None, limit: int = MAX_LIST_PAGES) -> list[Any]:
        return self._paged(path, params=params, limit=limit)[0]

    def _paged(
        self, path: str, *, params: dict[str, Any] | None = None, limit: int = MAX_LIST_PAGES
    ) -> tuple[list[Any], bool]:
        """Every page's ``results`` following ``next`` [V], and whether the list ended
        (``next`` null) rather than at ``limit`` or on a link seen before."""
        results: list[Any] = []
        url: str | None = path
        seen: set[str] = set()
        for _ in range(limit):
            if url is None:
                return results, True
            if url in seen:
                return results, False
            seen.add(url)
            data = self._http.get(url, params=params if url == path else None).json()
            results += (data or {}).get("results") or []
            url = self._next((data or {}).get("next"))
        return results, url is None

    # --- recent predictions: the only health record ------------------------------------------
    def recent_predictions(self, *, now: dt.datetime | None = None) -> Predictions | None:
        """The account's predictions of the last ``RECENT_WINDOW``, newest first; ``None``
        when they cannot be read (the deployments are still worth showing)."""
        now = now or dt.datetime.now(dt.UTC)
        after = (now - RECENT_WINDOW).isoformat(timespec="seconds").replace("+00:00", "Z")
        try:
            return self._pages("/predictions", params={"created_after": after}, limit=MAX_PREDICTION_PAGES)
        except AuthError:
            raise
        except ProviderError as exc:
            logger.warning("replicate: recent predictions unavailable: %s", exc.message)
            return None

    def _belongs(self, prediction: dict[str, Any], external_id: str) -> bool:
        # The notes leave open whether ``deployment`` is "owner/name" or "name": accept both.
        owner, name = self._split(external_id)
        value = prediction.get("deployment")
        return value in (external_id, name) if isinstance(value, str) else False

    def _group(self, predictions: Predictions, external_ids: Iterable[str]) -> dict[str, Predictions]:
        grouped: dict[str, Predictions] = {ref: [] for ref in external_ids}
        for prediction in predictions:
            for ref in grouped:
                if self._belongs(prediction, ref):
                    grouped[ref].append(prediction)
                    break
        return grouped

    # --- mapping ----------------------------------------------------------------------
    def to_remote(
        self,
        item: dict[str, Any],
        predictions: Predictions | None = None,
        *,
        now: dt.datetime | None = None,
    ) -> Remote:
        owner, name = str(item.get("owner") or ""), str(item.get("name") or "")
        url = f"{self._http.base_url}{self._path(f'{owner}/{name}')}/predictions" if owner and name else ""
        return mapping.to_remote(item, predictions, predictions_url=url, now=now or dt.datetime.now(dt.UTC))

    def _with_health(self, item: dict[str, Any]) -> Remote:
        ref = mapping.external_id_of(item)
        predictions = self.recent_predictions()
        mine = None if predictions is None else self._group(predictions, [ref])[ref]
        return self.to_remote(item, mine)

    # --- lifecycle ------------------------------------------------------------------------
    def create(self, spec: dict[str, Any]) -> Remote:
        body = check_spec(spec)
        # 200 [V: the published OpenAPI, deployments.create]; any 2xx body is read the same.
        item = self._http.post("/deployments", json=body).json()
        return self.to_remote(item, [])  # a new deployment has made no predictions yet

    def get(self, external_id: str) -> Remote:
        return self._with_health(self._http.get(self._path(external_id)).json())

    def list_remotes(self) -> list[Remote]:
        return self.listing().remotes

    def listing(
        self, *, known: Mapping[str, Mapping[str, Any]] | None = None, since: dt.datetime | None = None
    ) -> Listing:
        """Every deployment (its list pages), and one page of predictions: those created
        after ``since`` (see ``SINCE_OVERLAP``), merged with what ``known`` remembers of
        each deployment's recent ones, so the health of each reads as if the whole
        window had been read."""
        items, complete = self._paged("/deployments")
        now = dt.datetime.now(dt.UTC)
        refs = [mapping.external_id_of(i) for i in items]
        remembered = {ref: list(((known or {}).get(ref) or {}).get("recent_predictions") or []) for ref in refs}
        fresh = self._predictions_page(self._predictions_after(now, since, remembered)) if items else []
        grouped = self._group(fresh or [], refs)
        remotes = []
        for item, ref in zip(items, refs, strict=True):
            merged = _merged(remembered[ref], grouped[ref], now=now)
            remotes.append(self.to_remote(item, merged if fresh is not None else None, now=now))
        return Listing(remotes, complete=complete)

    @staticmethod
    def _predictions_after(
        now: dt.datetime, since: dt.datetime | None, remembered: Mapping[str, Predictions]
    ) -> dt.datetime:
        start = now - RECENT_WINDOW
        if since is None:
            return start
        after = since - SINCE_OVERLAP
        for predictions in remembered.values():
            for prediction in predictions:
                if prediction.get("status") not in TERMINAL:
                    after = min(after, created(prediction) - dt.timedelta(seconds=1))
        return max(start, after)

    def _predictions_page(self, after: dt.datetime) -> Predictions | None:
        """One page of ``GET /predictions?created_after=`` (100, newest first [V]);
        ``None`` when it cannot be read."""
        stamp = after.isoformat(timespec="seconds").replace("+00:00", "Z")
        try:
            return self._pages("/predictions", params={"created_after": stamp}, limit=1)
        except AuthError:
            raise
        except ProviderError as exc:
            logger.warning("replicate: recent predictions unavailable: %s", exc.message)
            return None

    def spec_for_adoption(self, remote: Remote) -> dict[str, Any]:
        return mapping.spec_from_detail(remote.raw)

    def find_by_name(self, name: str) -> Remote | None:
        try:
            return self.get(f"{self.owner()}/{name}")
        except NotFound:
            return None

    def adopt(self, remote: Remote, spec: dict[str, Any]) -> Remote:
        """Take over what an interrupted create made, but only if it is exactly what we
        asked for (notes §4: compare the config before retrying)."""
        release = remote.raw.get("current_release") or {}
        wanted = check_spec(spec)
        have = {"model": release.get("model"), "version": release.get("version"), **configuration(remote.raw)}
        differs = [
            k for k in ("model", "version", "hardware", "min_instances", "max_instances") if have.get(k) != wanted[k]
        ]
        if differs or release.get("number") != 1:
            taken = f"{remote.external_id} already exists on Replicate with another configuration; choose another name."
            raise SpecError({"name": [taken]})
        return remote

    def _patch(self, external_id: str, body: dict[str, Any]) -> Remote:
        # Every PATCH makes a new release (current_release.number + 1) [V].
        return self._with_health(self._http.patch(self._path(external_id), json=body).json())

    def update(self, external_id: str, spec: dict[str, Any], previous: dict[str, Any] | None = None) -> Remote:
        """PATCH only what changed among hardware, min/max instances and version; the
        model and the name cannot change [V]."""
        new = self.validate(spec, ValidationContext(existing=True, previous=previous))
        if new["name"] != self._split(external_id)[1]:
            raise SpecError({"name": ["Replicate cannot rename a deployment: its name is part of its URL."]})
        body = {k: new[k] for k in UPDATE_FIELDS if previous is None or previous.get(k) != new[k]}
        if not body:
            return self.get(external_id)  # nothing to send: no needless release
        return self._patch(external_id, body)

    def scale(self, external_id: str, changes: dict[str, Any]) -> Remote:
        return self._patch(external_id, check_scale(changes))

    def stop(self, external_id: str, spec: dict[str, Any]) -> Remote:
        # Stopped, not scaled to zero: min_instances 0 alone lets the next prediction wake an
        # instance, max_instances 0 lets none start. Both may be 0: the published OpenAPI's
        # deployments.update request schema has "minimum": 0 for each, and the SDK types
        # (replicate 1.0.7 deployment.py UpdateDeploymentParams, 2.0.0b4
        # types/deployment_update_params.py) type both as a bare int.
        return self._patch(external_id, {"min_instances": 0, "max_instances": 0})

    def start(self, external_id: str, spec: dict[str, Any]) -> Remote:
        # After a stop the maximum is 0, so it is always sent: the spec's, at least the minimum.
        low = max(instances(spec.get("min_instances")), 1)  # a spec created at zero starts one
        return self._patch(
            external_id, {"min_instances": low, "max_instances": max(instances(spec.get("max_instances")), low)}
        )

    def delete(self, external_id: str) -> None:
        self._http.delete(self._path(external_id))  # 204 [V]; 409 before 15 minutes offline

    def events(self, external_id: str) -> list[VendorEvent]:
        """This deployment's recent predictions, oldest first: its only health record."""
        self._split(external_id)
        predictions = self.recent_predictions() or []
        mine = [p for p in predictions if self._belongs(p, external_id)]
        return [mapping.prediction_event(p) for p in sorted(mine, key=created)]

    # --- account and catalog ----------------------------------------------------------------
    def verify(self) -> AccountInfo:
        return mapping.account_info(self._account())

    def catalog(self) -> list[Offer]:
        """``GET /hardware`` (a bare array of ``{name, sku}`` [V]) priced from the
        maintained table; a sku the table does not know is listed without a price."""
        items = self._http.get("/hardware").json()
        offers = (mapping.hardware_offer(item) for item in (items if isinstance(items, list) else []))
        return [offer for offer in offers if offer is not None]


def _merged(remembered: Predictions, fresh: Predictions, *, now: dt.datetime) -> Predictions:
    """A deployment's predictions of the last ``RECENT_WINDOW``: what the panel remembered
    (summaries), updated by what this poll's page says (newer answers win, by id)."""
    by_id: dict[str, dict[str, Any]] = {}
    for prediction in [*remembered, *(mapping.summary(p) for p in fresh)]:
        key = str(prediction.get("id") or "")
        by_id[key or f"#{len(by_id)}"] = dict(prediction)
    start = now - RECENT_WINDOW
    return [p for p in by_id.values() if created(p) >= start]
