from __future__ import annotations

from django.conf import settings
from django.db import models

from providers.registry import vendor_choices


class DeploymentTemplate(models.Model):
    """A vendor form as a team saved it ("vLLM on H100"), to start new deployments from.

    ``spec`` is the vendor's request body with secret values emptied; ``to_fill`` names
    them (``HF_TOKEN``, "registry password"), so the form asks for them again.
    """

    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="deployment_templates")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    vendor = models.CharField(max_length=20, choices=vendor_choices)
    spec = models.JSONField(default=dict)
    to_fill = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="uniq_template_name_per_team")]

    def __str__(self) -> str:
        return self.name
