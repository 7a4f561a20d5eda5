"""Each vendor's spec rebuilt for an adoption from its twin's detail answer: a resource
made straight on the twin (through the real adapter over HTTP, as a vendor's console or
another tool would) comes back as the spec the panel's form builds, field for field as
far as the vendor's answer tells."""

from __future__ import annotations

import copy
import importlib
from typing import Any

import pytest
from django.urls import reverse

from controlpanel.deployments.states import State
from providers.registry import VENDORS, get_provider_class
from tests.factories import AccountFactory, DeploymentFactory

# What each vendor's detail answer cannot give back, by the vendor's published shapes:
# Fluence's instance answers name no plan (providers/fluence/mapping.py, spec_from_detail).
NOT_IN_THE_ANSWER: dict[str, set[str]] = {"fluence": {"plan_id"}}


def _demo(vendor: str) -> dict[str, Any]:
    return copy.deepcopy(importlib.import_module(f"controlpanel.vendors.{vendor}.demo").DEMO_SPEC)


@pytest.mark.parametrize("vendor", [v.slug for v in VENDORS])
def test_spec_for_adoption_rebuilds_the_create_request_from_the_twins_detail(live_server, vendor, logged_in, team):
    provider_class = get_provider_class(vendor)
    base = f"{live_server.url}/sandbox/{provider_class.sandbox_path.strip('/')}"
    demo = _demo(vendor)
    with provider_class(api_key=f"sandbox-adopt-{vendor}", base_url=base, timeout=10) as provider:
        made = provider.create(copy.deepcopy(demo))
        remote = provider.get(made.external_id)
        spec = provider.spec_for_adoption(remote)

    expected = {key: value for key, value in demo.items() if key not in NOT_IN_THE_ANSWER.get(vendor, set())}
    assert {key: spec.get(key) for key in expected} == expected
    assert spec["name"] == demo["name"]

    # The adopted deployment's page and its Edit form open on what was rebuilt.
    account = AccountFactory(team=team, vendor=vendor, label=f"{vendor} key", api_key=f"sandbox-adopt-{vendor}")
    deployment = DeploymentFactory(
        account=account, name=spec["name"], spec=spec, state=State.RUNNING, external_id=remote.external_id
    )
    assert logged_in.get(reverse("deployments:detail", args=[deployment.pk])).status_code == 200
    assert logged_in.get(reverse("deployments:edit", args=[deployment.pk])).status_code == 200
