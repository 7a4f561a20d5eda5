"""``make run``'s first step: the demo team, its login, a sandbox key per vendor and one
queued deployment on each, once; a second run adds nothing and prints the same login."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from controlpanel.core.management.commands.bootstrap_demo import TEAM_NAME
from controlpanel.credentials.models import EndpointKind, ProviderAccount
from controlpanel.deployments.models import Deployment
from controlpanel.deployments.states import State
from controlpanel.vendors import demo_specs
from providers import get_provider_class
from providers.registry import SLUGS

pytestmark = pytest.mark.django_db


@pytest.fixture
def var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    return tmp_path


def run() -> str:
    out = io.StringIO()
    call_command("bootstrap_demo", stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("vendor", sorted(demo_specs()))
def test_each_demo_deployment_passes_its_vendors_rules(vendor):
    spec = demo_specs()[vendor]
    assert get_provider_class(vendor).validate(dict(spec))["name"] == spec["name"]


def test_first_run_makes_a_sandbox_key_and_a_queued_deployment_per_vendor(var_dir, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        printed = run()
    lines = (var_dir / "demo-login.txt").read_text().splitlines()
    assert "Username: demo" in lines
    password = next(line.removeprefix("Password: ") for line in lines if line.startswith("Password: "))
    assert password
    assert f"Password:   {password}" in printed
    assert oct((var_dir / "demo-login.txt").stat().st_mode & 0o777) == "0o600"
    keys = ProviderAccount.objects.filter(team__name=TEAM_NAME, endpoint=EndpointKind.SANDBOX)
    assert sorted(keys.values_list("vendor", flat=True)) == sorted(SLUGS)
    deployments = Deployment.objects.filter(team__name=TEAM_NAME)
    assert sorted(deployments.values_list("vendor", "name")) == sorted(
        (vendor, spec["name"]) for vendor, spec in demo_specs().items()
    )
    assert set(deployments.values_list("state", flat=True)) == {State.QUEUED}
    assert all(d.created_by.username == "demo" and d.account.vendor == d.vendor for d in deployments)
    assert len(callbacks) >= len(demo_specs())  # each submission handed to the worker on commit


def test_a_second_run_adds_nothing_and_brings_back_nothing_deleted(var_dir):
    first = run()
    Deployment.objects.filter(vendor="together").delete()
    second = run()
    assert first == second
    assert ProviderAccount.objects.filter(team__name=TEAM_NAME).count() == len(SLUGS)
    assert not Deployment.objects.filter(vendor="together").exists()
    assert Deployment.objects.count() == len(demo_specs()) - 1


def test_an_older_login_file_with_only_the_password_is_read_and_rewritten_with_the_user_name(var_dir):
    run()
    (var_dir / "demo-login.txt").write_text("only-the-password\n")
    printed = run()
    assert "Log in as:  demo" in printed
    assert "Password:   only-the-password" in printed
    assert (var_dir / "demo-login.txt").read_text().splitlines()[1:] == [
        "Username: demo",
        "Password: only-the-password",
    ]
