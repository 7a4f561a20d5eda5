"""The REST API, /api/v1/: django-ninja views, as thin as the browser's.

Each endpoint parses its input with the types in ``schemas``, checks the role with the
one permission table, and calls the same selectors, forms and services as the pages, so
permissions, validation, audit entries and money checks are the browser's own.
"""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Header, NinjaAPI, Query, Status

from controlpanel.api import errors
from controlpanel.api.auth import TokenAuth
from controlpanel.api.errors import ApiError
from controlpanel.api.forms_bridge import form_data, form_errors
from controlpanel.api.schemas import (
    ActionName,
    CostsOut,
    DeploymentFilters,
    DeploymentIn,
    DeploymentOut,
    DeploymentPage,
    ErrorOut,
    EventOut,
    FormIn,
    KeyOut,
    LogsOut,
    MeOut,
    OfferFilters,
    OfferOut,
    QuoteOut,
    ScaleIn,
)
from controlpanel.catalog.selectors import price_table, team_offers
from controlpanel.core.templatetags.panel import masked_spec
from controlpanel.credentials.models import Vendor
from controlpanel.credentials.selectors import team_accounts
from controlpanel.deployments import selectors, services
from controlpanel.deployments.cost import month_start_of
from controlpanel.deployments.forms import form_class_for
from controlpanel.deployments.forms.actions import ScaleForm
from controlpanel.deployments.states import State
from controlpanel.deployments.views import ACTION_NAMES
from controlpanel.teams.permissions import Perm
from providers.base import Action

api = NinjaAPI(
    title="GPU Control Panel API",
    version="1",
    urls_namespace="api-v1",
    auth=TokenAuth(),
    docs_url="/docs",
    openapi_url="/openapi.json",
    description=(
        "Deployments over Nosana, Together AI, Replicate, Fluence and Novita. Authenticate with "
        "`Authorization: Bearer <token>` (a token of one team, acting with your role there). Creates "
        "and actions take an `Idempotency-Key` header (16-100 of A-Z a-z 0-9 _ -): a retry with the "
        "same key gets the first answer and never creates or acts twice. Errors are always "
        '`{"error": {"code", "message", "fields"}}`.'
    ),
)
errors.install(api)

ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut, 429: ErrorOut}
WRITE_ERRORS = {**ERRORS, 409: ErrorOut}
IDEMPOTENCY_KEY_RE = re.compile(r"[A-Za-z0-9_-]{16,100}")  # the create form's token, as in its view
REPLAYED = "Idempotent-Replayed"
KeyHeader = Header(
    None,
    alias="Idempotency-Key",
    pattern=r"^[A-Za-z0-9_-]{16,100}$",
    description="Any new random string per request (a UUID will do); a retry with it gets the first answer.",
)


# --- helpers ----------------------------------------------------------------------------------------


def _need(request: HttpRequest, perm: Perm) -> None:
    membership = request.membership  # type: ignore[attr-defined]
    if not membership.can(perm):
        raise PermissionDenied(f"Your role ({membership.get_role_display()}) cannot do this.")


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.4f}"


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


LISTED_ACTIONS = (Action.START, Action.STOP, Action.RESTART, Action.SCALE, Action.UPDATE, Action.DELETE, Action.ARCHIVE)


def deployment_out(d: Any) -> dict[str, Any]:
    return {
        "id": d.pk,
        "uuid": str(d.uuid),
        "name": d.name,
        "vendor": d.vendor,
        "state": d.state,
        "state_label": d.get_state_display(),
        "vendor_state": d.vendor_state,
        "status_message": d.status_message,
        "account_id": d.account_id,
        "external_id": d.external_id,
        "endpoint_url": d.endpoint_url,
        "replicas_ready": d.replicas_ready,
        "replicas_desired": d.replicas_desired,
        "price_per_hour": _money(d.price_per_hour),
        "estimated_price_per_hour": _money(d.estimated_price_per_hour),
        "cost_so_far": _money(d.cost_so_far),
        "cost_this_month": _money(d.cost_this_month),
        "pending_action": d.pending_action,
        "actions": {a.value: services.action_refusal(d, a) for a in LISTED_ACTIONS},
        "endpoints": d.endpoints if isinstance(d.endpoints, list) else [],
        "connection": d.connection if isinstance(d.connection, dict) else {},
        "error_fields": d.error_fields if isinstance(d.error_fields, dict) else {},
        "spec": masked_spec(d.spec) if isinstance(d.spec, dict) else {},
        "created_by": d.created_by.get_username() if d.created_by else None,
        "created_at": d.created_at,
        "updated_at": d.updated_at,
        "checked_at": d.checked_at,
        "expires_at": d.expires_at,
        "expiry_action": d.expiry_action,
    }


def _idempotency_key(request: HttpRequest) -> str:
    key = request.headers.get("Idempotency-Key", "")
    if key and not IDEMPOTENCY_KEY_RE.fullmatch(key):
        raise ApiError(
            422,
            "The Idempotency-Key header is 16 to 100 characters of A-Z, a-z, 0-9, '_' and '-'.",
            fields={"Idempotency-Key": ["16 to 100 characters of A-Z, a-z, 0-9, '_' and '-'."]},
        )
    return key


def _digest(what: str, payload: Any) -> str:
    text = json.dumps({"what": what, "payload": payload}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _reused() -> ApiError:
    return ApiError(
        422,
        "This Idempotency-Key was already used for a different request; use a new key for a new request.",
        code="idempotency_key_reused",
        fields={"Idempotency-Key": ["Already used for a different request."]},
    )


def _replay(earlier: Any, digest: str, response: HttpResponse) -> Status:
    """The first answer to a request with this key; a different request with it is refused."""
    stored = earlier.response or {}
    if stored.get("request") != digest:
        raise _reused()
    response[REPLAYED] = "true"
    return Status(stored["status"], stored["body"])


def _build_form(request: HttpRequest, vendor: str, data: Any = None, **kwargs: Any) -> Any:
    """The vendor's form exactly as the browser's view builds it (deployments.views._build_form)."""
    offers = [row.as_offer() for row in team_offers(team=request.team, vendor=vendor)]  # type: ignore[attr-defined]
    return form_class_for(vendor)(data, accounts=team_accounts(team=request.team), offers=offers, **kwargs)  # type: ignore[attr-defined]


def _bound_form(request: HttpRequest, vendor: str, body: FormIn, **kwargs: Any) -> Any:
    form_class = form_class_for(vendor)
    data = form_data(body.fields, body.rows, list(form_class.formsets))
    return _build_form(request, vendor, data, **kwargs)


def _invalid(form: Any) -> ApiError:
    return ApiError(422, "The form has errors; see fields.", fields=form_errors(form))


def _estimate(form: Any) -> dict[str, Any]:
    estimate = form.estimate()
    return {k: _money(estimate.get(k)) for k in ("unit", "low", "high", "day", "month")}


def _charges(form: Any) -> list[dict[str, Any]]:
    return [{"amount": _money(c.amount), "currency": c.currency, "description": c.description} for c in form.charges()]


# --- who am I ---------------------------------------------------------------------------------------


@api.get("/me", response={200: MeOut, **ERRORS}, tags=["token"])
def me(request: HttpRequest) -> dict[str, Any]:
    """The token's person, team and role now."""
    membership = request.membership  # type: ignore[attr-defined]
    return {
        "user": request.user.get_username(),
        "team_id": membership.team_id,
        "team": membership.team.name,
        "role": membership.role,
        "token": request.api_token.name,  # type: ignore[attr-defined]
    }


# --- deployments ------------------------------------------------------------------------------------


@api.get("/deployments", response={200: DeploymentPage, **ERRORS}, tags=["deployments"])
def deployments_list(request: HttpRequest, filters: Query[DeploymentFilters]) -> dict[str, Any]:
    """The dashboard's list: the same filters, search, sort and pages (deleted ones left out)."""
    _need(request, Perm.VIEW)
    default_dir = "desc" if filters.sort in ("age", "price", "checked", "replicas") else "asc"
    rows = selectors.dashboard_deployments(
        team=request.team,  # type: ignore[attr-defined]
        user=request.user,
        vendor=filters.vendor or "",
        state=filters.state or "",
        account_id=filters.key,
        creator_id=filters.creator,
        mine=filters.mine,
        query=(filters.search or "").strip(),
        sort=filters.sort,
        descending=(filters.dir or default_dir) == "desc",
    )
    paginator = Paginator(rows, settings.PANEL_API_PAGE_SIZE)
    page = paginator.get_page(filters.page)
    return {
        "count": paginator.count,
        "page": page.number,
        "pages": paginator.num_pages,
        "page_size": paginator.per_page,
        "results": [deployment_out(d) for d in page.object_list],
    }


@api.get("/deployments/{pk}", response={200: DeploymentOut, **ERRORS}, tags=["deployments"])
def deployment_get(request: HttpRequest, pk: int) -> dict[str, Any]:
    _need(request, Perm.VIEW)
    return deployment_out(selectors.team_deployment(team=request.team, pk=pk))  # type: ignore[attr-defined]


def _create_replay(team: Any, key: str, digest: str, response: HttpResponse) -> Status | None:
    """The answer an earlier create with ``key`` got, if there was one."""
    earlier = services.idempotency_earlier(team=team, key=key)
    if earlier is None:
        return None
    if earlier.action:
        raise _reused()
    if earlier.response is not None:
        return _replay(earlier, digest, response)
    if earlier.deployment is not None:  # the form's own token: its deployment
        response[REPLAYED] = "true"
        return Status(201, deployment_out(earlier.deployment))
    return None


@api.post(
    "/deployments",
    response={200: QuoteOut, 201: DeploymentOut, **WRITE_ERRORS},
    tags=["deployments"],
)
def deployment_create(
    request: HttpRequest, payload: DeploymentIn, response: HttpResponse, idempotency_key: str | None = KeyHeader
) -> Status:
    """Create a deployment on any vendor through that vendor's form: the same fields, checks
    and messages as the page. ``dry_run`` answers the price (200) and creates nothing; a
    create answers 201 with the deployment, queued for the worker (or awaiting approval)."""
    _need(request, Perm.DEPLOY)
    form_class = form_class_for(payload.vendor)
    data = form_data(payload.fields, payload.rows, list(form_class.formsets))
    return create_from_data(
        request,
        response,
        vendor=payload.vendor,
        data=data,
        digest=_digest("create", payload.model_dump()),
        dry_run=payload.dry_run,
        max_price_per_hour=payload.max_price_per_hour,
    )


def create_from_data(
    request: HttpRequest,
    response: HttpResponse,
    *,
    vendor: str,
    data: Any,
    digest: str,
    dry_run: bool,
    max_price_per_hour: float | None,
) -> Status:
    """The one create path (POST /deployments and POST /templates/{id}/deploy): the vendor's
    form bound to ``data``, the header's Idempotency-Key, the price check, the service."""
    team = request.team  # type: ignore[attr-defined]
    key = "" if dry_run else _idempotency_key(request)
    replayed = _create_replay(team, key, digest, response)
    if replayed is not None:
        return replayed
    if not team_accounts(team=team, vendor=vendor).exists():
        raise ApiError(
            409,
            f"The team has no {Vendor(vendor).label} key: add one first.",
            code="no_key",
            fields={"account": ["Add a key first."]},
        )
    form = _build_form(request, vendor, data)
    if not form.is_valid():
        # A request with the same key may have finished meanwhile (and taken the name): its answer.
        replayed = _create_replay(team, key, digest, response)
        if replayed is not None:
            return replayed
        raise _invalid(form)
    estimate = form.estimate()
    low = estimate.get("low")
    if max_price_per_hour is not None and (low is None or low > Decimal(str(max_price_per_hour))):
        price = f"about ${low:.2f}/h" if low is not None else "not known before it runs"
        raise ApiError(
            422,
            f"The price is {price}, above max_price_per_hour.",
            fields={"max_price_per_hour": [f"The estimate is {price}."]},
        )
    if dry_run:
        return Status(
            200,
            {
                "vendor": vendor,
                "valid": True,
                "estimate": _estimate(form),
                "charges": _charges(form),
                "spec": masked_spec(form.spec),
            },
        )
    try:
        with transaction.atomic():
            deployment = services.deployment_create(
                team=team,
                actor=request.user,
                account=form.account,
                spec=form.spec,
                estimated_price_per_hour=low,
                idempotency_key=key,
                submitted_via=f"through the API (token “{request.api_token.name}”)",  # type: ignore[attr-defined]
            )
            body = _jsonable(deployment_out(deployment))
            if key:
                row = services.idempotency_earlier(team=team, key=key)
                if row is not None and row.response is not None:
                    # A request with the key raced this one and won: its answer, not a second one.
                    return _replay(row, digest, response)
                services.idempotency_remember(
                    team=team, key=key, response={"status": 201, "body": body, "request": digest}
                )
    except ValidationError as exc:
        if "just submitted" in " ".join(exc.messages):  # another request with the key, not yet done
            raise ApiError(409, "A request with this Idempotency-Key is under way; retry in a moment.") from None
        if "another request" in " ".join(exc.messages):
            raise _reused() from None
        # Refused before anything was saved: on the form's own non-field errors, as the page does.
        raise ApiError(422, " ".join(exc.messages), fields={"__all__": exc.messages}) from None
    return Status(201, body)


def _act(request: HttpRequest, pk: int, name: str, run: Any, payload: Any, response: HttpResponse) -> Status:
    """One action on one deployment, with the header's key claimed in the same transaction."""
    _need(request, Perm.DEPLOY)
    team = request.team  # type: ignore[attr-defined]
    deployment = selectors.team_deployment(team=team, pk=pk)
    key = _idempotency_key(request)
    digest = _digest(f"{name}:{pk}", payload)
    with transaction.atomic():
        if key:
            earlier = services.idempotency_action_claim(team=team, key=key, deployment=deployment, action=name)
            if earlier is not None:
                return _replay(earlier, digest, response)
        run(deployment)
        deployment.refresh_from_db()
        body = _jsonable(deployment_out(deployment))
        if key:
            services.idempotency_remember(team=team, key=key, response={"status": 202, "body": body, "request": digest})
    return Status(202, body)


@api.post("/deployments/{pk}/scale", response={202: DeploymentOut, **WRITE_ERRORS}, tags=["actions"])
def deployment_scale(
    request: HttpRequest, pk: int, payload: ScaleIn, response: HttpResponse, idempotency_key: str | None = KeyHeader
) -> Status:
    """New replica counts (``min_replicas``/``max_replicas``, or ``replicas`` where the vendor
    takes one count), checked by the Scale dialog's form."""

    def run(deployment: Any) -> None:
        data = {k: str(v) for k, v in payload.model_dump().items() if v is not None}
        form = ScaleForm(data, vendor=deployment.vendor)
        if not form.is_valid():
            raise ApiError(
                422, "The counts are not valid; see fields.", fields={k: list(v) for k, v in form.errors.items()}
            )
        services.deployment_request_action(
            deployment=deployment, actor=request.user, action=Action.SCALE, params=form.cleaned_data
        )

    return _act(request, pk, "scale", run, payload.model_dump(), response)


@api.post("/deployments/{pk}/update", response={202: DeploymentOut, **WRITE_ERRORS}, tags=["actions"])
def deployment_update(
    request: HttpRequest, pk: int, payload: FormIn, response: HttpResponse, idempotency_key: str | None = KeyHeader
) -> Status:
    """Change the spec through the vendor's edit form (fields fixed at creation keep their
    values); a deployment the vendor refused on submit is corrected and queued again."""

    def run(deployment: Any) -> None:
        if deployment.is_deleted:
            raise ApiError(409, "It is deleted.", code="not_possible")
        form_class = form_class_for(deployment.vendor)
        resubmit = deployment.state == State.FAILED and not deployment.external_id
        initial, _rows = form_class.initial_from_spec(deployment.spec)
        form = _bound_form(request, deployment.vendor, payload, initial=initial, editing=True, fixed=not resubmit)
        if not form.is_valid():
            raise _invalid(form)
        if resubmit:
            services.deployment_resubmit(
                deployment=deployment,
                actor=request.user,
                spec=form.spec,
                estimated_price_per_hour=form.estimate().get("low"),
            )
        else:
            services.deployment_request_action(
                deployment=deployment, actor=request.user, action=Action.UPDATE, params={"spec": form.spec}
            )

    return _act(request, pk, "update", run, payload.model_dump(), response)


@api.get("/deployments/{pk}/events", response={200: list[EventOut], **ERRORS}, tags=["deployments"])
def deployment_events(request: HttpRequest, pk: int) -> list[dict[str, Any]]:
    """The timeline, newest first: state changes, actions with who asked, errors."""
    _need(request, Perm.VIEW)
    deployment = selectors.team_deployment(team=request.team, pk=pk)  # type: ignore[attr-defined]
    return [
        {
            "kind": e.kind,
            "actor": e.actor_label,
            "from_state": e.from_state,
            "to_state": e.to_state,
            "message": e.message,
            "created_at": e.created_at,
        }
        for e in selectors.deployment_events(deployment=deployment)
    ]


@api.get("/deployments/{pk}/logs", response={200: LogsOut, **ERRORS}, tags=["deployments"])
def deployment_logs(request: HttpRequest, pk: int) -> dict[str, Any]:
    """The last lines a worker fetched from the vendor; asking also asks for a fresh fetch
    (at most every 2 s), as the page's logs card does. Poll to follow."""
    _need(request, Perm.VIEW)
    deployment = selectors.team_deployment(team=request.team, pk=pk)  # type: ignore[attr-defined]
    snapshot = services.deployment_request_logs(deployment=deployment)
    events = [
        {"message": str(e.get("message", "")), "at": str(e.get("at", "")), "kind": str(e.get("kind", ""))}
        for e in snapshot.events
        if isinstance(e, dict)
    ]
    return {
        "available": deployment.account is not None and Action.LOGS in deployment.account.provider_class.actions,
        "lines": [str(line) for line in snapshot.lines],
        "events": events,
        "fetched_at": snapshot.fetched_at,
        "error": snapshot.error,
    }


# Last: "/deployments/{pk}/{name}" would otherwise answer the paths above.
@api.post("/deployments/{pk}/{name}", response={202: DeploymentOut, **WRITE_ERRORS}, tags=["actions"])
def deployment_action(
    request: HttpRequest, pk: int, name: ActionName, response: HttpResponse, idempotency_key: str | None = KeyHeader
) -> Status:
    """start, stop, restart, delete, archive or redeploy, as the deployment page's buttons:
    202 when asked of the worker (or done at once: a delete of something never sent)."""
    act = ACTION_NAMES[name]

    def run(deployment: Any) -> None:
        if name == "redeploy" and not (deployment.account and deployment.account.provider_class.redeploys):
            raise ApiError(409, f"{deployment.get_vendor_display()} has no redeploy.", code="not_possible")
        params = {"spec": deployment.spec, "redeploy": True} if name == "redeploy" else None
        services.deployment_request_action(deployment=deployment, actor=request.user, action=act, params=params)

    return _act(request, pk, name, run, {}, response)


# --- keys, offers, costs ----------------------------------------------------------------------------


@api.get("/keys", response={200: list[KeyOut], **ERRORS}, tags=["team"])
def keys_list(request: HttpRequest) -> list[dict[str, Any]]:
    """The team's vendor keys, masked (the last four characters only)."""
    _need(request, Perm.VIEW)
    return [
        {
            "id": a.pk,
            "vendor": a.vendor,
            "label": a.label,
            "masked_key": a.masked_key,
            "status": a.status,
            "status_message": a.status_message,
            "endpoint": a.endpoint,
            "verified_at": a.verified_at,
            "balance": _money(a.balance),
            "balance_currency": a.balance_currency,
            "created_at": a.created_at,
        }
        for a in team_accounts(team=request.team)  # type: ignore[attr-defined]
    ]


@api.get("/offers", response={200: list[OfferOut], **ERRORS}, tags=["team"])
def offers_list(request: HttpRequest, filters: Query[OfferFilters]) -> list[dict[str, Any]]:
    """The Prices page: every offer of the team's working keys, cheapest first, one row per
    offer (the keys that list it named), GPUs named the same across vendors."""
    _need(request, Perm.VIEW)
    rows = price_table(
        team=request.team,  # type: ignore[attr-defined]
        gpu_model=(filters.gpu or "").strip(),
        gpu_count=filters.gpu_count,
        available_only=filters.available,
    )
    return [
        {
            "vendor": o.vendor,
            "kind": o.kind,
            "sku": o.sku,
            "name": o.name,
            "gpu": o.gpu.display_name if o.gpu else o.gpu_model,
            "gpu_count": o.gpu_count,
            "gpu_memory_gb": o.gpu_memory_gb,
            "price_per_hour": _money(o.price_per_hour),
            "location": o.location,
            "available": o.available,
            "keys": list(o.key_labels),
        }
        for o in rows
        if not filters.vendor or o.vendor == filters.vendor
    ]


@api.get("/costs", response={200: CostsOut, **ERRORS}, tags=["team"])
def costs(request: HttpRequest) -> dict[str, Any]:
    """The dashboard's spend figures: per hour now and this month so far, per vendor."""
    _need(request, Perm.VIEW)
    spend = selectors.dashboard_spend(team=request.team)  # type: ignore[attr-defined]
    zero = Decimal("0")
    return {
        "currency": "USD",
        "month_start": month_start_of(timezone.now()).date(),
        "per_hour": {k: _money(v) for k, v in spend["per_hour"].items()},
        "month": {k: _money(v) for k, v in spend["month"].items()},
        "total_per_hour": _money(sum(spend["per_hour"].values(), zero)),
        "total_month": _money(sum(spend["month"].values(), zero)),
    }


# --- templates and deploy anywhere (controlpanel/api/templates.py) ----------------------------------

from controlpanel.api.templates import router as templates_router  # noqa: E402

api.add_router("", templates_router)
