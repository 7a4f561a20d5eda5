"""Unmanaged resources: recorded by the account refresh from a complete listing, adopted
once as a deployment (audit entry, timeline, the vendor's state), ignored and shown again;
keys with no deployments are still listed, slowly. respx stands in for Together."""

from __future__ import annotations

import datetime as dt

import pytest
import respx
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from controlpanel.audit.models import AuditAction, AuditEntry
from controlpanel.credentials.models import ProviderAccount
from controlpanel.deployments import services as deployments
from controlpanel.deployments.models import Deployment, EventKind
from controlpanel.deployments.states import State
from controlpanel.unmanaged import listing, services
from controlpanel.unmanaged.models import UnmanagedResource
from controlpanel.unmanaged.tasks import adopt_unmanaged_task
from providers.base import Listing
from providers.together import TogetherProvider
from tests.factories import AccountFactory, DeploymentFactory


def item(name: str, status: str = "Ready", **extra):
    """A Together ``DeploymentResponseItem`` (the seed's OpenAPI excerpt, openapi.json)."""
    return {
        "id": f"dep_{name}",
        "object": "deployment",
        "name": name,
        "status": status,
        "image": "registry.together.xyz/proj/console:1",
        "gpu_type": "h100-80gb",
        "gpu_count": 1,
        "min_replicas": 1,
        "max_replicas": 2,
        "ready_replicas": 1,
        "desired_replicas": 1,
        **extra,
    }


@pytest.fixture
def api(account):
    with respx.mock(base_url=account.base_url, assert_all_called=False) as mock:
        yield mock


def listed(api, *items):
    api.get("/deployments").respond(200, json={"object": "list", "data": list(items)})


def test_refresh_records_what_no_deployment_knows_and_drops_it_once_gone(account, api):
    ours = DeploymentFactory(account=account, name="ours", state=State.RUNNING, external_id="dep_ours")
    listed(api, item("ours"), item("console-made"))
    deployments.account_refresh(account_id=account.pk)

    resource = UnmanagedResource.objects.get()
    assert (resource.external_id, resource.name, resource.vendor_state, resource.team) == (
        "dep_console-made",
        "console-made",
        "Ready",
        account.team,
    )
    assert resource.price_per_hour is not None  # Together's rate times one ready replica
    first_seen = resource.first_seen_at

    deployments.account_refresh(account_id=account.pk)  # seen again: the same row, not a second
    assert UnmanagedResource.objects.get().first_seen_at == first_seen

    listed(api, item("ours"))  # gone from the vendor's complete list
    deployments.account_refresh(account_id=account.pk)
    assert not UnmanagedResource.objects.exists()
    ours.refresh_from_db()
    assert ours.state == State.RUNNING


def test_refresh_does_not_call_a_create_in_flight_unmanaged(account, api):
    # A submission that reached the vendor but has not saved its id yet: the name is ours.
    DeploymentFactory(account=account, name="on-its-way", state=State.SUBMITTING, external_id="")
    listed(api, item("on-its-way"))
    deployments.account_refresh(account_id=account.pk)
    assert not UnmanagedResource.objects.exists()


def test_refresh_of_a_deleted_row_whose_resource_runs_on_shows_it(account, api):
    DeploymentFactory(account=account, name="forgotten", state=State.DELETED, external_id="dep_forgotten")
    listed(api, item("forgotten"))
    deployments.account_refresh(account_id=account.pk)
    assert UnmanagedResource.objects.get().external_id == "dep_forgotten"


def test_an_incomplete_listing_records_and_removes_nothing(account, api, monkeypatch):
    UnmanagedResource.objects.create(team=account.team, account=account, vendor="together", external_id="dep_old")

    def partial(self, **kwargs):  # paging stopped early: what is missing may still exist
        return Listing([self.to_remote(item("new-one"))], complete=False)

    monkeypatch.setattr(TogetherProvider, "listing", partial)
    deployments.account_refresh(account_id=account.pk)
    assert list(UnmanagedResource.objects.values_list("external_id", flat=True)) == ["dep_old"]
    assert listing.listing_is_complete(Listing([], complete=True))
    assert not listing.listing_is_complete(Listing([], complete=False))


def test_a_key_with_no_deployments_is_listed_at_the_idle_interval(account, api, settings):
    settings.PANEL_REFRESH_IDLE_SECONDS = 300
    refused = AccountFactory(team=account.team, status="invalid")
    assert deployments.account_claim_due_refresh() == [account.pk]  # a working key; not the refused one
    listed(api, item("console-made"))
    before = timezone.now()
    deployments.account_refresh(account_id=account.pk)
    account.refresh_from_db()
    assert account.next_refresh_at >= before + dt.timedelta(seconds=299)
    assert UnmanagedResource.objects.filter(account=account).count() == 1
    assert not UnmanagedResource.objects.filter(account=refused).exists()


# --- adopt ---------------------------------------------------------------------------------------


@pytest.fixture
def resource(account):
    return UnmanagedResource.objects.create(
        team=account.team, account=account, vendor="together", external_id="dep_console-made", name="console-made"
    )


def test_adopt_request_is_claimed_once_however_often_clicked(resource, owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as queued:
        assert services.unmanaged_request_adopt(resource=resource, actor=owner) is True
        assert services.unmanaged_request_adopt(resource=resource, actor=owner) is False
    assert len(queued) == 1
    resource.refresh_from_db()
    assert resource.adopt_requested_by == owner
    assert resource.is_adopting


def test_adopt_request_needs_deploy(resource, make_member):
    viewer = make_member(role="viewer")
    with pytest.raises(PermissionDenied):
        services.unmanaged_request_adopt(resource=resource, actor=viewer)
    resource.refresh_from_db()
    assert resource.adopt_requested_at is None


def test_adopt_imports_one_deployment_in_the_vendors_state(resource, owner, api):
    services.unmanaged_request_adopt(resource=resource, actor=owner)
    env = [{"name": "MODEL_PATH", "value": "/models"}]
    api.get("/deployments/dep_console-made").respond(
        200, json=item("console-made", port=8000, environment_variables=env)
    )

    deployment = services.unmanaged_adopt(resource_id=resource.pk)
    assert services.unmanaged_adopt(resource_id=resource.pk) is None  # a redelivered task adopts nothing more

    assert Deployment.objects.count() == 1
    assert (deployment.state, deployment.external_id, deployment.name, deployment.created_by) == (
        State.RUNNING,
        "dep_console-made",
        "console-made",
        owner,
    )
    assert deployment.spec == {
        "name": "console-made",
        "image": "registry.together.xyz/proj/console:1",
        "gpu_type": "h100-80gb",
        "gpu_count": 1,
        "min_replicas": 1,
        "max_replicas": 2,
        "port": 8000,
        "environment_variables": env,
    }
    adopted = deployment.events.get(kind=EventKind.ACTION)
    assert adopted.message.startswith("Adopted from Together AI: it was made outside the panel")
    assert adopted.actor == owner
    entry = AuditEntry.objects.get(action=AuditAction.DEPLOYMENT_ADOPTED)
    assert entry.target_id == str(deployment.pk)
    assert "console-made" in entry.summary
    resource.refresh_from_db()
    assert resource.deployment == deployment
    assert ProviderAccount.objects.get(pk=resource.account_id).next_refresh_at <= timezone.now()

    # The next refresh polls it like any other, and the resource is no longer unmanaged.
    listed(api, item("console-made", status="Updating", ready_replicas=0))
    deployments.account_refresh(account_id=resource.account_id)
    deployment.refresh_from_db()
    assert deployment.state == State.UPDATING
    assert not UnmanagedResource.objects.exists()


def test_adopt_of_what_the_vendor_no_longer_has_ends_with_the_reason(resource, owner, api):
    services.unmanaged_request_adopt(resource=resource, actor=owner)
    api.get("/deployments/dep_console-made").respond(404, json={"error": {"message": "deployment not found"}})
    assert services.unmanaged_adopt(resource_id=resource.pk) is None
    resource.refresh_from_db()
    assert resource.adopt_requested_at is None
    assert resource.adopt_error == "Together AI no longer has it"
    assert not Deployment.objects.exists()


def test_adopt_of_a_resource_a_deployment_knows_by_now_imports_nothing(resource, owner, api):
    known = DeploymentFactory(account=resource.account, state=State.RUNNING, external_id="dep_console-made")
    services.unmanaged_request_adopt(resource=resource, actor=owner)
    api.get("/deployments/dep_console-made").respond(200, json=item("console-made"))
    assert services.unmanaged_adopt(resource_id=resource.pk) == known
    assert Deployment.objects.count() == 1
    assert not AuditEntry.objects.filter(action=AuditAction.DEPLOYMENT_ADOPTED).exists()


def test_adopt_task_retries_exhausted_end_the_request(resource, owner, api):
    services.unmanaged_request_adopt(resource=resource, actor=owner)
    api.get("/deployments/dep_console-made").respond(503)
    adopt_unmanaged_task.apply(args=(resource.pk,), retries=adopt_unmanaged_task.max_retries)
    resource.refresh_from_db()
    assert resource.adopt_requested_at is None
    assert resource.adopt_error.startswith("Could not reach the vendor")


def test_sweep_resends_an_adoption_whose_worker_never_answered(resource, owner, settings, monkeypatch):
    sent: list[int] = []
    monkeypatch.setattr(adopt_unmanaged_task, "delay_on_commit", lambda pk: sent.append(pk))
    services.unmanaged_request_adopt(resource=resource, actor=owner)
    assert services.unmanaged_sweep_adoptions() == []  # its own message may still come
    later = timezone.now() + dt.timedelta(seconds=settings.PANEL_STALE_WORK_SECONDS + 1)
    assert services.unmanaged_sweep_adoptions(now=later) == [resource.pk]
    assert services.unmanaged_sweep_adoptions(now=later) == []  # once per stale period
    assert sent == [resource.pk, resource.pk]


# --- ignore --------------------------------------------------------------------------------------


def test_ignore_and_show_again_are_for_owners_and_admins(resource, owner, make_member):
    deployer = make_member(role="deployer")
    with pytest.raises(PermissionDenied):
        services.unmanaged_ignore(resource=resource, actor=deployer)
    assert services.unmanaged_ignore(resource=resource, actor=owner) is True
    assert services.unmanaged_ignore(resource=resource, actor=owner) is False
    resource.refresh_from_db()
    assert resource.ignored_by == owner
    assert services.unmanaged_restore(resource=resource, actor=owner) is True
    resource.refresh_from_db()
    assert resource.ignored_at is None
    kinds = list(AuditEntry.objects.order_by("pk").values_list("action", flat=True))
    assert kinds == [AuditAction.UNMANAGED_IGNORED, AuditAction.UNMANAGED_RESTORED]


def test_an_ignored_resource_stays_ignored_across_refreshes(resource, owner, api):
    services.unmanaged_ignore(resource=resource, actor=owner)
    listed(api, item("console-made"))
    deployments.account_refresh(account_id=resource.account_id)
    resource.refresh_from_db()
    assert resource.ignored_at is not None
