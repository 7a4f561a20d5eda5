from __future__ import annotations

import datetime as dt
from decimal import Decimal

import respx
from django.urls import reverse
from django.utils import timezone

from controlpanel.catalog.models import Offer
from controlpanel.catalog.services import accounts_claim_catalog_sync, catalog_sync
from controlpanel.credentials.models import KeyStatus

HARDWARE = {
    "object": "list",
    "data": [
        {
            "object": "hardware",
            "id": "1x_nvidia_h100_80gb_sxm",
            "pricing": {"cents_per_minute": 5.6},
            "specs": {"gpu_type": "h100", "gpu_link": "sxm", "gpu_memory": 80, "gpu_count": 1},
            "availability": {"status": "available"},
            "updated_at": "2026-11-01T00:00:00Z",
        },
    ],
}


def mock_together(api):
    api.get("/hardware").respond(200, json=HARDWARE)
    api.get("/deployments").respond(200, json={"object": "list", "data": []})


def test_catalog_sync_stores_offers_with_prices(account):
    with respx.mock(base_url=account.base_url) as api:
        mock_together(api)
        assert catalog_sync(account_id=account.pk) == 4  # one offer per Together GPU type, h200-140gb too
    h100 = Offer.objects.get(account=account, sku="h100-80gb")
    assert h100.price_per_hour == Decimal("3.3600")
    assert h100.gpu_memory_gb == 80
    account.refresh_from_db()
    assert account.catalog_synced_at is not None


def test_catalog_sync_replaces_stale_offers(account):
    Offer.objects.create(account=account, vendor="together", sku="a100-80gb", name="Gone", synced_at=timezone.now())
    with respx.mock(base_url=account.base_url) as api:
        mock_together(api)
        catalog_sync(account_id=account.pk)
    assert not Offer.objects.filter(sku="a100-80gb").exists()


def test_catalog_sync_failure_keeps_the_last_list(account):
    Offer.objects.create(account=account, vendor="together", sku="h100-80gb", name="Kept", synced_at=timezone.now())
    with respx.mock(base_url=account.base_url) as api:
        api.get("/hardware").respond(503, json={"error": {"message": "overloaded"}})
        assert catalog_sync(account_id=account.pk) == 0
    assert Offer.objects.filter(sku="h100-80gb").exists()
    account.refresh_from_db()
    assert "503" in account.catalog_error


def test_catalog_sync_skips_a_refused_key(account):
    account.status = KeyStatus.INVALID
    account.save()
    with respx.mock(base_url=account.base_url, assert_all_called=False) as api:
        route = api.get("/hardware")
        assert catalog_sync(account_id=account.pk) == 0
    assert route.call_count == 0


def offer(account, sku, model, count, price, **extra):
    return Offer.objects.create(
        account=account,
        vendor=account.vendor,
        sku=sku,
        name=f"{model} x{count}",
        gpu_model=model,
        gpu_count=count,
        price_per_hour=Decimal(price),
        synced_at=timezone.now(),
        **extra,
    )


def test_prices_page_compares_and_filters(logged_in, account, other_team):
    offer(account, "a", "H100", 1, "3.36")
    offer(account, "b", "H100", 8, "24.00")
    offer(account, "c", "B200", 1, "9.95", available=False)
    offer(other_team["account"], "x", "H100", 1, "0.01")  # another team's catalog stays out
    page = logged_in.get(reverse("catalog:prices")).content.decode()
    assert page.index("H100 x1") < page.index("B200 x1") < page.index("H100 x8")  # cheapest first
    assert "$0.01" not in page
    filtered = logged_in.get(reverse("catalog:prices"), {"gpu": "H100", "count": "8"}, HTTP_HX_REQUEST="true")
    content = filtered.content.decode()
    assert "<html" not in content
    assert "H100 x8" in content
    assert "H100 x1" not in content
    assert "$3.00" in content  # per GPU-hour
    available = logged_in.get(reverse("catalog:prices"), {"available": "1"}).content.decode()
    assert "B200" not in available.split("<tbody>")[1]


def test_catalog_sync_is_claimed_once_until_due_again(account, settings):
    assert accounts_claim_catalog_sync() == [account.pk]  # never synced: due now
    assert accounts_claim_catalog_sync() == []  # claimed: not again until the interval passes
    later = timezone.now() + dt.timedelta(seconds=settings.PANEL_CATALOG_SYNC_SECONDS + 1)
    assert accounts_claim_catalog_sync(now=later) == [account.pk]


def test_prices_page_names_each_gpu_once_across_vendors(logged_in, account, team):
    from tests.factories import AccountFactory

    nosana = AccountFactory(team=team, vendor="nosana", label="Nosana key")
    fluence = AccountFactory(team=team, vendor="fluence", label="Fluence key")
    offer(account, "h100-80gb", "NVIDIA H100 80GB", 1, "3.36")  # Together
    offer(account, "b200-192gb", "NVIDIA B200 192GB", 1, "9.95")
    offer(nosana, "market-h100", "H100", 1, "2.10", gpu_memory_gb=80)  # Nosana, already shortened
    offer(fluence, "plan-a100", "A100", 2, "2.44", gpu_memory_gb=80)  # Fluence: memory apart
    offer(fluence, "plan-a100-40", "A100", 1, "1.10", gpu_memory_gb=40)
    page = logged_in.get(reverse("catalog:prices")).content.decode()
    choices = page.split('name="gpu"')[1].split("</select>")[0]
    assert [c for c in ("A100 40GB", "A100 80GB", "B200 192GB", "H100 80GB") if f'value="{c}"' in choices] == [
        "A100 40GB",
        "A100 80GB",
        "B200 192GB",
        "H100 80GB",
    ]
    assert "NVIDIA H100 80GB</option>" not in choices
    assert 'value="H100"' not in choices
    h100 = logged_in.get(reverse("catalog:prices"), {"gpu": "H100 80GB"}).content.decode().split("<tbody>")[1]
    assert "NVIDIA H100 80GB x1" in h100
    assert "H100 x1" in h100  # Nosana's row, the same GPU
    assert "B200" not in h100
    old_link = logged_in.get(reverse("catalog:prices"), {"gpu": "NVIDIA H100 80GB HBM3"}).content.decode()
    assert '<option value="H100 80GB" selected>' in old_link
    a100 = logged_in.get(reverse("catalog:prices"), {"gpu": "A100"}).content.decode().split("<tbody>")[1]
    assert "$2.44" in a100
    assert "$1.10" in a100  # a family without a size: every size of it


def test_prices_page_lists_an_offer_once_for_several_keys_and_none_from_a_refused_key(logged_in, account, team):
    from controlpanel.credentials.models import KeyStatus
    from tests.factories import AccountFactory

    second = AccountFactory(team=team, label="Together prod")
    refused = AccountFactory(team=team, label="Together old", status=KeyStatus.INVALID)
    for key in (account, second, refused):
        offer(key, "h100-80gb", "NVIDIA H100 80GB", 1, "3.36")
    offer(refused, "b200-192gb", "NVIDIA B200 192GB", 1, "9.95")
    body = logged_in.get(reverse("catalog:prices")).content.decode().split("<tbody>")[1]
    assert body.count("NVIDIA H100 80GB x1") == 1
    assert ", ".join(sorted([account.label, "Together prod"], key=str.lower)) in body
    assert "Together old" not in body
    assert "B200" not in body
