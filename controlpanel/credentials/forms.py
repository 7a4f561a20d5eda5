from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from controlpanel.credentials.models import EndpointKind, ProviderAccount
from providers.registry import vendor_choices


class KeyField(forms.CharField):
    """An API key: never rendered back into the page, even after an error."""

    widget = forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"})

    def clean(self, value: Any) -> str:
        value = super().clean(value).strip()
        if any(ch.isspace() for ch in value):
            raise forms.ValidationError("A key has no spaces; check what was pasted.")
        if len(value) < 8:
            raise forms.ValidationError("That is too short to be an API key.")
        return value


class AccountForm(forms.Form):
    vendor = forms.ChoiceField(choices=vendor_choices)
    label = forms.CharField(
        max_length=80, help_text="How the team will recognise it, e.g. “Production” or “Alice's trial”."
    )
    api_key = KeyField(
        label="API key", help_text="Stored encrypted. After saving, only its last four characters are shown."
    )
    endpoint = forms.ChoiceField(
        choices=EndpointKind.choices,
        initial=EndpointKind.LIVE,
        widget=forms.RadioSelect,
        help_text="The sandbox accepts any key that starts with “sandbox” and costs nothing.",
    )
    custom_base_url = forms.URLField(label="Base URL", required=False, assume_scheme="https")

    def __init__(self, *args: Any, team: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.team = team

    def clean_label(self) -> str:
        label = self.cleaned_data["label"].strip()
        if ProviderAccount.objects.filter(team=self.team, label__iexact=label).exists():
            raise forms.ValidationError("The team already has a key with this name.")
        return label

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("endpoint") == EndpointKind.CUSTOM and not data.get("custom_base_url"):
            self.add_error("custom_base_url", "Give the base URL to send requests to.")
        if data.get("endpoint") == EndpointKind.SANDBOX and not settings.PANEL_SANDBOX:
            self.add_error("endpoint", "The built-in sandbox is switched off on this server (PANEL_SANDBOX).")
        elif (
            data.get("endpoint") == EndpointKind.SANDBOX
            and data.get("api_key")
            and not data["api_key"].startswith("sandbox")
        ):
            self.add_error("api_key", "Sandbox keys start with “sandbox”, e.g. sandbox-alice.")
        return data


class RenameForm(forms.Form):
    label = forms.CharField(max_length=80)

    def __init__(self, *args: Any, account: ProviderAccount, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account = account

    def clean_label(self) -> str:
        label = self.cleaned_data["label"].strip()
        clash = ProviderAccount.objects.filter(team=self.account.team, label__iexact=label).exclude(pk=self.account.pk)
        if clash.exists():
            raise forms.ValidationError("The team already has a key with this name.")
        return label


class RotateForm(forms.Form):
    api_key = KeyField(label="New API key")

    def __init__(self, *args: Any, account: ProviderAccount | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account = account

    def clean_api_key(self) -> str:
        """The checks "Add a key" makes inline; the vendor's own check follows in a worker."""
        api_key = self.cleaned_data["api_key"]
        if self.account is not None and self.account.is_sandbox and not api_key.startswith("sandbox"):
            raise forms.ValidationError("Sandbox keys start with “sandbox”, e.g. sandbox-alice.")
        return api_key
