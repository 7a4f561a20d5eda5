"""The audit log page: read-only by construction (GET only, and the model refuses writes)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from controlpanel.audit import selectors
from controlpanel.audit.forms import AuditFilterForm
from controlpanel.teams.decorators import team_required
from controlpanel.teams.permissions import Perm

PAGE_SIZE = 50


@require_GET
@team_required(Perm.VIEW_AUDIT)
def audit_log(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None, actors=selectors.team_audit_actors(team=request.team))
    filters = {k: v for k, v in form.cleaned_data.items() if v} if form.is_valid() else {}
    entries = selectors.team_audit_entries(team=request.team, **filters).select_related("actor")
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode(), "filtered": bool(filters)}
    template = "audit/_table.html" if request.htmx else "audit/log.html"
    return render(request, template, context)
