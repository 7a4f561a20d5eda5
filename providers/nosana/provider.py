"""The Nosana adapter: every HTTP call and the lifecycle, for deployments paid from
credits with an API key.

Contract: ``shared/vendor-apis/nosana.md`` (the deployment-manager source and the
generated schema of ``@nosana/api`` 2.1.8) and the seed
``shared/seeds/000_cd5f2f8cf4f11fc3.txt``. [V] = read in source or schema, [D] = docs
prose, [I] = inferred; where the notes leave a fact open the safest reading is taken
and named in a comment.

Lifecycle: create makes a DRAFT, so ``create()`` creates and then starts it (what
the dashboard's "deploy" does) and ``adopt()`` starts a DRAFT an interrupted
attempt left behind. Wrong-state actions come back as HTTP 500
``{"error": "Deployment is in the incorrect state."}`` [V]: ``error_detail`` makes
those non-retryable ``Rejected`` errors, and start/stop/archive treat one as
success when a GET shows the target state already reached (they are not
repeat-safe, notes §4).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from providers.base import (
    AccountInfo,
    Action,
    AuthError,
    Charge,
    ErrorDetail,
    Listing,
    LogLines,
    Offer,
    Provider,
    ProviderError,
    Rejected,
    Remote,
    SpecError,
    ValidationContext,
    VendorEvent,
)
from providers.nosana import errors, mapping, prices, rules
from providers.nosana.statuses import JOB_ENDED, STATUS_TABLE, active_jobs

logger = logging.getLogger(__name__)

PAGE_LIMITS = (10, 20, 50, 100)  # [V]
PAGE_LIMIT = 100
MAX_PAGES = 200  # a loop guard: 20,000 deployments is far past any real account
LOG_JOBS = 3  # logs come from the few most recent finished jobs: one call each


class NosanaProvider(Provider):
    name: ClassVar[str] = "nosana"
    default_base_url: ClassVar[str] = "https://dashboard.k8s.prd.nos.ci"
    sandbox_path: ClassVar[str] = "/nosana"
    status_table = STATUS_TABLE
    actions: ClassVar[frozenset[Action]] = frozenset(
        {
            Action.START,
            Action.STOP,
            Action.SCALE,
            Action.UPDATE,
            Action.DELETE,
            Action.ARCHIVE,
            Action.LOGS,
            Action.EVENTS,
        }
    )
    # No unique index and no check: a retried create makes a duplicate [V].
    unique_names: ClassVar[bool] = False
    provision_deadline: ClassVar[int] = 30 * 60  # waiting in a market queue for a node counts too
    scale_fields: ClassVar[tuple[str, ...]] = ("replicas",)
    scale_keys: ClassVar[tuple[str, ...]] = ("replicas",)

    def __init__(self, api_key: str, **kwargs: Any) -> None:
        super().__init__(api_key, **kwargs)
        self._markets: dict[str, dict[str, Any]] | None = None

    def error_detail(self, response: httpx.Response) -> ErrorDetail | None:
        return errors.error_detail(response)

    # --- rules, prices and gates: class methods, for the form -----------------------------
    @classmethod
    def validate(cls, spec: dict[str, Any], context: ValidationContext | None = None) -> dict[str, Any]:
        """Nosana's rules need nothing beyond the spec: no catalog (any market address
        is taken; the server says if it does not know one), no account metadata."""
        return rules.check_spec(spec)

    @classmethod
    def validate_scale(cls, changes: dict[str, Any]) -> dict[str, Any]:
        return rules.check_scale(changes)

    @classmethod
    def estimate_price(cls, spec: dict[str, Any], offers: Iterable[Offer] = ()) -> Decimal | None:
        return prices.offer_price(spec, list(offers))

    @classmethod
    def upfront_charges(cls, spec: dict[str, Any], offers: Iterable[Offer] = ()) -> list[Charge]:
        return prices.upfront_charges(spec, offers)

    @classmethod
    def run_cost(cls, spec: dict[str, Any], unit: Decimal | None) -> Decimal | None:
        """Credits one start reserves at ``unit`` USD per hour (the Scale dialog's note)."""
        return prices.run_cost(spec, unit)

    @classmethod
    def action_blocked(
        cls, action: Action, *, spec: dict[str, Any], raw: dict[str, Any], since: dt.datetime | None
    ) -> str:
        """The server's preconditions (notes §3), said before the user tries."""
        return rules.action_blocked(action, (raw or {}).get("status") or "")

    # --- mapping ----------------------------------------------------------------------
    def to_remote(self, item: dict[str, Any], jobs: list[dict[str, Any]] | None = None) -> Remote:
        return mapping.to_remote(item, jobs, self._unit_price)

    def _unit_price(self, market: str | None) -> Decimal | None:
        markets = self._market_index()
        return prices.market_price(markets[market]) if market in markets else None

    def _market_index(self) -> dict[str, dict[str, Any]]:
        """The public market list, once per adapter (one task): prices for ``Remote``."""
        if self._markets is None:
            try:
                listed = self._get_markets()
            except AuthError:
                raise
            except ProviderError as exc:  # a public list that failed: no prices this time, not no list
                logger.info("nosana: no market prices this time: %s", exc.message)
                listed = []
            self._markets = {
                m["address"]: m for m in listed if isinstance(m, dict) and isinstance(m.get("address"), str)
            }
        return self._markets

    def _get_markets(self) -> list[dict[str, Any]]:
        data = self._http.get("/api/markets/").json()
        return data if isinstance(data, list) else list((data or {}).get("markets") or [])

    # --- lifecycle ----------------------------------------------------------------------
    def _path(self, external_id: str, suffix: str = "") -> str:
        return f"/api/deployments/{quote(external_id, safe='')}{suffix}"

    def create(self, spec: dict[str, Any]) -> Remote:
        """Create (a DRAFT), then start it: the dashboard's "deploy" in two calls [V].

        ``autostart`` would do both at once but is not in the 2.1.8 schema, so it is not
        sent (notes §5). If start fails after create, the retried task finds the draft
        by name and ``adopt()`` starts it.
        """
        item = self._http.post("/api/deployments/create", json=rules.create_body(spec)).json()
        started = self._start(item.get("id") or "")
        return self.to_remote({**item, **started})

    def adopt(self, remote: Remote, spec: dict[str, Any]) -> Remote:
        if remote.vendor_state == "DRAFT":
            self._start(remote.external_id)
            return self.get(remote.external_id)
        return remote

    def _jobs_page(self, external_id: str, **params: Any) -> list[dict[str, Any]]:
        data = self._http.get(
            self._path(external_id, "/jobs"), params={"limit": PAGE_LIMIT, "sort_order": "desc", **params}
        ).json()
        return [j for j in (data.get("jobs") or []) if isinstance(j, dict)] if isinstance(data, dict) else []

    def _with_jobs(self, item: dict[str, Any]) -> Remote:
        # The deployment's ``active_jobs`` counts its RUNNING jobs (statuses.py cites the
        # server): with one running, the list says all the panel shows (state, replicas
        # ready, price; endpoints are the deployment's own), so no call. One extra call
        # only for a RUNNING deployment with none running (or no count, from an older
        # server): its newest jobs (a page of 100 holds every active one) tell queued
        # from finished from a schedule between runs. That call stays on every poll of
        # such a deployment (a SCHEDULED one between runs, a market with no free node):
        # nothing in the list says its jobs did not change, and the adapter keeps no
        # state from one poll to the next.
        needs_jobs = item.get("status") == "RUNNING" and item.get("id") and not active_jobs(item)
        return self.to_remote(item, self._jobs_page(item["id"]) if needs_jobs else None)

    def get(self, external_id: str) -> Remote:
        return self._with_jobs(self._http.get(self._path(external_id)).json())

    def _pages(self, **params: Any) -> Iterable[dict[str, Any]]:
        return self._paged(**params)[0]

    def _paged(self, **params: Any) -> tuple[list[dict[str, Any]], bool]:
        """Every deployment, page by page, following ``cursor_next`` [V], and whether the
        list is complete (it ended without a next cursor, not at the loop guard or on a
        cursor seen before)."""
        cursor, seen = None, set()
        out: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            query = {"limit": PAGE_LIMIT, **params, **({"cursor": cursor} if cursor else {})}
            data = self._http.get("/api/deployments", params=query).json()
            if isinstance(data, list):  # older servers answer a bare array, unpaged
                return [*out, *(d for d in data if isinstance(d, dict))], True
            out += [d for d in (data.get("deployments") or []) if isinstance(d, dict)]
            cursor = (data.get("pagination") or {}).get("cursor_next")
            if not cursor:
                return out, True
            if cursor in seen:
                return out, False
            seen.add(cursor)
        logger.warning("nosana: stopped paging deployments after %s pages", MAX_PAGES)
        return out, False

    def list_remotes(self) -> Iterable[Remote]:
        # Paged calls for the account, plus one jobs call per RUNNING deployment with no
        # job running (and the public market list once, for prices): see ``_with_jobs``.
        return [self._with_jobs(item) for item in self._pages()]

    # Every listed deployment carries ``active_jobs``, the count of its RUNNING jobs [V:
    # nosana-ci/nosana-deployment-manager ``src/router/routes/get/deployments/list.ts``]:
    # state from the list alone. A RUNNING one with no job running (queued, or between
    # scheduled runs) is ``detail_needed``: its jobs tell which, read by ``get``.
    list_is_detailed: ClassVar[bool] = False

    def listing(
        self, *, known: Mapping[str, Mapping[str, Any]] | None = None, since: dt.datetime | None = None
    ) -> Listing:
        items, complete = self._paged()
        remotes = []
        for item in items:
            remote = self.to_remote(item, None)
            remote.detail_needed = item.get("status") == "RUNNING" and not active_jobs(item)
            remotes.append(remote)
        return Listing(remotes, complete=complete)

    def detail(self, listed: Remote) -> Remote:
        """The list row already holds the deployment as a read by id would [V:
        ``getDeploymentById.ts`` answers the same shape as ``list.ts``]: only its jobs,
        where the row leaves them open, are read."""
        return self._with_jobs(dict(listed.raw)) if listed.raw.get("id") else self.get(listed.external_id)

    def find_by_name(self, name: str) -> Remote | None:
        """Names are not unique [V]: ask with ``name=`` (the server may ignore it, so the
        match is checked here) and take the newest live one."""
        matches = [item for item in self._pages(name=name) if item.get("name") == name]
        live = [m for m in matches if m.get("status") != "ARCHIVED"]
        if not live:
            return None
        newest = max(live, key=lambda m: m.get("created_at") or "")
        return self._with_jobs(newest)

    def _action(self, external_id: str, verb: str, reached: tuple[str, ...]) -> dict[str, Any]:
        """POST a state change; a 500 "incorrect state" whose target is already reached
        (a repeat after a lost answer) counts as done."""
        try:
            result: dict[str, Any] = self._http.post(self._path(external_id, f"/{verb}")).json()
        except Rejected as exc:
            if exc.message != errors.INCORRECT_STATE:
                raise
            current = self._http.get(self._path(external_id)).json()
            if current.get("status") in reached:
                return {"status": current.get("status"), "updated_at": current.get("updated_at")}
            raise
        return result

    def _start(self, external_id: str) -> dict[str, Any]:
        # POST per the schema; the seed's plain GET is the docs' slip (notes §1).
        return self._action(external_id, "start", ("STARTING", "RUNNING"))

    def start(self, external_id: str, spec: dict[str, Any]) -> Remote:
        self._start(external_id)
        return self.get(external_id)

    def stop(self, external_id: str, spec: dict[str, Any]) -> None:
        self._action(external_id, "stop", ("STOPPING", "STOPPED"))

    def archive(self, external_id: str) -> None:
        self._action(external_id, "archive", ("ARCHIVED",))

    def delete(self, external_id: str) -> None:
        self._http.delete(self._path(external_id))  # 204, empty [V]

    def scale(self, external_id: str, changes: dict[str, Any]) -> Remote:
        body = self.validate_scale(changes)
        self._http.patch(self._path(external_id, "/update-replica-count"), json=body)
        return self.get(external_id)

    def update(self, external_id: str, spec: dict[str, Any], previous: dict[str, Any] | None = None) -> Remote:
        """Send only the calls that take the deployment from ``previous`` to ``spec``:
        create-revision (a new job definition, which becomes active) or
        update-active-revision, update-timeout, update-schedule, update-replica-count.
        Market, strategy, confidential, name and rotation time have no update route [V]."""
        new = rules.check_spec(spec)
        if previous is None:
            previous = self._current_spec(external_id)
        rules.check_update(new, previous)
        switch = new.get("active_revision")
        if rules.revision_changed(new, previous):
            self._create_revision(external_id, new["job_definition"])
        elif switch and switch != previous.get("active_revision"):
            self._patch(external_id, "update-active-revision", active_revision=switch)
        if new["timeout"] != previous.get("timeout"):
            self._patch(external_id, "update-timeout", timeout=new["timeout"])
        if new.get("strategy") == "SCHEDULED" and new.get("schedule") != previous.get("schedule"):
            self._patch(external_id, "update-schedule", schedule=new["schedule"])
        if new["replicas"] != previous.get("replicas"):
            self._patch(external_id, "update-replica-count", replicas=new["replicas"])
        return self.get(external_id)

    def _patch(self, external_id: str, route: str, **body: Any) -> None:
        self._http.patch(self._path(external_id, f"/{route}"), json=body)

    def _create_revision(self, external_id: str, job_definition: dict[str, Any]) -> None:
        # The bare job definition, not wrapped [V]; the new revision becomes active.
        try:
            self._http.post(self._path(external_id, "/create-revision"), json=job_definition)
        except SpecError as exc:
            # The body is the bare job definition, so its paths start inside it.
            exc.fields = {errors.in_job_definition(k): v for k, v in exc.fields.items()}
            raise

    def spec_for_adoption(self, remote: Remote) -> dict[str, Any]:
        """The deployment's fields and its active revision's job definition: the same
        two reads an update without ``previous`` makes."""
        spec = self._current_spec(remote.external_id)
        spec.pop("active_revision", None)  # the vendor's counter, not something a spec sets
        return {key: value for key, value in spec.items() if value is not None}

    def _current_spec(self, external_id: str) -> dict[str, Any]:
        """What Nosana has now, as a spec, for an update that came without ``previous``."""
        item = self._http.get(self._path(external_id)).json()
        data = self._http.get(
            self._path(external_id, "/revisions"),
            params={"revision": item.get("active_revision"), "limit": PAGE_LIMITS[0]},
        ).json()
        return mapping.current_spec(item, data)

    # --- monitoring ---------------------------------------------------------------------
    def jobs(self, external_id: str) -> list[dict[str, Any]]:
        return self._jobs_page(external_id)

    def logs(self, external_id: str, **_: Any) -> LogLines:
        """Container logs exist only for jobs that have ended, in
        ``jobResult.opStates[].logs`` [V]: the newest few finished jobs, oldest first."""
        ended = [j for j in self._jobs_page(external_id) if j.get("state") in JOB_ENDED][:LOG_JOBS]
        lines: list[str] = []
        for job in reversed(ended):
            detail = self._http.get(self._path(external_id, f"/jobs/{quote(str(job.get('job')), safe='')}")).json()
            lines.extend(mapping.job_log_lines(job, detail))
        if not ended:
            lines.append("Nosana publishes container logs when a job ends; no job of this deployment has ended yet.")
        return LogLines(lines=lines, source="finished jobs")

    def events(self, external_id: str) -> list[VendorEvent]:
        """The deployment's own events (/events) and its jobs' state changes (/jobs)."""
        data = self._http.get(
            self._path(external_id, "/events"), params={"limit": PAGE_LIMIT, "sort_order": "desc"}
        ).json()
        own = mapping.deployment_events(data)
        return mapping.in_time_order([*own, *mapping.job_events(self._jobs_page(external_id))])

    # --- account and catalog ------------------------------------------------------------
    def credits(self) -> dict[str, Decimal]:
        data = self._http.get("/api/credits/balance").json()
        values = {k: Decimal(str(data.get(k) or 0)) for k in ("assignedCredits", "reservedCredits", "settledCredits")}
        values["available"] = values["assignedCredits"] - values["reservedCredits"] - values["settledCredits"]
        return values

    def verify(self) -> AccountInfo:
        c = self.credits()
        return AccountInfo(
            summary=(
                f"Key accepted: ${c['available']:.2f} of credits available "
                f"(${c['assignedCredits']:.2f} assigned, ${c['reservedCredits']:.2f} reserved, "
                f"${c['settledCredits']:.2f} settled)."
            ),
            balance=c["available"],
        )

    def catalog(self) -> list[Offer]:
        """Every market (public list [V]) with Nosana's own price per hour."""
        offers = [mapping.to_offer(m) for m in self._get_markets() if isinstance(m, dict) and m.get("address")]
        self._markets = {m.sku: m.raw for m in offers}
        return offers
