from __future__ import annotations

from typing import Any

from django import forms

from controlpanel.audit.models import AuditAction


class AuditFilterForm(forms.Form):
    actor = forms.ChoiceField(required=False, label="Who")
    action = forms.ChoiceField(required=False, label="What", choices=[("", "Every kind"), *AuditAction.choices])
    target = forms.CharField(
        required=False,
        label="On what",
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": "a deployment, key or member", "type": "search"}),
    )
    since = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, actors: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["actor"].choices = [("", "Anyone"), *((a, a) for a in actors)]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", "The end is before the start.")
        return data
