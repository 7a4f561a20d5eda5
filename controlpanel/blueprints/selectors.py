from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from controlpanel.blueprints.models import DeploymentTemplate
from controlpanel.teams.models import Team


def team_templates(*, team: Team) -> QuerySet[DeploymentTemplate]:
    return DeploymentTemplate.objects.filter(team=team).select_related("created_by")


def team_template(*, team: Team, pk: int) -> DeploymentTemplate:
    """The team's template or 404: another team's id looks like a missing one."""
    return get_object_or_404(team_templates(team=team), pk=pk)
