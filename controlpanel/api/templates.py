"""Templates and deploy anywhere over the API: /templates, /templates/{pk}/deploy and
/offers/anywhere. The same selectors, forms and services as the Templates and Deploy
anywhere pages (controlpanel/blueprints/, deployments.views), so roles, the secrets a
template never keeps, audit entries and field messages are the pages' own; a deploy runs
POST /deployments' own create path (Idempotency-Key, price check, approval)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, QueryDict
from ninja import Query, Router, Status

from controlpanel.api.api import ERRORS, WRITE_ERRORS, KeyHeader, _build_form, _digest, _money, _need, create_from_data
from controlpanel.api.errors import ApiError
from controlpanel.api.forms_bridge import form_data
from controlpanel.api.schemas import (
    AnywhereFilters,
    AnywhereOfferOut,
    DeploymentOut,
    ErrorOut,
    QuoteOut,
    TemplateDeployIn,
    TemplateIn,
    TemplateOut,
    TemplatePatch,
)
from controlpanel.blueprints import selectors, services
from controlpanel.blueprints.builtins import BUILTINS
from controlpanel.blueprints.forms import TemplateEditForm
from controlpanel.deployments.forms import form_class_for
from controlpanel.deployments.forms.anywhere import form_data as prefilled_data
from controlpanel.teams.permissions import Perm
from providers import neutral

router = Router(tags=["templates"])
BODY_ERRORS = {**ERRORS, 400: ErrorOut}  # a body that is not JSON

# The anywhere form's names for the query's parameters (field errors come back on the parameter).
ANYWHERE_PARAMS = {
    "image": "image",
    "gpu_model": "gpu",
    "gpu_count": "count",
    "max_price_per_hour": "max_price",
    "memory_gb": "memory_gb",
    "disk_gb": "disk_gb",
    "region": "region",
    "port": "port",
    "command": "command",
}


def template_out(template: Any, request: HttpRequest) -> dict[str, Any]:
    return {
        "id": template.pk,
        "slug": None,
        "builtin": False,
        "name": template.name,
        "description": template.description,
        "vendor": template.vendor,
        "spec": template.spec if isinstance(template.spec, dict) else {},
        "to_fill": [str(n) for n in template.to_fill or []],
        "can_manage": services.can_manage(template=template, actor=request.user),
        "created_by": template.created_by.get_username() if template.created_by else None,
        "created_at": template.created_at,
        "updated_at": template.updated_at,
    }


def _builtin_out(builtin: Any) -> dict[str, Any]:
    spec = builtin.spec
    return {
        "id": None,
        "slug": builtin.slug,
        "builtin": True,
        "name": builtin.name,
        "description": builtin.description,
        "vendor": None,
        "spec": {
            "name": spec.name,
            "image": spec.image,
            "command": spec.command,
            "env": [{"name": k, "value": v} for k, v in spec.env],
            "port": spec.port,
            "gpu_model": spec.gpu_model,
            "gpu_count": spec.gpu_count,
        },
        "to_fill": [k for k, v in spec.env if not v],
        "can_manage": False,
        "created_by": None,
        "created_at": None,
        "updated_at": None,
    }


def _refused(exc: ValidationError) -> ApiError:
    fields = {k: list(v) for k, v in exc.message_dict.items()} if hasattr(exc, "error_dict") else {}
    return ApiError(422, " ".join(exc.messages), fields=fields or {"__all__": exc.messages})


@router.get("/templates", response={200: list[TemplateOut], **ERRORS})
def templates_list(request: HttpRequest) -> list[dict[str, Any]]:
    """The Templates page: the team's own (by name), then the built-in ones every team sees."""
    _need(request, Perm.VIEW)
    own = [template_out(t, request) for t in selectors.team_templates(team=request.team)]  # type: ignore[attr-defined]
    return own + [_builtin_out(b) for b in BUILTINS]


@router.get("/templates/{pk}", response={200: TemplateOut, **ERRORS})
def template_get(request: HttpRequest, pk: int) -> dict[str, Any]:
    _need(request, Perm.VIEW)
    return template_out(selectors.team_template(team=request.team, pk=pk), request)  # type: ignore[attr-defined]


@router.post("/templates", response={201: TemplateOut, **BODY_ERRORS})
def template_create(request: HttpRequest, payload: TemplateIn) -> Status:
    """Save a vendor form (the same fields as POST /deployments) as a team template, as the
    form's "Save as template" does: a form not yet complete is saved as far as it goes, and
    secret values (env values named like secrets, registry passwords) are never kept."""
    _need(request, Perm.DEPLOY)
    form_class = form_class_for(payload.vendor)
    form = _build_form(request, payload.vendor, form_data(payload.fields, payload.rows, list(form_class.formsets)))
    spec = form.spec if form.is_valid() else form.partial_spec()
    try:
        template = services.template_create(
            team=request.team,  # type: ignore[attr-defined]
            actor=request.user,
            name=payload.name,
            description=payload.description,
            vendor_slug=payload.vendor,
            spec=spec,
        )
    except ValidationError as exc:
        raise _refused(exc) from None
    return Status(201, template_out(template, request))


@router.patch("/templates/{pk}", response={200: TemplateOut, **BODY_ERRORS})
def template_update(request: HttpRequest, pk: int, payload: TemplatePatch) -> dict[str, Any]:
    """Rename it or change its description (its author, admins and owners), as its Edit page."""
    _need(request, Perm.DEPLOY)
    template = selectors.team_template(team=request.team, pk=pk)  # type: ignore[attr-defined]
    data = {
        "name": template.name if payload.name is None else payload.name,
        "description": template.description if payload.description is None else payload.description,
    }
    form = TemplateEditForm(data)
    if not form.is_valid():
        raise ApiError(422, "The fields have errors; see fields.", fields={k: list(v) for k, v in form.errors.items()})
    try:
        template = services.template_update(
            template=template,
            actor=request.user,
            name=form.cleaned_data["name"],
            description=form.cleaned_data["description"],
        )
    except ValidationError as exc:
        raise _refused(exc) from None
    return template_out(template, request)


@router.delete("/templates/{pk}", response={204: None, **ERRORS})
def template_delete(request: HttpRequest, pk: int) -> Status:
    """Delete it (its author, admins and owners); deployments made from it are not touched."""
    _need(request, Perm.DEPLOY)
    template = selectors.team_template(team=request.team, pk=pk)  # type: ignore[attr-defined]
    services.template_delete(template=template, actor=request.user)
    return Status(204, None)


def _fill_secrets(data: dict[str, Any], secrets: dict[str, str], prefixes: list[str]) -> None:
    """Put each given value on the env row of that name (its ``name``/``key`` column)."""
    for prefix in prefixes:
        for i in range(int(data.get(f"{prefix}-TOTAL_FORMS") or 0)):
            name = data.get(f"{prefix}-{i}-name", data.get(f"{prefix}-{i}-key"))
            if name in secrets and f"{prefix}-{i}-value" in data:
                data[f"{prefix}-{i}-value"] = secrets[name]


def _overlay(data: dict[str, Any], payload: TemplateDeployIn, prefixes: list[str]) -> dict[str, Any]:
    """The template's values, then the request's: a field given replaces the template's, and
    a section given (``rows.env``) replaces the template's rows of it entirely."""
    given = form_data(payload.fields, payload.rows, prefixes)
    for name in payload.fields:
        if "-" not in name:
            data.pop(name, None)
    for prefix in prefixes:
        if prefix in payload.rows:
            for name in [n for n in data if n.startswith(f"{prefix}-")]:
                del data[name]
        else:
            for name in [n for n in given if n.startswith(f"{prefix}-")]:
                del given[name]
    merged = {**data}
    for name in given:
        merged[name] = given.getlist(name) if len(given.getlist(name)) > 1 else given[name]
    return merged


@router.post(
    "/templates/{pk}/deploy",
    response={200: QuoteOut, 201: DeploymentOut, **WRITE_ERRORS, 400: ErrorOut},
)
def template_deploy(
    request: HttpRequest,
    pk: int,
    payload: TemplateDeployIn,
    response: HttpResponse,
    idempotency_key: str | None = KeyHeader,
) -> Status:
    """A deployment from a template: its vendor form prefilled from the template (on another
    vendor, translated as the page does), then ``secrets`` and the fields and rows given, then
    POST /deployments' own checks, price check, Idempotency-Key and answers."""
    _need(request, Perm.DEPLOY)
    team = request.team  # type: ignore[attr-defined]
    template = selectors.team_template(team=team, pk=pk)
    vendor = payload.vendor or template.vendor
    form_class = form_class_for(vendor)
    if vendor == template.vendor:
        initial, rows = form_class.initial_from_spec(template.spec)
    else:
        offers = [o.as_offer() for o in _team_offers(team, template.vendor)]
        initial, rows = neutral.to_form(vendor, neutral.from_vendor(template.vendor, template.spec, offers))
    prefixes = list(form_class.formsets)
    data = prefilled_data(_build_form(request, vendor, initial=initial, row_initial=rows))
    _fill_secrets(data, payload.secrets, prefixes)
    merged = _overlay(data, payload, prefixes)
    bound = QueryDict(mutable=True)
    for name, value in merged.items():
        if isinstance(value, list):
            bound.setlist(name, value)
        else:
            bound[name] = value
    return create_from_data(
        request,
        response,
        vendor=vendor,
        data=bound,
        digest=_digest(f"template:{pk}", payload.model_dump()),
        dry_run=payload.dry_run,
        max_price_per_hour=payload.max_price_per_hour,
    )


def _team_offers(team: Any, vendor: str) -> Any:
    from controlpanel.catalog.selectors import team_offers

    return team_offers(team=team, vendor=vendor)


@router.get("/offers/anywhere", response={200: list[AnywhereOfferOut], **ERRORS})
def offers_anywhere(request: HttpRequest, filters: Query[AnywhereFilters]) -> list[dict[str, Any]]:
    """Deploy anywhere's matching: every offer of the team's working keys that can run this
    image on these GPUs, one row per offer, in the region first, then available, then
    cheapest; each with its price for the GPUs asked and what will differ there."""
    _need(request, Perm.DEPLOY)
    from controlpanel.catalog.selectors import anywhere_offers, gpu_models
    from controlpanel.deployments.forms.anywhere import AnywhereForm

    team = request.team  # type: ignore[attr-defined]
    data = {"name": "offer-check"}
    for field, param in ANYWHERE_PARAMS.items():
        value = getattr(filters, param)
        if value is not None:
            data[field] = str(value)
    form = AnywhereForm(data, gpu_models=gpu_models(team=team))
    if not form.is_valid():
        fields = {ANYWHERE_PARAMS.get(k, k): list(v) for k, v in form.errors.items()}
        raise ApiError(422, "The query has errors; see fields.", fields=fields)
    return [
        {
            "offer_id": o.pk,
            "account_id": o.account_id,
            "vendor": o.vendor,
            "kind": o.kind,
            "sku": o.sku,
            "name": o.name,
            "gpu": o.match.gpu.display_name if o.match.gpu else o.gpu_model,
            "gpu_count": o.match.gpu_count,
            "price_per_hour": _money(o.match.price_per_hour),
            "location": o.location,
            "available": o.available,
            "in_region": o.match.in_region,
            "differences": [str(d) for d in o.match.differences],
            "keys": list(o.key_labels),
        }
        for o in anywhere_offers(team=team, spec=form.neutral())
    ]
