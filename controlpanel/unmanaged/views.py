"""Thin views: the "Not managed by the panel" page, Adopt, Ignore and Show again."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from controlpanel.core.queueing import watch_enqueues
from controlpanel.credentials.models import ProviderAccount
from controlpanel.teams.decorators import team_required
from controlpanel.teams.permissions import Perm
from controlpanel.unmanaged import selectors, services
from controlpanel.unmanaged.models import UnmanagedResource


def _key_filter(request: HttpRequest) -> ProviderAccount | None:
    raw = request.GET.get("key", "")
    if not raw.isdigit() or len(raw) > 18:
        return None
    return ProviderAccount.objects.filter(team=request.team, pk=int(raw)).first()


@require_GET
@team_required(Perm.VIEW)
def unmanaged_list(request: HttpRequest) -> HttpResponse:
    key = _key_filter(request)
    open_rows = selectors.unmanaged_open(team=request.team).select_related("account", "adopt_requested_by")
    ignored = selectors.unmanaged_ignored(team=request.team).select_related("account", "ignored_by")
    if key is not None:
        open_rows, ignored = open_rows.filter(account=key), ignored.filter(account=key)
    adopted = (
        UnmanagedResource.objects.filter(team=request.team, deployment__isnull=False)
        .select_related("deployment")
        .order_by("-pk")[:10]
    )
    adopting = any(r.is_adopting for r in open_rows)
    context = {"resources": open_rows, "ignored": ignored, "adopted": adopted, "key": key, "adopting": adopting}
    template = "unmanaged/_list.html" if request.htmx else "unmanaged/list.html"
    return render(request, template, context)


def _back(request: HttpRequest) -> HttpResponse:
    url = reverse("unmanaged:list")
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


@require_POST
@team_required(Perm.DEPLOY)
def adopt(request: HttpRequest, pk: int) -> HttpResponse:
    resource = selectors.team_unmanaged(team=request.team, pk=pk)
    if resource.deployment_id:
        messages.info(request, f"{resource} is already managed by the panel.")
        return redirect("deployments:detail", pk=resource.deployment_id)
    with watch_enqueues() as watch:
        requested = services.unmanaged_request_adopt(resource=resource, actor=request.user)
    if not requested:
        messages.info(request, f"Adopting {resource} was already asked for; a worker imports it once.")
    elif watch.failed:
        messages.warning(request, f"Saved: adopting {resource} will be sent when the worker is back.")
    else:
        messages.success(
            request,
            f"Adopt requested: a worker reads {resource} from {resource.get_vendor_display()} and imports it "
            "as a deployment. Nothing is created or changed at the vendor.",
        )
    return _back(request)


@require_POST
@team_required(Perm.MANAGE_KEYS)
def ignore(request: HttpRequest, pk: int) -> HttpResponse:
    resource = selectors.team_unmanaged(team=request.team, pk=pk)
    if services.unmanaged_ignore(resource=resource, actor=request.user):
        messages.success(
            request,
            f"Ignored {resource}: it leaves the banner and this list. It still runs (and may bill) on "
            f"{resource.get_vendor_display()}.",
        )
    return _back(request)


@require_POST
@team_required(Perm.MANAGE_KEYS)
def restore(request: HttpRequest, pk: int) -> HttpResponse:
    resource = selectors.team_unmanaged(team=request.team, pk=pk)
    if services.unmanaged_restore(resource=resource, actor=request.user):
        messages.success(request, f"{resource} is listed again.")
    return _back(request)
