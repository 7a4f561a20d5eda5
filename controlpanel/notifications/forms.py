from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from controlpanel.notifications.models import ChannelKind, NotificationKind

MAX_ADDRESSES = 10
# Slack's incoming webhook URLs all live here (https://api.slack.com/messaging/webhooks).
SLACK_PREFIX = "https://hooks.slack.com/"


class EventsField(forms.MultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            choices=NotificationKind.choices,
            error_messages={"required": "Pick at least one kind of news for this channel."},
            **kwargs,
        )


class ChannelForm(forms.Form):
    kind = forms.ChoiceField(label="Send by", choices=ChannelKind.choices)
    name = forms.CharField(label="Name", max_length=100, help_text="How the team tells this channel from others.")
    target = forms.CharField(
        label="Where to",
        max_length=1000,
        help_text="A webhook URL (https), a Slack incoming-webhook URL, or up to ten email addresses separated by commas.",
    )
    events = EventsField(label="Tell it about")

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise ValidationError("Give the channel a name.")
        return name

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind, target = data.get("kind"), (data.get("target") or "").strip()
        if kind and target:
            try:
                data["target"] = clean_target(kind, target)
            except ValidationError as exc:
                self.add_error("target", exc)
        return data


def clean_target(kind: str, target: str) -> str:
    if kind == ChannelKind.EMAIL:
        addresses = [a.strip() for a in target.split(",") if a.strip()]
        if not addresses or len(addresses) > MAX_ADDRESSES:
            raise ValidationError(f"Give between one and {MAX_ADDRESSES} email addresses.")
        for address in addresses:
            try:
                validate_email(address)
            except ValidationError:
                raise ValidationError(f"“{address}” is not an email address.") from None
        return ", ".join(addresses)
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError("Give a full URL, starting with https://.")
    if kind == ChannelKind.SLACK and not target.startswith(SLACK_PREFIX):
        raise ValidationError(f"A Slack incoming-webhook URL starts with {SLACK_PREFIX}.")
    return target


class ChannelSettingsForm(forms.Form):
    events = EventsField(label="Tell it about")
    enabled = forms.BooleanField(label="On", required=False)
