"""Novita AI GPU instances (API v1): the adapter, its HTTP calls and their lifecycle.

Contract: ``shared/vendor-apis/novita.md`` and the seed
``shared/seeds/004_fec64cfa50edafd2.txt``. The spec this adapter takes *is* the create
body of contract §2.3, camelCase as Novita spells it (``productId``, ``gpuNum``, ``ports``
as the string ``"8000/http, 22/tcp"``, ``networkStorages[{Id, mountPoint}]``...);
``validate`` returns it normalised (:mod:`providers.novita.rules`). [V] = vendor page,
[C] = public client code, [I] = inferred.

Choices where the contract is silent:
- The list answer has no connection details (§6): ``listing()`` (the panel's refresh) reads
  the list alone, and the refresh reads ``get`` only for the rows it picks; ``list_remotes()``
  still reads ``get`` for each *running* instance (for callers that want everything).
- No POST is retried, and a POST whose answer was lost is checked by a GET (start, stop,
  restart, delete answer CONFLICT when repeated: the reached state counts as done).
- The account metadata's templates (private and official, one page of ``PAGE_SIZE`` each)
  keep what the form's template picker fills in (:func:`~providers.novita.mapping.template_entry`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar

import httpx

from providers.base import (
    AccountInfo,
    Action,
    AuthError,
    Charge,
    ErrorDetail,
    Listing,
    LogLines,
    NotFound,
    Offer,
    Provider,
    ProviderError,
    Rejected,
    Remote,
    RemoteState,
    SpecError,
    ValidationContext,
)
from providers.coerce import whole
from providers.novita.errors import error_detail, error_name
from providers.novita.fields import BILLING_MODES, UPGRADE_NEEDS_SAVED_AUTH
from providers.novita.logs import read_logs
from providers.novita.mapping import (
    billing_mode_of,
    connection_of,
    endpoints_of,
    epoch,
    masked,
    none_if_empty,
    product_offer,
    spec_from_instance,
    template_entry,
)
from providers.novita.prices import PANEL_PLACES, charges, estimate, unit_price, usd_from_balance
from providers.novita.rules import check_spec
from providers.novita.statuses import BILLED_STATUSES, RELEASING_STATUSES, STATUS_TABLE, blocked, remote_state
from providers.novita.updates import check_changes, edit_body, lenient, plan_update, upgrade_body

logger = logging.getLogger(__name__)

GPU_API = "/gpu-instance/openapi/v1"  # under https://api.novita.ai [V]
BALANCE_PATH = "/openapi/v1/billing/balance/detail"  # outside the GPU API [V]
PAGE_SIZE = 100  # [I] pageSize has no documented maximum
MAX_PAGES = 200  # a loop guard: 20,000 instances is far past any real account
# The balance answer's other figures, as the verification summary names them [V].
BALANCE_LABELS = {
    "cashBalance": "cash",
    "creditLimit": "credit limit",
    "pendingCharges": "pending charges",
    "outstandingInvoices": "outstanding invoices",
}


class NovitaProvider(Provider):
    name: ClassVar[str] = "novita"
    default_base_url: ClassVar[str] = "https://api.novita.ai"
    sandbox_path: ClassVar[str] = "/novita"
    status_table = STATUS_TABLE
    actions: ClassVar[frozenset[Action]] = frozenset(
        {Action.START, Action.STOP, Action.RESTART, Action.UPDATE, Action.DELETE, Action.LOGS}
    )
    # Names are free text, not unique [I]: never dedupe by name alone (notes §4).
    unique_names: ClassVar[bool] = False
    provision_deadline: ClassVar[int] = 30 * 60  # image pull on a GPU instance billed from the create
    redeploys: ClassVar[bool] = True  # /upgrade with the same fields recreates the container
    redeploy_effect: ClassVar[str] = (
        "the container is recreated from its image (a newer one behind the same tag is pulled) and the instance's data is kept"
    )

    # --- rules, prices and gates: class methods, so forms use them without a key ----------
    @classmethod
    def validate(cls, spec: dict[str, Any], context: ValidationContext | None = None) -> dict[str, Any]:
        """The create body normalised, or :class:`SpecError`. The context's ``offers`` (the
        account's catalog) and ``metadata`` (``account_metadata()``) add the product's
        rules; ``existing`` skips the capacity check when editing an instance that exists,
        and with its ``previous`` spec says first what the update would refuse."""
        context = context or ValidationContext()
        if context.existing and context.previous is not None:
            check_changes(spec, context.previous)
        return check_spec(spec, offers=context.offers, metadata=context.metadata, existing=context.existing)

    @classmethod
    def estimate_price(cls, spec: dict[str, Any], offers: Iterable[Offer] = ()) -> Decimal | None:
        """USD per hour: the product's per-GPU price for the billing mode × ``gpuNum``."""
        return estimate(spec, list(offers))

    @classmethod
    def upfront_charges(cls, spec: dict[str, Any], offers: Iterable[Offer] = ()) -> list[Charge]:
        return charges(spec, list(offers))

    @classmethod
    def action_blocked(
        cls, action: Action, *, spec: dict[str, Any], raw: dict[str, Any], since: dt.datetime | None
    ) -> str:
        return blocked(action, raw=raw)

    # --- set-up and errors ------------------------------------------------------------
    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        client: httpx.Client | None = None,
        timeout: float = 30.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(api_key, base_url=base_url, client=client, timeout=timeout, **kwargs)
        # Log streams go through the same transport, but never with the key (see logs()).
        self._client = client
        self._timeout = timeout
        self._products: dict[str, dict[str, dict[str, Any]]] = {}  # billing method -> id -> product

    def error_detail(self, response: httpx.Response) -> ErrorDetail | None:
        return error_detail(response)

    # --- paths ------------------------------------------------------------------------
    @staticmethod
    def _gpu(path: str) -> str:
        return f"{GPU_API}{path}"

    def _item(self, external_id: str) -> dict[str, Any]:
        """``GET /gpu/instance?instanceId=`` as Novita sent it (passwords included)."""
        if not external_id:
            raise NotFound("no Novita instance id")
        data = self._http.get(self._gpu("/gpu/instance"), params={"instanceId": external_id}).json()
        if isinstance(data, dict) and isinstance(data.get("instance"), dict):
            data = data["instance"]  # [I] tolerate a wrapped answer
        if not isinstance(data, dict) or not data.get("id"):
            raise NotFound(f"Novita has no instance {external_id}", body=data)
        return data

    # --- mapping --------------------------------------------------------------------------
    def to_remote(self, item: dict[str, Any]) -> Remote:
        state, message = remote_state(item)
        return Remote(
            external_id=str(item.get("id") or ""),
            name=str(item.get("name") or ""),
            state=state,
            vendor_state=none_if_empty(item.get("status")),
            message=message,
            endpoints=endpoints_of(item),
            price_per_hour=self._instance_price(item),
            created_at=epoch(item.get("createdAt")),
            connection=connection_of(item),
            raw=masked(item),
        )

    def _instance_price(self, item: Mapping[str, Any]) -> Decimal | None:
        """USD per hour now: the GPU price for the instance's billing mode × its GPUs while
        the GPU is billed (from ``pulling``; not while stopped) [V]; a subscription's hourly
        share for as long as it exists. ``None`` when not known (keep what the panel had)."""
        status = none_if_empty(item.get("status"))
        if status not in STATUS_TABLE or status == "freezing":
            return None  # [?] not known whether a frozen instance bills
        if status == "removed":
            return Decimal("0")
        mode = billing_mode_of(item)
        if mode != "monthly" and status not in BILLED_STATUSES:
            return Decimal("0")
        if none_if_empty(item.get("kind")) == "cpu":
            return None  # CPU products are priced on another list, not read here
        product = self._product(str(item.get("productId") or ""), mode)
        if product is None:
            return None
        # The term of a running subscription is not in the answer: its 1-month rate [I].
        unit = unit_price(product_offer(product), mode, 1)
        gpus = whole(item.get("gpuNum")) or 1
        return None if unit is None else (unit * gpus).quantize(PANEL_PLACES, rounding=ROUND_HALF_UP)

    # --- products ---------------------------------------------------------------------------
    def _product_index(self, method: str) -> dict[str, dict[str, Any]]:
        """``GET /products?billingMethod=`` once per adapter (one task) and method: the
        list is filtered by billing method, on demand by default [V]."""
        if method not in self._products:
            try:
                data = self._http.get(self._gpu("/products"), params={"billingMethod": method}).json()
            except AuthError:
                raise
            except ProviderError as exc:  # no prices this time, not no instances
                logger.info("novita: no %s product prices this time: %s", method, exc.message)
                data = {}
            items = data.get("data") if isinstance(data, dict) else data
            self._products[method] = {
                str(p["id"]): p for p in items or [] if isinstance(p, dict) and p.get("id") not in (None, "")
            }
        return self._products[method]

    def _product(self, product_id: str, mode: str) -> dict[str, Any] | None:
        for method in (mode, *(m for m in BILLING_MODES if m != mode)):
            found = self._product_index(method).get(product_id)
            if found is not None:
                return found
        return None

    def products(self) -> list[dict[str, Any]]:
        """Every GPU product, sold in any billing mode (three filtered lists, merged)."""
        merged: dict[str, dict[str, Any]] = {}
        for method in BILLING_MODES:
            for product_id, product in self._product_index(method).items():
                merged.setdefault(product_id, product)
        return list(merged.values())

    # --- lifecycle ----------------------------------------------------------------------
    def create(self, spec: dict[str, Any]) -> Remote:
        """``POST /gpu/instance/create`` → ``{"id"}`` [V], then one GET for the rest. The
        POST is never retried (no idempotency [V]); a failed GET after it is not an error."""
        body = check_spec(spec)
        data = self._http.post(self._gpu("/gpu/instance/create"), json=body).json()
        external_id = str((data or {}).get("id") or "") if isinstance(data, dict) else ""
        if not external_id:
            raise Rejected("Novita accepted the request but answered no instance id.", body=data)
        return self._after(external_id) or Remote(
            external_id=external_id,
            name=body.get("name", ""),
            state=RemoteState.PROVISIONING,
            vendor_state="",
            message="Created; Novita has not reported its status yet.",
            raw={"id": external_id, "name": body.get("name", "")},
        )

    def _after(self, external_id: str) -> Remote | None:
        """The instance after a POST that went through; ``None`` if the GET fails, so a
        retry cannot repeat the POST (the next poll reads it)."""
        try:
            return self.get(external_id)
        except ProviderError as exc:
            logger.info("novita: %s changed, but reading it back failed: %s", external_id, exc.message)
            return None

    def get(self, external_id: str) -> Remote:
        return self.to_remote(self._item(external_id))

    def _pages(self, **filters: Any) -> list[dict[str, Any]]:
        return self._paged(**filters)[0]

    def _paged(self, **filters: Any) -> tuple[list[dict[str, Any]], bool]:
        """Every instance, whichever way the server counts its pages, and whether the list
        is known complete. ``pageNum`` is documented as ">= 0" [V: Novita's docs, "List
        Instances"] and the ``cnovita`` client starts at 0 [C: cnovita 0.3.0 on PyPI,
        ``cnovita/core/client.py``, ``gpu_list_instances(page_num=0)``], while Novita's MCP
        server starts at 1 [C, per the contract's corrections; not checked here]. So page 0
        comes first and the answers tell the base: page 1 repeating page 0 is a server
        counting from 1 that reads 0 as 1, and an empty page 0 with rows left is one that
        has no page 0. Paging ends at ``total`` distinct ids, on an empty page, or on a page
        that brings nothing new (a server that ignores ``pageNum``). A short page is not an
        end without ``total``: a server may cap ``pageSize`` below ours. Complete means it
        ended with every row ``total`` counts (or, without ``total``, on an empty page); a
        repeated page short of ``total``, or the loop guard, leaves it incomplete."""
        seen: dict[str, dict[str, Any]] = {}
        first_ids: list[str] | None = None
        total: int | None = None
        for page in range(MAX_PAGES):
            items, page_total = self._list_page(page, filters)
            total = page_total if page_total is not None else total
            ids = [str(item.get("id") or "") for item in items]
            fresh = 0
            for key, item in zip(ids, items, strict=True):
                if key and key not in seen:
                    seen[key] = item
                    fresh += 1
            if total is not None and len(seen) >= total:
                return list(seen.values()), True
            if not items:
                if page == 0 and (total is None or total > 0):
                    continue  # a server counting from 1 may have no page 0
                return list(seen.values()), total is None or len(seen) >= total
            if not fresh:
                if page == 1 and ids == first_ids:
                    continue  # it read 0 as 1: page 2 is the next one
                return list(seen.values()), False
            if page == 0:
                first_ids = ids
        logger.warning("novita: stopped paging instances after %s pages", MAX_PAGES)
        return list(seen.values()), False

    def _list_page(self, page: int, filters: Mapping[str, Any]) -> tuple[list[dict[str, Any]], int | None]:
        """One ``GET /gpu/instances`` page: its instances and ``total`` (``None`` if absent) [V]."""
        params = {"pageSize": PAGE_SIZE, "pageNum": page, **filters}
        data = self._http.get(self._gpu("/gpu/instances"), params=params).json()
        if not isinstance(data, dict):
            return [], None
        items = [i for i in (data.get("instances") or []) if isinstance(i, dict)]
        return items, whole(data.get("total"))

    def _detailed(self, item: dict[str, Any]) -> Remote:
        """A listed instance; a running one is read again for its connection details
        (the list has none [V]), keeping the listed answer if that read fails."""
        if item.get("status") == "running":
            try:
                item = self._item(str(item["id"]))
            except AuthError:
                raise
            except ProviderError as exc:
                logger.info("novita: no details for %s this time: %s", item.get("id"), exc.message)
        return self.to_remote(item)

    def list_remotes(self) -> list[Remote]:
        return [self._detailed(item) for item in self._pages()]

    def spec_for_adoption(self, remote: Remote) -> dict[str, Any]:
        # The get answer (``remote.raw``, passwords masked) carries every create field
        # an instance keeps; ``spec_from_instance`` is the reading updates use too.
        return spec_from_instance(remote.raw)

    # The list carries ``status``, ``statusError``, ``billingMode`` and ``endTime`` [V:
    # Novita's docs, "List Instances"], enough for state and price; connection details
    # are only in ``GET /gpu/instance`` [V], which the refresh reads for the rows it picks.
    list_is_detailed: ClassVar[bool] = False

    def listing(
        self, *, known: Mapping[str, Mapping[str, Any]] | None = None, since: dt.datetime | None = None
    ) -> Listing:
        items, complete = self._paged()
        return Listing([self.to_remote(item) for item in items], complete=complete)

    def find_by_name(self, name: str) -> Remote | None:
        """Names are not unique and the ``name`` filter is fuzzy [V/I]: exact matches only,
        the newest live one (notes §4: list by name and recent createdAt)."""
        if not name:
            return None
        live = [
            item
            for item in self._pages(name=name)
            if item.get("name") == name and none_if_empty(item.get("status")) not in RELEASING_STATUSES
        ]
        if not live:
            return None
        newest = max(live, key=lambda item: whole(item.get("createdAt")) or 0)
        return self._detailed(newest)

    def _action(self, external_id: str, verb: str, reached: tuple[str, ...]) -> dict[str, Any] | None:
        """POST ``{instanceId}`` [V]. A CONFLICT (wrong state) whose target is already
        reached — a repeat after a lost answer — counts as done; the instance is returned."""
        if not external_id:
            raise NotFound("no Novita instance id")
        try:
            self._http.post(self._gpu(f"/gpu/instance/{verb}"), json={"instanceId": external_id})
        except Rejected as exc:
            if error_name(exc.body) != "CONFLICT":
                raise
            current = self._item(external_id)
            if none_if_empty(current.get("status")) in reached:
                return current
            raise
        return None

    def start(self, external_id: str, spec: dict[str, Any]) -> Remote | None:
        done = self._action(external_id, "start", ("toStart", "starting", "running"))
        return self.to_remote(done) if done else self._after(external_id)

    def stop(self, external_id: str, spec: dict[str, Any]) -> Remote | None:
        done = self._action(external_id, "stop", ("toStop", "stopping", "exited"))
        return self.to_remote(done) if done else self._after(external_id)

    def restart(self, external_id: str, spec: dict[str, Any]) -> Remote | None:
        done = self._action(external_id, "restart", ("toRestart", "restarting"))
        return self.to_remote(done) if done else self._after(external_id)

    def delete(self, external_id: str) -> None:
        """Release [V]; refused for a subscription before ``endTime``
        (PREPAID_INSTANCE_NOT_SUPPORT_RELEASE → Rejected); an unknown id → NotFound."""
        self._action(external_id, "delete", ("toRemove", "removing", "removed"))

    def update(self, external_id: str, spec: dict[str, Any], previous: dict[str, Any] | None = None) -> Remote | None:
        """Take the instance from ``previous`` to ``spec`` with the calls that changed:
        ``/edit`` for ports and root-disk growth (``expandRootDisk`` = new − old; it cannot
        shrink), ``/upgrade`` (a full replacement) for the image, its credential, env,
        command, entrypoint or volumes [V]. Everything else is fixed once created."""
        new = check_spec(spec, existing=True)
        old = lenient(previous) if previous is not None else spec_from_instance(self._item(external_id))
        edit, upgrade, grow = plan_update(old, new)
        if not edit and not upgrade:
            return self.get(external_id)
        if edit:
            self._http.post(self._gpu("/gpu/instance/edit"), json=edit_body(external_id, new, grow))
        if upgrade:
            self._http.post(self._gpu("/gpu/instance/upgrade"), json=upgrade_body(external_id, new))
        return self._after(external_id)

    def redeploy(self, external_id: str, spec: dict[str, Any]) -> Remote | None:
        """An upgrade with the fields the instance has: Novita recreates the container from
        its image (pulling a newer one behind the same tag), keeping its data (``save``)."""
        new = check_spec(spec, existing=True)
        if new.get("imageAuth"):
            # [I] as for an update: /upgrade recreates the container with no way to pass user:pass.
            raise SpecError({"imageAuth": [UPGRADE_NEEDS_SAVED_AUTH]})
        self._http.post(self._gpu("/gpu/instance/upgrade"), json=upgrade_body(external_id, new))
        return self._after(external_id)

    # --- logs -----------------------------------------------------------------------------
    def logs(self, external_id: str, *, which: str = "both", **_: Any) -> LogLines:
        """The system log then the container's own, read fresh from the stream URLs of a
        get answer and fetched without the key (:mod:`providers.novita.logs`)."""
        return read_logs(self._item(external_id), which=which, client=self._client, timeout=self._timeout)

    # --- account and catalog ------------------------------------------------------------
    def balance(self) -> dict[str, Decimal | None]:
        """``GET /openapi/v1/billing/balance/detail``, in USD [V: 1/10 000 USD strings]."""
        data = self._http.get(BALANCE_PATH).json()
        if isinstance(data, dict) and isinstance(data.get("data"), dict):
            data = data["data"]  # [I] tolerate a wrapped answer
        data = data if isinstance(data, dict) else {}
        keys = ("availableBalance", "cashBalance", "creditLimit", "pendingCharges", "outstandingInvoices")
        return {key: usd_from_balance(data.get(key)) for key in keys}

    def verify(self) -> AccountInfo:
        figures = self.balance()
        available = figures["availableBalance"]
        details = ", ".join(
            f"{label} ${figures[key]:.2f}" for key, label in BALANCE_LABELS.items() if figures[key] is not None
        )
        head = f"${available:.2f} available" if available is not None else "balance not reported"
        return AccountInfo(
            summary=f"Key accepted: {head}{f' ({details})' if details else ''}.",
            balance=available,
        )

    def catalog(self) -> list[Offer]:
        """One offer per GPU product: the on-demand price of one GPU, the product's
        windows, regions and other prices in ``extra`` (USD)."""
        return [product_offer(p) for p in self.products()]

    def _optional(self, what: str, read: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
        try:
            return read()
        except AuthError:
            raise
        except ProviderError as exc:  # one list missing should not cost the others
            logger.info("novita: %s unavailable: %s", what, exc.message)
            return []

    def clusters(self) -> list[dict[str, Any]]:
        data = self._http.get(self._gpu("/clusters")).json()
        items = data.get("data") if isinstance(data, dict) else data
        return [
            {
                "id": str(c.get("id")),
                "name": str(c.get("name") or c.get("id")),
                "gpu_types": [str(g) for g in c.get("availableGpuType") or []],
                "network_storage": bool(c.get("supportNetworkStorage")),
                "instance_network": bool(c.get("supportInstanceNetwork")),
            }
            for c in items or []
            if isinstance(c, dict) and c.get("id") not in (None, "")
        ]

    def registry_auths(self) -> list[dict[str, Any]]:
        """Saved registry credentials: ids and names only, never usernames' passwords."""
        data = self._http.get(self._gpu("/repository/auths")).json()
        items = data.get("data") if isinstance(data, dict) else data
        return [
            {"id": str(a.get("id")), "name": str(a.get("name") or a.get("id"))}
            for a in items or []
            if isinstance(a, dict) and a.get("id") not in (None, "")
        ]

    def network_storages(self) -> list[dict[str, Any]]:
        """Every network volume (``pageNo`` from 1 [I]), with its cluster."""
        seen: dict[str, dict[str, Any]] = {}
        for page in range(1, MAX_PAGES + 1):
            data = self._http.get(
                self._gpu("/networkstorages/list"), params={"pageNo": page, "pageSize": PAGE_SIZE}
            ).json()
            items = [s for s in (data.get("data") or []) if isinstance(s, dict)] if isinstance(data, dict) else []
            total = whole(data.get("total")) if isinstance(data, dict) else None
            fresh = 0
            for s in items:
                key = str(s.get("storageId") or "")
                if key and key not in seen:
                    seen[key] = {
                        "id": key,
                        "name": str(s.get("storageName") or key),
                        "cluster_id": str(s.get("clusterId") or ""),
                        "cluster_name": str(s.get("clusterName") or ""),
                        "size_gb": whole(s.get("storageSize")),
                    }
                    fresh += 1
            if not items or not fresh or (total is not None and len(seen) >= total):
                break
        return list(seen.values())

    def templates(self) -> list[dict[str, Any]]:
        """The account's own templates and Novita's official ones, as the form's template
        picker needs them (:func:`template_entry`): never an env value, never ``imageAuth``."""
        out: list[dict[str, Any]] = []
        for channel in ("private", "official"):
            # One page of PAGE_SIZE: the page index's base is not documented (the list
            # page's example answers pageNum 0), so no second page is guessed at [I].
            params = {"channel": channel, "isMyCommunity": "false", "pageSize": PAGE_SIZE}
            data = self._http.get(self._gpu("/templates"), params=params).json()
            items = (data.get("template") or data.get("data") or []) if isinstance(data, dict) else []
            entries = [e for e in (template_entry(t, channel) for t in items) if e is not None]
            total = whole(data.get("total")) if isinstance(data, dict) else None
            if total is not None and total > len(items):
                logger.info("novita: %s of %s %s templates listed", len(items), total, channel)
            out += entries
        return out

    def account_metadata(self) -> dict[str, Any]:
        """What the form offers: clusters, saved registry credentials (id, name), network
        volumes (id, name, cluster) and templates (image, ports, env names, start command,
        root disk, tools). Never a password, never an env value."""
        return {
            "clusters": self._optional("clusters", self.clusters),
            "registry_auths": self._optional("registry credentials", self.registry_auths),
            "network_storages": self._optional("network storages", self.network_storages),
            "templates": self._optional("templates", self.templates),
        }
