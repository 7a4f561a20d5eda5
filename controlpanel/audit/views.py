"""The audit log page: read-only by construction (GET only, and the model refuses writes)."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_GET

from controlpanel.audit import selectors
from controlpanel.audit.forms import AuditFilterForm
from controlpanel.audit.models import AuditAction
from controlpanel.teams.decorators import team_required
from controlpanel.teams.permissions import Perm

PAGE_SIZE = 50


def _filtered(request: HttpRequest) -> tuple[AuditFilterForm, dict[str, Any], str]:
    """The filter form, the filters it gives, and the query string that says them (no page)."""
    form = AuditFilterForm(request.GET or None, actors=selectors.team_audit_actors(team=request.team))
    filters = {k: v for k, v in form.cleaned_data.items() if v} if form.is_valid() else {}
    query = request.GET.copy()
    query.pop("page", None)
    return form, filters, query.urlencode()


@require_GET
@team_required(Perm.VIEW_AUDIT)
def audit_log(request: HttpRequest) -> HttpResponse:
    form, filters, query = _filtered(request)
    entries = selectors.team_audit_entries(team=request.team, **filters).select_related("actor")
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "query": query,
        "filtered": bool(filters),
        # The filters live in the query string, so this address shows someone else the same entries.
        "share_url": request.build_absolute_uri(reverse("audit:log") + (f"?{query}" if query else "")),
        "export_url": reverse("audit:export") + (f"?{query}" if query else ""),
    }
    template = "audit/_table.html" if request.htmx else "audit/log.html"
    return render(request, template, context)


CSV_COLUMNS = ("When (UTC)", "Who", "What", "Action", "Summary", "On (type)", "On (id)", "On", "From")


def _cell(value: Any) -> str:
    """A spreadsheet must not run what a name or summary says (=HYPERLINK(...))."""
    text = "" if value is None else str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_GET
@team_required(Perm.VIEW_AUDIT)
def audit_export(request: HttpRequest) -> StreamingHttpResponse:
    """Every entry the page's filters show (all pages), as CSV. The summary and the target
    as written, never ``data``: that is where a service could one day put more than the
    last four characters of a key."""
    _form, filters, _query = _filtered(request)
    entries = selectors.team_audit_entries(team=request.team, **filters)
    writer = csv.writer(_Echo())
    columns = ("created_at", "actor_label", "action", "summary", "target_type", "target_id", "target_label", "ip")
    labels = dict(AuditAction.choices)

    def rows() -> Iterator[str]:
        yield writer.writerow(CSV_COLUMNS)
        for e in entries.values_list(*columns).iterator(chunk_size=1000):
            when, who, action, summary, target_type, target_id, target, ip = e
            when = when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
            cells = (
                when,
                who,
                labels.get(action, action),
                action,
                summary,
                target_type,
                target_id,
                target,
                ip or "worker",
            )
            yield writer.writerow([_cell(c) for c in cells])

    name = slugify(request.team.name) or "team"
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-{name}-{timezone.now():%Y-%m-%d}.csv"'
    response["Cache-Control"] = "no-store"
    return response
