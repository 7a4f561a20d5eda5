"""Create (once) the demo team, its login, a sandbox key for every vendor and one
deployment on each, from the vendors' own documented examples.

Run by ``make run``. The deployments are queued here and submitted by the worker as
soon as it starts, so the first dashboard a person sees is a live fleet. Later runs
keep everything (and add nothing a person deleted) and print the same login, so the
panel a person left yesterday is the one they find today.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from controlpanel.credentials.models import EndpointKind, ProviderAccount, Vendor
from controlpanel.credentials.services import account_create
from controlpanel.deployments.services import deployment_create
from controlpanel.teams.models import Team
from controlpanel.teams.services import team_create
from controlpanel.vendors import demo_specs

TEAM_NAME = "Demo team"
USERNAME = "demo"


def write_login(path: Path, username: str, password: str) -> None:
    """Both halves of the login, labelled, readable by this account only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(f"GPU Control Panel demo login (make run)\nUsername: {username}\nPassword: {password}\n")


def read_password(path: Path) -> str:
    """The password from ``write_login``'s file, or from an older one holding only the password
    (rewritten with both names, so the file says which user it is for)."""
    if not path.exists():
        return ""
    content = path.read_text().strip()
    for line in content.splitlines():
        if line.startswith("Password:"):
            return line.removeprefix("Password:").strip()
    if content:
        write_login(path, USERNAME, content)
    return content


class Command(BaseCommand):
    help = "Create the demo team, login and sandbox keys if they do not exist; print the login."

    def handle(self, *args: object, **options: object) -> None:
        if not settings.PANEL_SANDBOX:
            raise CommandError("The demo team's keys are sandbox keys: run it with PANEL_SANDBOX=true (make run does).")
        credentials_file = settings.VAR_DIR / "demo-login.txt"
        User = get_user_model()
        with transaction.atomic():
            user = User.objects.filter(username=USERNAME).first()
            if user is None:
                password = secrets.token_urlsafe(12)
                user = User.objects.create_user(
                    USERNAME, email="demo@example.com", password=password, first_name="Demo"
                )
                write_login(credentials_file, USERNAME, password)
            team = Team.objects.filter(name=TEAM_NAME, memberships__user=user).first()
            new_team = team is None
            if new_team:
                team = team_create(name=TEAM_NAME, owner=user)
            demo = demo_specs()
            for vendor in Vendor:
                if vendor.value not in demo:
                    continue
                if not ProviderAccount.objects.filter(team=team, vendor=vendor, endpoint=EndpointKind.SANDBOX).exists():
                    account = account_create(
                        team=team,
                        actor=user,
                        vendor=vendor.value,
                        label=f"{vendor.label} sandbox",
                        api_key=f"sandbox-demo-{vendor.value}-{secrets.token_hex(6)}",
                        endpoint=EndpointKind.SANDBOX,
                    )
                    if new_team and vendor.value in demo:
                        spec = account.provider_class.validate(demo[vendor.value])
                        deployment_create(
                            team=team,
                            actor=user,
                            account=account,
                            spec=spec,
                            estimated_price_per_hour=account.provider_class.estimate_price(spec),
                        )
        password = read_password(credentials_file) or "(set before this file existed)"
        self.stdout.write(
            self.style.SUCCESS(
                "\n  GPU Control Panel is starting on "
                f"http://127.0.0.1:{settings.PORT}/\n  Log in as:  {USERNAME}\n  Password:   {password}\n"
                f"  (kept in {credentials_file}; sandbox keys for every vendor are in “{TEAM_NAME}”)\n"
            )
        )
