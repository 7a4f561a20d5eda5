from __future__ import annotations

from django import forms

from controlpanel.blueprints.models import DeploymentTemplate


class TemplateEditForm(forms.Form):
    name = forms.CharField(max_length=DeploymentTemplate._meta.get_field("name").max_length)
    description = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))
