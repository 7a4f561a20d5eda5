"""The README's screenshots, taken from a realistic fleet. `make screenshots` runs this
with SCREENSHOT_DIR=docs/screenshots; in the normal suite they land in var/test."""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from controlpanel.catalog.services import catalog_sync
from controlpanel.deployments.models import Deployment
from controlpanel.deployments.services import deployment_create
from controlpanel.deployments.states import State
from controlpanel.teams.permissions import Role
from tests.browser.conftest import SCREENSHOTS
from tests.factories import (
    PASSWORD,
    AccountFactory,
    DeploymentFactory,
    MembershipFactory,
    TeamFactory,
    UserFactory,
    together_spec,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
OUT = Path(os.environ.get("SCREENSHOT_DIR") or SCREENSHOTS)

FLEET = [  # vendor, name, state, $/h, replicas, endpoint
    ("nosana", "llama-3-8b-batch", State.RUNNING, "0.44", (2, 2), "https://3mz.node.k8s.prd.nos.ci"),
    (
        "replicate",
        "team-sdxl",
        State.RUNNING,
        "3.51",
        (1, 1),
        "https://api.replicate.com/v1/deployments/acme/team-sdxl",
    ),
    ("together", "embeddings-eu", State.STOPPED, None, (0, 0), ""),
    ("nosana", "whisper-large", State.PROVISIONING, None, (0, 1), ""),
    ("replicate", "flux-schnell-api", State.FAILED, None, None, ""),
    ("fluence", "h200-finetune", State.RUNNING, "2.96", None, "https://b54672e2.provider.h200.pub"),
    ("novita", "comfyui-4090", State.RUNNING, "0.35", None, "https://5c0ffee0001-8188.proxy.novita.example"),
    ("novita", "eval-a100-spot", State.STOPPED, None, None, ""),
]


def _fill(team, user, accounts) -> None:
    now = timezone.now()
    for i, (vendor, name, state, price, replicas, url) in enumerate(FLEET):
        d = DeploymentFactory(
            account=accounts[vendor],
            name=name,
            state=state,
            created_by=user,
            endpoint_url=url,
            checked_at=now,
            price_per_hour=Decimal(price) if price else None,
            cost_since=now - dt.timedelta(hours=30 + 9 * i) if price else None,
            replicas_ready=replicas[0] if replicas else None,
            replicas_desired=replicas[1] if replicas else None,
            status_message="Replicate reports no status; derived: 3 failed predictions in a row"
            if state == State.FAILED
            else "",
        )
        Deployment.objects.filter(pk=d.pk).update(created_at=now - dt.timedelta(hours=30 + 9 * i))


def _shoot(page, name: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUT / f"{name}.png"))


def test_readme_screenshots(browser, live_server, panel_worker, settings):
    settings.PANEL_SANDBOX_URL = f"{live_server.url}/sandbox"
    team = TeamFactory(name="Acme ML")
    user = UserFactory(username="maria", first_name="Maria")
    MembershipFactory(team=team, user=user, role=Role.OWNER)
    accounts = {
        "together": AccountFactory(team=team, label="Together sandbox", api_key="sandbox-shots-tg01"),
        "nosana": AccountFactory(team=team, vendor="nosana", label="Nosana sandbox", api_key="sandbox-shots-ns01"),
        "replicate": AccountFactory(
            team=team, vendor="replicate", label="Replicate sandbox", api_key="sandbox-shots-rp01"
        ),
        "fluence": AccountFactory(team=team, vendor="fluence", label="Fluence sandbox", api_key="sandbox-shots-fl01"),
        "novita": AccountFactory(team=team, vendor="novita", label="Novita sandbox", api_key="sandbox-shots-nv01"),
    }
    for account in accounts.values():
        catalog_sync(account_id=account.pk)
    _fill(team, user, accounts)
    live = deployment_create(
        team=team,
        actor=user,
        account=accounts["together"],
        estimated_price_per_hour=Decimal("6.72"),
        spec=together_spec(
            name="flux-worker",
            gpu_count=2,
            min_replicas=1,
            max_replicas=3,
            environment_variables=[{"name": "MODEL_PATH", "value": "/models/flux"}],
        ),
    )

    for scheme in ("light", "dark"):
        context = browser.new_context(viewport={"width": 1360, "height": 820}, color_scheme=scheme)
        page = context.new_page()
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Username", exact=True).fill("maria")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.locator("tr", has_text="flux-worker").locator(".badge")).to_have_text("Running", timeout=45_000)
        _shoot(page, f"dashboard-{scheme}")
        if scheme == "light":
            page.goto(f"{live_server.url}/deployments/{live.pk}/")
            expect(page.get_by_role("log")).to_contain_text("INFO ready", timeout=20_000)
            page.set_viewport_size({"width": 1360, "height": 1180})
            _shoot(page, "deployment-page")
            page.goto(f"{live_server.url}/deployments/new/together/")
            page.get_by_label("Name", exact=True).fill("llama-serve")
            page.get_by_label("Image", exact=True).fill("registry.together.ai/proj_acme/vllm@sha256:4f1c9e")
            page.get_by_label("GPUs per replica").fill("2")
            page.get_by_label("Maximum replicas").fill("4")
            page.get_by_label("Autoscaling").select_option("HTTPTotalRequests")
            expect(page.locator("#price-estimate")).to_contain_text("$26.88")
            page.set_viewport_size({"width": 1360, "height": 1280})
            _shoot(page, "new-deployment-form")
            page.goto(f"{live_server.url}/prices/")
            _shoot(page, "prices")
        context.close()
    wanted = {
        "dashboard-dark.png",
        "dashboard-light.png",
        "deployment-page.png",
        "new-deployment-form.png",
        "prices.png",
    }
    assert wanted <= {p.name for p in OUT.glob("*.png")}
