from __future__ import annotations

from django.db.models import QuerySet

from controlpanel.catalog.models import Offer
from controlpanel.teams.models import Team


def team_offers(*, team: Team, vendor: str | None = None) -> QuerySet[Offer]:
    offers = Offer.objects.filter(account__team=team).select_related("account")
    if vendor:
        offers = offers.filter(vendor=vendor)
    return offers


def price_table(
    *, team: Team, gpu_model: str = "", gpu_count: int | None = None, available_only: bool = False
) -> QuerySet[Offer]:
    """Every connected vendor's offers, cheapest GPU-hour first, for the Prices page."""
    offers = team_offers(team=team).exclude(price_per_hour=None)
    if gpu_model:
        offers = offers.filter(gpu_model__iexact=gpu_model)
    if gpu_count:
        offers = offers.filter(gpu_count=gpu_count)
    if available_only:
        offers = offers.filter(available=True)
    return offers.order_by("price_per_hour", "vendor", "name")


def gpu_models(*, team: Team) -> list[str]:
    return sorted(set(team_offers(team=team).exclude(gpu_model="").values_list("gpu_model", flat=True)), key=str.lower)
