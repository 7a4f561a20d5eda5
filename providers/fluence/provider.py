"""The Fluence adapter: every call to the vendor, and the lifecycle built on them.

Fluence GPU Cloud rents GPU containers, VMs and bare metal by the hour from plans.
Contract: ``shared/vendor-apis/fluence.md`` and the seed
``shared/seeds/003_e6650c0f53784ee2.txt``. [V] = in the vendor docs, [I] = inferred,
[?] = open. The rules, prices, status table, error reading and JSON mapping live in
their own modules beside this one; this class calls them.

Choices where the contract is silent:

- ``list()`` reads the three collections, plus one detail call per ACTIVE instance:
  only the details carry ``container_status``, the forwarded SSH port and billing.
  Ended and failed instances (which Fluence keeps listing for ever) cost nothing.
- Creates are never retried here (no idempotency key, a second 3-hour charge [I]);
  ``find_by_name`` finds the newest live instance with the name for the panel's
  reconciliation.
- A FAILED or ENDED instance has nothing to terminate: ``delete`` reports it gone.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from decimal import Decimal
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
    Transient,
    Unsupported,
    ValidationContext,
    VendorEvent,
    parse_time,
)
from providers.coerce import decimal
from providers.fluence import errors, gates, prices
from providers.fluence.bodies import container_update_body, create_body, fixed_changes
from providers.fluence.catalog import container_offer, machine_offers
from providers.fluence.mapping import (
    connection_details,
    instances,
    kind_from,
    masked,
    parse_balance,
    parse_event,
    spec_from_detail,
)
from providers.fluence.paths import (
    BALANCES_PATH,
    BAREMETAL,
    COLLECTIONS,
    CONTAINER,
    DEFAULT_IMAGES_PATH,
    KIND_LABELS,
    KINDS,
    ME_PATH,
    PLAN_PATHS,
    VM,
    external_id_for,
    instance_path,
    kind_of,
)
from providers.fluence.prices import CURRENCY, UPFRONT_HOURS
from providers.fluence.rules import DEFAULT_PROTOCOL, check_spec
from providers.fluence.statuses import STATUS_TABLE, remote_state, vendor_status

logger = logging.getLogger(__name__)

# Log lines and events read per fetch [I]: the panel keeps the last 500 lines, 200 events.
LOG_LAST = 500
EVENTS_LAST = 200


class FluenceProvider(Provider):
    name: ClassVar[str] = "fluence"
    # Every GPU path starts with /gpu, the account paths with /v1 or /v2 [V].
    default_base_url: ClassVar[str] = "https://api.fluence.dev"
    sandbox_path: ClassVar[str] = "/fluence"
    # No start, stop or scale [V]; restart is a redeploy of a container (a PUT).
    status_table = STATUS_TABLE
    actions: ClassVar[frozenset[Action]] = frozenset(
        {Action.UPDATE, Action.RESTART, Action.DELETE, Action.LOGS, Action.EVENTS}
    )
    unique_names: ClassVar[bool] = False  # uniqueness is not documented [?]: key on ids
    provision_deadline: ClassVar[int] = 20 * 60  # a VM is up in minutes; rent runs from the create

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"X-API-KEY": api_key}  # [V]

    # --- rules, prices and gates: class methods, for the form ---------------------------------
    @classmethod
    def validate(cls, spec: dict[str, Any], context: ValidationContext | None = None) -> dict[str, Any]:
        """The rules (:func:`~providers.fluence.rules.check_spec`), with what the context
        adds: the catalog (plan still offered, location among the plan's, OS image among
        the option's), the key's default images (``requires_ssh``) and, for an update of
        a deployment whose spec is ``previous``, what Fluence keeps as deployed."""
        context = context or ValidationContext()
        images = context.metadata.get("default_images") or ()
        checked = check_spec(spec, offers=context.offers, images=images)
        fixed = fixed_changes(checked, context.previous) if context.previous is not None else {}
        if fixed:
            raise SpecError(fixed)
        return checked

    @classmethod
    def estimate_price(cls, spec: dict[str, Any], offers: Iterable[Offer] = ()) -> Decimal | None:
        """The plan's price per hour (the whole plan: all its GPUs), from the catalog."""
        return prices.estimate_price(spec, offers)

    @classmethod
    def upfront_charges(cls, spec: dict[str, Any], offers: Iterable[Offer] = ()) -> list[Charge]:
        """Fluence moves ``upfront_hours`` (3) of rent from the balance on create [V]."""
        return prices.upfront_charges(spec, offers)

    @classmethod
    def action_blocked(
        cls, action: Action, *, spec: dict[str, Any], raw: dict[str, Any], since: dt.datetime | None
    ) -> str:
        """Fluence's preconditions (notes §2.8–2.10), said before the user tries."""
        return gates.action_blocked(action, spec, raw)

    # --- errors -----------------------------------------------------------------------------
    def error_detail(self, response: httpx.Response) -> ErrorDetail | None:
        """What Fluence's error body says (:mod:`providers.fluence.errors`)."""
        return errors.error_detail(response)

    # --- mapping ----------------------------------------------------------------------------
    def to_remote(
        self, item: Mapping[str, Any], kind: str, *, detailed: bool = True, now: dt.datetime | None = None
    ) -> Remote:
        state, message = remote_state(item, kind, now=now, detailed=detailed)
        endpoints, connection = connection_details(item, kind)
        return Remote(
            external_id=external_id_for(kind, str(item.get("id") or "")),
            name=str(item.get("name") or ""),
            state=state,
            vendor_state=str(item.get("instance_status") or item.get("status") or ""),
            message=message,
            endpoints=endpoints,
            price_per_hour=self._price(item, state),
            created_at=parse_time(item.get("created_at")),
            connection=connection,
            # The vendor's JSON, secrets masked, plus (ours) the kind: the gates read it.
            raw={**masked(dict(item)), "kind": kind},
        )

    @staticmethod
    def _price(item: Mapping[str, Any], state: RemoteState) -> Decimal | None:
        """What the instance costs per hour now: ``billing.hourly_usage`` [V]; nothing
        once it failed (refunded) or ended; unknown (``None``) without billing."""
        if state in (RemoteState.FAILED, RemoteState.DELETED):
            return Decimal("0")
        billing = item.get("billing")
        return decimal(billing.get("hourly_usage")) if isinstance(billing, dict) else None

    # --- lifecycle -------------------------------------------------------------------------
    def create(self, spec: dict[str, Any]) -> Remote:
        """POST once: a retried POST could deploy (and charge) twice [I], so a lost answer
        is the panel's to reconcile through ``find_by_name``."""
        kind, body = create_body(spec)
        data = self._http.post(COLLECTIONS[kind], json=body, retry=False).json()  # 2xx, code not stated [?]
        instance_id = str((data or {}).get("instance_id") or "") if isinstance(data, dict) else ""
        if not instance_id:
            # Accepted but unnamed: an instance may exist; the retry reconciles by name.
            raise Transient("Fluence accepted the deploy but sent no instance id")
        return Remote(
            external_id=external_id_for(kind, instance_id),
            name=body["name"],
            state=RemoteState.PROVISIONING,
            vendor_state="",
            message=f"Submitted to Fluence: {UPFRONT_HOURS} hours of rent moved to the instance while it provisions.",
            raw={**data, "kind": kind},
        )

    def get(self, external_id: str) -> Remote:
        kind, _ = kind_of(external_id)
        return self.to_remote(self._http.get(instance_path(external_id)).json(), kind)

    def _listed(self) -> list[tuple[str, dict[str, Any]]]:
        """Every instance of the account: three collections, unpaged [V]."""
        return [(kind, item) for kind in KINDS for item in instances(self._http.get(COLLECTIONS[kind]).json())]

    def list_remotes(self) -> list[Remote]:
        now = dt.datetime.now(dt.UTC)
        out = []
        for kind, item in self._listed():
            if vendor_status(item) != "ACTIVE":
                out.append(self.to_remote(item, kind, detailed=False, now=now))
                continue
            external_id = external_id_for(kind, str(item["id"]))
            try:
                detail = self._http.get(instance_path(external_id)).json()
            except NotFound:  # terminated between the two calls: the list item says enough
                out.append(self.to_remote(item, kind, detailed=False, now=now))
                continue
            out.append(self.to_remote(detail if isinstance(detail, dict) else item, kind, now=now))
        return out

    def spec_for_adoption(self, remote: Remote) -> dict[str, Any]:
        return spec_from_detail(remote.raw, kind_from(None, remote.raw))

    # VM and bare-metal rows carry ``status`` and ``domain``, enough for state; container
    # rows have no ``container_status`` or network [V: fluencelabs/docs
    # ``docs/build/api/overview.md``, "List instances" and "Get instance"], so an ACTIVE
    # container's state needs its detail (``detail_needed``), and every detail (billing,
    # ports, ``ssh_connection``) is only in ``GET`` by id.
    list_is_detailed: ClassVar[bool] = False

    def listing(
        self, *, known: Mapping[str, Mapping[str, Any]] | None = None, since: dt.datetime | None = None
    ) -> Listing:
        """The three collections, rows alone; unpaged [V], so always complete."""
        now = dt.datetime.now(dt.UTC)
        remotes = []
        for kind, item in self._listed():
            remote = self.to_remote(item, kind, detailed=False, now=now)
            remote.detail_needed = kind == CONTAINER and vendor_status(item) == "ACTIVE"
            remotes.append(remote)
        return Listing(remotes, complete=True)

    def find_by_name(self, name: str) -> Remote | None:
        """Names are not unique [?]: the newest instance with this name that has not ended."""
        matches = [
            (kind, item) for kind, item in self._listed() if item.get("name") == name and vendor_status(item) != "ENDED"
        ]
        if not matches:
            return None
        kind, newest = max(matches, key=lambda m: str(m[1].get("created_at") or ""))
        return self.get(external_id_for(kind, str(newest["id"])))

    def _after_write(self, external_id: str) -> Remote | None:
        """The instance after a PUT that Fluence took (204); if reading it fails, the next
        poll will: sending the PUT again would be refused while it applies."""
        try:
            return self.get(external_id)
        except Transient as exc:
            logger.info("fluence: %s changed, not read back: %s", external_id, exc.message)
            return None

    def update(self, external_id: str, spec: dict[str, Any], previous: dict[str, Any] | None = None) -> Remote | None:
        """Containers: a full replacement of name, image, environment, startup command,
        credentials and SSH key, which redeploys [V]. VMs and bare metal: rename only [V]."""
        kind, _ = kind_of(external_id)
        new = check_spec(spec)
        errors = {} if new["kind"] == kind else {"kind": [f"This instance is a {KIND_LABELS[kind].lower()}."]}
        errors.update(fixed_changes(new, previous))
        if errors:
            raise SpecError(errors)
        body = container_update_body(new) if kind == CONTAINER else {"name": new["name"]}
        self._http.put(instance_path(external_id), json=body)  # 204, no body [V]
        return self._after_write(external_id)

    def restart(self, external_id: str, spec: dict[str, Any]) -> Remote | None:
        """Fluence's "Redeploy": PUT the container's current configuration again [I]."""
        kind, _ = kind_of(external_id)
        if kind != CONTAINER:
            raise Unsupported(f"Fluence cannot restart a {KIND_LABELS[kind].lower()} through its API.")
        self._http.put(instance_path(external_id), json=container_update_body(spec))
        return self._after_write(external_id)

    def delete(self, external_id: str) -> None:
        """Terminate: 204, the unused reserve refunded [V]. Only ACTIVE instances can be
        terminated (a 400 otherwise [V]); a FAILED or ENDED one, which Fluence keeps
        listing, runs and bills nothing: it is reported gone (``NotFound``), so the panel
        lets it go rather than keep a deployment it can never delete."""
        path = instance_path(external_id)
        try:
            self._http.delete(path)
        except Rejected:
            item = self._http.get(path).json()
            status = vendor_status(item if isinstance(item, dict) else {})
            if status in ("FAILED", "ENDED"):
                raise NotFound(
                    f"Nothing to terminate: the instance is {status} at Fluence and runs or bills nothing."
                ) from None
            raise

    def _container_only(self, external_id: str, what: str) -> str:
        kind, _ = kind_of(external_id)
        if kind != CONTAINER:
            raise Unsupported(f"Fluence offers {what} for containers only, not for a {KIND_LABELS[kind].lower()}.")
        return instance_path(external_id, f"/{what}")

    def logs(self, external_id: str, *, last: int | None = LOG_LAST, **_: Any) -> LogLines:
        """The container's stdout and stderr, newest ``last`` lines [V]."""
        path = self._container_only(external_id, "logs")
        data = self._http.get(path, params={"last": last} if last else None).json()
        return LogLines(lines=[str(line) for line in data] if isinstance(data, list) else [], source="container")

    def events(self, external_id: str, *, last: int | None = EVENTS_LAST) -> list[VendorEvent]:
        """Cluster events (scheduling, pulls, starts), oldest first as Fluence sends them [V]."""
        path = self._container_only(external_id, "events")
        data = self._http.get(path, params={"last": last} if last else None).json()
        return [parse_event(line) for line in data] if isinstance(data, list) else []

    # --- account and catalog ----------------------------------------------------------------
    def balance(self) -> tuple[Decimal | None, str]:
        return parse_balance(self._http.get(BALANCES_PATH).json())

    def me(self) -> dict[str, Any]:
        data = self._http.get(ME_PATH).json()
        return data if isinstance(data, dict) else {}

    def verify(self) -> AccountInfo:
        """The balance (``/v2/users/balances``) and who the key belongs to (``/v1/users/me``).
        A key whose scopes do not cover one of them (403 [V]) is still good for GPU
        Cloud if the instance list answers; a 401 is the key's fault everywhere."""
        balance, currency, notes = self._verified_balance()
        me = self._account_details()
        who = _who(me)
        parts = [f"Key accepted{' for ' + who if who else ''}"]
        if balance is not None:
            parts.append(f"balance {balance:.2f} {currency}")
        permissions = me.get("permissions")
        if isinstance(permissions, list) and permissions:
            shown = ", ".join(str(p) for p in permissions[:6])
            parts.append(f"permissions: {shown}{'…' if len(permissions) > 6 else ''}")
        parts += notes
        return AccountInfo(summary="; ".join(parts) + ".", username=who, balance=balance, currency=currency)

    def _verified_balance(self) -> tuple[Decimal | None, str, list[str]]:
        """The balance, or a note on why there is none once the instance list proves the key."""
        try:
            balance, currency = self.balance()
        except AuthError as exc:
            if exc.status_code != 403:
                raise
            self._http.get(COLLECTIONS[CONTAINER])  # proves the key for GPU Cloud, or raises
            return None, CURRENCY, ["this key may not read the balance"]
        except NotFound:
            self._http.get(COLLECTIONS[CONTAINER])
            return None, CURRENCY, ["no balance reported"]
        return balance, currency, []

    def _account_details(self) -> dict[str, Any]:
        """``/v1/users/me``, or nothing: who the key belongs to is a nicety, not the check."""
        try:
            return self.me()
        except AuthError as exc:
            if exc.status_code != 403:
                raise
            return {}
        except ProviderError as exc:
            logger.info("fluence: account details unavailable: %s", exc.message)
            return {}

    def default_images(self) -> list[dict[str, Any]]:
        data = self._http.get(DEFAULT_IMAGES_PATH).json()
        return [i for i in data if isinstance(i, dict) and i.get("image")] if isinstance(data, list) else []

    def account_metadata(self) -> dict[str, Any]:
        """Fluence's default container images [V], for the form's picker: environment
        names only, no values (names, never values, in account metadata)."""
        images = []
        for item in self.default_images():
            expose = [
                {"port": str(e.get("port")), "protocol": str(e.get("protocol") or DEFAULT_PROTOCOL).lower()}
                for e in item.get("expose") or []
                if isinstance(e, dict) and e.get("port") not in (None, "")
            ]
            environment = [
                str(e.get("name")) for e in item.get("environment") or [] if isinstance(e, dict) and e.get("name")
            ]
            images.append(
                {
                    "slug": str(item.get("slug") or ""),
                    "name": str(item.get("name") or item.get("slug") or item["image"]),
                    "description": str(item.get("description") or ""),
                    "image": str(item["image"]),
                    "expose": expose,
                    "environment": environment,
                    "startup_command": str(item.get("startup_command") or ""),
                    "requires_ssh": bool(item.get("requires_ssh")),
                }
            )
        return {"default_images": images}

    def catalog(self) -> list[Offer]:
        """Container plans (one offer per plan, its locations in ``extra``), then every VM
        and bare-metal option (one offer each: an option is what ``plan_id`` names) [V]."""
        plans = self._http.get(PLAN_PATHS[CONTAINER]).json()
        offers = (
            [o for o in (container_offer(p) for p in plans if isinstance(p, dict)) if o is not None]
            if isinstance(plans, list)
            else []
        )
        for kind in (VM, BAREMETAL):
            offers += machine_offers(self._http.get(PLAN_PATHS[kind]).json(), kind)
        return offers


def _who(me: Mapping[str, Any]) -> str:
    """The account's most human name in ``/v1/users/me`` (or its ``user``)."""
    user = me.get("user")
    if not isinstance(user, dict):
        user = me
    return next(
        (str(user[k]) for k in ("email", "username", "name", "wallet_address", "address", "id") if user.get(k)), ""
    )
