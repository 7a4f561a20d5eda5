from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from controlpanel.catalog import selectors
from controlpanel.core.text import plain_int
from controlpanel.credentials.selectors import team_accounts
from controlpanel.teams.decorators import team_required
from providers.gpus import gpu_display_name


@require_GET
@team_required()
def prices(request: HttpRequest) -> HttpResponse:
    gpu_model = gpu_display_name(request.GET.get("gpu", ""))  # "H100" in an old link reads as "H100 80GB"
    count = request.GET.get("count", "")
    gpu_count = plain_int(count)
    available_only = request.GET.get("available") == "1"
    rows = list(
        selectors.price_table(
            team=request.team, gpu_model=gpu_model, gpu_count=gpu_count, available_only=available_only
        )
    )
    context = {
        "offers": rows,
        "gpu_models": selectors.gpu_models(team=request.team),
        "gpu_model": gpu_model,
        "gpu_count": gpu_count,
        "available_only": available_only,
        "accounts": team_accounts(team=request.team),
    }
    template = "catalog/_table.html" if request.htmx else "catalog/prices.html"
    return render(request, template, context)
