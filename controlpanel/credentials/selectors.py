from __future__ import annotations

from django.db.models import Count, Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404

from controlpanel.credentials.models import ProviderAccount
from controlpanel.teams.models import Team


def team_accounts(*, team: Team, vendor: str | None = None) -> QuerySet[ProviderAccount]:
    accounts = ProviderAccount.objects.filter(team=team)
    if vendor:
        accounts = accounts.filter(vendor=vendor)
    return accounts.order_by("vendor", "label", "pk")


def team_account(*, team: Team, pk: int) -> ProviderAccount:
    """The team's account, or 404: another team's id is indistinguishable from none."""
    return get_object_or_404(ProviderAccount, team=team, pk=pk)


LISTED_DEPENDENTS = 10  # live deployments named in the delete confirmation; the rest are counted


def with_dependents(accounts: QuerySet[ProviderAccount]) -> QuerySet[ProviderAccount]:
    """Accounts with what depends on them, for the delete confirmation: ``live_deployments``
    (those that block a delete: not failed, not deleted), ``live_deployment_count`` and
    ``past_deployment_count``. One prefetch and one aggregate for the whole list."""
    from controlpanel.deployments.models import Deployment
    from controlpanel.deployments.states import State

    finished = [State.DELETED, State.FAILED]
    live = (
        Deployment.objects.exclude(state__in=finished).only("pk", "name", "state", "account_id").order_by("name", "pk")
    )
    return accounts.prefetch_related(
        Prefetch("deployments", queryset=live[:LISTED_DEPENDENTS], to_attr="live_deployments")
    ).annotate(
        live_deployment_count=Count("deployments", filter=~Q(deployments__state__in=finished), distinct=True),
        past_deployment_count=Count("deployments", filter=Q(deployments__state__in=finished), distinct=True),
        # The row's link to what the vendor holds that the panel does not manage.
        unmanaged_open_count=Count(
            "unmanaged",
            filter=Q(unmanaged__deployment__isnull=True, unmanaged__ignored_at__isnull=True),
            distinct=True,
        ),
    )


def team_account_with_dependents(*, team: Team, pk: int) -> ProviderAccount:
    return get_object_or_404(with_dependents(ProviderAccount.objects.filter(team=team)), pk=pk)
