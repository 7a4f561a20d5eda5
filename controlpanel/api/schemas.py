"""The API's request and answer types: pydantic models that both validate the views'
input and output and make the OpenAPI document, so the two cannot drift."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from ninja import Field, Schema

from controlpanel.deployments.selectors import SORTS
from controlpanel.deployments.states import State
from controlpanel.deployments.views import ACTION_NAMES
from providers.registry import SLUGS

VendorName = Literal[tuple(SLUGS)]  # type: ignore[valid-type]
StateFilter = Literal[("active", *[s.value for s in State if s != State.DELETED])]  # type: ignore[valid-type]
SortName = Literal[tuple(SORTS)]  # type: ignore[valid-type]
ActionName = Literal[tuple(ACTION_NAMES)]  # type: ignore[valid-type]
Money = str  # decimal dollars as text ("1.2500"): never a float


class ErrorDetail(Schema):
    code: str = Field(description="A stable word: unauthenticated, forbidden, not_found, invalid, rate_limited...")
    message: str
    fields: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Per field, the messages the panel's own form shows on it ('__all__': the form's own).",
    )


class ErrorOut(Schema):
    error: ErrorDetail


class DeploymentOut(Schema):
    id: int
    uuid: str
    name: str
    vendor: str
    state: str
    state_label: str
    vendor_state: str
    status_message: str
    account_id: int | None
    external_id: str
    endpoint_url: str
    replicas_ready: int | None
    replicas_desired: int | None
    price_per_hour: Money | None
    estimated_price_per_hour: Money | None
    cost_so_far: Money
    cost_this_month: Money
    pending_action: str
    actions: dict[str, str] = Field(
        description="Each action's refusal now, in the page's words; \"\" where it may be taken."
    )
    endpoints: list[Any]
    connection: dict[str, Any] = Field(description="How to reach it (SSH command, web terminal...), never passwords.")
    error_fields: dict[str, list[str]]
    spec: dict[str, Any] = Field(description="The vendor's request body; env values and passwords masked.")
    created_by: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    checked_at: dt.datetime | None
    expires_at: dt.datetime | None
    expiry_action: str


class DeploymentPage(Schema):
    count: int
    page: int
    pages: int
    page_size: int
    results: list[DeploymentOut]


class DeploymentFilters(Schema):
    vendor: VendorName | None = None
    state: StateFilter | None = None
    key: int | None = Field(None, description="A key's id (GET /keys)")
    creator: int | None = Field(None, description="A member's user id")
    mine: bool = False
    search: str | None = Field(None, max_length=200, description="Part of the name")
    sort: SortName = "age"
    dir: Literal["asc", "desc"] | None = None
    page: int = Field(1, ge=1, le=100_000)


class FormIn(Schema):
    fields: dict[str, Any] = Field(
        default_factory=dict,
        description="The vendor form's fields by name, as the browser posts them (account, name, image...).",
    )
    rows: dict[str, list[dict[str, Any]]] = Field(
        default_factory=dict,
        description="The form's repeated sections by prefix (env, volumes, ports...): one object per row.",
    )


class DeploymentIn(FormIn):
    vendor: VendorName
    dry_run: bool = Field(False, description="Check and price it, create nothing.")
    max_price_per_hour: float | None = Field(
        None, ge=0, description="Refuse (422) if the estimate per hour is above this."
    )


class Estimate(Schema):
    unit: Money | None = None
    low: Money | None = None
    high: Money | None = None
    day: Money | None = None
    month: Money | None = None


class ChargeOut(Schema):
    amount: Money
    currency: str
    description: str


class QuoteOut(Schema):
    vendor: str
    valid: bool
    estimate: Estimate
    charges: list[ChargeOut]
    spec: dict[str, Any]


class ScaleIn(Schema):
    min_replicas: int | None = None
    max_replicas: int | None = None
    replicas: int | None = None


class EventOut(Schema):
    kind: str
    actor: str
    from_state: str
    to_state: str
    message: str
    created_at: dt.datetime


class VendorEvent(Schema):
    message: str
    at: str
    kind: str


class LogsOut(Schema):
    available: bool = Field(description="Whether the vendor has logs at all.")
    lines: list[str]
    events: list[VendorEvent]
    fetched_at: dt.datetime | None
    error: str


class KeyOut(Schema):
    id: int
    vendor: str
    label: str
    masked_key: str
    status: str
    status_message: str
    endpoint: str
    verified_at: dt.datetime | None
    balance: Money | None
    balance_currency: str
    created_at: dt.datetime


class OfferOut(Schema):
    vendor: str
    kind: str
    sku: str
    name: str
    gpu: str
    gpu_count: int
    gpu_memory_gb: int | None
    price_per_hour: Money | None
    location: str
    available: bool
    keys: list[str]


class OfferFilters(Schema):
    vendor: VendorName | None = None
    gpu: str | None = Field(None, max_length=100, description="A GPU model in any vendor's spelling ('H100')")
    gpu_count: int | None = Field(None, ge=1, le=64)
    available: bool = False


class CostsOut(Schema):
    currency: str
    month_start: dt.date
    per_hour: dict[str, Money] = Field(description="Spend per hour now, by vendor")
    month: dict[str, Money] = Field(description="Spent this month so far (UTC), by vendor")
    total_per_hour: Money
    total_month: Money


class MeOut(Schema):
    user: str
    team_id: int
    team: str
    role: str
    token: str


# --- templates and deploy anywhere ------------------------------------------------------------------


class TemplateOut(Schema):
    id: int | None = Field(description="A team template's id; null for a built-in one (see slug).")
    slug: str | None = Field(description="A built-in template's name; null for a team's own.")
    builtin: bool
    name: str
    description: str
    vendor: str | None = Field(description="The vendor whose form it was saved from; null: vendor-neutral (built-in).")
    spec: dict[str, Any] = Field(
        description="A team template: the vendor's request body, secret values emptied. A built-in: the neutral spec."
    )
    to_fill: list[str] = Field(description="What must be filled in when it is used (secret env values, passwords).")
    can_manage: bool = Field(description="Whether this token's person may rename or delete it.")
    created_by: str | None
    created_at: dt.datetime | None
    updated_at: dt.datetime | None


class TemplateIn(FormIn):
    vendor: VendorName
    name: str = Field(max_length=1000, description="Unique in the team, up to 100 characters.")
    description: str = Field("", max_length=2000)


class TemplatePatch(Schema):
    name: str | None = Field(None, max_length=1000)
    description: str | None = Field(None, max_length=2000)


class TemplateDeployIn(FormIn):
    vendor: VendorName | None = Field(
        None, description="Deploy on this vendor (translated through the neutral spec); default: the template's own."
    )
    secrets: dict[str, str] = Field(
        default_factory=dict,
        description="Values for the template's to_fill env variables by name (HF_TOKEN...): never stored in it.",
    )
    dry_run: bool = Field(False, description="Check and price it, create nothing.")
    max_price_per_hour: float | None = Field(
        None, ge=0, description="Refuse (422) if the estimate per hour is above this."
    )


class AnywhereFilters(Schema):
    image: str = Field(max_length=500, description="The container image, with its registry")
    gpu: str | None = Field(
        None, max_length=100, description="A GPU model in any vendor's spelling ('H100'); none: any"
    )
    count: int = Field(1, description="GPUs per instance, 1 to 8")
    max_price: float | None = Field(None, description="USD an hour for all the GPUs asked for; none: any price")
    memory_gb: int | None = None
    disk_gb: int | None = None
    region: str | None = Field(
        None, max_length=50, description="A preference (US, DE, Europe): offers there come first"
    )
    port: int | None = None
    command: str | None = Field(None, max_length=2000)


class AnywhereOfferOut(Schema):
    offer_id: int = Field(description="The offer's id in the team's catalog")
    account_id: int = Field(description="The key it is listed under (GET /keys)")
    vendor: str
    kind: str
    sku: str
    name: str
    gpu: str
    gpu_count: int = Field(description="GPUs this deployment would get there")
    price_per_hour: Money | None = Field(description="For the GPUs asked for; null: the vendor prices it when it runs")
    location: str
    available: bool
    in_region: bool
    differences: list[str] = Field(description="What will differ from what was asked, in the page's words")
    keys: list[str]
