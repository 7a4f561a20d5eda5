from __future__ import annotations

from django.db.models import QuerySet

from controlpanel.catalog.models import Offer
from controlpanel.credentials.models import KeyStatus
from controlpanel.teams.models import Team
from providers.gpus import GpuModel, normalise_gpu
from providers.neutral import NeutralSpec, match_offer


def team_offers(*, team: Team, vendor: str | None = None) -> QuerySet[Offer]:
    offers = Offer.objects.filter(account__team=team).select_related("account")
    if vendor:
        offers = offers.filter(vendor=vendor)
    return offers


def offer_gpu(offer: Offer) -> GpuModel | None:
    """The offer's GPU in the one spelling every vendor shares (``providers.gpus``): the
    Prices page reads every offer through here, so "H100" and "NVIDIA H100 80GB" are one."""
    return normalise_gpu(offer.gpu_model, offer.gpu_memory_gb)


def _gpu_matches(gpu: GpuModel | None, wanted: str) -> bool:
    want = normalise_gpu(wanted)
    if gpu is None or want is None:
        return False
    return gpu == want or (want.memory_gb is None and not want.variant and want.family == gpu.family)


def price_table(
    *, team: Team, gpu_model: str = "", gpu_count: int | None = None, available_only: bool = False
) -> list[Offer]:
    """Every connected vendor's offers, cheapest first, for the Prices page: one row per
    offer (two keys of a vendor list the same ones; the row names both keys), none from a
    key the vendor refused. Each row carries ``gpu`` (a :class:`GpuModel` or ``None``) and
    ``key_labels``."""
    offers = team_offers(team=team).exclude(price_per_hour=None).exclude(account__status=KeyStatus.INVALID)
    if gpu_count:
        offers = offers.filter(gpu_count=gpu_count)
    if available_only:
        offers = offers.filter(available=True)
    rows: dict[tuple, Offer] = {}
    for offer in offers.order_by("price_per_hour", "vendor", "name", "-synced_at", "pk"):
        offer.gpu = offer_gpu(offer)
        if gpu_model and not _gpu_matches(offer.gpu, gpu_model):
            continue
        key = (offer.vendor, offer.kind, offer.sku, offer.location, offer.price_per_hour)
        if key in rows:
            first = rows[key]
            if offer.account.label not in first.key_labels:
                first.key_labels.append(offer.account.label)
            first.available = first.available or offer.available
            continue
        offer.key_labels = [offer.account.label]
        rows[key] = offer
    for row in rows.values():
        row.key_labels.sort(key=str.lower)
    return list(rows.values())


def gpu_models(*, team: Team) -> list[str]:
    """The GPU filter's choices: each model once, by its shared name."""
    offers = team_offers(team=team).exclude(account__status=KeyStatus.INVALID).exclude(gpu_model="")
    models = {normalise_gpu(model, memory) for model, memory in offers.values_list("gpu_model", "gpu_memory_gb")}
    ordered = sorted((m for m in models if m), key=lambda m: (m.family.lower(), m.memory_gb or 0, m.variant))
    return [m.display_name for m in ordered]


def anywhere_offers(*, team: Team, spec: NeutralSpec) -> list[Offer]:
    """Every offer of the team's working keys that can run ``spec``, one row per offer
    (as on the Prices page), each with ``match`` (``providers.neutral.Match``: price for
    the GPUs asked, what differs there): in the region first, then available, then cheapest."""
    rows = []
    for offer in price_table(team=team):
        match = match_offer(offer.vendor, offer.as_offer(), spec)
        if match is not None:
            offer.match = match
            rows.append(offer)
    rows.sort(key=lambda o: (not o.match.in_region, not o.available, o.match.price_per_hour or 0, o.vendor, o.name))
    return rows


def team_offer(*, team: Team, pk: int) -> Offer:
    """One offer of the team's working keys, or ``Offer.DoesNotExist``."""
    return team_offers(team=team).exclude(account__status=KeyStatus.INVALID).get(pk=pk)
