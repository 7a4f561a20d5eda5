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
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from controlpanel.credentials.models import EndpointKind, ProviderAccount, Vendor
from controlpanel.credentials.services import account_create
from controlpanel.deployments.services import deployment_create
from controlpanel.teams.models import Team
from controlpanel.teams.services import team_create
from providers import PROVIDERS

TEAM_NAME = "Demo team"
USERNAME = "demo"

# One per vendor, each the example its seed or contract notes give (shared/seeds,
# shared/vendor-apis), so the sandbox takes them exactly as the vendor would.
DEMO_DEPLOYMENTS: dict[str, dict[str, Any]] = {
    "together": {
        "name": "demo-flux-worker", "image": "registry.together.xyz/proj_demo/flux-worker:latest",
        "gpu_type": "h100-80gb", "gpu_count": 1, "min_replicas": 1, "max_replicas": 2, "port": 8000,
        "health_check_path": "/health", "environment_variables": [{"name": "MODEL_PATH", "value": "/models/weights"}],
    },
    "nosana": {
        "name": "demo-llama", "market": "97G9NnvBDQ2WpKu6fasoMsAKmfj63C9rhysJnkeWodAf", "replicas": 1,
        "timeout": 60, "strategy": "INFINITE",
        "job_definition": {
            "version": "0.1", "type": "container", "meta": {"trigger": "api"},
            "ops": [{"type": "container/run", "id": "vllm", "args": {
                "image": "docker.io/vllm/vllm-openai:v0.5.4", "cmd": ["--model", "Qwen/Qwen2.5-1.5B-Instruct"],
                "gpu": True, "expose": 8000}}],
        },
    },
    "replicate": {
        "name": "demo-image-generator", "model": "some-org/some-model",
        "version": "da77bc59ee60423279fd632efb4795ab731d9e3ca9705ef3341091fb989b7eaf", "hardware": "gpu-t4",
        "min_instances": 1, "max_instances": 5,
    },
    "fluence": {
        "kind": "container", "plan_id": "075e40d4-2766-4347-833b-205245fe3629", "name": "demo-gpu-container",
        "container_settings": {
            "image": "docker.io/fluencelabs/debian-ssh-root:11",
            "expose": [{"port": "22", "protocol": "tcp"}, {"port": "80", "protocol": "http"}],
            "environment": [{"name": "MODEL_PATH", "value": "/models/llama"}],
        },
        "constraints": {"location": "US"},
    },
    "novita": {
        "name": "demo-llama-serve", "productId": "A100-80GB.14c240g", "kind": "gpu", "gpuNum": 1, "rootfsSize": 100,
        "imageUrl": "docker.io/vllm/vllm-openai:latest", "ports": "8000/http, 22/tcp", "billingMode": "onDemand",
    },
}  # fmt: skip


class Command(BaseCommand):
    help = "Create the demo team, login and sandbox keys if they do not exist; print the login."

    def handle(self, *args: object, **options: object) -> None:
        credentials_file = settings.VAR_DIR / "demo-login.txt"
        User = get_user_model()
        with transaction.atomic():
            user = User.objects.filter(username=USERNAME).first()
            if user is None:
                password = secrets.token_urlsafe(12)
                user = User.objects.create_user(
                    USERNAME, email="demo@example.com", password=password, first_name="Demo"
                )
                fd = os.open(credentials_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as fh:
                    fh.write(password)
            team = Team.objects.filter(name=TEAM_NAME, memberships__user=user).first()
            new_team = team is None
            if new_team:
                team = team_create(name=TEAM_NAME, owner=user)
            for vendor in Vendor:
                if vendor.value not in PROVIDERS:
                    continue
                if not ProviderAccount.objects.filter(team=team, vendor=vendor, endpoint=EndpointKind.SANDBOX).exists():
                    account = account_create(
                        team=team, actor=user, vendor=vendor.value, label=f"{vendor.label} sandbox",
                        api_key=f"sandbox-demo-{vendor.value}-{secrets.token_hex(6)}", endpoint=EndpointKind.SANDBOX,
                    )  # fmt: skip
                    if new_team and vendor.value in DEMO_DEPLOYMENTS:
                        spec = account.provider_class.validate_spec(DEMO_DEPLOYMENTS[vendor.value])
                        deployment_create(
                            team=team, actor=user, account=account, spec=spec,
                            estimated_price_per_hour=account.provider_class.estimate_price(spec),
                        )  # fmt: skip
        password = (
            credentials_file.read_text().strip() if credentials_file.exists() else "(set before this file existed)"
        )
        self.stdout.write(
            self.style.SUCCESS(
                "\n  GPU Control Panel is starting on "
                f"http://127.0.0.1:{settings.PORT}/\n  Log in as:  {USERNAME}\n  Password:   {password}\n"
                f"  (kept in {credentials_file}; sandbox keys for every vendor are in “{TEAM_NAME}”)\n"
            )
        )
