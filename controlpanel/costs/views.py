from __future__ import annotations

import csv
import io
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.text import slugify
from django.views.decorators.http import require_GET

from controlpanel.costs import selectors
from controlpanel.costs.chart import cost_chart
from controlpanel.costs.forms import RangeForm
from controlpanel.teams.decorators import team_required
from controlpanel.teams.permissions import Perm

DIMENSION_TITLES = {"vendor": "Vendor", "key": "Key", "person": "Person", "deployment": "Deployment"}


def _report(request: HttpRequest) -> tuple[RangeForm, selectors.Report | None]:
    form = RangeForm(request.GET or None)
    if request.GET and not form.is_valid():
        return form, None
    if not request.GET:
        form = RangeForm({})
        form.is_valid()
    start, end = form.bounds()
    return form, selectors.cost_report(team=request.team, start=start, end=end)


@require_GET
@team_required(Perm.VIEW)
def costs_page(request: HttpRequest) -> HttpResponse:
    """Spend now, today, this month and in a chosen range, per vendor, key, person and
    deployment, with the range as a chart. Everyone in the team may see it."""
    form, report = _report(request)
    context: dict[str, Any] = {"form": form, "report": report, "titles": DIMENSION_TITLES}
    if report is not None:
        context["chart"] = cost_chart(report.chart)
        step = (report.chart[0][1] - report.chart[0][0]) if report.chart else None
        context["step_label"] = {3600: "hour", 86400: "day"}.get(int(step.total_seconds()) if step else 0, "week")
        context["export_query"] = request.GET.urlencode()
        context["sections"] = [(d, DIMENSION_TITLES[d], report.by[d]) for d in selectors.DIMENSIONS]
    context.update(selectors.money_context(team=request.team))
    return render(request, "costs/page.html", context, status=200 if report is not None else 422)


CSV_COLUMNS = (
    "breakdown",
    "name",
    "per_hour_now_usd",
    "today_usd",
    "this_month_usd",
    "range_usd",
    "range_start",
    "range_end",
)


def _cell(value: Any) -> str:
    """A spreadsheet never runs a name as a formula."""
    text = str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@require_GET
@team_required(Perm.VIEW)
def costs_export(request: HttpRequest) -> HttpResponse:
    """Exactly the page's tables for the same range, as CSV (the chart's pieces too)."""
    form, report = _report(request)
    if report is None:
        errors = "; ".join(f"{name}: {' '.join(e)}" for name, e in form.errors.items())
        return HttpResponse(f"Fix the range first: {errors}", status=422, content_type="text/plain; charset=utf-8")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    first, last = form.cleaned_data["start"].isoformat(), form.cleaned_data["end"].isoformat()

    def line(breakdown: str, item: selectors.Line) -> None:
        figures = (item.per_hour, item.today, item.month, item.range)
        writer.writerow([breakdown, _cell(item.label), *(f"{v:.4f}" for v in figures), first, last])

    line("total", report.total)
    for dimension in selectors.DIMENSIONS:
        for item in report.by[dimension]:
            line(dimension, item)
    for a, b, value in report.chart:
        writer.writerow(
            ["chart", f"{a:%Y-%m-%d %H:%M}–{b:%Y-%m-%d %H:%M} UTC", "", "", "", f"{value:.4f}", first, last]
        )
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    name = slugify(request.team.name) or "team"
    response["Content-Disposition"] = f'attachment; filename="costs-{name}-{first}-to-{last}.csv"'
    response["Cache-Control"] = "no-store"
    return response
