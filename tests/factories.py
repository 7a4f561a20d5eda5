"""factory_boy factories shared by every test package."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from controlpanel.credentials import crypto
from controlpanel.credentials.models import EndpointKind, KeyStatus, ProviderAccount
from controlpanel.deployments.models import Deployment
from controlpanel.deployments.states import State
from controlpanel.teams.models import Membership, Team
from controlpanel.teams.permissions import Role

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805 -- factory_boy hook
        if create:
            obj.save()


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.OWNER


class AccountFactory(factory.django.DjangoModelFactory):
    """A sandbox Together account with a real (encrypted) sandbox key."""

    class Meta:
        model = ProviderAccount

    class Params:
        api_key = factory.Sequence(lambda n: f"sandbox-test-key-{n:04d}")

    team = factory.SubFactory(TeamFactory)
    vendor = "together"
    label = factory.Sequence(lambda n: f"Key {n}")
    endpoint = EndpointKind.SANDBOX
    status = KeyStatus.OK
    encrypted_key = factory.LazyAttribute(lambda o: crypto.encrypt(o.api_key))
    key_last4 = factory.LazyAttribute(lambda o: o.api_key[-4:])


def together_spec(**overrides) -> dict:
    spec = {
        "name": "flux-worker",
        "image": "registry.together.ai/proj_demo/flux@sha256:abc",
        "gpu_type": "h100-80gb",
        "gpu_count": 1,
        "min_replicas": 1,
        "max_replicas": 2,
        "environment_variables": [],
        "volumes": [],
    }
    spec.update(overrides)
    return spec


class DeploymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Deployment

    team = factory.LazyAttribute(lambda o: o.account.team)
    account = factory.SubFactory(AccountFactory)
    vendor = factory.LazyAttribute(lambda o: o.account.vendor)
    name = factory.Sequence(lambda n: f"deployment-{n}")
    spec = factory.LazyAttribute(lambda o: together_spec(name=o.name))
    state = State.QUEUED


def post_confirmed(client, url: str, data: dict, **extra):
    """Submit a deployment form the way a person does: submit, read the amount, confirm."""
    import re

    first = client.post(url, data, **extra)
    match = re.search(rb'name="confirmed" value="([0-9a-f]{20})"', first.content)
    assert match, "the form did not ask to confirm the amount"
    confirm = {**data, "confirmed": match.group(1).decode()}
    token = re.search(rb'name="idempotency_key" value="([A-Za-z0-9_-]+)"', first.content)
    if token:  # the create form's; an edit form has none
        confirm["idempotency_key"] = token.group(1).decode()
    return client.post(url, confirm, **extra)
