"""Deployment screens. Thin: parse, call a form/selector/service, pick a template."""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from controlpanel.catalog.selectors import team_offers
from controlpanel.core.parts import live_version, parts_status
from controlpanel.core.queueing import EnqueueWatch, watch_enqueues
from controlpanel.core.text import clause, plain_int
from controlpanel.credentials.models import KeyStatus, Vendor
from controlpanel.credentials.selectors import team_accounts
from controlpanel.deployments import selectors, services
from controlpanel.deployments.forms import form_class_for
from controlpanel.deployments.forms.actions import ScaleForm
from controlpanel.deployments.forms.dashboard import PAGE_SIZE, DashboardFilterForm
from controlpanel.deployments.states import IN_MOTION, State
from controlpanel.limits.rules import limits_context
from controlpanel.teams.decorators import team_required
from controlpanel.teams.permissions import Perm
from controlpanel.teams.selectors import team_members
from controlpanel.unmanaged.selectors import unmanaged_count
from providers import neutral
from providers.base import Action
from providers.registry import SLUGS

POLL_FAST, POLL_SLOW = 2, 8


def _redirect(request: HttpRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _toast(response: HttpResponse, message: str, level: str = "success") -> HttpResponse:
    return trigger_client_event(response, "toast", {"message": message, "level": level})


def _requested(what: str, vendor: str, watch: EnqueueWatch) -> str:
    """What a request did, and no more: saved, and who sends it to the vendor, when.

    Nothing here has reached the vendor yet: the worker makes that call. When the broker
    refused the message the row is still the record, and a sweep sends it later.
    """
    if watch.failed:
        return f"{what}. Saved; it will be sent to {vendor} when the worker is back."
    parts = parts_status()
    if parts.worker_down:
        return f"{what}; the worker, which {parts.worker_silence}, sends it to {vendor} when it is back."
    return f"{what}; the worker sends it to {vendor}."


# --- dashboard -------------------------------------------------------------------------------------


def _querystring(request: HttpRequest, *, drop: tuple[str, ...] = ("v",), **changes: Any) -> str:
    params = request.GET.copy()
    for key in drop:
        params.pop(key, None)
    for key, value in changes.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = value
    return params.urlencode()


def _dashboard_context(request: HttpRequest) -> dict[str, Any]:
    team = request.team
    accounts = list(team_accounts(team=team))
    filters = DashboardFilterForm(request.GET, accounts=accounts, members=team_members(team=team))
    query = filters.query()
    rows = selectors.dashboard_deployments(
        team=team,
        user=request.user,
        vendor=query.vendor,
        state=query.state,
        account_id=query.account_id,
        creator_id=query.creator_id,
        mine=query.mine,
        query=query.query,
        sort=query.sort,
        descending=query.descending,
    )
    page = Paginator(rows, PAGE_SIZE).get_page(query.page)
    counts = selectors.dashboard_counts(team=team)
    spend = selectors.dashboard_spend(team=team)
    in_motion = any(d.is_in_motion for d in page.object_list)
    vendors = [
        {
            "value": v.value,
            "label": v.label,
            "count": counts["vendor"].get(v.value, 0),
            "per_hour": spend["per_hour"].get(v.value),
            "month": spend["month"].get(v.value),
        }
        for v in Vendor
        if counts["vendor"].get(v.value) or spend["month"].get(v.value)
    ]
    sort_links = {}
    for key in selectors.SORTS:
        descending = not query.descending if key == query.sort else key in ("age", "price", "checked", "replicas")
        sort_links[key] = {
            "qs": _querystring(request, drop=("v", "page"), sort=key, dir="desc" if descending else "asc"),
            "active": key == query.sort,
            "aria": ("descending" if query.descending else "ascending") if key == query.sort else "none",
        }
    return {
        "page": page,
        "deployments": page.object_list,
        "total": sum(counts["state"].values()),
        "shown": page.paginator.count,
        "query": query,
        "filters": filters,
        "accounts": accounts,
        "refused_accounts": [a for a in accounts if a.status == KeyStatus.INVALID],
        "state_counts": [(s, counts["state"][s.value]) for s in State if counts["state"].get(s.value)],
        "running": counts["state"].get(State.RUNNING, 0),
        "awaiting_approval": counts["state"].get(State.AWAITING_APPROVAL, 0),
        "unmanaged_count": unmanaged_count(team=team),
        "in_motion_count": sum(counts["state"].get(s, 0) for s in IN_MOTION),
        "spend_per_hour": sum(spend["per_hour"].values(), Decimal("0")),
        "spend_month": sum(spend["month"].values(), Decimal("0")),
        "vendors": vendors,
        "version": live_version(selectors.dashboard_version(team=team)),
        "poll_qs": _querystring(request),
        "page_qs": _querystring(request, drop=("v", "page")),
        "sort_links": sort_links,
        "poll_seconds": POLL_FAST if in_motion or any(a.status == KeyStatus.VERIFYING for a in accounts) else POLL_SLOW,
    }


@require_GET
@team_required()
def dashboard(request: HttpRequest) -> HttpResponse:
    version = live_version(selectors.dashboard_version(team=request.team))
    if request.htmx and request.GET.get("v") == version:
        return HttpResponse(status=204)  # nothing changed: htmx keeps what it shows
    context = _dashboard_context(request)
    template = "deployments/_table.html" if request.htmx else "deployments/dashboard.html"
    return render(request, template, context)


BULK_ACTIONS = {"stop": Action.STOP, "delete": Action.DELETE}


@require_POST
@team_required(Perm.DEPLOY)
def bulk(request: HttpRequest) -> HttpResponse:
    """Stop or delete the selected deployments, each on its own; say what could not."""
    act = BULK_ACTIONS.get(request.POST.get("action", ""))
    ids = [n for n in map(plain_int, request.POST.getlist("ids")) if n is not None]
    if act is None or not ids:
        message, level = "Select at least one deployment, then an action.", "error"
    else:
        with watch_enqueues() as watch:
            result = services.deployment_bulk_action(team=request.team, actor=request.user, action=act, ids=ids)
        parts = []
        if result.done:
            what = f"{act.value.capitalize()} requested for {len(result.done)} ({', '.join(result.done)})"
            parts.append(_requested(what, "the vendor", watch))
        if result.refused:
            parts.append(
                "Not possible for " + "; ".join(f"{name} ({clause(why)})" for name, why in result.refused.items()) + "."
            )
        if not parts:
            parts.append("None of the selected deployments exist any more.")
        message, level = " ".join(parts), "error" if result.refused and not result.done else "success"
    if request.htmx:
        response = render(request, "deployments/_table.html", _dashboard_context(request))
        return _with_bulk_outcome(request, response, message, level)
    getattr(messages, "success" if level == "success" else "error")(request, message)
    return redirect("deployments:dashboard")


def _with_bulk_outcome(request: HttpRequest, response: HttpResponse, message: str, level: str) -> HttpResponse:
    """The outcome stays above the table (out of band: the table re-renders every few
    seconds) until dismissed; a toast would be gone before a long list is read."""
    outcome = render_to_string("deployments/_bulk_outcome.html", {"message": message, "level": level}, request)
    response.write(outcome)
    return response


# --- creating ----------------------------------------------------------------------------------------


@require_GET
@team_required(Perm.DEPLOY)
def new(request: HttpRequest) -> HttpResponse:
    accounts = team_accounts(team=request.team)
    vendors = [
        {
            "value": v.value,
            "label": v.label,
            "available": v.value in SLUGS,
            "accounts": [a for a in accounts if a.vendor == v.value],
        }
        for v in Vendor
    ]
    return render(request, "deployments/new.html", {"vendors": vendors})


def _offers(request: HttpRequest, vendor: str) -> list[Any]:
    return [row.as_offer() for row in team_offers(team=request.team, vendor=vendor)]


def _budget(request: HttpRequest) -> Any:
    """The price panel's budget line (None when the team has no budget and no ceiling)."""
    from controlpanel.costs.rules import budget_view

    view = budget_view(team=request.team)
    return view if view.budget is not None or view.ceiling is not None else None


def _form_context(request: HttpRequest, form: Any, **extra: Any) -> dict[str, Any]:
    return {
        "form": form,
        "vendor": form.vendor,
        "vendor_label": Vendor(form.vendor).label,
        "estimate": form.estimate(),
        "accounts": team_accounts(team=request.team, vendor=form.vendor),
        "budget": _budget(request),
        **extra,
    }


def _create_context(request: HttpRequest, form: Any, **extra: Any) -> dict[str, Any]:
    """A create form's context: each render carries a fresh idempotency token."""
    return _form_context(request, form, idempotency_key=services.new_idempotency_key(), **extra)


IDEMPOTENCY_KEY_RE = re.compile(r"[A-Za-z0-9_-]{16,100}")


def _posted_idempotency_key(request: HttpRequest) -> str:
    """The token the form was rendered with, or "" for a post that has none (or a forged one)."""
    key = request.POST.get("idempotency_key", "")
    return key if IDEMPOTENCY_KEY_RE.fullmatch(key) else ""


def _spec_digest(form: Any) -> str:
    """Names exactly what the user confirmed: the spec and the key that pays for it."""
    payload = json.dumps({"spec": form.spec, "account": form.account.pk}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def _build_form(request: HttpRequest, vendor: str, data: Any = None, **kwargs: Any) -> Any:
    return form_class_for(vendor)(
        data, accounts=team_accounts(team=request.team), offers=_offers(request, vendor), **kwargs
    )


@require_http_methods(["GET", "POST"])
@team_required(Perm.DEPLOY)
def create(request: HttpRequest, vendor: str) -> HttpResponse:
    if vendor not in SLUGS:
        raise Http404("No such vendor")
    if not team_accounts(team=request.team, vendor=vendor).exists():
        return _no_key(request, vendor)
    form_class = form_class_for(vendor)
    if request.method == "POST":
        idempotency_key = _posted_idempotency_key(request)
        first = _first_answer(request, idempotency_key)
        if first is not None:
            return first
        form = _build_form(request, vendor, request.POST)
        confirmed = request.POST.get("confirmed", "")
        if not idempotency_key and confirmed not in ("", "edit"):
            # A confirmation without the page's token (forged, or an old page) could not be
            # told from a repeat: ask again on a page that carries one, so nothing is made twice.
            confirmed = ""
        if form.is_valid() and confirmed != _spec_digest(form):
            # Money before it is spent: the same form again, asking to confirm the amount
            # for exactly this spec (change a field after confirming, and it asks again).
            template = "deployments/_form.html" if request.htmx else "deployments/create.html"
            confirming = confirmed != "edit"
            context = _create_context(
                request, form, confirming=confirming, charges=form.charges(), digest=_spec_digest(form)
            )
            return render(request, template, context)
        if form.is_valid():
            try:
                with watch_enqueues() as watch:
                    deployment = services.deployment_create(
                        team=request.team,
                        actor=request.user,
                        account=form.account,
                        spec=form.spec,
                        estimated_price_per_hour=form.estimate().get("low"),
                        idempotency_key=idempotency_key,
                    )
            except ValidationError as exc:
                # Refused before anything was saved (a token in use, a key of another team):
                # say so on the form rather than as a server error.
                form.main.add_error(None, exc.messages)
                template = "deployments/_form.html" if request.htmx else "deployments/create.html"
                return render(request, template, _create_context(request, form))
            messages.success(
                request, _requested(f"{deployment.name} is queued", deployment.get_vendor_display(), watch)
            )
            return _redirect(request, reverse("deployments:detail", args=[deployment.pk]))
        # A twin of this post (a double click) may have created it meanwhile, after this one
        # looked: its name is then "taken" (Together, Replicate). The first answer, not an error.
        first = _first_answer(request, idempotency_key)
        if first is not None:
            return first
        template = "deployments/_form.html" if request.htmx else "deployments/create.html"
        return render(request, template, _create_context(request, form))
    initial, rows, source = {}, {}, None
    if request.GET.get("from"):
        source_pk = plain_int(request.GET["from"])  # a clone link carries a deployment id
        if source_pk is None:
            raise Http404("No such deployment to copy.")
        source = selectors.team_deployment(team=request.team, pk=source_pk)
        if source.vendor == vendor:
            initial, rows = form_class.initial_from_spec(source.spec)
            if source.account_id:
                initial["account"] = source.account_id
        elif source.vendor in SLUGS:
            # Another vendor: the one translation (providers/neutral.py), as deploy anywhere uses.
            common = neutral.from_vendor(source.vendor, source.spec, _offers(request, source.vendor))
            initial, rows = neutral.to_form(vendor, common)
        if "name" in initial:
            initial["name"] = f"{initial['name'] or source.name}-copy"
            if source.vendor == vendor and source.account and source.account.provider_class.unique_names:
                initial["name"] = selectors.free_name(account=source.account, name=initial["name"])
    saved = None
    if request.GET.get("template", "").isdigit():
        from controlpanel.blueprints.selectors import team_template

        saved = team_template(team=request.team, pk=int(request.GET["template"]))
        if saved.vendor == vendor:
            initial, rows = form_class.initial_from_spec(saved.spec)
        else:
            common = neutral.from_vendor(saved.vendor, saved.spec, _offers(request, saved.vendor))
            initial, rows = neutral.to_form(vendor, common)
    form = _build_form(request, vendor, initial=initial, row_initial=rows)
    template = "deployments/_form.html" if request.htmx else "deployments/create.html"
    return render(request, template, _create_context(request, form, source=source, saved_template=saved))


def _first_answer(request: HttpRequest, idempotency_key: str) -> HttpResponse | None:
    """The same form posted again (a double click, a retried request): the first answer."""
    earlier = selectors.deployment_for_idempotency_key(team=request.team, key=idempotency_key)
    if earlier is None:
        return None
    messages.success(request, f"{earlier.name} is queued for {earlier.get_vendor_display()}.")
    return _redirect(request, reverse("deployments:detail", args=[earlier.pk]))


def _no_key(request: HttpRequest, vendor: str) -> HttpResponse:
    """What the vendor chooser says for a vendor without a key, instead of a form whose
    key list is empty (a link from a bookmark, a clone, another tab)."""
    context = {"vendor": vendor, "vendor_label": Vendor(vendor).label}
    return render(request, "deployments/no_key.html", context, status=200 if request.method == "GET" else 409)


@require_POST
@team_required(Perm.DEPLOY)
def validate(request: HttpRequest, vendor: str) -> HttpResponse:
    """One field's errors as the user types, plus the price panel (out of band)."""
    if vendor not in SLUGS:
        raise Http404("No such vendor")
    form = _build_form(request, vendor, request.POST)
    field = request.POST.get("_field", "")
    return render(
        request,
        "deployments/_validate.html",
        {
            "errors": form.errors_for(field),
            "field_id": field,
            "estimate": form.estimate(),
            "budget": _budget(request),
            "form": form,
            "beside": form.value_errors_beside(field),
        },
    )


@require_http_methods(["GET", "POST"])
@team_required(Perm.DEPLOY)
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Change a deployment's spec: an update at the vendor, or (if the vendor refused it
    on submit) a corrected resubmission. Vendor errors from last time sit on their fields."""
    deployment = selectors.team_deployment(team=request.team, pk=pk)
    if deployment.vendor not in SLUGS or deployment.is_deleted:
        raise Http404("Not editable")
    form_class = form_class_for(deployment.vendor)
    resubmit = deployment.state == State.FAILED and not deployment.external_id
    if request.method == "POST":
        # Fields fixed at creation are disabled, and Django takes a disabled field's
        # value from ``initial``: without it they would read as empty.
        initial, _rows = form_class.initial_from_spec(deployment.spec)
        form = _build_form(request, deployment.vendor, request.POST, initial=initial, editing=True, fixed=not resubmit)
        if form.is_valid():
            try:
                vendor = deployment.get_vendor_display()
                if resubmit:
                    with watch_enqueues() as watch:
                        services.deployment_resubmit(
                            deployment=deployment,
                            actor=request.user,
                            spec=form.spec,
                            estimated_price_per_hour=form.estimate().get("low"),
                        )
                    messages.success(request, _requested(f"{deployment.name} is queued again", vendor, watch))
                else:
                    with watch_enqueues() as watch:
                        services.deployment_request_action(
                            deployment=deployment, actor=request.user, action=Action.UPDATE, params={"spec": form.spec}
                        )
                    messages.success(request, _requested(f"Update of {deployment.name} requested", vendor, watch))
                return _redirect(request, reverse("deployments:detail", args=[deployment.pk]))
            except ValidationError as exc:
                form.main.add_error(None, exc.messages[0])
    else:
        initial, rows = form_class.initial_from_spec(deployment.spec)
        form = _build_form(
            request, deployment.vendor, initial=initial, row_initial=rows, editing=True, fixed=not resubmit
        )
        if deployment.error_fields:
            _bind_errors(form, deployment.error_fields)
    template = "deployments/_form.html" if request.htmx else "deployments/edit.html"
    context = _form_context(
        request,
        form,
        deployment=deployment,
        resubmit=resubmit,
        refusal=services.action_refusal(deployment, Action.UPDATE) if not resubmit else "",
    )
    return render(request, template, context)


def _bind_errors(form: Any, fields: dict[str, list[str]]) -> None:
    """Show a vendor's field errors on an unbound (prefilled) form."""
    for part in [form.main, *[f for fs in form.sets.values() for f in fs.forms]]:
        part.errors  # noqa: B018 -- an unbound form gets an empty error dict here
        part.cleaned_data = {}  # add_error() expects it
    form.add_spec_errors(fields)


# --- one deployment --------------------------------------------------------------------------------


def _unit_price(request: HttpRequest, deployment: Any, running: int) -> Decimal | None:
    """Price per hour of one replica/instance, for the Scale dialog's live total: from the
    vendor's rates and catalog, else the estimate made at submit divided by what ran."""
    provider_class = deployment.account.provider_class if deployment.account else None
    if provider_class is None:
        return None
    unit = provider_class.estimate_price(deployment.spec, _offers(request, deployment.vendor))
    if unit is None and deployment.estimated_price_per_hour and running > 0:
        unit = deployment.estimated_price_per_hour / running
    return unit


def _detail_context(request: HttpRequest, deployment: Any) -> dict[str, Any]:
    actions = {
        action.value: services.action_refusal(deployment, action)
        for action in (
            Action.START,
            Action.STOP,
            Action.RESTART,
            Action.SCALE,
            Action.UPDATE,
            Action.DELETE,
            Action.ARCHIVE,
        )
    }
    provider_class = deployment.account.provider_class if deployment.account else None
    supported = provider_class.actions if provider_class else frozenset()
    keys = provider_class.scale_keys if provider_class else ("min_replicas", "max_replicas")
    low, high = deployment.spec.get(keys[0]), deployment.spec.get(keys[-1])
    scale = {
        "fields": provider_class.scale_fields if provider_class else ("min_replicas", "max_replicas"),
        "single": provider_class is not None and len(provider_class.scale_fields) == 1,
        "min": low if isinstance(low, int) else 1,
        "max": high if isinstance(high, int) else 1,
        "unit": provider_class.scale_unit if provider_class else "replicas",
    }
    scale["unit_price"] = _unit_price(request, deployment, scale["min"])
    # Reasons worth reading on the page (a vendor's own rule, a pending action); the ones
    # that only restate the state badge stay in the disabled buttons' tooltips.
    notes = {
        name: reason
        for name, reason in actions.items()
        if reason and name in {a.value for a in supported} and not reason.startswith("Not possible while")
    }
    return {
        "action_notes": notes,
        "deployment": deployment,
        "events": list(selectors.deployment_events(deployment=deployment)),
        "actions": actions,
        "supported": {a.value for a in supported}
        | ({"redeploy"} if provider_class and provider_class.redeploys else set()),
        "scale": scale,
        "resubmit": deployment.state == State.FAILED and not deployment.external_id,
        "version": live_version(f"{deployment.updated_at.timestamp():.6f}"),
        "poll_seconds": POLL_FAST if deployment.is_in_motion else POLL_SLOW,
        "editable": deployment.vendor in SLUGS,
        "clone_vendors": [(v.value, v.label) for v in Vendor if v.value in SLUGS],
        "capacity_alternative": capacity_alternative(request, deployment),
        "revisions": _revisions_context(deployment, provider_class, actions),
        "costs": _cost_summary(deployment),
        **limits_context(deployment),
    }


def _revisions_context(deployment: Any, provider_class: Any, actions: dict[str, str]) -> dict[str, Any] | None:
    """The Revisions card, from the history the last logs fetch brought (views never call
    vendors); ``None`` where the vendor keeps none or the deployment is gone."""
    if provider_class is None or not provider_class.rolls_back or deployment.is_leaving or not deployment.external_id:
        return None
    snapshot = selectors.deployment_log_snapshot(deployment=deployment)
    history = list(snapshot.revisions) if snapshot else []
    active = history[0]["revision_number"] if history else None
    targets: dict[int, dict[str, Any]] = {}
    for event in history:
        if event["revision_number"] != active:
            targets.setdefault(event["revision_number"], event)
    refusal = actions.get(Action.UPDATE.value) or ("" if targets else "No earlier revision to roll back to.")
    return {
        "history": history,
        "active": active,
        "targets": list(targets.values()),
        "refusal": refusal,
        "fetched_at": snapshot.fetched_at if snapshot else None,
    }


def _rollback_target(deployment: Any, value: str) -> str:
    """The revision number a rollback may go to, from the list the page showed; ``""`` if not."""
    provider_class = deployment.account.provider_class if deployment.account else None
    context = _revisions_context(deployment, provider_class, {}) if provider_class else None
    numbers = {str(t["revision_number"]) for t in (context or {}).get("targets", [])}
    return value if value in numbers else ""


def _cost_summary(deployment: Any) -> dict[str, Any]:
    """The cost card's figures, from the timeline as the vendor bills it (controlpanel.costs)."""
    from controlpanel.costs.selectors import deployment_cost_summary

    return deployment_cost_summary(deployment=deployment)


@require_GET
@team_required()
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    deployment = selectors.team_deployment(team=request.team, pk=pk)
    if request.htmx and request.GET.get("part") == "live":
        if request.GET.get("v") == live_version(f"{deployment.updated_at.timestamp():.6f}"):
            return HttpResponse(status=204)
        return render(request, "deployments/_live.html", _detail_context(request, deployment))
    return render(request, "deployments/detail.html", _detail_context(request, deployment))


ACTION_NAMES = {
    "start": Action.START,
    "stop": Action.STOP,
    "restart": Action.RESTART,
    "delete": Action.DELETE,
    "archive": Action.ARCHIVE,
    "redeploy": Action.UPDATE,  # the same spec again, through the vendor's update (a rollout)
    "rollback": Action.UPDATE,  # an older revision again (Together's /rollback), a pending update
}
# What each request is called in its toast; none of them has reached the vendor yet.
REQUESTED = {
    Action.START: "Start requested",
    Action.STOP: "Stop requested",
    Action.RESTART: "Restart requested",
    Action.DELETE: "Delete requested",
    Action.ARCHIVE: "Archive requested",
    Action.SCALE: "New replica counts requested",
}


def _action_message(deployment: Any, what: str, watch: EnqueueWatch) -> str:
    deployment.refresh_from_db()
    if deployment.state == State.DELETED:
        # Done right here: it never reached the vendor, or the vendor had already forgotten it.
        return f"Deleted; there was nothing at {deployment.get_vendor_display()} to delete."
    return _requested(what, deployment.get_vendor_display(), watch)


def _after_action(request: HttpRequest, deployment: Any, message: str, level: str = "success") -> HttpResponse:
    deployment.refresh_from_db()
    if request.htmx:
        response = render(request, "deployments/_live.html", _detail_context(request, deployment))
        return _toast(response, message, level)
    getattr(messages, "success" if level == "success" else "error")(request, message)
    return redirect("deployments:detail", pk=deployment.pk)


@require_POST
@team_required(Perm.DEPLOY)
def action(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    deployment = selectors.team_deployment(team=request.team, pk=pk)
    if name not in ACTION_NAMES:
        raise Http404("No such action")
    act = ACTION_NAMES[name]
    if name == "redeploy" and not (deployment.account and deployment.account.provider_class.redeploys):
        # The button is not drawn for such vendors; the endpoint refuses anyway.
        return _after_action(request, deployment, f"{deployment.get_vendor_display()} has no redeploy.", "error")
    params = {"spec": deployment.spec, "redeploy": True} if name == "redeploy" else None
    if name == "rollback":
        if not (deployment.account and deployment.account.provider_class.rolls_back):
            return _after_action(request, deployment, f"{deployment.get_vendor_display()} has no rollback.", "error")
        revision = _rollback_target(deployment, request.POST.get("revision", "").strip())
        if not revision:
            return _after_action(request, deployment, "Choose an earlier revision from the list.", "error")
        params = {"rollback": revision}
    try:
        with watch_enqueues() as watch:
            services.deployment_request_action(deployment=deployment, actor=request.user, action=act, params=params)
    except ValidationError as exc:
        return _after_action(request, deployment, exc.messages[0], "error")
    what = {"redeploy": "Redeploy requested", "rollback": "Rollback requested"}.get(name) or REQUESTED[act]
    return _after_action(request, deployment, _action_message(deployment, what, watch))


@require_POST
@team_required(Perm.DEPLOY)
def scale(request: HttpRequest, pk: int) -> HttpResponse:
    deployment = selectors.team_deployment(team=request.team, pk=pk)
    form = ScaleForm(request.POST, vendor=deployment.vendor)
    if not form.is_valid():
        message = "; ".join(
            f"{field}: {' '.join(errs)}" if field != "__all__" else " ".join(errs)
            for field, errs in form.errors.items()
        )
        return _after_action(request, deployment, message, "error")
    try:
        with watch_enqueues() as watch:
            services.deployment_request_action(
                deployment=deployment, actor=request.user, action=Action.SCALE, params=form.cleaned_data
            )
    except ValidationError as exc:
        return _after_action(request, deployment, exc.messages[0], "error")
    return _after_action(request, deployment, _action_message(deployment, REQUESTED[Action.SCALE], watch))


@require_GET
@team_required()
def logs(request: HttpRequest, pk: int) -> HttpResponse:
    deployment = selectors.team_deployment(team=request.team, pk=pk)
    snapshot = services.deployment_request_logs(deployment=deployment)
    has_logs = deployment.account is not None and Action.LOGS in deployment.account.provider_class.actions
    return render(
        request,
        "deployments/_logs.html",
        {
            "deployment": deployment,
            "snapshot": snapshot,
            "has_logs": has_logs,
            # A deleted deployment's logs are not followed (the vendor has none to give), even
            # by a page opened before the delete; deleting one stops following too.
            "follow": request.GET.get("follow") == "1" and not deployment.is_leaving,
            "leaving": deployment.is_leaving,
        },
    )


# --- deploy anywhere ---------------------------------------------------------------------------------


def _anywhere_form(request: HttpRequest, data: Any = None, initial: dict[str, Any] | None = None) -> Any:
    from controlpanel.catalog.selectors import gpu_models
    from controlpanel.deployments.forms.anywhere import AnywhereForm

    return AnywhereForm(data, initial=initial, gpu_models=gpu_models(team=request.team))


def _anywhere_initial(request: HttpRequest) -> tuple[dict[str, Any], str]:
    """Where the neutral form starts: a built-in template, a team template, a deployment."""
    from controlpanel.blueprints.builtins import BY_SLUG
    from controlpanel.blueprints.selectors import team_template
    from controlpanel.deployments.forms.anywhere import neutral_initial

    if request.GET.get("builtin"):
        builtin = BY_SLUG.get(request.GET["builtin"])
        if builtin is None:
            raise Http404("No such built-in template")
        return neutral_initial(builtin.spec), f"the built-in template “{builtin.name}”"
    if request.GET.get("template", "").isdigit():
        template = team_template(team=request.team, pk=int(request.GET["template"]))
        spec = neutral.from_vendor(template.vendor, template.spec, _offers(request, template.vendor))
        return neutral_initial(spec), f"the template “{template.name}”"
    if request.GET.get("from", "").isdigit():
        source = selectors.team_deployment(team=request.team, pk=int(request.GET["from"]))
        spec = neutral.from_vendor(source.vendor, source.spec, _offers(request, source.vendor))
        return neutral_initial(spec), f"the deployment “{source.name}”"
    return {}, ""


@require_http_methods(["GET", "POST"])
@team_required(Perm.DEPLOY)
def anywhere(request: HttpRequest) -> HttpResponse:
    """One vendor-neutral form; posted, every offer of the team's working keys that runs it."""
    from controlpanel.catalog.selectors import anywhere_offers

    offers, started_from = None, ""
    if request.method == "POST":
        form = _anywhere_form(request, request.POST)
        if form.is_valid():
            offers = anywhere_offers(team=request.team, spec=form.neutral())
    else:
        initial, started_from = _anywhere_initial(request)
        form = _anywhere_form(request, initial=initial)
    context = {
        "form": form,
        "offers": offers,
        "started_from": started_from,
        "accounts": team_accounts(team=request.team),
    }
    template = "deployments/_anywhere_offers.html" if request.htmx else "deployments/anywhere.html"
    return render(request, template, context)


@require_POST
@team_required(Perm.DEPLOY)
def anywhere_choose(request: HttpRequest) -> HttpResponse:
    """The chosen offer's vendor form, prefilled from the neutral form and checked."""
    from controlpanel.catalog.models import Offer
    from controlpanel.catalog.selectors import anywhere_offers, team_offer
    from controlpanel.deployments.forms.anywhere import form_data

    raw = request.POST.get("offer", "")
    if not raw.isdigit():
        raise Http404("No such offer")
    try:
        offer = team_offer(team=request.team, pk=int(raw))
    except Offer.DoesNotExist:
        raise Http404("No such offer") from None
    form = _anywhere_form(request, request.POST)
    if not form.is_valid():
        return render(request, "deployments/anywhere.html", {"form": form, "offers": None})
    spec = form.neutral()
    match = neutral.match_offer(offer.vendor, offer.as_offer(), spec)
    if match is None:
        form.add_error(None, f"{offer.get_vendor_display()} {offer.name} no longer fits what is asked; choose another.")
        offers = anywhere_offers(team=request.team, spec=spec)
        return render(request, "deployments/anywhere.html", {"form": form, "offers": offers})
    initial, rows = neutral.to_form(offer.vendor, spec, offer.as_offer())
    initial["account"] = offer.account_id
    prefilled = _build_form(request, offer.vendor, initial=initial, row_initial=rows)
    vendor_form = _build_form(request, offer.vendor, form_data(prefilled))
    vendor_form.is_valid()  # checked: what this vendor still needs is named on its field
    context = _create_context(
        request,
        vendor_form,
        chosen=match,
        chosen_offer=offer,
        form_action=reverse("deployments:create", args=[offer.vendor]),
    )
    return render(request, "deployments/create.html", context)


def capacity_alternative(request: HttpRequest, deployment: Any) -> dict[str, Any] | None:
    """For a deployment its vendor refused for capacity: the next offer that runs the same
    workload (another vendor or offer), with its price, and the neutral fields to post."""
    from controlpanel.catalog.selectors import anywhere_offers
    from controlpanel.deployments.forms.anywhere import neutral_initial

    if deployment.state not in (State.FAILED, State.LOST) and not (
        deployment.state == State.PROVISIONING and deployment.status_message
    ):
        return None
    said = [deployment.last_error, deployment.status_message]
    snapshot = getattr(deployment, "log_snapshot", None)  # None when none was fetched
    if snapshot is not None:  # the vendor's events, where it says why (Fluence's FailedScheduling)
        said += [str(e.get("message") or "") for e in snapshot.events or [] if isinstance(e, dict)]
    if not neutral.refused_for_capacity(" ".join(filter(None, said))):
        return None
    # Secret values stay out of the page (its spec shows them masked): the form asks for them.
    kept, _to_fill = neutral.strip_secrets(deployment.vendor, deployment.spec)
    spec = neutral.from_vendor(deployment.vendor, kept, _offers(request, deployment.vendor))
    if not spec.image:
        return None  # a Replicate model: nothing another vendor can run
    here = str(
        deployment.spec.get("market")
        or deployment.spec.get("plan_id")
        or deployment.spec.get("productId")
        or deployment.spec.get("hardware")
        or deployment.spec.get("gpu_type")
        or ""
    )
    for offer in anywhere_offers(team=request.team, spec=spec):
        if not offer.available or (offer.vendor == deployment.vendor and offer.sku == here):
            continue
        fields = neutral_initial(spec)
        fields["env"] = "\n".join(f"{k}={v}" for k, v in spec.env)
        return {"offer": offer, "match": offer.match, "fields": fields}
    return None
