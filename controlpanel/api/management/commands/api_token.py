"""``manage.py api_token USERNAME --team TEAM [--name NAME]``: a new API token, on the last line."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from controlpanel.api.services import api_token_create
from controlpanel.teams.models import Team


class Command(BaseCommand):
    help = "Make an API token for USERNAME in TEAM (its id or name) and print it as the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--team", required=True, help="The team's id or name")
        parser.add_argument("--name", default="manage.py api_token", help="What the token is for")

    def handle(self, *args: Any, username: str, team: str, name: str, **options: Any) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        teams = Team.objects.filter(deleted_at__isnull=True)
        found = teams.filter(pk=int(team)).first() if team.isdigit() else None
        if found is None:
            named = list(teams.filter(name=team)[:2])
            if len(named) > 1:
                raise CommandError(f"More than one team is named {team!r}: give its id.")
            found = named[0] if named else None
        if found is None:
            raise CommandError(f"No team {team!r}.")
        try:
            token, raw = api_token_create(user=user, team=found, name=name, actor=user)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stderr.write(f"Token “{token.name}” for {username} in {found.name} (shown once; store it now):")
        self.stdout.write(raw)
