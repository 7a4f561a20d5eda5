"""Novita's estimates and upfront charges."""

from __future__ import annotations

from decimal import Decimal

from providers.novita import NovitaProvider
from providers.novita.mapping import product_offer
from providers.novita.tests.helpers import MINIMAL, NOTES_BODY, offers


def test_novita_estimate_on_demand_is_price_times_gpus():
    spec = {**NOTES_BODY, "gpuNum": 2}
    assert NovitaProvider.estimate_price(spec, offers()) == Decimal("3.2")


def test_novita_estimate_spot_uses_the_spot_price():
    spec = {**NOTES_BODY, "gpuNum": 4, "billingMode": "spot"}
    assert NovitaProvider.estimate_price(spec, offers()) == Decimal("3.2")  # 4 × $0.80


def test_novita_estimate_monthly_spreads_the_term_over_its_hours():
    spec = {**NOTES_BODY, "gpuNum": 2, "billingMode": "monthly", "month": 3}
    assert NovitaProvider.estimate_price(spec, offers()) == Decimal("2700") / (3 * 720) * 2


def test_novita_estimate_unknown_without_the_product():
    assert NovitaProvider.estimate_price(NOTES_BODY, []) is None
    assert (
        NovitaProvider.estimate_price({**MINIMAL, "billingMode": "spot"}, [product_offer({"id": "4090.16c62g"})])
        is None
    )


def test_novita_upfront_charges_monthly_is_the_term_times_gpus():
    spec = {**NOTES_BODY, "gpuNum": 2, "billingMode": "monthly", "month": 3}
    [charge] = NovitaProvider.upfront_charges(spec, offers())
    assert charge.amount == Decimal("5400.00")
    assert charge.description == "Charged at creation: 3 months of A100 SXM 80GB × 2 GPUs, prepaid."


def test_novita_upfront_charges_monthly_unlisted_term_and_auto_renew():
    spec = {**NOTES_BODY, "billingMode": "monthly", "month": 2, "autoRenew": True, "autoRenewMonth": 1}
    [charge] = NovitaProvider.upfront_charges(spec, offers())
    assert charge.amount == Decimal("1900.00")
    assert "estimated from the 1-month price" in charge.description
    assert charge.description.endswith("it renews automatically for 1 month at expiry.")


def test_novita_upfront_charges_none_on_demand_and_a_warning_for_spot():
    assert NovitaProvider.upfront_charges(NOTES_BODY, offers()) == []
    [spot] = NovitaProvider.upfront_charges({**NOTES_BODY, "billingMode": "spot"}, offers())
    assert spot.amount == Decimal("0")
    assert "reclaim" in spot.description
