from __future__ import annotations

from django.db.models import QuerySet
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
