"""The provider interface: what every vendor adapter offers, its data and its errors.

Plain Python on purpose: nothing here (or anywhere under ``providers/``) imports
Django, so each adapter is tested with respx alone and could serve another program.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from providers.registry import BY_SLUG

if TYPE_CHECKING:
    from providers.ratelimit import Limiter


class RemoteState(enum.StrEnum):
    """What a vendor can tell us about a resource, in the panel's words.

    The panel's own record has more states (queued, submitting, lost...) that only
    it can know; ``controlpanel.deployments.states`` maps these onto them.
    """

    PROVISIONING = "provisioning"
    RUNNING = "running"
    UPDATING = "updating"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"
    DELETING = "deleting"
    DELETED = "deleted"
    UNKNOWN = "unknown"


class Action(enum.StrEnum):
    """Lifecycle actions; an adapter lists the ones its vendor supports."""

    START = "start"
    STOP = "stop"
    RESTART = "restart"
    SCALE = "scale"
    UPDATE = "update"
    DELETE = "delete"
    ARCHIVE = "archive"  # Nosana: a terminal, read-only end that keeps the record at the vendor
    LOGS = "logs"
    EVENTS = "events"  # the vendor's own event stream for the timeline (Nosana, Fluence)


# --- errors -----------------------------------------------------------------------------


class ProviderError(Exception):
    """Base of every adapter error. ``message`` is safe to show: it never holds a key."""

    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, status_code: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.body = body


class SpecError(ProviderError):
    """The spec breaks a rule, ours or the vendor's (400/422). ``fields`` maps a spec
    path such as ``"name"`` or ``"environment_variables.0.name"`` to messages; ``""``
    holds messages that belong to no single field."""

    def __init__(self, fields: Mapping[str, list[str]], *, status_code: int | None = None, body: Any = None):
        self.fields = {key: list(messages) for key, messages in fields.items()}
        summary = "; ".join(
            f"{key}: {' '.join(messages)}" if key else " ".join(messages) for key, messages in self.fields.items()
        )
        super().__init__(summary or "invalid request", status_code=status_code, body=body)


class AuthError(ProviderError):
    """The key was refused (401/403)."""


class NotFound(ProviderError):
    """The vendor does not know this resource (404)."""


class Rejected(ProviderError):
    """Well-formed but refused: no balance, no capacity, wrong state, not allowed yet."""


class Unsupported(ProviderError):
    """The vendor has no such operation."""


class Transient(ProviderError):
    """Timeouts, connection errors, 5xx: worth retrying later. ``retry_after`` is the
    vendor's wait in seconds when it said one (a 503 may carry Retry-After too)."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class RateLimited(Transient):
    """429."""


@dataclass(frozen=True)
class ErrorDetail:
    """What a vendor's error body says, read by the adapter's ``error_detail`` hook;
    ``providers.http`` types it by HTTP status, the one place that mapping lives.

    ``fields`` (spec path → messages) makes any 4xx a :class:`SpecError` on those fields.
    ``error`` is the rare override where a vendor's status means something else
    (Novita's ``RESOURCE_NOT_FOUND`` is a 400 that means :class:`NotFound`; Nosana
    answers some refusals with a 500 that no retry will change)."""

    message: str = ""
    fields: Mapping[str, list[str]] | None = None
    error: type[ProviderError] | None = None


# --- data ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """One way to reach a deployment: a URL, or a host and port."""

    url: str = ""
    host: str = ""
    port: int | None = None
    protocol: str = ""
    label: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in ("", None)}


@dataclass
class Remote:
    """A vendor's view of one deployment, normalised."""

    external_id: str
    name: str
    state: RemoteState
    vendor_state: str
    message: str = ""
    replicas_ready: int | None = None
    replicas_desired: int | None = None
    endpoints: list[Endpoint] = field(default_factory=list)
    price_per_hour: Decimal | None = None
    created_at: dt.datetime | None = None
    # How to reach it, for people: {"SSH": "ssh -p 32345 root@host", "Jupyter": "https://..."}.
    # Never passwords: adapters drop or mask them before they get here.
    connection: dict[str, str] = field(default_factory=dict)
    # The vendor's answer, with any secret it contained masked by the adapter.
    raw: dict[str, Any] = field(default_factory=dict)
    # Only in a ``Listing``: the list row alone cannot say the state (a Fluence container's
    # ``container_status``, a Nosana deployment running no job), so a detail read tells it.
    detail_needed: bool = False

    @property
    def primary_url(self) -> str:
        return next((e.url for e in self.endpoints if e.url), "")


@dataclass
class Listing:
    """What one paged list of an account said: a ``Remote`` per row, made from the list
    rows alone (no per-row call), and whether every page was read. An incomplete list
    (paging stopped at its guard, a page count that never settled) proves nothing about
    a row it lacks: the panel calls nothing lost from it."""

    remotes: list[Remote]
    complete: bool = True


@dataclass(frozen=True)
class AccountInfo:
    """What a cheap authenticated call says about the account behind a key."""

    summary: str
    username: str = ""
    balance: Decimal | None = None
    currency: str = "USD"


@dataclass(frozen=True)
class Offer:
    """Something the vendor rents out, with its price: a GPU type, market, plan, product
    or hardware SKU. ``sku`` is what goes into the create request (a market address, a
    plan id, a product id, a hardware sku); ``kind`` says which, when a vendor has several
    (Fluence: "container", "vm", "baremetal"). ``price_per_hour`` is USD for the whole
    offer (all its GPUs); ``extra`` holds what the vendor's form needs (locations, OS
    images, rootfs window, billing methods, spot and monthly prices...)."""

    sku: str
    name: str
    kind: str = ""
    gpu_model: str = ""  # normalised, e.g. "H100", "RTX 4090"
    gpu_count: int = 1
    gpu_memory_gb: int | None = None
    price_per_hour: Decimal | None = None
    available: bool = True
    location: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def price_per_gpu_hour(self) -> Decimal | None:
        if self.price_per_hour is None or not self.gpu_count:
            return self.price_per_hour
        return self.price_per_hour / self.gpu_count


@dataclass(frozen=True)
class ValidationContext:
    """What a vendor's rules may need beyond the spec itself. ``offers`` is the account's
    synced catalog (a product's disk window, a plan's locations), ``metadata`` what
    ``account_metadata()`` returned (clusters, volumes, registries), and ``existing`` says
    the spec updates a deployment that exists (capacity no longer matters; what the
    vendor cannot change does), whose current spec is ``previous``."""

    offers: tuple[Offer, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    existing: bool = False
    previous: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class LogLines:
    lines: list[str]
    source: str = ""


@dataclass(frozen=True)
class VendorEvent:
    """One line of the vendor's own history of a deployment (jobs, scheduling, pulls)."""

    message: str
    at: dt.datetime | None = None
    kind: str = ""


@dataclass(frozen=True)
class Charge:
    """Money the vendor takes before or at submission, named in the confirmation step."""

    amount: Decimal
    description: str
    currency: str = "USD"


@dataclass(frozen=True)
class Activity:
    """What a vendor's last answer says of a deployment's use, for the idle rule: how many
    instances are kept up whether or not anyone calls (``kept_warm``), whether work is in
    progress now, when it last did any, and the scale that lets it sleep at no cost
    until the next request (``scale_to_zero``, the Scale action's params)."""

    kept_warm: int
    busy: bool
    last_active_at: dt.datetime | None
    scale_to_zero: dict[str, Any]


def parse_time(value: Any) -> dt.datetime | None:
    """ISO 8601 (with ``Z``) to an aware datetime; ``None`` when absent or unreadable."""
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


# --- the interface --------------------------------------------------------------------------


class Provider:
    """One vendor. Subclasses set the class attributes and implement what the vendor offers;
    what it does not offer raises :class:`Unsupported` and is absent from ``actions``."""

    # Templates read class attributes (``provider_class.redeploy_effect``); a class is
    # callable, and Django's templates would otherwise try to instantiate it.
    do_not_call_in_templates: ClassVar[bool] = True
    name: ClassVar[str]
    display_name: ClassVar[str]  # from the registry's row for ``name``; never set twice
    default_base_url: ClassVar[str]
    # Path under the panel's sandbox root that stands in for ``default_base_url``.
    sandbox_path: ClassVar[str]
    actions: ClassVar[frozenset[Action]] = frozenset()
    # The vendor's statuses → RemoteState, one dict (the adapter's statuses module); the
    # contract suite checks every row and the documented statuses it must cover.
    status_table: ClassVar[Mapping[str, RemoteState]] = {}
    # Vendor statuses the panel reads as stopped (nothing bills) that are not a stop: the
    # deployment sleeps and the next request wakes it (Replicate at min_instances 0). The
    # badge says "Scaled to zero" for them rather than "Stopped".
    asleep_statuses: ClassVar[frozenset[str]] = frozenset()
    # Whether the vendor refuses a second resource with the same name; if it does, a
    # retried create can find what an earlier attempt made by name alone.
    unique_names: ClassVar[bool] = False
    # Seconds a deployment may stay provisioning before the panel calls it failed ("did not
    # come up within 30 minutes") and stops what can be stopped, so a rollout that never
    # finishes does not bill forever. Default: a large image pulled and a model loaded.
    provision_deadline: ClassVar[int] = 30 * 60
    # The Scale dialog: which inputs it asks for (replica bounds, or one count as Nosana's
    # replicas), where the current values live in the spec (Replicate keeps min/max
    # instances), and what the vendor calls the things it scales.
    scale_fields: ClassVar[tuple[str, ...]] = ("min_replicas", "max_replicas")
    scale_keys: ClassVar[tuple[str, ...]] = ("min_replicas", "max_replicas")
    scale_unit: ClassVar[str] = "replicas"
    # Whether the vendor can roll a deployment out anew with the spec it already has (the
    # page's Redeploy): Together's PATCH and Novita's upgrade can; where an unchanged spec
    # changes nothing (Nosana, Replicate) the page does not offer it.
    redeploys: ClassVar[bool] = False
    # Whether the vendor keeps a deployment's revisions and rolls back to one (Together):
    # the page lists them (``revisions()``) and offers "Roll back" (``rollback()``).
    rolls_back: ClassVar[bool] = False
    # What the Redeploy dialog says happens, after "<vendor> rolls it out anew:".
    redeploy_effect: ClassVar[str] = "replicas restart one after another and pick up a newer image behind the same tag"
    # The pace the panel keeps to for one account (every worker together), and the burst
    # it allows after a quiet spell. Only Replicate publishes a limit for the calls the
    # panel makes (its adapter sets it); Nosana, Together, Fluence and Novita publish none
    # for their management APIs (/work/shared/vendor-apis/*.md, "Rate limits"), so they
    # get 300 a minute: 5 a second, the pace the Nosana notes suggest per key, far below
    # anything a public API gateway refuses, and still room for a list-first refresh of
    # 5,000 deployments (about a hundred calls) inside the task's 60 s soft limit.
    # PANEL_RATE_LIMITS overrides either number per vendor.
    rate_limit_per_minute: ClassVar[int] = 300
    rate_limit_burst: ClassVar[int] = 10

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        row = BY_SLUG.get(cls.__dict__.get("name", ""))
        if row is not None and "display_name" not in cls.__dict__:
            cls.display_name = row.display_name

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        client: httpx.Client | None = None,
        timeout: float = 30.0,
        limiter: Limiter | None = None,
        limit_key: str = "",
    ) -> None:
        """``limiter`` and ``limit_key``: the account's rate limit, which every request of
        this adapter passes (see ``providers.ratelimit``); none, no limit."""
        from providers.http import VendorHTTP  # local: http imports this module

        self._http = VendorHTTP(
            base_url=(base_url or self.default_base_url).rstrip("/"),
            headers=self.auth_headers(api_key),
            error_detail=self.error_detail,
            client=client,
            timeout=timeout,
            limiter=limiter,
            limit_key=limit_key,
        )

    def __repr__(self) -> str:  # never show the key, even in a traceback
        return f"<{type(self).__name__} {self._http.base_url}>"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Provider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Subclasses override these.
    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"}

    def error_detail(self, response: httpx.Response) -> ErrorDetail | None:
        """What the vendor's error body says (its message, the fields it names, the rare
        override); ``None`` leaves the message to ``providers.http``'s generic reading."""
        return None

    # --- rules and prices: class methods, so forms can use them without a key ----------
    @classmethod
    def validate(cls, spec: dict[str, Any], context: ValidationContext | None = None) -> dict[str, Any]:
        """Check ``spec`` against the vendor's rules; return it normalised or raise
        :class:`SpecError`. ``context`` carries what some rules need beyond the spec:
        the account's catalog and metadata, and whether this is an update."""
        return spec

    @classmethod
    def validate_scale(cls, changes: dict[str, Any]) -> dict[str, Any]:
        """Check new replica/instance counts; return them normalised or raise SpecError."""
        raise Unsupported(f"{cls.display_name} cannot scale")

    @classmethod
    def estimate_price(cls, spec: dict[str, Any], offers: Iterable[Offer] = ()) -> Decimal | None:
        """Price per hour of one replica/instance of ``spec``, from ``offers`` where known."""
        return None

    @classmethod
    def upfront_charges(cls, spec: dict[str, Any], offers: Iterable[Offer] = ()) -> list[Charge]:
        """What submitting ``spec`` takes from the account at once (Fluence's 3 hours of
        rent, Novita's months of a subscription); shown in the confirmation step."""
        return []

    @classmethod
    def action_blocked(
        cls, action: Action, *, spec: dict[str, Any], raw: dict[str, Any], since: dt.datetime | None
    ) -> str:
        """Why the vendor would refuse ``action`` now, in plain words, or ``""``. ``since``
        is when the deployment entered its current state (Replicate's 15-minute rule)."""
        return ""

    @classmethod
    def activity(cls, *, spec: dict[str, Any], raw: dict[str, Any]) -> Activity | None:
        """Its use, as far as the vendor's last answer (``raw``) reports it; ``None`` where
        the vendor reports none (then no idle rule can apply)."""
        return None

    # --- lifecycle ------------------------------------------------------------------
    def create(self, spec: dict[str, Any]) -> Remote:
        raise Unsupported(f"{self.display_name} cannot create deployments")

    def revisions(self, external_id: str) -> list[dict[str, Any]]:
        """Its revision history, newest first: ``revision_number``, ``revision_id``,
        ``action``, ``activated_at``, ``image`` (where ``rolls_back``)."""
        raise Unsupported(f"{self.display_name} keeps no revisions")

    def rollback(self, external_id: str, revision: str, spec: dict[str, Any]) -> tuple[Remote, dict[str, Any]]:
        """Re-apply an older revision; the vendor's answer and the spec the row keeps."""
        raise Unsupported(f"{self.display_name} has no rollback")

    def get(self, external_id: str) -> Remote:
        raise Unsupported(f"{self.display_name} cannot look up deployments")

    def list_remotes(self) -> Iterable[Remote]:
        raise Unsupported(f"{self.display_name} cannot list deployments")

    # Whether ``listing()`` rows hold everything ``get()`` does. Where they do not (Novita's
    # connection details, Fluence's container status and network, Nosana's jobs), the
    # panel's refresh reads ``get()`` only for rows that are new, changed in the list, in
    # motion or ``detail_needed``, plus a few steady ones in rotation.
    list_is_detailed: ClassVar[bool] = True

    def listing(
        self, *, known: Mapping[str, Mapping[str, Any]] | None = None, since: dt.datetime | None = None
    ) -> Listing:
        """Every deployment of the account from its list alone, and whether every page was
        read. ``known`` is what the panel stored of each (``raw`` by external id) and
        ``since`` when it last listed, for a vendor that can read only what is new since
        (Replicate's predictions). By default ``list_remotes()``, complete (it raises when
        a page fails)."""
        return Listing(list(self.list_remotes()), complete=True)

    def detail(self, listed: Remote) -> Remote:
        """What a read of one listed row adds to the list's view of it: by default ``get``;
        an adapter may read less (Nosana reads only the jobs a list row leaves open)."""
        return self.get(listed.external_id)

    def find_by_name(self, name: str) -> Remote | None:
        return next((r for r in self.list_remotes() if r.name == name and r.state != RemoteState.DELETED), None)

    def spec_for_adoption(self, remote: Remote) -> dict[str, Any]:
        """The spec behind ``remote`` (a resource made outside the panel, being adopted),
        rebuilt from the vendor's detail answer as far as it tells: the same keys the
        vendor's form builds, so Edit, Clone and Redeploy work on it. ``remote`` is what
        ``get()`` returned; a vendor that keeps part of the spec elsewhere (Nosana's job
        definition, in its revisions) fetches it here. Default: the name alone."""
        return {"name": remote.name} if remote.name else {}

    def adopt(self, remote: Remote, spec: dict[str, Any]) -> Remote:
        """Finish what an earlier, interrupted submission started, for a resource found by
        ``find_by_name`` (Nosana: start the draft that attempt created). Default: nothing."""
        return remote

    def start(self, external_id: str, spec: dict[str, Any]) -> Remote | None:
        raise Unsupported(f"{self.display_name} has no start")

    def stop(self, external_id: str, spec: dict[str, Any]) -> Remote | None:
        raise Unsupported(f"{self.display_name} has no stop")

    def restart(self, external_id: str, spec: dict[str, Any]) -> Remote | None:
        raise Unsupported(f"{self.display_name} has no restart")

    def scale(self, external_id: str, changes: dict[str, Any]) -> Remote | None:
        raise Unsupported(f"{self.display_name} cannot scale")

    def update(self, external_id: str, spec: dict[str, Any], previous: dict[str, Any] | None = None) -> Remote | None:
        """Make the vendor match ``spec``. ``previous`` is the spec it has now, so an
        adapter whose vendor changes things through several calls can send only the
        ones that changed (Nosana's update-timeout, Novita's edit vs upgrade...)."""
        raise Unsupported(f"{self.display_name} cannot update deployments")

    def redeploy(self, external_id: str, spec: dict[str, Any]) -> Remote | None:
        """Roll the deployment out anew with ``spec`` (its current one). By default the
        vendor's update with nothing changed, which is a rollout where ``redeploys`` is set."""
        if not self.redeploys:
            raise Unsupported(f"{self.display_name} has no redeploy")
        return self.update(external_id, spec, spec)

    def delete(self, external_id: str) -> None:
        raise Unsupported(f"{self.display_name} cannot delete deployments")

    def archive(self, external_id: str) -> Remote | None:
        raise Unsupported(f"{self.display_name} has no archive")

    def logs(self, external_id: str, **options: Any) -> LogLines:
        raise Unsupported(f"{self.display_name} offers no logs")

    def events(self, external_id: str) -> list[VendorEvent]:
        raise Unsupported(f"{self.display_name} offers no event history")

    # --- account and catalog --------------------------------------------------------
    def verify(self) -> AccountInfo:
        raise Unsupported(f"{self.display_name} cannot verify keys")

    def catalog(self) -> list[Offer]:
        return []

    def account_metadata(self) -> dict[str, Any]:
        """Names the forms can suggest (secrets, volumes, registries...). Never values."""
        return {}
