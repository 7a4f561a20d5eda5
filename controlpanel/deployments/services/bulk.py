"""One action on several deployments, each on its own."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError

from controlpanel.deployments.models import Deployment
from controlpanel.deployments.services.actions import deployment_request_action
from controlpanel.teams.models import Team
from controlpanel.teams.permissions import Perm
from controlpanel.teams.services import require_perm
from providers.base import (
    Action,
)

logger = logging.getLogger(__name__)


@dataclass
class BulkResult:
    done: list[str]
    refused: dict[str, str]


def deployment_bulk_action(*, team: Team, actor: AbstractBaseUser, action: Action, ids: list[int]) -> BulkResult:
    """The same action on several of the team's deployments, each on its own: one that
    cannot (wrong state, vendor rule) is reported with its reason; the rest go ahead.
    Ids of other teams' deployments are ignored as if they did not exist."""
    require_perm(actor=actor, team=team, perm=Perm.DEPLOY)
    result = BulkResult(done=[], refused={})
    for deployment in (
        Deployment.objects.filter(team=team, pk__in=ids).select_related("account", "team").order_by("name")
    ):
        try:
            deployment_request_action(deployment=deployment, actor=actor, action=action)
        except ValidationError as exc:
            result.refused[deployment.name] = exc.messages[0]
        else:
            result.done.append(deployment.name)
    return result
