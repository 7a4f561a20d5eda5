from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from controlpanel.core.parts import live_version
from controlpanel.credentials.models import Vendor
from controlpanel.deployments.models import Deployment
from controlpanel.deployments.selectors import dashboard_version
from controlpanel.deployments.states import State
from controlpanel.teams.permissions import Role
from providers.registry import SLUGS
from tests.factories import DeploymentFactory, post_confirmed

HX = {"HTTP_HX_REQUEST": "true"}


def valid_post(own_account, **overrides):
    data = {
        "account": own_account.pk,
        "name": "flux-worker",
        "image": "registry.together.ai/p/flux:1",
        "gpu_type": "h100-80gb",
        "gpu_count": "1",
        "min_replicas": "1",
        "max_replicas": "2",
        "env-TOTAL_FORMS": "1",
        "env-INITIAL_FORMS": "0",
        "env-0-name": "MODEL_PATH",
        "env-0-source": "value",
        "env-0-value": "/models",
        "volumes-TOTAL_FORMS": "1",
        "volumes-INITIAL_FORMS": "0",
    }
    data.update(overrides)
    return data


def test_dashboard_requires_login(client):
    response = client.get(reverse("deployments:dashboard"))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_dashboard_full_page_and_fragment(logged_in, account):
    DeploymentFactory(account=account, name="alpha", state=State.RUNNING, endpoint_url="https://x.example/alpha")
    page = logged_in.get(reverse("deployments:dashboard"))
    assert page.status_code == 200
    assert b"<html" in page.content
    assert b"alpha" in page.content
    fragment = logged_in.get(reverse("deployments:dashboard"), **HX)
    assert fragment.status_code == 200
    assert b"<html" not in fragment.content
    assert b'id="dashboard-live"' in fragment.content
    assert b"https://x.example/alpha" in fragment.content


def test_dashboard_unchanged_poll_is_204(logged_in, team, account):
    DeploymentFactory(account=account)
    version = live_version(dashboard_version(team=team))  # the poll's version names a down worker too
    response = logged_in.get(reverse("deployments:dashboard"), {"v": version}, **HX)
    assert response.status_code == 204
    assert response.content == b""
    Deployment.objects.update(name="renamed")  # anything visible changing moves the version
    DeploymentFactory(account=account)
    assert logged_in.get(reverse("deployments:dashboard"), {"v": version}, **HX).status_code == 200


def test_dashboard_shows_only_the_teams_deployments(logged_in, account, other_team):
    DeploymentFactory(account=account, name="ours")
    content = logged_in.get(reverse("deployments:dashboard")).content
    assert b"ours" in content
    assert b"theirs" not in content


def test_dashboard_banner_for_a_refused_key(logged_in, account):
    account.status, account.status_message = "invalid", "Together AI refused the key: Invalid API key provided."
    account.save()
    content = logged_in.get(reverse("deployments:dashboard"), **HX).content.decode()
    assert 'role="alert"' in content
    assert "Invalid API key provided." in content


@pytest.mark.parametrize("name", ["deployments:detail", "deployments:edit", "deployments:logs"])
def test_another_teams_deployment_is_404(logged_in, other_team, name):
    response = logged_in.get(reverse(name, args=[other_team["deployment"].pk]))
    assert response.status_code == 404


@pytest.mark.parametrize("action", ["stop", "start", "delete"])
def test_another_teams_deployment_actions_are_404_and_change_nothing(logged_in, other_team, action):
    deployment = other_team["deployment"]
    response = logged_in.post(reverse("deployments:action", args=[deployment.pk, action]), **HX)
    assert response.status_code == 404
    deployment.refresh_from_db()
    assert deployment.state == State.QUEUED
    assert deployment.pending_action == ""


def test_create_form_renders_every_section(logged_in, account):
    content = logged_in.get(reverse("deployments:create", args=["together"])).content.decode()
    for heading in ("Basics", "Resources", "Scaling", "Environment", "Volumes", "Advanced"):
        assert f">{heading}</h2>" in content
    for field in (
        "gpu_type",
        "autoscaling_metric",
        "health_check_path",
        "termination_grace_period_seconds",
        "env-0-source",
    ):
        assert f'name="{field}"' in content


def test_create_valid_post_queues_and_redirects(logged_in, account, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = post_confirmed(
            logged_in, reverse("deployments:create", args=["together"]), valid_post(account), **HX
        )
    deployment = Deployment.objects.get()
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("deployments:detail", args=[deployment.pk])
    assert deployment.state == State.QUEUED
    assert len(callbacks) == 1
    assert deployment.spec["environment_variables"] == [{"name": "MODEL_PATH", "value": "/models"}]
    assert deployment.estimated_price_per_hour is not None


def test_create_invalid_post_shows_errors_on_fields(logged_in, account):
    data = valid_post(account, name="bad name!", **{"env-0-name": "1BAD"})
    response = logged_in.post(reverse("deployments:create", args=["together"]), data, **HX)
    content = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in content
    assert 'id="err-name"' in content
    assert "Use 1–100 letters, digits, underscores or hyphens." in content
    assert "Start with a letter or underscore" in content
    assert not Deployment.objects.exists()


def test_create_with_another_teams_key_is_refused(logged_in, other_team, account):
    data = valid_post(account, **{"account": other_team["account"].pk})
    response = logged_in.post(reverse("deployments:create", args=["together"]), data)
    assert response.status_code == 200
    assert not Deployment.objects.filter(team=account.team).exists()
    assert "Select a valid choice" in response.content.decode()


def test_validate_returns_one_fields_errors_and_the_price(logged_in, account):
    data = valid_post(account, name="no spaces please", _field="name")
    response = logged_in.post(reverse("deployments:validate", args=["together"]), data, **HX)
    content = response.content.decode()
    assert '<ul class="field-errors" id="err-name"' in content
    assert "letters, digits" in content
    assert 'id="price-estimate"' in content
    assert 'hx-swap-oob="true"' in content
    assert "$3.36" in content


def test_validate_reports_before_other_fields_are_filled(logged_in, account):
    data = {
        "name": "x y",
        "_field": "name",
        "env-TOTAL_FORMS": "0",
        "env-INITIAL_FORMS": "0",
        "volumes-TOTAL_FORMS": "0",
        "volumes-INITIAL_FORMS": "0",
    }
    content = logged_in.post(reverse("deployments:validate", args=["together"]), data, **HX).content.decode()
    assert "letters, digits" in content


def test_viewer_sees_but_cannot_deploy(client, make_member, account):
    viewer = make_member(Role.VIEWER)
    client.force_login(viewer)
    deployment = DeploymentFactory(account=account, state=State.RUNNING, external_id="dep_1")
    assert client.get(reverse("deployments:detail", args=[deployment.pk])).status_code == 200
    assert client.get(reverse("deployments:create", args=["together"])).status_code == 403
    assert client.post(reverse("deployments:create", args=["together"]), valid_post(account)).status_code == 403
    assert client.post(reverse("deployments:action", args=[deployment.pk, "stop"])).status_code == 403
    page = client.get(reverse("deployments:detail", args=[deployment.pk])).content.decode()
    assert 'data-dialog="dlg-stop"' not in page
    assert "New deployment" not in page
    deployment.refresh_from_db()
    assert deployment.pending_action == ""


def test_detail_live_fragment_and_unchanged_204(logged_in, account):
    deployment = DeploymentFactory(account=account, state=State.PROVISIONING, external_id="dep_2")
    url = reverse("deployments:detail", args=[deployment.pk])
    fragment = logged_in.get(url, {"part": "live"}, **HX)
    assert fragment.status_code == 200
    assert b"<html" not in fragment.content
    assert b"Provisioning" in fragment.content
    version = live_version(f"{deployment.updated_at.timestamp():.6f}")
    assert logged_in.get(url, {"part": "live", "v": version}, **HX).status_code == 204


def test_stop_action_via_htmx_returns_the_live_fragment_and_a_toast(logged_in, account):
    deployment = DeploymentFactory(account=account, state=State.RUNNING, external_id="dep_3")
    response = logged_in.post(reverse("deployments:action", args=[deployment.pk, "stop"]), **HX)
    assert response.status_code == 200
    assert b'id="deployment-live"' in response.content
    assert "toast" in response["HX-Trigger"]
    deployment.refresh_from_db()
    assert deployment.pending_action == "stop"


def test_refused_action_explains_why(logged_in, account):
    deployment = DeploymentFactory(account=account, state=State.STOPPED, external_id="dep_4")
    response = logged_in.post(reverse("deployments:action", args=[deployment.pk, "stop"]), **HX)
    assert "Not possible while stopped." in response["HX-Trigger"]


def test_scale_rejects_max_below_min(logged_in, account):
    deployment = DeploymentFactory(account=account, state=State.RUNNING, external_id="dep_5")
    response = logged_in.post(
        reverse("deployments:scale", args=[deployment.pk]), {"min_replicas": 3, "max_replicas": 1}, **HX
    )
    assert "Must be at least the minimum replicas." in response["HX-Trigger"]
    deployment.refresh_from_db()
    assert deployment.pending_action == ""


def test_edit_shows_the_vendors_refusal_on_its_field(logged_in, account):
    deployment = DeploymentFactory(
        account=account,
        state=State.FAILED,
        error_fields={"environment_variables.0.value_from_secret": ["secret 'hf' not found"]},
        spec={
            "name": "x",
            "image": "i",
            "gpu_type": "h100-80gb",
            "environment_variables": [{"name": "HF", "value_from_secret": "hf"}],
        },
    )
    content = logged_in.get(reverse("deployments:edit", args=[deployment.pk])).content.decode()
    assert 'id="err-env-0-secret"' in content
    assert content.index("secret &#x27;hf&#x27; not found") > content.index('id="err-env-0-secret"')


def test_clone_prefills_the_form(logged_in, account):
    source = DeploymentFactory(account=account, name="orig", state=State.RUNNING)
    content = logged_in.get(reverse("deployments:create", args=["together"]), {"from": source.pk}).content.decode()
    assert 'value="orig-copy"' in content
    assert "registry.together.ai/proj_demo/flux@sha256:abc" in content


def test_create_asks_to_confirm_the_amount_first(logged_in, account):
    response = logged_in.post(reverse("deployments:create", args=["together"]), valid_post(account), **HX)
    content = response.content.decode()
    assert "Confirm: this spends money" in content
    assert "$3.36/hour" in content
    assert not Deployment.objects.filter(team=account.team).exists()


def test_confirmation_is_for_that_exact_spec(logged_in, account):
    url = reverse("deployments:create", args=["together"])
    first = logged_in.post(url, valid_post(account), **HX).content.decode()
    digest = re.search(r'name="confirmed" value="([0-9a-f]{20})"', first).group(1)
    changed = valid_post(account, gpu_count="4", confirmed=digest)
    again = logged_in.post(url, changed, **HX).content.decode()
    assert "Confirm: this spends money" in again
    assert "$13.44/hour" in again
    assert not Deployment.objects.filter(team=account.team).exists()


def test_redeploy_sends_the_same_spec_as_an_update(logged_in, account):
    deployment = DeploymentFactory(account=account, state=State.RUNNING, external_id="dep_r")
    response = logged_in.post(reverse("deployments:action", args=[deployment.pk, "redeploy"]), **HX)
    assert "Redeploy requested" in response["HX-Trigger"]
    deployment.refresh_from_db()
    assert deployment.pending_action == "update"
    assert deployment.pending_params == {"spec": deployment.spec, "redeploy": True}


@pytest.mark.parametrize(("vendor", "offered"), [("together", True), ("nosana", False), ("replicate", False)])
def test_redeploy_is_offered_only_where_the_vendor_rolls_out_an_unchanged_spec(logged_in, team, vendor, offered):
    from tests.factories import AccountFactory

    account = AccountFactory(team=team, vendor=vendor, label=vendor)
    deployment = DeploymentFactory(account=account, vendor=vendor, state=State.RUNNING, external_id="dep_o")
    content = logged_in.get(reverse("deployments:detail", args=[deployment.pk])).content.decode()
    assert ('data-dialog="dlg-redeploy"' in content) is offered


def test_redeploy_is_refused_where_the_vendor_has_none(logged_in, team):
    from tests.factories import AccountFactory

    account = AccountFactory(team=team, vendor="nosana", label="nosana")
    deployment = DeploymentFactory(account=account, vendor="nosana", state=State.RUNNING, external_id="dep_n")
    response = logged_in.post(reverse("deployments:action", args=[deployment.pk, "redeploy"]), **HX)
    assert "Nosana has no redeploy." in response["HX-Trigger"]
    deployment.refresh_from_db()
    assert deployment.pending_action == ""


def test_clone_to_another_vendor_carries_name_image_and_env(logged_in, team, account):
    from tests.factories import AccountFactory

    AccountFactory(team=team, vendor="nosana", label="Nosana")
    spec = {
        "name": "flux",
        "image": "docker.io/acme/flux:1",
        "gpu_type": "h100-80gb",
        "environment_variables": [{"name": "MODEL", "value": "flux-dev"}, {"name": "TOKEN", "value_from_secret": "hf"}],
    }
    source = DeploymentFactory(account=account, name="flux", spec=spec)
    content = logged_in.get(reverse("deployments:create", args=["nosana"]), {"from": source.pk}).content.decode()
    assert 'value="flux-copy"' in content
    assert 'value="docker.io/acme/flux:1"' in content
    assert 'value="MODEL"' in content
    assert 'value="flux-dev"' in content
    assert 'value="TOKEN"' not in content  # a secret reference belongs to its vendor


@pytest.mark.parametrize("vendor", sorted(SLUGS))
def test_a_vendors_form_without_a_key_says_add_one_first(logged_in, team, vendor):
    response = logged_in.get(reverse("deployments:create", args=[vendor]))
    assert response.status_code == 200
    body = response.content.decode()
    label = Vendor(vendor).label
    assert f"Add a {label} key first" in body
    assert f'href="{reverse("credentials:add")}?vendor={vendor}"' in body
    assert 'name="account"' not in body  # no form with an empty key list
    posted = logged_in.post(reverse("deployments:create", args=[vendor]), {"name": "x"})
    assert posted.status_code == 409
    assert not Deployment.objects.filter(team=team).exists()


def test_without_a_key_a_deployer_is_told_whom_to_ask(client, make_member):
    client.force_login(make_member(Role.DEPLOYER))
    body = client.get(reverse("deployments:create", args=["together"])).content.decode()
    assert "Ask an admin or owner of the team to add one." in body
    assert reverse("credentials:add") not in body


def test_a_vendors_events_are_folded_newest_first_with_their_count(logged_in, account):
    from controlpanel.deployments.models import LogSnapshot

    deployment = DeploymentFactory(account=account, external_id="dep_1", state=State.RUNNING)
    events = [{"message": f"event {i}", "at": f"2026-12-03T13:{i:02d}:00", "kind": "job"} for i in range(57)]
    LogSnapshot.objects.create(deployment=deployment, events=events, fetched_at=timezone.now())
    body = logged_in.get(reverse("deployments:logs", args=[deployment.pk]), HTTP_HX_REQUEST="true").content.decode()
    details = re.search(r"<details[^>]*>", body).group(0)
    assert "open" not in details
    assert "events (57), newest first" in body
    assert "latest: event 56" in body
    assert body.index(">event 56 <") < body.index(">event 55 <") < body.index(">event 0 <")


def test_a_long_timeline_shows_the_newest_five_and_folds_the_rest(logged_in, account):
    from controlpanel.deployments.models import DeploymentEvent

    deployment = DeploymentFactory(account=account)
    start = timezone.now() - dt.timedelta(hours=1)
    for i in range(20):
        DeploymentEvent.objects.create(
            deployment=deployment,
            kind="info",
            actor_label="worker",
            message=f"step {i}",
            created_at=start + dt.timedelta(minutes=i),
        )
    body = logged_in.get(reverse("deployments:detail", args=[deployment.pk])).content.decode()
    folded = body[body.index('data-remember="timeline-') :]
    assert "Earlier events (15)" in folded
    shown = lambda i, text: re.search(rf"step {i}\s*<", text) is not None  # noqa: E731
    assert not any(shown(i, folded) for i in range(15, 20))  # the newest five stay in sight
    assert all(shown(i, folded) for i in range(15))
    assert body.index("step 19") < body.index("step 15") < body.index("step 14")


def test_a_short_timeline_is_not_folded(logged_in, account):
    deployment = DeploymentFactory(account=account)
    body = logged_in.get(reverse("deployments:detail", args=[deployment.pk])).content.decode()
    assert 'data-remember="timeline-' not in body


# --- prices that follow what is on the page ----------------------------------------------------------


def test_the_create_page_prices_what_the_form_starts_with(logged_in, account):
    page = logged_in.get(reverse("deployments:create", args=["together"])).content.decode()
    assert "Choose the hardware to see what it costs" not in page
    assert "$3.36<small> /hour</small>" in page  # H100 ×1, Together's first GPU type


def test_the_scale_dialog_carries_the_unit_price_and_ages_tick(logged_in, account):
    deployment = DeploymentFactory(account=account, state=State.RUNNING, external_id="dep-1")
    page = logged_in.get(reverse("deployments:detail", args=[deployment.pk])).content.decode()
    assert 'data-scale-price data-unit-price="3.36"' in page
    assert "About $3.36/h with 1 running, up to $6.72/h at 2" in page
    assert re.search(r'data-ts="\d+">\d+ s ago</span></p>', page)  # the header's "created … ago"


def test_a_second_clone_on_a_vendor_with_unique_names_gets_a_free_name(logged_in, account):
    source = DeploymentFactory(account=account, name="orig", state=State.RUNNING, external_id="dep-orig")
    DeploymentFactory(account=account, name="orig-copy", state=State.RUNNING, external_id="dep-copy")
    content = logged_in.get(reverse("deployments:create", args=["together"]), {"from": source.pk}).content.decode()
    assert 'value="orig-copy-2"' in content


def test_typing_an_env_name_says_on_its_value_cell_that_the_value_is_missing(logged_in, account):
    url = reverse("deployments:validate", args=["together"])
    post = {
        **valid_post(account),
        "env-TOTAL_FORMS": "1",
        "env-0-name": "HF_TOKEN",
        "env-0-value": "",
        "_field": "env-0-name",
    }
    content = logged_in.post(url, post, **HX).content.decode()
    assert '<ul class="field-errors" id="err-env-0-value" aria-live="polite" hx-swap-oob="true">' in content
    assert "HF_TOKEN has no value: fill it in or remove the row." in content
    post["env-0-value"] = "hf_abc"
    content = logged_in.post(url, post, **HX).content.decode()
    assert 'id="err-env-0-value" aria-live="polite" hx-swap-oob="true"></ul>' in content  # cleared
