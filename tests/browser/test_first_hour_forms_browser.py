"""A new user's first hour (issue 14): the form says what the vendor would refuse before
anything is sent, prices show from the first render and follow what is typed, times
tick, and no page is wider than a phone."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from controlpanel.deployments.models import Deployment
from controlpanel.deployments.states import State
from controlpanel.teams.permissions import Role
from tests.browser.conftest import shot
from tests.factories import PASSWORD, AccountFactory, DeploymentFactory, MembershipFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, live_server, username: str):
    team = TeamFactory(name="First hour")
    MembershipFactory(team=team, user=UserFactory(username=username), role=Role.OWNER)
    account = AccountFactory(team=team, label="Together sandbox")
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Deployments", exact=True)).to_be_visible()
    return account


def both_widths(page, name: str) -> None:
    """Screenshots at 1440 and 390 px wide; and at 390 nothing may be wider than the screen."""
    for width in (1440, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(150)
        shot(page, f"{name}-{width}")
        assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{name} is wider than {width} px"
    page.set_viewport_size({"width": 1360, "height": 900})


def test_taken_names_and_env_rows_without_values_are_named_before_anything_is_sent(page, live_server):
    account = log_in(page, live_server, "nia")
    DeploymentFactory(account=account, name="qwen-chat", state=State.RUNNING, external_id="dep-qwen")

    page.goto(f"{live_server.url}/deployments/new/together/")
    # Together's first GPU type (H100 ×1) is chosen already: its price shows at once.
    expect(page.locator("#price-estimate")).to_contain_text("$3.36")
    expect(page.locator("#price-estimate")).not_to_contain_text("Choose the hardware")

    page.get_by_label("Name", exact=True).fill("qwen-chat")
    expect(page.locator("#err-name")).to_contain_text("“qwen-chat” is taken")
    expect(page.locator("#err-name")).to_contain_text("“qwen-chat-2” is free")
    page.get_by_label("Name", exact=True).fill("qwen-chat-2")
    expect(page.locator("#err-name")).to_be_empty()

    page.get_by_label("Image", exact=True).fill("registry.together.ai/proj_first/qwen:1")
    page.locator("[name='env-0-name']").fill("HF_TOKEN")
    # Said as the name is typed, on the value's cell...
    expect(page.locator("#err-env-0-value")).to_have_text("HF_TOKEN has no value: fill it in or remove the row.")
    # ...and again on review, where nothing is sent while it stands.
    page.get_by_role("button", name="Review cost and create").click()
    expect(page.locator("#err-env-0-value")).to_have_text("HF_TOKEN has no value: fill it in or remove the row.")
    expect(page.get_by_role("alertdialog")).to_have_count(0)
    both_widths(page, "first-hour-form")

    page.locator("[name='env-0-value']").fill("hf_abc")
    expect(page.locator("#err-env-0-value")).to_be_empty()
    page.get_by_role("button", name="Review cost and create").click()
    expect(page.get_by_role("alertdialog")).to_contain_text("$3.36/hour")
    assert not Deployment.objects.filter(name="qwen-chat-2").exists()  # nothing sent yet


def test_scale_price_follows_the_numbers_and_relative_times_tick(page, live_server):
    account = log_in(page, live_server, "ola")
    deployment = DeploymentFactory(account=account, name="scaled", state=State.RUNNING, external_id="dep-scaled")
    Deployment.objects.filter(pk=deployment.pk).update(created_at=timezone.now() - dt.timedelta(seconds=20))

    page.goto(f"{live_server.url}/deployments/{deployment.pk}/")
    created = page.locator(".page-head .sub [data-ts]")
    first = created.inner_text()
    expect(created).not_to_have_text(first, timeout=5_000)  # ticks without a reload

    page.get_by_role("button", name="Scale", exact=True).click()
    price = page.locator("#dlg-scale [data-scale-price]")
    expect(price).to_contain_text("About $3.36/h with 1 running, up to $6.72/h at 2")
    page.get_by_label("Maximum replicas").fill("4")
    expect(price).to_contain_text("up to $13.44/h at 4")
    page.get_by_label("Minimum replicas").fill("3")
    expect(price).to_contain_text("About $10.08/h with 3 running, up to $13.44/h at 4")
    both_widths(page, "first-hour-scale")
    page.get_by_label("Minimum replicas").fill("")
    expect(price).to_contain_text("Give whole numbers")

    # The dashboard's age column ticks too, in its own words ("25 s", not "25 s ago").
    page.goto(f"{live_server.url}/")
    age = page.locator("tr", has_text="scaled").locator("[data-ts-bare]")
    expect(age).to_have_text(re.compile(r"^\d+ s$"))
    first = age.inner_text()
    expect(age).not_to_have_text(first, timeout=5_000)


def test_prices_name_each_gpu_once_and_list_each_offer_once(page, live_server):
    from controlpanel.catalog.models import Offer
    from controlpanel.credentials.models import KeyStatus, ProviderAccount

    account = log_in(page, live_server, "pia")
    team = account.team
    nosana = AccountFactory(team=team, vendor="nosana", label="Nosana sandbox")
    refused = AccountFactory(team=team, label="Together old", status=KeyStatus.INVALID)
    now = timezone.now()
    # These offers are the test's own: a worker left running by the integration tests must
    # not sync these keys' catalogs on top of them (the beat syncs keys whose catalog is due).
    ProviderAccount.objects.filter(team=team).update(catalog_due_at=now + dt.timedelta(days=1))
    Offer.objects.filter(account__team=team).delete()
    rows = [
        (account, "h100-80gb", "NVIDIA H100 80GB", None, "3.36"),
        (account, "b200-192gb", "NVIDIA B200 192GB", None, "9.95"),
        (refused, "h100-80gb", "NVIDIA H100 80GB", None, "3.36"),
        (nosana, "market-h100", "H100", 80, "2.10"),
        (nosana, "market-3060", "RTX 3060", 12, "0.044"),
    ]
    for key, sku, model, memory, price in rows:
        Offer.objects.create(
            account=key,
            vendor=key.vendor,
            sku=sku,
            name=model,
            gpu_model=model,
            gpu_memory_gb=memory,
            price_per_hour=price,
            synced_at=now,
        )

    page.goto(f"{live_server.url}/prices/")
    options = page.locator("#f-gpu option").all_inner_texts()
    assert options == ["Any GPU", "B200 192GB", "H100 80GB", "RTX 3060 12GB"]
    table = page.locator("#prices-table tbody")
    expect(table.locator("tr")).to_have_count(4)  # the refused key's copy is left out
    expect(table).not_to_contain_text("Together old")
    both_widths(page, "first-hour-prices")
    page.locator("#f-gpu").select_option("H100 80GB")
    expect(table.locator("tr")).to_have_count(2)  # Together's and Nosana's H100, side by side
    expect(table).to_contain_text("Nosana")
    expect(table).to_contain_text("Together AI")


LONG_ID = "7f3c9a1e-52b4-4d8e-9c1a-0e6b2f4d8a10-replica0"  # 44 characters, no spaces


def test_no_page_is_wider_than_a_phone_with_long_ids_and_names(page, live_server):
    from controlpanel.deployments.models import DeploymentEvent

    account = log_in(page, live_server, "ria")
    long_name = "n" * 100
    deployment = DeploymentFactory(
        account=account,
        name=long_name,
        state=State.RUNNING,
        external_id=LONG_ID,
        endpoint_url=f"https://api.together.ai/v1/deployment-request/{long_name}",
        connection={"SSH": f"ssh -p 30022 root@{LONG_ID}.ssh.example.net"},
        vendor_state="RunningAndHealthyEverywhere",
    )
    for message in (f"Submitted; the vendor's id is {LONG_ID}", f"{LONG_ID}:{LONG_ID}"):
        DeploymentEvent.objects.create(deployment=deployment, kind="action", actor_label="worker", message=message)

    page.goto(f"{live_server.url}/deployments/{deployment.pk}/")
    both_widths(page, "first-hour-deployment")
    page.set_viewport_size({"width": 390, "height": 900})
    vendor_id = page.locator("#deployment-live dt:text-is('Vendor id') + dd")
    expect(vendor_id.locator("code")).to_have_attribute("title", LONG_ID)  # the whole id, whatever shows
    expect(vendor_id.get_by_role("button", name="Copy the vendor id")).to_be_visible()
    time = page.locator(".timeline time").first
    box, card = time.bounding_box(), page.locator(".timeline").bounding_box()
    assert box["x"] + box["width"] <= card["x"] + card["width"] + 1  # the time stays on the card
    page.goto(f"{live_server.url}/")
    both_widths(page, "first-hour-dashboard")
    row = page.locator("tr", has_text="Together AI").last
    expect(row.get_by_role("link", name=long_name)).to_have_attribute("title", long_name)
    link = row.get_by_role("link", name=long_name)
    assert link.bounding_box()["width"] < 320, "a long name widens the dashboard's table"


def test_a_long_paste_is_named_and_a_long_name_wraps_in_the_confirmation(page, live_server):
    log_in(page, live_server, "tia")
    page.goto(f"{live_server.url}/deployments/new/together/")
    name = page.get_by_label("Name", exact=True)
    name.fill("q" * 5000)  # what a paste does
    assert len(name.input_value()) == 5000  # not cut without a word
    expect(page.locator("#err-name")).to_contain_text("At most 100 characters: this has 5000.")
    name.fill("q" * 100)
    expect(page.locator("#err-name")).to_be_empty()
    page.get_by_label("Image", exact=True).fill("registry.together.ai/proj_first/long:1")
    page.get_by_role("button", name="Review cost and create").click()
    confirm = page.get_by_role("alertdialog")
    expect(confirm).to_contain_text("q" * 100)
    for width in (1440, 390):
        page.set_viewport_size({"width": width, "height": 900})
        assert confirm.evaluate("el => el.scrollWidth <= el.clientWidth"), f"the name overflows at {width} px"
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        confirm.scroll_into_view_if_needed()
        shot(page, f"first-hour-confirm-{width}")
