"""Team templates: saved from a vendor form without secret values, used, edited and
deleted by the roles allowed, each step in the audit log."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from controlpanel.audit.models import AuditAction, AuditEntry
from controlpanel.blueprints import services
from controlpanel.blueprints.models import DeploymentTemplate
from controlpanel.teams.permissions import Role
from tests.factories import together_spec

FORM = {
    "name": "flux-worker",
    "image": "registry.together.ai/p/flux:1",
    "gpu_type": "h100-80gb",
    "gpu_count": "1",
    "min_replicas": "1",
    "max_replicas": "1",
    "env-TOTAL_FORMS": "2",
    "env-INITIAL_FORMS": "0",
    "env-0-name": "HF_TOKEN",
    "env-0-source": "value",
    "env-0-value": "hf_never_stored_123",
    "env-1-name": "MODEL",
    "env-1-source": "value",
    "env-1-value": "qwen",
    "volumes-TOTAL_FORMS": "0",
    "volumes-INITIAL_FORMS": "0",
}


def _save(client, account, **extra):
    data = {**FORM, "account": account.pk, "template_name": "Flux on H100", **extra}
    return client.post(reverse("blueprints:save", args=["together"]), data, HTTP_HX_REQUEST="true")


def test_saving_a_form_keeps_its_fields_but_not_secret_values(logged_in, account, team):
    response = _save(logged_in, account, template_description="Our image worker")
    assert "Saved" in response.content.decode()
    template = DeploymentTemplate.objects.get(team=team)
    assert (template.name, template.vendor, template.description) == ("Flux on H100", "together", "Our image worker")
    assert template.spec["image"] == "registry.together.ai/p/flux:1"
    assert template.spec["environment_variables"] == [
        {"name": "HF_TOKEN", "value": ""},
        {"name": "MODEL", "value": "qwen"},
    ]
    assert template.to_fill == ["HF_TOKEN"]
    assert "hf_never_stored_123" not in repr(DeploymentTemplate.objects.values().get())
    entry = AuditEntry.objects.get(action=AuditAction.TEMPLATE_CREATED)
    assert "hf_never_stored_123" not in repr(entry.summary) + repr(entry.data)
    assert "to fill when used: HF_TOKEN" in entry.summary


def test_a_template_name_is_required_and_unique_in_the_team(logged_in, account, team):
    assert "Give the template a name." in _save(logged_in, account, template_name=" ").content.decode()
    _save(logged_in, account)
    again = _save(logged_in, account, template_name="flux on h100").content.decode()
    assert "already has a template called" in again
    assert DeploymentTemplate.objects.filter(team=team).count() == 1


def test_a_half_filled_form_saves_what_it_has(logged_in, account, team):
    _save(logged_in, account, image="", gpu_count="x")
    template = DeploymentTemplate.objects.get(team=team)
    assert "image" not in template.spec
    assert template.spec["gpu_type"] == "h100-80gb"


def test_using_a_template_opens_the_vendor_form_prefilled_asking_for_the_secrets(logged_in, account, team, owner):
    template = services.template_create(
        team=team,
        actor=owner,
        name="Flux",
        vendor_slug="together",
        spec=together_spec(environment_variables=[{"name": "HF_TOKEN", "value": "hf_x"}]),
    )
    content = logged_in.get(reverse("deployments:create", args=["together"]), {"template": template.pk}).content
    page = content.decode()
    assert 'value="registry.together.ai/proj_demo/flux@sha256:abc"' in page
    assert 'value="HF_TOKEN"' in page
    assert "From the template “Flux”: fill in HF_TOKEN" in page


def test_a_template_of_one_vendor_opens_another_vendors_form_through_the_translation(logged_in, team, owner):
    from tests.factories import AccountFactory

    AccountFactory(team=team, vendor="novita", label="Novita key")
    template = services.template_create(
        team=team, actor=owner, name="Flux", vendor_slug="together", spec=together_spec(port=8000)
    )
    page = logged_in.get(reverse("deployments:create", args=["novita"]), {"template": template.pk}).content.decode()
    assert 'name="imageUrl" value="registry.together.ai/proj_demo/flux@sha256:abc"' in page


def test_the_list_shows_the_teams_and_the_built_in_templates(logged_in, team, owner, other_team):
    services.template_create(team=team, actor=owner, name="Ours", vendor_slug="together", spec=together_spec())
    services.template_create(
        team=other_team["team"], actor=other_team["user"], name="Theirs", vendor_slug="together", spec={}
    )
    page = logged_in.get(reverse("blueprints:list")).content.decode()
    assert "Ours" in page
    assert "Theirs" not in page
    for image in (
        "vllm/vllm-openai:latest",
        "ghcr.io/huggingface/text-generation-inference:latest",
        "ollama/ollama:latest",
    ):
        assert image in page


@pytest.fixture
def authored(team, make_member):
    author = make_member(Role.DEPLOYER, username="dora")
    template = services.template_create(
        team=team, actor=author, name="Dora's", vendor_slug="together", spec=together_spec()
    )
    return author, template


def test_the_author_renames_and_describes_it_once_audited(authored):
    author, template = authored
    services.template_update(template=template, actor=author, name="Dora's flux", description="For demos")
    services.template_update(template=template, actor=author, name="Dora's flux", description="For demos")
    template.refresh_from_db()
    assert (template.name, template.description) == ("Dora's flux", "For demos")
    [entry] = AuditEntry.objects.filter(action=AuditAction.TEMPLATE_CHANGED)  # the no-op wrote nothing
    assert "renamed “Dora's” to “Dora's flux”" in entry.summary


@pytest.mark.parametrize(("role", "allowed"), [(Role.DEPLOYER, False), (Role.ADMIN, True), (Role.OWNER, True)])
def test_only_the_author_and_admins_change_or_delete_a_template(authored, make_member, role, allowed):
    _author, template = authored
    other = make_member(role)
    if not allowed:
        with pytest.raises(PermissionDenied):
            services.template_update(template=template, actor=other, name="Mine now", description="")
        with pytest.raises(PermissionDenied):
            services.template_delete(template=template, actor=other)
        assert DeploymentTemplate.objects.filter(pk=template.pk, name="Dora's").exists()
        return
    services.template_update(template=template, actor=other, name="Renamed", description="")
    services.template_delete(template=template, actor=other)
    assert not DeploymentTemplate.objects.filter(pk=template.pk).exists()
    assert AuditEntry.objects.filter(action=AuditAction.TEMPLATE_DELETED, target_label="Renamed").exists()


def test_viewers_cannot_save_templates(team, make_member):
    viewer = make_member(Role.VIEWER)
    with pytest.raises(PermissionDenied):
        services.template_create(team=team, actor=viewer, name="x", vendor_slug="together", spec={})


def test_another_deployer_gets_403_on_the_edit_page_and_the_author_gets_the_form(client, authored, make_member):
    author, template = authored
    client.force_login(make_member(Role.DEPLOYER))
    assert client.get(reverse("blueprints:edit", args=[template.pk])).status_code == 403
    assert client.post(reverse("blueprints:delete", args=[template.pk])).status_code == 403
    client.force_login(author)
    assert client.get(reverse("blueprints:edit", args=[template.pk])).status_code == 200
    response = client.post(reverse("blueprints:edit", args=[template.pk]), {"name": "", "description": ""})
    assert "This field is required." in response.content.decode()
    client.post(reverse("blueprints:edit", args=[template.pk]), {"name": "New name", "description": "d"})
    template.refresh_from_db()
    assert template.name == "New name"
    client.post(reverse("blueprints:delete", args=[template.pk]))
    assert not DeploymentTemplate.objects.filter(pk=template.pk).exists()


def test_an_unknown_vendor_is_refused(team, owner):
    with pytest.raises(ValidationError):
        services.template_create(team=team, actor=owner, name="x", vendor_slug="acme", spec={})
