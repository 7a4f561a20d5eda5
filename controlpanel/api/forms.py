from __future__ import annotations

from typing import Any

from django import forms

from controlpanel.teams.models import Team


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, label="Name", help_text="What it is for: “CI deploys”, “my laptop”.")
    team = forms.ModelChoiceField(
        queryset=Team.objects.none(),
        label="Team",
        empty_label=None,
        help_text="The token acts with your role in this team, checked on every request.",
    )

    def __init__(self, *args: Any, user: Any, current_team: Team | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = Team.objects.filter(memberships__user=user, deleted_at__isnull=True).order_by(
            "name", "pk"
        )
        if current_team is not None:
            self.fields["team"].initial = current_team.pk

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the token a name.")
        return name
